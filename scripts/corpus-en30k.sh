#!/usr/bin/env bash
# Usage: CORPUS=/work/corpus OUT=/work/corpus/en30k bash scripts/corpus-en30k.sh  (sources: textspotter corpus sources)
# The 30,000-page English training build (issue #18 item 7), one package per output folder so that every finished
# package is usable on its own. Run from anywhere; skips packages already built (build.json present).
set -u
mkdir -p "${OUT:-/work/corpus/en30k}"
for pkg in texlive-publishers-doc texlive-science-doc texlive-pictures-doc texlive-latex-base-doc \
           texlive-latex-recommended-doc texlive-humanities-doc texlive-fonts-extra-doc debian-reference-en \
           developers-reference python3.11-doc texlive-latex-extra-doc; do
  out="${OUT:-/work/corpus/en30k}/$pkg"
  [ -f "$out/build.json" ] && continue
  pages=8; [ "$pkg" = texlive-latex-extra-doc ] && pages=5
  OMP_NUM_THREADS=1 textspotter corpus build "${CORPUS:-/work/corpus}" --out "$out" --seed 4 --workers 2 --max-pages $pages \
      --splits train --packages "$pkg" > "${OUT:-/work/corpus/en30k}/$pkg.log" 2>&1
done

#!/usr/bin/env bash
# Usage: CORPUS=/work/corpus OUT=/work/corpus/en30k bash scripts/corpus-en30k.sh  (sources: textspotter corpus sources)
# The 30,000-page English training build (issue #18 item 7), one package per output folder so that every finished
# package is usable on its own. Run from anywhere; skips packages already built (build.json present).
# Pass 1 draws up to 8 pages per document (5 for texlive-latex-extra-doc, the largest package); pass 2 writes
# OUT/more/<package>, drawing up to 5 further pages per document of the largest packages, never one pass 1 kept
# (--exclude), so the passes hold distinct pages; pass 3 draws 5 more pages per document of texlive-latex-extra-doc
# into OUT/more/texlive-latex-extra-doc-3, excluding both earlier passes.
set -u
root="${OUT:-/work/corpus/en30k}"
mkdir -p "$root/more"
for pkg in texlive-publishers-doc texlive-science-doc texlive-pictures-doc texlive-latex-base-doc \
           texlive-latex-recommended-doc texlive-humanities-doc texlive-fonts-extra-doc debian-reference-en \
           developers-reference python3.11-doc texlive-latex-extra-doc; do
  out="$root/$pkg"
  [ -f "$out/build.json" ] && continue
  pages=8; [ "$pkg" = texlive-latex-extra-doc ] && pages=5
  OMP_NUM_THREADS=1 textspotter corpus build "${CORPUS:-/work/corpus}" --out "$out" --seed 4 --workers 2 --max-pages $pages \
      --splits train --packages "$pkg" > "$root/$pkg.log" 2>&1
done
for pkg in texlive-latex-extra-doc texlive-publishers-doc texlive-science-doc texlive-pictures-doc; do
  out="$root/more/$pkg"
  [ -f "$out/build.json" ] && continue
  OMP_NUM_THREADS=1 textspotter corpus build "${CORPUS:-/work/corpus}" --out "$out" --seed 5 --workers 2 --max-pages 5 \
      --splits train --packages "$pkg" --exclude "$root/$pkg" > "$root/more/$pkg.log" 2>&1
done
out="$root/more/texlive-latex-extra-doc-3"
if [ ! -f "$out/build.json" ]; then
  OMP_NUM_THREADS=1 textspotter corpus build "${CORPUS:-/work/corpus}" --out "$out" --seed 6 --workers 2 --max-pages 5 \
      --splits train --packages texlive-latex-extra-doc \
      --exclude "$root/texlive-latex-extra-doc" "$root/more/texlive-latex-extra-doc" > "$out.log" 2>&1
fi

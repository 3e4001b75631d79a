#!/usr/bin/env bash
# Usage: CORPUS=/work/corpus OUT=/work/corpus/multi [NICE=10] bash scripts/corpus-multi.sh  (after: corpus sources)
# Every page of the four TeX Live language packages (zh-Hans/zh-Hant, ja, ko, ru documents and their English
# manuals), all three splits, one package per output folder (issue #18 item 7: every usable zh, ja, ko and ru
# page). Each page is labelled with its main language, so a training source picks languages with `languages:`.
# Skips packages already built (build.json present).
set -u
root="${OUT:-/work/corpus/multi}"
mkdir -p "$root"
for pkg in texlive-lang-korean texlive-lang-chinese texlive-lang-japanese texlive-lang-cyrillic; do
  out="$root/$pkg"
  [ -f "$out/build.json" ] && continue
  OMP_NUM_THREADS=1 nice -n ${NICE:-10} textspotter corpus build "${CORPUS:-/work/corpus}" --out "$out" --seed 4 --workers 1 \
      --packages "$pkg" > "$root/$pkg.log" 2>&1
done

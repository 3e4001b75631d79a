#!/usr/bin/env bash
# Usage: bash benchmarks/dev_eval.sh MODEL OUT [THREADS]
# The development evaluation every training stage of the English model is judged by (benchmarks/RESULTS.md,
# "Session 18"): DocBank (100 pages) and tesseract-test with `textspotter bench`, the corpus's English dev and test
# pages with benchmarks/corpus_bench.py, and DocBank's true word boxes (20 pages) with benchmarks/truebox.py, all for
# one model folder, textspotter only (the peers' figures do not change with textspotter's code). Every run uses a
# fresh cache under OUT, so nothing is read from an earlier model's readings. The corpus pages must have been built
# (`python benchmarks/corpus_bench.py --languages en --splits dev,test --build-only`).
# Prints one summary line per set at the end (OUT/summary.txt).
set -euo pipefail
model="$1"
out="$2"
threads="${3:-2}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
rm -rf "$out/cache-bench" "$out/cache-corpus"
textspotter bench --datasets docbank,tesseract-test --engines textspotter --threads "$threads" --model "$model" \
    --output "$out/bench" --no-charts --quiet --cache "$out/cache-bench"
python "$here/corpus_bench.py" --languages en --splits dev,test --engines textspotter --threads "$threads" \
    --model "$model" --output "$out/corpus" --quiet --cache "$out/cache-corpus"
python "$here/truebox.py" --pages 20 --threads "$threads" --model "$model" --json "$out/truebox.json" \
    > "$out/truebox.txt"
python - "$out" <<'EOF'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
lines = []
bench = json.loads((out / "bench" / "bench.json").read_text())
for result in bench["results"]:
    metrics = result["metrics"]
    lines.append(f"{result['dataset']}: CER {100 * metrics['cer']:.2f} BoW {100 * metrics['bag_of_word_error']:.2f}")
corpus = json.loads((out / "corpus" / "corpus-bench.json").read_text())
for split, rows in corpus["rows"].items():
    for row in rows:
        metrics = row["metrics"]
        if metrics:
            lines.append(
                f"corpus {row['language']}/{split}: CER {100 * metrics['cer']:.2f} "
                f"BoW {100 * metrics['bag_of_word_error']:.2f} tau {metrics['reading_order_tau']:.3f}"
            )
truebox = json.loads((out / "truebox.json").read_text())["textspotter"]["groups"]["all"]
lines.append(f"truebox: {100 * truebox['exact']:.2f} % of {truebox['words']} words exact, CER {100 * truebox['cer']:.2f}")
text = "\n".join(lines) + "\n"
(out / "summary.txt").write_text(text)
print(text, end="")
EOF

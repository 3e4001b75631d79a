#!/usr/bin/env bash
# One recognizer stage of the multilingual model (issue #22), then its evaluation, as sessions 31-32 ran them:
#   1. 1,500 steps of configs/small-multi-zhrec.yaml from INIT as two single-threaded torchrun processes;
#   2. precise BatchNorm statistics (600 windows of configs/small-multi.yaml's mix);
#   3. int8 ranges calibrated on generated pages (SYNTH: textspotter synth --lang en,zh-Hans,zh-Hant,ja,ko,ru
#      --layout article,form,table,receipt --pages 24 --seed 777002 --out SYNTH);
#   4. the corpus bench of the four languages' dev and test pages and the true-region probe.
# Usage: bash scripts/multi-stage.sh INIT OUT SEED SYNTH
#   e.g. bash scripts/multi-stage.sh src/textspotter/weights/multi runs/multi-zhrec7 7777 runs/s30/synth-multi
# Writes OUT (the run), OUT-bn, OUT-cand (the candidate model folder), OUT-eval (bench and probe output).
# Needs the multilingual corpus (/work/corpus/multi, /work/corpus/multi-html) and its bench pages (docs/corpus.md).
set -euo pipefail
init=$1; out=$2; seed=$3; synth=$4
OMP_WAIT_POLICY=PASSIVE torchrun --standalone --nproc_per_node 2 -m textspotter train \
  --config configs/small-multi-zhrec.yaml --init "$init" --out "$out" \
  --set train.threads=1 --set train.accumulate=1 --set data.seed="$seed"
python scripts/recalibrate_bn.py "$out/checkpoints/step-00001500/model" configs/small-multi.yaml "$out-bn" \
  --windows 600 --threads 2
python scripts/calibrate_int8.py "$out-bn" "$out-cand" --images "$synth/images/*.png" --pages 24 --detector-pages 16
mkdir -p "$out-eval"
python benchmarks/corpus_bench.py --sources /work/corpus-multi-src --model "$out-cand" \
  --languages zh-Hans,ja,ko,ru --splits dev,test --engines textspotter --threads 2 \
  --output "$out-eval/corpus" --cache "$out-eval/cache" --quiet > "$out-eval/corpus.log" 2>&1
python benchmarks/truebox_corpus.py --model "$out-cand" --split dev --pages 10 --threads 2 \
  --json "$out-eval/truebox.json" > "$out-eval/truebox.txt" 2>&1
echo "candidate: $out-cand; scores: $out-eval/corpus.log, $out-eval/truebox.txt"

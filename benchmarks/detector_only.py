"""Score the detector alone: word detection precision / recall / F1 of ``OCR.detect`` at IoU 0.5.

The end-to-end metrics (``textspotter eval``) count only *valid* words (non-empty text and overall confidence above
0.5, the published rule), so a model whose recognizer is still weak scores zero there even when its detector already
finds the words. This script measures the detector on its own, on a manifest dataset (ours) with word quads.

    python benchmarks/detector_only.py --model src/textspotter/weights/default --dataset runs/synth-test-en
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from textspotter import OCR
from textspotter.data.manifest import read_manifest
from textspotter.metrics.detection import DetectionCounts, match_quads
from textspotter.pipeline import ScaleOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model folder")
    parser.add_argument("--dataset", required=True, help="manifest folder (textspotter synth output)")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N pages (0 = all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scale", choices=("single", "tiled"), default="single", help="single view or also tiles")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    ocr = OCR(model=args.model, device="cpu", scale=ScaleOptions(mode=args.scale))
    total = DetectionCounts()
    pages = 0
    start = time.perf_counter()
    for page in read_manifest(args.dataset):
        if args.limit and pages >= args.limit:
            break
        image = np.asarray(Image.open(Path(args.dataset) / page.image).convert("RGB"))
        found = ocr.detect(image)
        references = np.array([w.quad for w in page.words], dtype=np.float32).reshape(-1, 4, 2)
        ignore = [w.ignore for w in page.words]
        total = total + match_quads(references, np.asarray(found.quads), ignore=ignore).counts
        pages += 1
    seconds = time.perf_counter() - start
    rates = {k: (float("nan") if v is None else v) for k, v in total.rates().items()}
    print(
        f"- command: python benchmarks/detector_only.py --model {args.model} --dataset {args.dataset} "
        f"--scale {args.scale}"
    )
    print(
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} thread(s)"
    )
    print("\n| pages | word precision % | word recall % | word F1 % | TP | FP | FN | s/page |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {pages} | {100 * rates['precision']:.1f} | {100 * rates['recall']:.1f} | {100 * rates['f1']:.1f} "
        f"| {total.true_positives} | {total.false_positives} | {total.false_negatives} "
        f"| {seconds / max(pages, 1):.2f} |"
    )


if __name__ == "__main__":
    main()

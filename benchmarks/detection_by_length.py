"""Which reference words the detector finds, by length: one character, 2–3, 4 or more (issue #19).

Each reference word's axis-aligned box is compared with the axis-aligned boxes of ``OCR.detect``: *matched* when one
detection overlaps it at IoU ≥ 0.5, *inside a larger box* when one detection covers at least half of it (merged
with a neighbour, or a reference box much smaller than the text line it sits on), *missed* otherwise. One-character
words are where the detector is weakest; the table also lists the one-character words missed most often.

    python benchmarks/detection_by_length.py --dataset docbank --pages 20
    python benchmarks/detection_by_length.py --dataset /work/corpus/bench/en/dev --pages 40 --model runs/x/model

``docbank`` reads ``DATA_ROOT/docbank-samples`` with its token boxes (DocBank boxes of math glyphs span the font's
height, so some "inside a larger box" and "missed" one-character tokens there are box artefacts); any other value is
a manifest folder (ours: ``textspotter synth`` output, the corpus's bench pages), whose ``ignore`` words are skipped.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from truebox import docbank_pages  # noqa: E402

from textspotter import OCR  # noqa: E402
from textspotter.data.manifest import read_manifest  # noqa: E402
from textspotter.geometry import quad_aabb  # noqa: E402
from textspotter.pipeline import DetectionOptions  # noqa: E402

CLASSES = ("1", "2-3", "4+")


def length_class(text: str) -> str:
    """``"1"``, ``"2-3"`` or ``"4+"`` by the number of characters of ``text``."""
    return "1" if len(text) == 1 else "2-3" if len(text) <= 3 else "4+"


def pages(dataset: str, data_root: Path, limit: int) -> Iterator[tuple[Path, list[tuple[str, np.ndarray]]]]:
    """Yield ``(image path, [(text, box x0 y0 x1 y1)])`` of the first ``limit`` pages of ``dataset``."""
    if dataset == "docbank":
        for path, tokens in docbank_pages(data_root / "docbank-samples", limit):
            yield path, [(t.text, np.asarray(t.box, dtype=np.float64)) for t in tokens]
        return
    for index, page in enumerate(read_manifest(dataset)):
        if index >= limit:
            return
        words = []
        for word in page.words:
            if word.ignore:
                continue
            words.append((word.text, quad_aabb(np.asarray(word.quad, dtype=np.float64).reshape(4, 2))))
        yield Path(dataset) / page.image, words


def outcome(box: np.ndarray, found: np.ndarray) -> str:
    """``"matched"``, ``"inside"`` or ``"missed"`` for one reference ``box`` against ``[N, 4]`` detected boxes."""
    if found.shape[0] == 0:
        return "missed"
    width = np.clip(np.minimum(found[:, 2], box[2]) - np.maximum(found[:, 0], box[0]), 0, None)
    height = np.clip(np.minimum(found[:, 3], box[3]) - np.maximum(found[:, 1], box[1]), 0, None)
    overlap = width * height
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)
    areas = (found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1])
    if (overlap / (area + areas - overlap + 1e-6)).max() >= 0.5:
        return "matched"
    return "inside" if (overlap / area).max() >= 0.5 else "missed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="docbank", help="docbank, or a manifest folder")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-prefilter", action="store_true", help="detect without the v2 pre-filter")
    parser.add_argument("--top", type=int, default=25, help="one-character words missed most often to list")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    detection = DetectionOptions(use_prefilter=False) if args.no_prefilter else None
    ocr = OCR(model=args.model, device="cpu", detection=detection)
    counts = {name: Counter() for name in CLASSES}
    missed_single: Counter = Counter()
    read = 0
    for path, words in pages(args.dataset, Path(args.data_root), args.pages):
        with Image.open(path) as image:
            found = ocr.detect(np.asarray(image.convert("RGB")))
        boxes = quad_aabb(np.asarray(found.quads, dtype=np.float64).reshape(-1, 4, 2))
        for text, box in words:
            kind = length_class(text)
            result = outcome(box, boxes)
            counts[kind][result] += 1
            if kind == "1" and result == "missed":
                missed_single[text] += 1
        read += 1
    print(
        f"- command: python benchmarks/detection_by_length.py --dataset {args.dataset} --pages {args.pages}"
        + (f" --model {args.model}" if args.model else "")
        + (" --no-prefilter" if args.no_prefilter else "")
    )
    print(
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}; pages read: {read}\n"
    )
    print("| words | count | matched % | inside a larger box % | missed % |")
    print("|---|---:|---:|---:|---:|")
    for kind in CLASSES:
        total = sum(counts[kind].values())
        if total:
            shares = [100 * counts[kind][r] / total for r in ("matched", "inside", "missed")]
            print(f"| {kind} characters | {total} | " + " | ".join(f"{s:.1f}" for s in shares) + " |")
    if missed_single:
        print("\none-character words missed: " + ", ".join(f"{t} {c}" for t, c in missed_single.most_common(args.top)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

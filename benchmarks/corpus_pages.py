"""Per-page scores of one model on the corpus bench pages: a quick probe for choosing post-processing settings.

Reads the first N pages of one language and split of the corpus benchmark (``benchmarks/corpus_bench.py`` builds
them under ``/work/corpus/bench``) with ``OCR.read`` and prints each page's NED and bag-of-character error, then their
mean over pages (``corpus_bench.py`` pools the pages' edits instead, so its figures differ). The detection steps of
issue #22's long CJK lines can be switched per run, whatever the model's spec says. Optionally writes every page's
normalised reference and hypothesis texts as JSON lines, to read the differences.

Usage::

    python benchmarks/corpus_pages.py --language ja --split dev --pages 12
    python benchmarks/corpus_pages.py --language ja --pages 12 --fill-gaps off --merge-lines off --texts ja.jsonl
    python benchmarks/corpus_pages.py --language en --model src/textspotter/weights/default --merge-lines on

Tune on dev pages only; report test pages with ``corpus_bench.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from textspotter.evaluate.datasets import load_image, read_manifest_samples
from textspotter.evaluate.scoring import hypothesis_text
from textspotter.metrics.text import normalize_text, text_counts
from textspotter.pipeline import OCR
from textspotter.pipeline.stages import DetectionOptions

SWITCH = {"model": None, "on": True, "off": False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="/work/corpus/bench", help="folder of the corpus bench pages")
    parser.add_argument("--language", required=True)
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--pages", type=int, default=12, help="first N pages of the split")
    parser.add_argument("--model", default="multi", help="model name or folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fill-gaps", choices=sorted(SWITCH), default="model")
    parser.add_argument("--merge-lines", choices=sorted(SWITCH), default="model")
    parser.add_argument("--texts", type=Path, help="write each page's texts and scores here (JSON lines)")
    args = parser.parse_args(argv)
    manifest = Path(args.root) / args.language / args.split / "manifest.jsonl"
    if not manifest.is_file():
        parser.error(f"{manifest} not found: build the pages with benchmarks/corpus_bench.py --build-only")
    torch.set_num_threads(args.threads)
    detection = DetectionOptions(fill_gaps=SWITCH[args.fill_gaps], merge_lines=SWITCH[args.merge_lines])
    ocr = OCR(model=args.model, detection=detection)
    rows = []
    for index, sample in enumerate(read_manifest_samples(manifest)):
        if index >= args.pages:
            break
        document = ocr.read(load_image(sample.image))[0]
        if document.error is not None:
            print(f"{sample.id}: {document.error}")
            continue
        hypothesis = hypothesis_text(document.pages[0])
        rates = text_counts(sample.text or "", hypothesis).rates()
        rows.append(
            {"id": sample.id, **rates, "ref": normalize_text(sample.text or ""), "hyp": normalize_text(hypothesis)}
        )
        print(f"{sample.id:55s} NED {100 * rates['ned']:6.2f}  BoC {100 * rates['bag_of_char_error']:6.2f}", flush=True)
    if not rows:
        print("no page read")
        return 1
    ned = statistics.fmean(row["ned"] for row in rows)
    boc = statistics.fmean(row["bag_of_char_error"] for row in rows)
    print(f"mean over {len(rows)} pages: NED {100 * ned:.2f} %, bag-of-character error {100 * boc:.2f} %")
    if args.texts is not None:
        args.texts.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

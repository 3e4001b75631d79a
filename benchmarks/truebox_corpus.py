"""Recognition alone on the corpus bench pages: read the true regions of each language's pages, score per region.

The corpus bench pages (``benchmarks/corpus_bench.py --build-only`` writes them) carry the text layer's regions:
words for Latin and Cyrillic text, whole lines of CJK text. Every region is read with ``OCR.recognize`` from its
true quad (the detector runs once per page for its feature map; no detection, no reading order), so the figures
isolate the recognizer: the measure to compare recognizer variants with (a training stage, a loss, a decoder)
before reading whole pages. Regions are split into those holding Han, kana or Hangul (``cjk``) and the rest.

Printed per language: regions, character error rate (edit distance over reference characters, summed over the
regions), regions read exactly, for all regions, the CJK ones and the others.

Usage::

    python benchmarks/truebox_corpus.py --model src/textspotter/weights/multi --languages zh-Hans,ja --pages 10
    python benchmarks/truebox_corpus.py --model runs/x/checkpoints/step-00000300/model --cjk-lm off --json out.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from textspotter.charset import script_of
from textspotter.metrics.text import levenshtein


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a kana, Han or Hangul character."""
    return any(script_of(ch) in ("cjk", "kana", "hangul") for ch in text)


def read_language(ocr: Any, folder: Path, pages: int, readings: list[dict[str, str]]) -> dict[str, list[int]]:
    """Read the first ``pages`` pages of the manifest in ``folder``; per group: [regions, exact, errors, chars].

    Each region's truth and reading are appended to ``readings``.
    """
    counts = {group: [0, 0, 0, 0] for group in ("all", "cjk", "other")}
    lines = (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines[:pages]:
        record = json.loads(line)
        words = [w for w in record["words"] if w["text"].strip()]
        if not words:
            continue
        image = str(folder / record["image"])
        quads = np.array([w["quad"] for w in words], dtype=np.float32)
        texts = ocr.recognize(image, quads).texts
        for word, text in zip(words, texts, strict=True):
            truth = word["text"]
            readings.append({"page": record["id"], "truth": truth, "read": text})
            errors = levenshtein(list(truth), list(text))
            for group in ("all", "cjk" if has_cjk(truth) else "other"):
                c = counts[group]
                c[0] += 1
                c[1] += int(text == truth)
                c[2] += errors
                c[3] += len(truth)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="multi", help="model folder or registered name (default: multi)")
    parser.add_argument("--root", default="/work/corpus/bench", help="folder of the corpus bench pages")
    parser.add_argument("--languages", default="zh-Hans,ja,ko,ru")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--pages", type=int, default=10, help="first N pages of each language's manifest")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cjk-lm", choices=("auto", "on", "off"), default="off", help="textspotter's --cjk-lm")
    parser.add_argument(
        "--unify-scripts", choices=("on", "off"), default="on", help="RecognitionOptions.unify_scripts (default on)"
    )
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--readings", default=None, help="write every region's truth and reading (JSON lines)")
    args = parser.parse_args()

    import torch

    from textspotter import OCR
    from textspotter.ops.charlm import char_lm_options
    from textspotter.pipeline import OrientationOptions, RecognitionOptions

    torch.set_num_threads(args.threads)
    ocr = OCR(
        model=args.model,
        device="cpu",
        recognition=RecognitionOptions(
            cjk_lm=char_lm_options(args.cjk_lm), lexicon=None, unify_scripts=args.unify_scripts == "on"
        ),
        orientation=OrientationOptions(mode="off"),
    )
    print(f"command: {' '.join(['python', *sys.argv])}")
    print(f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%dT%H:%M} UTC; machine: {platform.machine()}, ", end="")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; threads {args.threads}")
    print(f"model: {args.model}; cjk lm {args.cjk_lm}; lexicon off; unify scripts {args.unify_scripts}; ", end="")
    print(f"first {args.pages} {args.split} pages\n")
    print("| language | regions | CER % | exact % | CJK regions | CJK CER % | CJK exact % | other regions |", end="")
    print(" other CER % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    report: dict[str, Any] = {}
    readings: list[dict[str, str]] = []
    for language in args.languages.split(","):
        started = time.perf_counter()
        read = len(readings)
        counts = read_language(ocr, Path(args.root) / language / args.split, args.pages, readings)
        for item in readings[read:]:
            item["language"] = language

        cer = {g: 100.0 * c[2] / max(c[3], 1) for g, c in counts.items()}
        exact = {g: 100.0 * c[1] / max(c[0], 1) for g, c in counts.items()}
        report[language] = {g: dict(zip(("regions", "exact", "errors", "chars"), c)) for g, c in counts.items()}
        report[language]["seconds"] = time.perf_counter() - started
        print(
            f"| {language} | {counts['all'][0]} | {cer['all']:.2f} | {exact['all']:.1f} | {counts['cjk'][0]} | "
            f"{cer['cjk']:.2f} | {exact['cjk']:.1f} | {counts['other'][0]} | {cer['other']:.2f} |",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
    if args.readings:
        lines = (json.dumps(item, ensure_ascii=False) for item in readings)
        Path(args.readings).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


if __name__ == "__main__":
    main()

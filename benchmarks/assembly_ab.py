"""Two page-assembly settings compared on the same readings: each page is read once and assembled twice.

Page assembly (``pipeline.assemble.assemble_page``: lines, reading order, joins and splits) runs after the
networks, so two ``AssemblyOptions`` can be compared without reading a page twice: the readings of the first
assembly are kept and assembled again with the other options. Prints each page whose text changed (its NED before
and after) and the mean per-page NED, bag-of-character error and CER of both settings.

Usage::

    python benchmarks/assembly_ab.py --dataset zh-Hans --model multi --pages 40 --set number_columns=false
    python benchmarks/assembly_ab.py --dataset docbank --pages 100 --set join_gap=none
    python benchmarks/assembly_ab.py --dataset en --split test --pages 40 --set number_columns=false

``--dataset`` is a language of the corpus bench pages (``/work/corpus/bench/LANG/SPLIT``, built by
``benchmarks/corpus_bench.py --build-only``) or a dataset shortcut under ``../shared/data`` (``docbank``,
``tesseract-test``). ``--set`` gives the *first* setting (the baseline) as changes to the default
``AssemblyOptions``; the second is the default itself. Tune on dev pages only.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
from pathlib import Path
from typing import Any

import torch

import textspotter.pipeline.ocr as ocr_module
from textspotter.evaluate.datasets import load_image, open_dataset, read_manifest_samples
from textspotter.evaluate.scoring import hypothesis_text
from textspotter.metrics.text import text_counts
from textspotter.pipeline import OCR, AssemblyOptions

SHORTCUTS = ("docbank", "tesseract-test")


def parse_setting(text: str) -> tuple[str, Any]:
    """``name=value`` → (name, value); values ``none``, ``true``, ``false``, numbers or strings."""
    name, sep, value = text.partition("=")
    if not sep or name not in {f.name for f in dataclasses.fields(AssemblyOptions)}:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE with a field of AssemblyOptions, got {text!r}")
    lowered = value.strip().lower()
    if lowered in ("none", "true", "false"):
        return name, {"none": None, "true": True, "false": False}[lowered]
    try:
        return name, float(value)
    except ValueError:
        return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="corpus bench language (en, zh-Hans, ...) or a shortcut")
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--root", default="/work/corpus/bench", help="folder of the corpus bench pages")
    parser.add_argument("--data-root", default="../shared/data", help="folder of the dataset shortcuts")
    parser.add_argument("--model", default="default", help="model name or folder")
    parser.add_argument("--pages", type=int, default=40, help="first N pages")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", dest="changes", type=parse_setting, action="append", default=[], required=True)
    args = parser.parse_args(argv)
    if args.dataset in SHORTCUTS:
        samples = open_dataset(args.dataset, data_root=args.data_root, limit=args.pages).samples
    else:
        manifest = Path(args.root) / args.dataset / args.split / "manifest.jsonl"
        if not manifest.is_file():
            parser.error(f"{manifest} not found: build the pages with benchmarks/corpus_bench.py --build-only")
        samples = list(itertools.islice(read_manifest_samples(manifest), args.pages))
    baseline = AssemblyOptions(**dict(args.changes))
    default = AssemblyOptions()
    torch.set_num_threads(args.threads)

    # The readings of each page's assembly, kept to assemble again.
    kept: list[Any] = []
    assemble = ocr_module.assemble_page

    def keeping(readings: Any, *, options: AssemblyOptions | None = None) -> Any:
        kept.append(readings)
        return assemble(readings, options=options)

    ocr_module.assemble_page = keeping
    ocr = OCR(model=args.model, assembly=baseline)
    scores: dict[str, list[tuple[float, float, float]]] = {"baseline": [], "default": []}
    changed = 0
    for sample in samples:
        kept.clear()
        document = ocr.read(load_image(sample.image))[0]
        if document.error is not None or not kept:
            print(f"{sample.id}: not read ({document.error})")
            continue
        texts = {}
        for name, options in (("baseline", baseline), ("default", default)):
            # The last assembly is the page's: a page found turned is assembled again once read upright.
            texts[name] = hypothesis_text(assemble(kept[-1], options=options))
            rates = text_counts(sample.text or "", texts[name]).rates()
            scores[name].append((rates["ned"], rates["bag_of_char_error"], rates["cer"]))
        if texts["baseline"] != texts["default"]:
            changed += 1
            before, after = scores["baseline"][-1][0], scores["default"][-1][0]
            print(f"{sample.id:60s} NED {100 * before:6.2f} -> {100 * after:6.2f}", flush=True)
    if not scores["default"]:
        print("no page read")
        return 1
    for name in ("baseline", "default"):
        ned, boc, cer = (100 * statistics.fmean(row[k] for row in scores[name]) for k in range(3))
        label = " ".join(f"{k}={v}" for k, v in args.changes) if name == "baseline" else "defaults"
        print(f"{args.dataset} {name} ({label}): NED {ned:.2f}, bag-of-character error {boc:.2f}, CER {cer:.2f} %")
    print(f"pages {len(scores['default'])}, changed {changed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Which reference tokens each engine misses: bag-of-word errors of cached `textspotter bench` runs, by kind of token.

    python benchmarks/bag_errors.py docbank textspotter=CACHE1 tesseract=CACHE2 [--top 30]

Each ``NAME=FOLDER`` is the ``--cache`` folder of a ``textspotter bench`` run on the dataset (one engine version per
folder: every cached page of the folder is used, whichever engine wrote it). Tokens are the metric's: both texts go
through the bag-of-word error's normalisation and are split at whitespace. Per page, the missing tokens are those of
the reference that the reading lacks (multiset difference) and the spurious ones the reverse; the page's error is the
larger count. The table counts missing and spurious tokens by :func:`token_kind`, and the near misses: missing words
of 3+ letters that a spurious token of the page resembles (similarity ratio over 0.8, a misreading rather than a miss).
"""

from __future__ import annotations

import argparse
import difflib
import glob
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textspotter.evaluate.cache import file_sha256, page_from_dict
from textspotter.evaluate.datasets import Dataset, open_dataset
from textspotter.evaluate.scoring import dont_care_quads, hypothesis_text
from textspotter.metrics.text import normalize_text

KINDS = ("one character", "ordinary word", "number", "with digits", "math or symbol letters", "symbols", "other")
_NUMBER = re.compile(r"[\d.,:%()\-–+]+")
_ORDINARY = re.compile(r"\(?[A-Za-z]+[.,;:)]*")
_LETTERS3 = re.compile(r"[A-Za-z]{3}")


def token_kind(token: str) -> str:
    """Return the kind of a non-empty token (one of :data:`KINDS`).

    >>> [token_kind(t) for t in ("x", "(see", "2.5%", "H2O", "∇f", "--", "self-affine")]
    ['one character', 'ordinary word', 'number', 'with digits', 'math or symbol letters', 'symbols', 'other']
    """
    if len(token) == 1:
        return "one character"
    if _ORDINARY.fullmatch(token):
        return "ordinary word"
    if any(c.isdigit() for c in token):
        return "number" if _NUMBER.fullmatch(token) else "with digits"
    if not any(c.isalpha() for c in token):
        return "symbols"
    if any(ord(c) > 0x2000 or unicodedata.category(c).startswith("S") for c in token):
        return "math or symbol letters"
    return "other"


@dataclass
class BagReport:
    """Token counts of one engine over a dataset."""

    reference_tokens: int = 0
    errors: int = 0
    missing: Counter = field(default_factory=Counter)
    spurious: Counter = field(default_factory=Counter)
    near_misses: int = 0
    missing_tokens: Counter = field(default_factory=Counter)


def compare(reference: str, reading: str, report: BagReport) -> None:
    """Add one page's missing, spurious and near-missed tokens to ``report``."""
    ref = Counter(normalize_text(reference).split())
    hyp = Counter(normalize_text(reading).split())
    missing, spurious = ref - hyp, hyp - ref
    report.reference_tokens += sum(ref.values())
    report.errors += max(sum(missing.values()), sum(spurious.values()))
    report.missing_tokens.update(missing)
    for token, count in missing.items():
        report.missing[token_kind(token)] += count
        if _LETTERS3.search(token) and any(difflib.SequenceMatcher(None, token, s).ratio() > 0.8 for s in spurious):
            report.near_misses += count
    for token, count in spurious.items():
        report.spurious[token_kind(token)] += count


def cached_pages(folder: str | Path, dont_care: Callable[[str], np.ndarray | None] | None = None) -> dict[str, str]:
    """Return ``{image SHA-256: reading text}`` of every page cached under a ``textspotter bench --cache`` folder.

    ``dont_care(sha)`` may give the quads whose words to leave out of a page's text (``ScoreOptions.dont_care``).
    """
    pages: dict[str, str] = {}
    for path in glob.glob(str(Path(folder) / "*" / "*" / "*.json")):
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        sha = data["image_sha256"]
        pages[sha] = hypothesis_text(page_from_dict(data["page"]), dont_care=dont_care(sha) if dont_care else None)
    return pages


def dont_care_lookup(dataset: Dataset) -> Callable[[str], np.ndarray | None]:
    """``sha -> [K, 4, 2]`` ignored reference quads of the dataset's page with that image (``None`` if unknown)."""
    quads = {file_sha256(sample.image): dont_care_quads(sample) for sample in dataset.samples}
    return quads.get


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="dataset path or shortcut (docbank, tesseract-test, ...)")
    parser.add_argument("runs", nargs="+", help="NAME=CACHE_FOLDER of a textspotter bench run on the dataset")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--top", type=int, default=30, help="most often missing tokens to list per engine")
    parser.add_argument("--dont-care", action="store_true", help="leave out words read inside ignored reference words")
    args = parser.parse_args(argv)
    dataset = open_dataset(args.dataset, data_root=args.data_root)
    dont_care = dont_care_lookup(dataset) if args.dont_care else None
    reports: dict[str, BagReport] = {}
    for run in args.runs:
        name, _, folder = run.partition("=")
        if not folder:
            parser.error(f"expected NAME=CACHE_FOLDER, got {run!r}")
        pages = cached_pages(folder, dont_care)
        report = BagReport()
        for sample in dataset.samples:
            reading = pages.get(file_sha256(sample.image))
            if sample.text is not None and reading is not None:
                compare(sample.text, reading, report)
        if report.reference_tokens == 0:
            parser.error(f"{folder}: no cached page of {args.dataset}")
        reports[name] = report
    names = list(reports)
    print(f"| tokens of the reference | {' | '.join(names)} |")
    print("|---|" + "---|" * len(names))
    print("| reference tokens | " + " | ".join(str(r.reference_tokens) for r in reports.values()) + " |")
    print(
        "| bag-of-word error % | "
        + " | ".join(f"{100 * r.errors / r.reference_tokens:.2f}" for r in reports.values())
        + " |"
    )
    for kind in KINDS:
        cells = [f"{r.missing[kind]} / {r.spurious[kind]}" for r in reports.values()]
        print(f"| {kind}: missing / spurious | {' | '.join(cells)} |")
    print(
        "| near misses (missing 3+ letter words) | " + " | ".join(str(r.near_misses) for r in reports.values()) + " |"
    )
    for name, report in reports.items():
        print(
            f"\n{name}, most often missing: "
            + ", ".join(f"{t} {c}" for t, c in report.missing_tokens.most_common(args.top))
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

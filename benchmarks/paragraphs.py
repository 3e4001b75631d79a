"""Paragraph breaks against the text layer's paragraphs, on kept readings: two assembly settings compared.

The page metrics (CER, bag-of-word error) do not see where a page's paragraphs begin and end, yet a user who
splits pages into passages (search, RAG) reads them at ``paragraph`` level. This script scores the decision the
assembly makes between each two lines it reads one after the other: the same paragraph, or a break. The truth is
the paragraphs of the corpus page's text layer (``manifest.jsonl``: words, lines, paragraphs; docs/corpus.md §3):
each line read is given the reference paragraph of most of its words (a word read matches the reference word its
axis-aligned box overlaps most, intersection over union at least ``--min-iou``), and a pair of consecutive lines
counts when both got one. Prints, per setting, the pairs kept together and broken against the truth, the
precision, recall and F1 of the breaks, and the pairs whose decision the second setting changed (with the text
around them) for reading.

Usage (the readings kept by ``benchmarks/assembly_ab.py --keep DIR`` for the same pages and model)::

    python benchmarks/paragraphs.py --dataset en --keep runs/readings/en-dev --set continue_paragraphs=false
    python benchmarks/paragraphs.py --dataset en --root /work/corpus/bench-dev-wide --pages 120 --keep K --set ...

``--set`` gives the first setting (the baseline) as changes to the default ``AssemblyOptions``; the second is the
default itself, as in ``assembly_ab.py``. Tune on dev pages only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from assembly_ab import kept_name, load_readings, parse_setting  # noqa: E402

from textspotter.document import Page  # noqa: E402
from textspotter.geometry import aabb_iou, quad_aabb  # noqa: E402
from textspotter.pipeline import AssemblyOptions  # noqa: E402
from textspotter.pipeline.assemble import assemble_page  # noqa: E402


@dataclass
class BreakCounts:
    """Decisions between consecutive lines read: ``together`` / ``broken`` by the assembly, against the truth."""

    kept_together: int = 0  # same paragraph read, same paragraph in the text layer
    false_break: int = 0  # a break read inside a reference paragraph
    false_join: int = 0  # one paragraph read across a reference break
    true_break: int = 0
    unmatched: int = 0  # pairs with a line that matched no reference word
    changes: list[str] = field(default_factory=list)

    def add(self, other: BreakCounts) -> None:
        self.kept_together += other.kept_together
        self.false_break += other.false_break
        self.false_join += other.false_join
        self.true_break += other.true_break
        self.unmatched += other.unmatched

    def row(self, label: str) -> str:
        breaks_read = self.true_break + self.false_break
        breaks_true = self.true_break + self.false_join
        precision = self.true_break / breaks_read if breaks_read else 0.0
        recall = self.true_break / breaks_true if breaks_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return (
            f"| {label} | {self.kept_together} | {self.true_break} | {self.false_break} | {self.false_join} | "
            f"{100 * precision:.2f} | {100 * recall:.2f} | {100 * f1:.2f} |"
        )


def _boxes(quads: list[Any]) -> np.ndarray:
    """``[n, 4]`` axis-aligned boxes (x0, y0, x1, y1) of ``[4, 2]`` quads."""
    return np.asarray(quad_aabb(np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2)))


def reference_paragraph_of_words(record: dict[str, Any]) -> np.ndarray:
    """The paragraph index of every reference word of a manifest record (-1 for words in no paragraph)."""
    of_line = np.full(len(record.get("lines", [])), -1)
    for p, paragraph in enumerate(record.get("paragraphs", [])):
        of_line[paragraph["lines"]] = p
    of_word = np.full(len(record["words"]), -1)
    for k, line in enumerate(record.get("lines", [])):
        of_word[line["words"]] = of_line[k]
    return of_word


def line_paragraphs(page: Page, record: dict[str, Any], min_iou: float) -> list[tuple[int, int, str]]:
    """Per line read, in reading order: (paragraph read, reference paragraph or -1, the line's text)."""
    words = record["words"]
    truth = reference_paragraph_of_words(record)
    ref_boxes = _boxes([w["quad"] for w in words]) if words else np.zeros((0, 4))
    out = []
    for p, paragraph in enumerate(page.paragraphs):
        for line in paragraph.lines:
            votes: Counter[int] = Counter()
            if len(ref_boxes) and line.words:
                iou = np.asarray(aabb_iou(_boxes([w.quad for w in line.words]), ref_boxes))
                best = iou.argmax(axis=1)
                for k, j in enumerate(best):
                    if iou[k, j] >= min_iou and truth[j] >= 0:
                        votes[int(truth[j])] += 1
            reference = votes.most_common(1)[0][0] if votes else -1
            out.append((p, reference, " ".join(w.text for w in line.words)))
    return out


def score_page(lines: list[tuple[int, int, str]]) -> tuple[BreakCounts, dict[int, bool]]:
    """Count the decisions between consecutive lines; also return each counted pair's decision (True: together)."""
    counts = BreakCounts()
    decisions: dict[int, bool] = {}
    for k, ((p, ref, _), (q, ref_next, _)) in enumerate(itertools.pairwise(lines)):
        if ref < 0 or ref_next < 0:
            counts.unmatched += 1
            continue
        together, same = p == q, ref == ref_next
        decisions[k] = together
        if together and same:
            counts.kept_together += 1
        elif together:
            counts.false_join += 1
        elif same:
            counts.false_break += 1
        else:
            counts.true_break += 1
    return counts, decisions


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--dataset", required=True, help="corpus bench language (en, ru, ...)")
parser.add_argument("--split", default="dev", choices=["dev", "test"])
parser.add_argument("--root", default="/work/corpus/bench", help="folder of the corpus bench pages")
parser.add_argument("--model", default="default", help="the model name the readings were kept for")
parser.add_argument("--pages", type=int, default=40, help="first N pages")
parser.add_argument("--keep", type=Path, required=True, help="folder of kept readings (assembly_ab.py --keep)")
parser.add_argument("--set", dest="changes", type=parse_setting, action="append", default=[], required=True)
parser.add_argument("--min-iou", type=float, default=0.3, help="least box overlap of a word read and its reference")
parser.add_argument("--show", type=int, default=40, help="changed decisions to print")


def main(argv: list[str] | None = None) -> int:
    args = parser.parse_args(argv)
    manifest = Path(args.root) / args.dataset / args.split / "manifest.jsonl"
    if not manifest.is_file():
        parser.error(f"{manifest} not found: build the pages with benchmarks/corpus_bench.py --build-only")
    settings = {"baseline": AssemblyOptions(**dict(args.changes)), "default": AssemblyOptions()}
    totals = {name: BreakCounts() for name in settings}
    changes: list[str] = []
    pages = 0
    with open(manifest, encoding="utf-8") as fh:
        for raw in itertools.islice(fh, args.pages):
            record = json.loads(raw)
            stored = args.keep / kept_name(record["id"])
            if not stored.is_file():
                print(f"{record['id']}: no kept readings in {args.keep}")
                continue
            readings = load_readings(stored, args.model, record["id"])
            pages += 1
            decided = {}
            for name, options in settings.items():
                lines = line_paragraphs(assemble_page(readings, options=options), record, args.min_iou)
                counts, decisions = score_page(lines)
                totals[name].add(counts)
                decided[name] = (lines, decisions)
            (before_lines, before), (after_lines, after) = decided["baseline"], decided["default"]
            if [t for *_, t in before_lines] != [t for *_, t in after_lines]:
                changes.append(f"{record['id']}: the lines read differ; pairs not compared")
                continue
            for k, together in after.items():
                if k in before and before[k] != together:
                    right = before_lines[k][1] == before_lines[k + 1][1]
                    verdict = "right" if together == right else "WRONG"
                    what = "joined" if together else "broken"
                    changes.append(
                        f"{record['id']}: {what} ({verdict}): ...{before_lines[k][2][-40:]!r} | "
                        f"{before_lines[k + 1][2][:40]!r}..."
                    )
    label = " ".join(f"{k}={v}" for k, v in args.changes)
    print(f"{args.dataset}/{args.split}: {pages} pages; pairs of consecutive lines read, against the text layer")
    print()
    header = (
        "| setting | kept together | breaks right | false breaks | false joins | break precision % | recall % | F1 % |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(totals["baseline"].row(label))
    print(totals["default"].row("defaults"))
    print(f"\nunmatched pairs: {totals['default'].unmatched}; decisions changed: {len(changes)}")
    for line in changes[: args.show]:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Is model B better than model A on these pages? A paired bootstrap over the pages of two cached bench runs.

    python benchmarks/paired.py docbank A=CACHE_A B=CACHE_B [--metrics cer,bag_of_word_error] [--movers 5]
    python benchmarks/paired.py /work/corpus/bench/ja/dev A=CACHE_A B=CACHE_B --metrics ned

Each ``NAME=FOLDER`` is the ``--cache`` folder of a ``textspotter bench`` or ``benchmarks/corpus_bench.py`` run
(one model per folder; :func:`bag_errors.cached_pages`). Only pages that both runs read are compared. A metric is
pooled over the pages as the bench pools it (total edits over total reference length, :class:`TextCounts`), so
the figures equal the bench's. The 95 % interval of ``B − A`` comes from resampling the pages with replacement
(the same pages for both models each time): when it holds 0, the two are not told apart on these pages, however
the point figures look. A few pages whose reading order breaks (edits near the page's length) move page CER by
whole points; ``--movers`` lists the pages that moved most.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bag_errors import cached_pages, dont_care_lookup  # noqa: E402

from textspotter.metrics.text import TextCounts, text_counts  # noqa: E402

# metric: (numerator field, denominator field) of TextCounts, pooled over pages as TextCounts.rates() pools them.
METRICS = {
    "cer": ("character_edits", "reference_characters"),
    "wer": ("word_edits", "reference_words"),
    "ned": ("character_edits", "ned_length"),
    "bag_of_char_error": ("bag_character_errors", "bag_reference_characters"),
    "bag_of_word_error": ("bag_word_errors", "bag_reference_words"),
}


@dataclass(frozen=True)
class Comparison:
    """One metric of two runs over the same pages (rates in [0, ∞), lower is better).

    Attributes:
        metric: a key of :data:`METRICS`.
        pages: pages compared.
        a, b: the pooled rates of A and B.
        low, high: the 95 % bootstrap interval of ``b − a``.
        better, worse: pages whose own rate B lowers, raises (beyond 1e-9).
    """

    metric: str
    pages: int
    a: float
    b: float
    low: float
    high: float
    better: int
    worse: int


def compare_runs(
    a: Sequence[TextCounts],
    b: Sequence[TextCounts],
    metrics: Sequence[str],
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> list[Comparison]:
    """Compare the per-page counts of two runs (``a[i]`` and ``b[i]`` the same page) metric by metric.

    Raises:
        ValueError: runs of different lengths, no pages, an unknown metric or fewer than 100 resamples.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"need the same pages, at least one, in both runs: got {len(a)} and {len(b)}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(METRICS)}")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100, got {resamples}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(a), size=(resamples, len(a)))  # the same resampled pages for every metric
    out = []
    for metric in metrics:
        top, bottom = METRICS[metric]
        counts = np.array(
            [[getattr(x, top), getattr(x, bottom), getattr(y, top), getattr(y, bottom)] for x, y in zip(a, b)],
            dtype=np.float64,
        )
        if counts[:, 1].sum() <= 0:
            raise ValueError(f"{metric}: the pages have no reference to measure it on")
        sums = counts[draws].sum(axis=1)  # [resamples, 4]
        with np.errstate(invalid="ignore", divide="ignore"):
            diffs = sums[:, 2] / sums[:, 3] - sums[:, 0] / sums[:, 1]
            page_a = counts[:, 0] / np.maximum(counts[:, 1], 1)
            page_b = counts[:, 2] / np.maximum(counts[:, 3], 1)
        low, high = np.nanpercentile(diffs, [2.5, 97.5])
        total = counts.sum(axis=0)
        out.append(
            Comparison(
                metric=metric,
                pages=len(a),
                a=float(total[0] / total[1]),
                b=float(total[2] / max(total[3], 1)),
                low=float(low),
                high=float(high),
                better=int((page_b < page_a - 1e-9).sum()),
                worse=int((page_b > page_a + 1e-9).sum()),
            )
        )
    return out


def table(comparisons: Sequence[Comparison], names: tuple[str, str]) -> str:
    """A Markdown table of the comparisons (rates in %)."""
    a, b = names
    lines = [
        f"| metric | pages | {a} % | {b} % | {b} − {a} | 95 % interval | pages better / worse |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c.metric} | {c.pages} | {100 * c.a:.2f} | {100 * c.b:.2f} | {100 * (c.b - c.a):+.2f} | "
            f"[{100 * c.low:+.2f}, {100 * c.high:+.2f}] | {c.better} / {c.worse} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from textspotter.evaluate.cache import file_sha256
    from textspotter.evaluate.datasets import open_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="dataset path or shortcut (docbank, tesseract-test, a corpus bench folder)")
    parser.add_argument("runs", nargs=2, help="NAME=CACHE_FOLDER of run A, then of run B")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--metrics", default="cer,bag_of_word_error", help=f"comma-separated of {sorted(METRICS)}")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--movers", type=int, default=0, help="also list the N pages whose first metric moved most")
    parser.add_argument("--dont-care", action="store_true", help="leave out words read inside ignored reference words")
    args = parser.parse_args(argv)
    dataset = open_dataset(args.dataset, data_root=args.data_root)
    dont_care = dont_care_lookup(dataset) if args.dont_care else None
    names, folders = [], []
    for run in args.runs:
        name, _, folder = run.partition("=")
        if not folder:
            parser.error(f"expected NAME=CACHE_FOLDER, got {run!r}")
        names.append(name)
        folders.append(cached_pages(folder, dont_care))
    rows = []
    for sample in dataset.samples:
        key = file_sha256(sample.image)
        if sample.text is not None and key in folders[0] and key in folders[1]:
            rows.append(
                (
                    sample.image.name,
                    text_counts(sample.text, folders[0][key]),
                    text_counts(sample.text, folders[1][key]),
                )
            )
    if not rows:
        parser.error(f"no page of {args.dataset} is in both caches")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    try:
        comparisons = compare_runs(
            [r[1] for r in rows], [r[2] for r in rows], metrics, resamples=args.resamples, seed=args.seed
        )
    except ValueError as error:
        parser.error(str(error))
    print(
        f"dataset: {args.dataset}; A = {names[0]} ({args.runs[0].partition('=')[2]}), "
        f"B = {names[1]} ({args.runs[1].partition('=')[2]}); {args.resamples} resamples, seed {args.seed}\n"
    )
    print(table(comparisons, (names[0], names[1])))
    if args.movers:
        top, bottom = METRICS[metrics[0]]
        moved = sorted(rows, key=lambda r: getattr(r[2], top) - getattr(r[1], top))
        print(f"\n{metrics[0]}, pages that moved most ({top} of {bottom}):")
        shown = moved if len(moved) <= 2 * args.movers else moved[: args.movers] + moved[-args.movers :]
        for name, x, y in shown:
            print(f"- {name}: {getattr(x, top)} -> {getattr(y, top)} of {getattr(x, bottom)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Reports of evaluation results: markdown tables, JSON and PNG charts (matplotlib, optional).

Rates are printed as percentages (CER, WER, NED, bag errors, precision, recall, F1, TEDS, Recall@k), Kendall's tau
as a number in [-1, 1]; ``n/a`` marks a metric the dataset's ground truth cannot measure.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from textspotter.evaluate.runner import EvalResult
from textspotter.evaluate.scoring import METRICS

__all__ = ["METRIC_LABELS", "format_metric", "markdown_table", "markdown_report", "results_to_json", "write_charts"]

METRIC_LABELS = {
    "cer": "CER %",
    "wer": "WER %",
    "ned": "NED %",
    "bag_of_char_error": "BoC err %",
    "bag_of_word_error": "BoW err %",
    "word_precision": "word P %",
    "word_recall": "word R %",
    "word_f1": "word F1 %",
    "line_precision": "line P %",
    "line_recall": "line R %",
    "line_f1": "line F1 %",
    "reading_order_tau": "order τ",
    "teds": "TEDS %",
    "teds_structure": "TEDS-S %",
    "recall_at_1": "R@1 %",
    "recall_at_5": "R@5 %",
}

# Lower is better for these; the charts say so in their titles.
_LOWER_IS_BETTER = {"cer", "wer", "ned", "bag_of_char_error", "bag_of_word_error"}
_CHART_METRICS = (
    "cer",
    "wer",
    "bag_of_word_error",
    "word_f1",
    "line_f1",
    "reading_order_tau",
    "teds",
    "recall_at_1",
    "pages_per_second",
)


def format_metric(name: str, value: float | None) -> str:
    """Format one metric for a table: percentages with two decimals, tau with three, ``n/a`` for ``None``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if name == "reading_order_tau":
        return f"{value:.3f}"
    return f"{100 * value:.2f}"


def _metric_names(results: Sequence[EvalResult]) -> list[str]:
    names = [m for m in METRICS if any(r.metrics.get(m) is not None for r in results)]
    extra = sorted({m for r in results for m, v in r.metrics.items() if m not in METRICS and v is not None})
    return names + extra


def markdown_table(results: Sequence[EvalResult]) -> str:
    """Return one markdown table of results (rows: dataset × engine; columns: measurable metrics, speed)."""
    names = _metric_names(results)
    header = ["dataset", "engine", "pages", *(METRIC_LABELS.get(n, n) for n in names), "pages/s", "load s"]
    rows = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|"]
    for result in results:
        speed = result.pages_per_second
        cells = [
            result.dataset,
            result.engine + ("¹" if result.cached else "") + ("²" if result.errors else ""),
            str(result.pages),
            *(format_metric(n, result.metrics.get(n)) for n in names),
            f"{speed:.3f}" if speed is not None else "n/a",
            f"{result.load_seconds:.2f}" if result.load_seconds is not None else "n/a",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def markdown_report(
    results: Sequence[EvalResult],
    *,
    title: str = "Evaluation",
    context: Sequence[tuple[str, str]] = (),
) -> str:
    """Return a markdown report: context lines, one table per dataset, engine versions and footnotes.

    Args:
        results: the results, in the order the tables should list them.
        title: the heading.
        context: ``(label, value)`` lines printed under the heading (command, machine, date, threads, ...).
    """
    lines = [f"# {title}", ""]
    for label, value in context:
        lines.append(f"- **{label}:** {value}")
    if context:
        lines.append("")
    datasets = list(dict.fromkeys(r.dataset for r in results))
    for dataset in datasets:
        subset = [r for r in results if r.dataset == dataset]
        lines += [f"## {dataset}", "", markdown_table(subset), ""]
        layout = sorted({r.engine for r in subset if r.table_source == "layout"})
        if layout:
            lines += [
                f"TEDS of {', '.join(layout)}: these engines output no table structure; their tables are built from "
                "word positions (rows by vertical overlap, cells split at wide gaps, first row as header).",
                "",
            ]
    lines += ["## Engines", ""]
    for engine, version in dict.fromkeys((r.engine, r.version) for r in results):
        lines.append(f"- `{engine}`: {version}")
    footnotes = []
    if any(r.cached for r in results):
        cached = ", ".join(f"{r.engine}/{r.dataset} {r.cached}/{r.pages}" for r in results if r.cached)
        footnotes.append(f"¹ pages read from the cache, with the times measured when they were computed: {cached}.")
    if any(r.errors for r in results):
        failed = "; ".join(f"{r.engine}/{r.dataset}: {m}" for r in results for m in r.error_messages[:3])
        footnotes.append(f"² pages the engine failed on, scored as empty: {failed}.")
    if footnotes:
        lines += ["", *footnotes]
    return "\n".join(lines) + "\n"


def results_to_json(results: Sequence[EvalResult], *, context: Sequence[tuple[str, str]] = ()) -> str:
    """Return the results (and context) as indented JSON."""
    return json.dumps(
        {"context": dict(context), "results": [r.to_dict() for r in results]}, indent=2, ensure_ascii=False
    )


def write_charts(results: Sequence[EvalResult], folder: str | os.PathLike[str]) -> list[Path]:
    """Draw one grouped bar chart per metric (datasets on the x axis, one bar per engine) as PNG files.

    Returns:
        The written paths (``<folder>/<metric>.png``); empty when there is nothing to draw.

    Raises:
        ImportError: matplotlib is not installed (``pip install matplotlib``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    folder = Path(folder)
    engines = list(dict.fromkeys(r.engine for r in results))
    datasets = list(dict.fromkeys(r.dataset for r in results))
    written = []
    for metric in _CHART_METRICS:

        def value(result: EvalResult, metric: str = metric) -> float | None:
            return result.pages_per_second if metric == "pages_per_second" else result.metrics.get(metric)

        shown = [d for d in datasets if any(value(r) is not None for r in results if r.dataset == d)]
        if not shown:
            continue
        figure = Figure(figsize=(max(4.0, 1.6 * len(shown) * max(1, len(engines)) / 2 + 2), 3.6), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        width = 0.8 / max(1, len(engines))
        for index, engine in enumerate(engines):
            heights = []
            for dataset in shown:
                match = [r for r in results if r.engine == engine and r.dataset == dataset]
                number = value(match[0]) if match else None
                scale = 1 if metric in ("pages_per_second", "reading_order_tau") else 100
                heights.append(float("nan") if number is None else number * scale)
            positions = [i + (index - (len(engines) - 1) / 2) * width for i in range(len(shown))]
            axes.bar(positions, heights, width, label=engine)
        axes.set_xticks(range(len(shown)), shown)
        label = "pages per second" if metric == "pages_per_second" else METRIC_LABELS.get(metric, metric)
        direction = " (lower is better)" if metric in _LOWER_IS_BETTER else " (higher is better)"
        axes.set_title(label + direction)
        if metric == "pages_per_second":
            # Speeds of engines and datasets differ by orders of magnitude.
            axes.set_yscale("log")
        axes.legend(fontsize="small")
        axes.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{metric}.png"
        figure.savefig(path)
        written.append(path)
    return written

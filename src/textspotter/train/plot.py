"""Training curves as a PNG, drawn from the JSONL log (matplotlib's Agg canvas, no pyplot global state)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["read_log", "plot_curves"]

_LOSS_KEYS = ("loss", "det_conf", "det_iou", "det_angle", "rec", "rel_word", "rel_line")
_EVAL_KEYS = ("det_f1", "word_cer", "word_accuracy", "page_cer", "line_accuracy")


def read_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read the records of a JSONL training log (an empty list if the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _series(records: list[dict[str, Any]], kind: str, key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for record in records:
        value = record.get(key)
        if record.get("kind") == kind and isinstance(value, (int, float)) and math.isfinite(value):
            xs.append(record["step"])
            ys.append(value)
    return xs, ys


def plot_curves(records: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Draw training losses (log scale), the learning rate and the evaluation rates into one PNG.

    Args:
        records: log records with ``kind`` ``"train"`` or ``"eval"`` and a ``step``.
        path: PNG to write.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(14, 4), dpi=100)
    FigureCanvasAgg(figure)
    losses, rate, evals = figure.subplots(1, 3)
    for key in _LOSS_KEYS:
        xs, ys = _series(records, "train", key)
        if xs and all(y > 0 for y in ys):
            losses.plot(xs, ys, label=key, linewidth=2.0 if key == "loss" else 1.0)
    losses.set_yscale("log")
    losses.set_title("training losses")
    losses.set_xlabel("step")
    xs, ys = _series(records, "train", "lr")
    rate.plot(xs, ys)
    rate.set_title("learning rate")
    rate.set_xlabel("step")
    for key in _EVAL_KEYS:
        xs, ys = _series(records, "eval", key)
        if xs:
            evals.plot(xs, ys, marker="o", label=key)
    evals.set_title("held-out evaluation")
    evals.set_xlabel("step")
    evals.set_ylim(bottom=0)
    for axis in (losses, evals):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)

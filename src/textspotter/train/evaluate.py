"""Periodic evaluation of the model being trained, through the full inference pipeline.

Each rank reads its share of the held-out pages with ``textspotter.OCR`` (detector → NMS → recognizer → relational
model → assembly, exactly as users run it), compares every page with its annotation, and the per-page counters are
summed over ranks before any rate is computed (``STYLE.md``). Reported rates:

* ``det_precision``, ``det_recall``, ``det_f1``: word quads matched one-to-one at IoU ≥ ``iou_threshold``
  (``metrics.match_quads``; ``ignore`` words are don't-care);
* ``word_cer``: character edits of the recognised words over the characters of the reference words, where a matched
  pair counts its Levenshtein distance, a missed reference word its length and a spurious detection its text length;
* ``word_accuracy``: matched words read exactly, over reference words;
* ``page_cer``: ``metrics.text_counts`` of the page text in reading order (lines and paragraphs as assembled);
* ``line_accuracy``: reference lines whose text equals one assembled line (one-to-one), over reference lines.

As in ``textspotter.evaluate``, the hypothesis is made of the *valid* words (``Word.valid``: text and overall
confidence > 0.5) with text.

Development datasets (``../shared/data``: ``tesseract-test``, ``docbank``, ...) are scored with the evaluation
module's own scoring (``evaluate.score_page``; CER, word/line F1, reading order, ...), pages split over ranks and the
counts summed before the rates (:func:`evaluate_datasets`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.dataset import load_page_image
from ..data.manifest import PageAnnotation, read_manifest
from ..document import Page
from ..evaluate.scoring import hypothesis_text, hypothesis_words
from ..metrics.detection import match_quads
from ..metrics.text import levenshtein, text_counts
from .distributed import DistInfo, all_reduce_sums

__all__ = [
    "EvalPage",
    "synthetic_eval_pages",
    "manifest_eval_pages",
    "page_counters",
    "summarize",
    "evaluate_model",
    "evaluate_datasets",
]


@dataclass(frozen=True)
class EvalPage:
    """One held-out page: ``[H, W, 3]`` uint8 image and its annotation."""

    image: np.ndarray
    annotation: PageAnnotation


def synthetic_eval_pages(
    options: dict[str, Any], *, seed: int, count: int, info: DistInfo | None = None
) -> list[EvalPage]:
    """Generate this rank's share (pages ``i ≡ rank mod world_size``) of ``count`` held-out synthetic pages."""
    from ..data.dataset import synth_config
    from ..synth import generate_page

    info = info or DistInfo()
    config = synth_config(options)
    pages = []
    for index in range(info.rank, count, info.world_size):
        image, page = generate_page(config, seed, index)
        pages.append(EvalPage(image, page))
    return pages


def manifest_eval_pages(folders: Sequence[str | os.PathLike[str]], *, info: DistInfo | None = None) -> list[EvalPage]:
    """Load this rank's share of the pages of held-out manifest folders."""
    from pathlib import Path

    info = info or DistInfo()
    entries = []
    for folder in folders:
        path = Path(folder)
        root = path if path.is_dir() else path.parent
        entries.extend((root, page) for page in read_manifest(path))
    return [EvalPage(load_page_image(root / page.image), page) for root, page in entries[info.rank :: info.world_size]]


def page_counters(page: Page, annotation: PageAnnotation, *, iou_threshold: float = 0.5) -> dict[str, float]:
    """Compare one assembled page with its annotation; return counters that add up over pages and ranks."""
    words = annotation.words
    reference_quads = np.array([w.quad for w in words], dtype=np.float64).reshape(-1, 4, 2)
    ignore = np.array([w.ignore for w in words], dtype=bool)
    # As ``textspotter.evaluate`` scores engines: only valid words with text count (``Word.valid``).
    predicted = hypothesis_words(page)
    predicted_quads = np.array([w.quad for w in predicted], dtype=np.float64).reshape(-1, 4, 2)
    matching = match_quads(reference_quads, predicted_quads, ignore=ignore, iou_threshold=iou_threshold)

    matched_refs = {i for i, _ in matching.pairs}
    matched_hyps = {j for _, j in matching.pairs}
    word_edits = sum(levenshtein(words[i].text, predicted[j].text) for i, j in matching.pairs)
    exact = sum(words[i].text == predicted[j].text for i, j in matching.pairs)
    reference_chars = sum(len(w.text) for w, skip in zip(words, ignore) if not skip)
    word_edits += sum(
        len(w.text) for i, (w, skip) in enumerate(zip(words, ignore)) if not skip and i not in matched_refs
    )
    # Detections on ignore words are don't-care (match_quads counts them as neither TP nor FP).
    on_ignored = set(matching.on_ignored)
    word_edits += sum(len(w.text) for j, w in enumerate(predicted) if j not in matched_hyps and j not in on_ignored)

    reference_lines = Counter(annotation.line_texts())
    predicted_lines = Counter(hypothesis_text(page).split("\n"))
    lines_matched = sum((reference_lines & predicted_lines).values())

    text = text_counts(annotation.text(), hypothesis_text(page))
    counts = matching.counts
    return {
        "pages": 1.0,
        "tp": float(counts.true_positives),
        "fp": float(counts.false_positives),
        "fn": float(counts.false_negatives),
        "word_edits": float(word_edits),
        "word_chars": float(reference_chars),
        "words_exact": float(exact),
        "words": float((~ignore).sum()),
        "page_edits": float(text.character_edits),
        "page_chars": float(text.reference_characters),
        "lines_matched": float(lines_matched),
        "lines": float(sum(reference_lines.values())),
    }


def summarize(counters: dict[str, float]) -> dict[str, float]:
    """Turn summed counters into rates (NaN where a denominator is 0)."""

    def ratio(a: str | float, b: str) -> float:
        numerator = counters[a] if isinstance(a, str) else a
        return numerator / counters[b] if counters.get(b, 0) > 0 else float("nan")

    tp, fp, fn = counters["tp"], counters["fp"], counters["fn"]
    return {
        "pages": counters["pages"],
        "det_precision": tp / (tp + fp) if tp + fp > 0 else float("nan"),
        "det_recall": tp / (tp + fn) if tp + fn > 0 else float("nan"),
        "det_f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else float("nan"),
        "word_cer": ratio("word_edits", "word_chars"),
        "word_accuracy": ratio("words_exact", "words"),
        "page_cer": ratio("page_edits", "page_chars"),
        "line_accuracy": ratio("lines_matched", "lines"),
    }


_COUNTER_KEYS = (
    "pages",
    "tp",
    "fp",
    "fn",
    "word_edits",
    "word_chars",
    "words_exact",
    "words",
    "page_edits",
    "page_chars",
    "lines_matched",
    "lines",
)


def evaluate_model(
    model: torch.nn.Module,
    pages: Sequence[EvalPage],
    *,
    device: torch.device,
    info: DistInfo | None = None,
    batch_size: int = 4,
    iou_threshold: float = 0.5,
) -> tuple[dict[str, float], list[Page]]:
    """Read this rank's pages through the pipeline and return the corpus rates over all ranks.

    The model is put in eval mode (the caller restores training mode). Every rank must call this.

    Args:
        model: the ``OCRModel`` being trained (not a DDP wrapper).
        pages: this rank's held-out pages.
        device: where to run.
        info: the process group (None for a single process).
        batch_size: pages per pipeline call.
        iou_threshold: detection match threshold.

    Returns:
        ``(rates, pages read by this rank)``; rates are summed over ranks (see :func:`summarize`).
    """
    from ..pipeline.ocr import OCR

    info = info or DistInfo()
    ocr = OCR(model=model, device=device, batch_size=batch_size)
    totals = dict.fromkeys(_COUNTER_KEYS, 0.0)
    read: list[Page] = []
    documents = ocr.read([p.image for p in pages]) if pages else []
    for page, document in zip(pages, documents):
        if not document.ok or not document.pages:
            raise RuntimeError(f"evaluation page {page.annotation.id} could not be read: {document.error}")
        result = document.pages[0]
        read.append(result)
        for key, value in page_counters(result, page.annotation, iou_threshold=iou_threshold).items():
            totals[key] += value
    return summarize(all_reduce_sums(totals, info)), read


def _flatten_scores(scores: Any) -> dict[str, float]:
    """Numeric counters of an ``evaluate.Scores`` as ``{"text.pages": ..., ...}`` (retrieval left out)."""
    import dataclasses

    out = {}
    for group in dataclasses.fields(scores):
        if group.name == "retrieval":
            continue  # needs the whole dataset's sentences; not measured during training
        counts = getattr(scores, group.name)
        for f in dataclasses.fields(counts):
            out[f"{group.name}.{f.name}"] = float(getattr(counts, f.name))
    return out


def _unflatten_scores(values: dict[str, float]) -> Any:
    import dataclasses

    from ..evaluate.scoring import Scores

    groups = {}
    for group in dataclasses.fields(Scores):
        if group.name == "retrieval":
            continue
        kind = type(getattr(Scores(), group.name))
        kwargs = {}
        for f in dataclasses.fields(kind):
            value = values[f"{group.name}.{f.name}"]
            kwargs[f.name] = int(round(value)) if isinstance(getattr(kind(), f.name), int) else value
        groups[group.name] = kind(**kwargs)
    return Scores(**groups)


def evaluate_datasets(
    model: torch.nn.Module,
    names: Sequence[str],
    *,
    data_root: str | os.PathLike[str],
    limit: int | None,
    device: torch.device,
    info: DistInfo | None = None,
    batch_size: int = 4,
) -> dict[str, float]:
    """Score the model on development datasets with ``textspotter.evaluate``'s scoring, pages split over ranks.

    Args:
        model: the ``OCRModel`` being trained.
        names: dataset paths or shortcuts (``tesseract-test``, ``docbank``, ...; ``evaluate.open_dataset``).
        data_root: folder of the shortcut datasets (``../shared/data``).
        limit: first pages of each dataset to use (None: all).
        device: where to run.
        info: the process group (every rank must call this).
        batch_size: pages per pipeline call.

    Returns:
        ``{"<dataset>/<metric>": value}`` for the metrics that the dataset can measure (``cer``, ``word_f1``, ...).
    """
    from ..evaluate.datasets import load_image, open_dataset
    from ..evaluate.engines import Prediction
    from ..evaluate.scoring import Scores, score_page
    from ..pipeline.ocr import OCR

    info = info or DistInfo()
    ocr = OCR(model=model, device=device, batch_size=batch_size)
    out: dict[str, float] = {}
    for name in names:
        dataset = open_dataset(name, data_root=data_root, limit=limit)
        samples = dataset.samples[info.rank :: info.world_size]
        total = Scores()
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            documents = ocr.read([load_image(sample.image) for sample in chunk])
            for sample, document in zip(chunk, documents):
                if not document.ok or not document.pages:
                    raise RuntimeError(f"{dataset.name}/{sample.id} could not be read: {document.error}")
                total = total + score_page(sample, Prediction(document.pages[0]))
        summed = _unflatten_scores(all_reduce_sums(_flatten_scores(total), info))
        for metric, value in summed.metrics().items():
            if value is not None and not metric.startswith("recall_at"):
                out[f"{dataset.name}/{metric}"] = float(value)
    return out

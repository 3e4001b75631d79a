"""Score engine predictions against dataset samples with every metric that the ground truth allows.

Per page, :func:`score_page` adds what applies: text counts when the sample has text, word and line detection
when it has quads, reading order when its words are in reading order, TEDS when it has tables. Over a dataset,
:func:`score_dataset` sums the page counts and adds retrieval (which needs the whole corpus). Nothing is averaged
per page. The hypothesis side uses only *valid* words (``Word.valid``: non-empty text, and for textspotter a
confidence above 0.5), as the published output does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from textspotter.document import Page, Word
from textspotter.evaluate.datasets import Sample
from textspotter.evaluate.engines import Prediction
from textspotter.metrics.detection import DetectionCounts, match_quads
from textspotter.metrics.order import OrderCounts, order_counts
from textspotter.metrics.retrieval import RetrievalCounts, query_sentences, retrieval_counts
from textspotter.metrics.tables import TableCounts, layout_table_html, table_counts
from textspotter.metrics.text import TextCounts, TextNormalization, text_counts

__all__ = [
    "ScoreOptions",
    "Scores",
    "METRICS",
    "score_page",
    "score_dataset",
    "hypothesis_words",
    "hypothesis_text",
    "dont_care_quads",
]

# Every metric a report can hold, in display order.
METRICS = (
    "cer",
    "wer",
    "ned",
    "bag_of_char_error",
    "bag_of_word_error",
    "word_precision",
    "word_recall",
    "word_f1",
    "line_precision",
    "line_recall",
    "line_f1",
    "reading_order_tau",
    "teds",
    "teds_structure",
    "recall_at_1",
    "recall_at_5",
)


@dataclass(frozen=True)
class ScoreOptions:
    """How predictions are scored.

    Attributes:
        normalization: text normalisation applied to references and hypotheses alike.
        iou_threshold: smallest IoU of a detection match (words and lines).
        retrieval_ks: the k of Recall@k.
        min_query_words: shortest ground-truth sentence used as a retrieval query, in terms.
        max_queries_per_page: queries drawn per page (evenly spread over its sentences).
        table_gap_factor: for engines without table output, the horizontal gap (in word heights) that splits
            a row of words into cells (:func:`textspotter.metrics.tables.layout_table_html`).
        dont_care: leave out of the text metrics (and of retrieval) every hypothesis word whose quad's centre lies
            inside an *ignored* reference word (``Region.ignore``: text the reference does not transcribe, such as
            the corpus's code lines too long to trust or raster figures; :func:`dont_care_quads`). The reference
            text never holds those words, so an engine that reads them is otherwise charged with insertions. Word
            detection already treats them so. Off by default: the figures before session 40 were computed
            without it.
    """

    normalization: TextNormalization = field(default_factory=TextNormalization)
    iou_threshold: float = 0.5
    retrieval_ks: tuple[int, ...] = (1, 5)
    min_query_words: int = 5
    max_queries_per_page: int = 5
    table_gap_factor: float = 1.0
    dont_care: bool = False


@dataclass(frozen=True)
class Scores:
    """The summed counts of every metric (for a page or a dataset); ``a + b`` adds them."""

    text: TextCounts = field(default_factory=TextCounts)
    words: DetectionCounts = field(default_factory=DetectionCounts)
    lines: DetectionCounts = field(default_factory=DetectionCounts)
    order: OrderCounts = field(default_factory=OrderCounts)
    tables: TableCounts = field(default_factory=TableCounts)
    retrieval: RetrievalCounts = field(default_factory=RetrievalCounts)

    def __add__(self, other: Scores) -> Scores:
        if not isinstance(other, Scores):
            return NotImplemented
        return Scores(
            self.text + other.text,
            self.words + other.words,
            self.lines + other.lines,
            self.order + other.order,
            self.tables + other.tables,
            self.retrieval + other.retrieval,
        )

    def metrics(self) -> dict[str, float | None]:
        """Return every metric of :data:`METRICS` (``None`` where this ground truth cannot measure it)."""
        out: dict[str, float | None] = dict.fromkeys(METRICS)
        out.update(self.text.rates())
        for prefix, counts in (("word", self.words), ("line", self.lines)):
            if counts.true_positives + counts.false_negatives > 0:
                out.update({f"{prefix}_{k}": v for k, v in counts.rates().items()})
        out["reading_order_tau"] = self.order.kendall_tau()
        out.update(self.tables.rates())
        out.update(self.retrieval.rates())
        return out


def hypothesis_words(page: Page) -> list[Word]:
    """Return the page's valid words with text, in the engine's reading order."""
    return [w for w in page.words if w.valid and w.text.strip()]


def hypothesis_text(page: Page, *, first_line_only: bool = False, dont_care: np.ndarray | None = None) -> str:
    """Return the page's text from valid words: lines joined by newlines (only the first line if asked).

    Args:
        page: the engine's page.
        first_line_only: keep only the first line that has text.
        dont_care: ``[K, 4, 2]`` quads (page pixels); words whose quad's centre lies inside one are left out.
    """
    lines_words = [[w for w in line.words if w.valid and w.text.strip()] for line in page.lines]
    if dont_care is not None and len(dont_care):
        kept = iter(~_centres_inside(_quads([w for words in lines_words for w in words]), dont_care))
        lines_words = [[w for w in words if next(kept)] for words in lines_words]
    lines = []
    for words in lines_words:
        text = " ".join(w.text for w in words)
        if text:
            lines.append(text)
            if first_line_only:
                break
    return "\n".join(lines)


def dont_care_quads(sample: Sample) -> np.ndarray:
    """``[K, 4, 2]`` float64 quads of the sample's ignored reference words (``K`` may be 0)."""
    return _quads([w for w in sample.words if w.ignore])


def _centres_inside(quads: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """``[N]`` bool: whether the centre of each of ``quads [N, 4, 2]`` lies inside any convex quad of ``areas``.

    A point is inside a convex quad when the cross products with its four edges all have the same sign (or are 0),
    whichever way the quad turns.
    """
    if quads.shape[0] == 0 or areas.shape[0] == 0:
        return np.zeros(quads.shape[0], dtype=bool)
    centres = quads.mean(axis=1)[:, None, None, :]  # [N, 1, 1, 2]
    start = areas[None]  # [1, K, 4, 2]
    edge = np.roll(areas, -1, axis=1)[None] - start
    rel = centres - start
    cross = edge[..., 0] * rel[..., 1] - edge[..., 1] * rel[..., 0]  # [N, K, 4]
    inside = (cross >= 0).all(axis=-1) | (cross <= 0).all(axis=-1)
    return inside.any(axis=1)


def _quads(items: Sequence) -> np.ndarray:
    return np.asarray([item.quad for item in items], dtype=np.float64).reshape(-1, 4, 2)


def _inside(quad: tuple, box: np.ndarray) -> bool:
    center = np.asarray(quad, dtype=np.float64).mean(axis=0)
    return bool(box[0] <= center[0] <= box[2] and box[1] <= center[1] <= box[3])


def score_page(sample: Sample, prediction: Prediction, options: ScoreOptions | None = None) -> Scores:
    """Score one page (everything but retrieval, which needs the whole dataset)."""
    options = options or ScoreOptions()
    page = prediction.page
    scores = Scores()
    if sample.text is not None:
        dont_care = dont_care_quads(sample) if options.dont_care else None
        hypothesis = hypothesis_text(page, first_line_only=sample.first_line_only, dont_care=dont_care)
        counts = text_counts(sample.text, hypothesis, ordered=sample.ordered, normalization=options.normalization)
        scores = replace(scores, text=counts)
    words = hypothesis_words(page)
    if sample.words:
        matching = match_quads(
            _quads(sample.words),
            _quads(words),
            ignore=[w.ignore for w in sample.words],
            iou_threshold=options.iou_threshold,
        )
        scores = replace(scores, words=matching.counts)
        if sample.ordered and matching.pairs:
            reference_positions, hypothesis_positions = zip(*matching.pairs)
            scores = replace(scores, order=order_counts(reference_positions, hypothesis_positions))
    if sample.lines:
        lines = [line for line in page.lines if any(w.valid and w.text.strip() for w in line.words)]
        matching = match_quads(
            _quads(sample.lines),
            _quads(lines),
            ignore=[line.ignore for line in sample.lines],
            iou_threshold=options.iou_threshold,
        )
        scores = replace(scores, lines=matching.counts)
    if sample.tables:
        tables = TableCounts()
        for index, truth in enumerate(sample.tables):
            if prediction.tables:
                html = prediction.tables[index] if index < len(prediction.tables) else "<table></table>"
            else:
                region = words
                if truth.quad is not None:
                    box = np.asarray(truth.quad, dtype=np.float64)
                    bounds = np.concatenate([box.min(axis=0), box.max(axis=0)])
                    region = [w for w in words if _inside(w.quad, bounds)]
                html = layout_table_html([(w.text, w.quad) for w in region], gap_factor=options.table_gap_factor)
            tables = tables + table_counts(truth.html, html)
        scores = replace(scores, tables=tables)
    return scores


def score_dataset(
    samples: Sequence[Sample],
    predictions: Sequence[Prediction],
    options: ScoreOptions | None = None,
) -> Scores:
    """Score all pages of a dataset and add retrieval over its pages.

    Retrieval: queries are sentences of the references of ordered samples (at least ``min_query_words`` terms;
    first-line-only samples are skipped), searched among the hypothesis texts of all pages. It is measured only
    when the dataset has at least two pages and one query.
    """
    if len(samples) != len(predictions):
        raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
    options = options or ScoreOptions()
    total = Scores()
    for sample, prediction in zip(samples, predictions):
        total = total + score_page(sample, prediction, options)
    queries = [
        (query, index)
        for index, sample in enumerate(samples)
        if sample.text is not None and sample.ordered and not sample.first_line_only
        for query in query_sentences(
            sample.text, min_words=options.min_query_words, max_queries=options.max_queries_per_page
        )
    ]
    if len(samples) >= 2 and queries:
        documents = [
            hypothesis_text(p.page, dont_care=dont_care_quads(s) if options.dont_care else None)
            for s, p in zip(samples, predictions)
        ]
        total = replace(total, retrieval=retrieval_counts(queries, documents, ks=options.retrieval_ks))
    return total

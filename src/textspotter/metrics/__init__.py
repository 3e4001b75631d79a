"""Evaluation metrics as corpus accumulators: per page a small frozen ``*Counts`` record, added with ``+``.

* :mod:`~textspotter.metrics.text`: CER, WER, NED, bag-of-character and bag-of-word error;
* :mod:`~textspotter.metrics.detection`: precision, recall, F1 of quads at an IoU threshold;
* :mod:`~textspotter.metrics.order`: Kendall's tau of the reading order of matched words;
* :mod:`~textspotter.metrics.tables`: TEDS and TEDS-S (Zhang–Shasha tree edit distance);
* :mod:`~textspotter.metrics.retrieval`: Recall@k of ground-truth sentences under BM25.

Definitions: ``docs/evaluation.md``.
"""

from textspotter.metrics.detection import DetectionCounts, Matching, match_quads, pairwise_iou
from textspotter.metrics.order import OrderCounts, count_inversions, order_counts
from textspotter.metrics.retrieval import BM25, RetrievalCounts, query_sentences, retrieval_counts, tokenize
from textspotter.metrics.tables import TableCounts, layout_table_html, parse_table_html, table_counts, teds
from textspotter.metrics.text import TextCounts, TextNormalization, levenshtein, normalize_text, text_counts

__all__ = [
    "BM25",
    "DetectionCounts",
    "Matching",
    "OrderCounts",
    "RetrievalCounts",
    "TableCounts",
    "TextCounts",
    "TextNormalization",
    "count_inversions",
    "layout_table_html",
    "levenshtein",
    "match_quads",
    "normalize_text",
    "order_counts",
    "pairwise_iou",
    "parse_table_html",
    "query_sentences",
    "retrieval_counts",
    "table_counts",
    "teds",
    "text_counts",
    "tokenize",
]

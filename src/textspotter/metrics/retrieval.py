"""Page retrieval over OCR text: Recall@k of ground-truth sentences under BM25.

The question it answers: if a search index were built from an engine's OCR text, would a user who types a sentence
of a page find that page? Queries are sentences of the ground-truth text of each page; the corpus is the OCR text
of all pages of the dataset; a query is a hit at k when its own page ranks among the k best-scoring pages.

BM25 (Robertson and Zaragoza, "The probabilistic relevance framework: BM25 and beyond", 2009), as written here::

    score(q, d) = sum over distinct terms t of q with tf(t, d) > 0 of
                  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

with ``N`` pages, ``df(t)`` the number of pages containing ``t``, ``|d|`` the page's length in terms and
``avgdl`` the mean length; ``k1 = 1.2``, ``b = 0.75``. Terms come from :func:`tokenize`.

>>> index = BM25(["the cat sat on the mat", "a dog barked", "cats and dogs"])
>>> int(index.scores("dog barked").argmax())
1
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["tokenize", "BM25", "RetrievalCounts", "query_sentences", "retrieval_counts"]

# One CJK character is one term (those scripts do not separate words); any other run of letters or digits is one.
_TERM = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


def tokenize(text: str) -> list[str]:
    """Split text into search terms: NFKC, case-folded, runs of letters/digits, CJK characters one by one.

    >>> tokenize("Die Straße, 2024! 中文")
    ['die', 'strasse', '2024', '中', '文']
    """
    return _TERM.findall(unicodedata.normalize("NFKC", text).casefold())


class BM25:
    """A BM25 index over a list of documents.

    Args:
        documents: the text of each document (page); their index is their id.
        k1: term-frequency saturation.
        b: length normalisation, in [0, 1].
    """

    def __init__(self, documents: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1!r}, b={b!r}")
        self.k1, self.b = k1, b
        frequencies = [Counter(tokenize(d)) for d in documents]
        self._count = len(frequencies)
        lengths = np.array([sum(f.values()) for f in frequencies], dtype=np.float64)
        mean_length = float(lengths.mean()) if len(lengths) else 0.0
        self._norms = k1 * (1 - b + b * lengths / (mean_length if mean_length > 0 else 1.0))
        # Postings: term -> (document indices, term frequencies), so a query touches only documents sharing a term.
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for index, counts in enumerate(frequencies):
            for term, tf in counts.items():
                documents_of_term, tfs = postings.setdefault(term, ([], []))
                documents_of_term.append(index)
                tfs.append(tf)
        self._postings = {t: (np.array(d), np.array(f, dtype=np.float64)) for t, (d, f) in postings.items()}
        n = self._count
        self._idf = {t: math.log(1 + (n - len(d) + 0.5) / (len(d) + 0.5)) for t, (d, _) in self._postings.items()}

    def __len__(self) -> int:
        return self._count

    def scores(self, query: str) -> np.ndarray:
        """Return the BM25 score ``[N]`` of every document for ``query`` (0 for documents sharing no term)."""
        scores = np.zeros(self._count)
        for term in set(tokenize(query)):
            if term not in self._postings:
                continue
            documents, tf = self._postings[term]
            scores[documents] += self._idf[term] * tf * (self.k1 + 1) / (tf + self._norms[documents])
        return scores


def query_sentences(text: str, *, min_words: int = 5, max_queries: int = 5) -> list[str]:
    """Pick up to ``max_queries`` sentences of at least ``min_words`` words from a page's reference text.

    Sentences end at ``.``, ``!`` or ``?`` (and their CJK forms) followed by whitespace; line breaks are ignored.
    When there are more candidates than ``max_queries``, they are taken evenly spread over the page, so the choice
    is deterministic and not biased towards the top of the page.
    """
    if min_words < 1 or max_queries < 1:
        raise ValueError(f"need min_words >= 1 and max_queries >= 1, got {min_words!r}, {max_queries!r}")
    flat = " ".join(text.split())
    candidates = [s for s in _SENTENCE_END.split(flat) if len(tokenize(s)) >= min_words]
    if len(candidates) <= max_queries:
        return candidates
    picks = np.linspace(0, len(candidates) - 1, max_queries).round().astype(int)
    return [candidates[i] for i in picks]


@dataclass(frozen=True)
class RetrievalCounts:
    """Queries and hits at each k, for one dataset or several added together (``a + b``, same ``ks``)."""

    queries: int = 0
    hits: tuple[tuple[int, int], ...] = ()

    def __add__(self, other: RetrievalCounts) -> RetrievalCounts:
        if not isinstance(other, RetrievalCounts):
            return NotImplemented
        total = Counter(dict(self.hits))
        total.update(dict(other.hits))
        return RetrievalCounts(self.queries + other.queries, tuple(sorted(total.items())))

    def rates(self) -> dict[str, float | None]:
        """Return ``recall_at_<k>`` for every k (``None`` without queries)."""
        return {f"recall_at_{k}": (hits / self.queries if self.queries else None) for k, hits in self.hits}


def retrieval_counts(
    queries: Sequence[tuple[str, int]],
    documents: Sequence[str],
    *,
    ks: Sequence[int] = (1, 5),
) -> RetrievalCounts:
    """Search every query in a BM25 index of ``documents`` and count hits at each k.

    A query's rank is 1 + the number of documents scoring strictly higher than its own page, + the number of
    documents scoring the same and listed before it (ties never favour the right page). A page that scores 0
    (shares no term with the query) is never a hit.

    Args:
        queries: ``(query text, index of the document it came from)``.
        documents: the searchable text of each page (the engine's OCR text).
        ks: the cut-offs.

    Returns:
        The :class:`RetrievalCounts`.
    """
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, got {ks!r}")
    index = BM25(documents)
    hits = Counter({k: 0 for k in ks})
    for query, relevant in queries:
        if not 0 <= relevant < len(documents):
            raise ValueError(f"query {query[:40]!r} names document {relevant} of {len(documents)}")
        scores = index.scores(query)
        own = scores[relevant]
        if own <= 0:
            continue
        rank = 1 + int((scores > own).sum()) + int((scores[:relevant] == own).sum())
        for k in ks:
            hits[k] += rank <= k
    return RetrievalCounts(queries=len(queries), hits=tuple(sorted(hits.items())))

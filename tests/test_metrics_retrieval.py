"""Retrieval: tokenisation, BM25 scores by hand, Recall@k on a toy corpus, query selection."""

import math

import pytest

from textspotter.metrics.retrieval import BM25, RetrievalCounts, query_sentences, retrieval_counts, tokenize

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a lazy afternoon with tea and biscuits",
    "quantum chromodynamics of the strong force",
]


def test_tokenize():
    assert tokenize("Hello, World! 3.14") == ["hello", "world", "3", "14"]
    assert tokenize("東京タワー abc") == ["東", "京", "タ", "ワ", "ー", "abc"]
    assert tokenize("ﬁre_wall") == ["fire", "wall"]


def test_bm25_score_by_hand():
    index = BM25(CORPUS, k1=1.2, b=0.75)
    lengths = [9, 7, 6]
    average = sum(lengths) / 3
    # "lazy" is in documents 0 and 1, once each.
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    expected = [idf * 1 * 2.2 / (1 + 1.2 * (1 - 0.75 + 0.75 * n / average)) for n in lengths[:2]]
    scores = index.scores("lazy")
    assert scores[0] == pytest.approx(expected[0])
    assert scores[1] == pytest.approx(expected[1])
    assert scores[2] == 0.0
    # Shorter document, same term frequency: higher score.
    assert scores[1] > scores[0]


def test_bm25_ranks_the_right_document():
    index = BM25(CORPUS)
    assert int(index.scores("strong force of quantum").argmax()) == 2
    assert int(index.scores("brown fox").argmax()) == 0
    assert len(index) == 3
    with pytest.raises(ValueError, match="k1"):
        BM25(CORPUS, b=2)


def test_recall_at_k_on_a_toy_corpus():
    queries = [
        ("quick brown fox", 0),  # rank 1
        ("quantum force", 2),  # rank 1
        ("lazy tea", 0),  # page 1 has both terms: page 0 ranks 2nd
        ("submarine", 1),  # no page has the term: never a hit
    ]
    counts = retrieval_counts(queries, CORPUS, ks=(1, 2, 5))
    assert counts.queries == 4
    assert counts.rates() == {"recall_at_1": 2 / 4, "recall_at_2": 3 / 4, "recall_at_5": 3 / 4}


def test_ties_do_not_favour_the_right_page():
    documents = ["same words here", "same words here"]
    counts = retrieval_counts([("same words", 1)], documents, ks=(1, 2))
    assert counts.rates() == {"recall_at_1": 0.0, "recall_at_2": 1.0}


def test_counts_add_and_validate():
    total = RetrievalCounts(2, ((1, 1), (5, 2))) + RetrievalCounts(2, ((1, 2), (5, 2)))
    assert total.rates() == {"recall_at_1": 3 / 4, "recall_at_5": 1.0}
    with pytest.raises(ValueError, match="document 7"):
        retrieval_counts([("fox", 7)], CORPUS)
    with pytest.raises(ValueError, match="ks"):
        retrieval_counts([("fox", 0)], CORPUS, ks=(0,))


def test_query_sentences_are_long_enough_and_spread():
    text = "Short one. " + " ".join(f"Sentence number {i} has enough words in it." for i in range(10))
    queries = query_sentences(text, min_words=5, max_queries=3)
    assert queries == [
        "Sentence number 0 has enough words in it.",
        "Sentence number 4 has enough words in it.",
        "Sentence number 9 has enough words in it.",
    ]
    assert query_sentences("too short. also short.", min_words=5) == []

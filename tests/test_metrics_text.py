"""Text metrics: hand-computed CER / WER / NED / bag errors, normalisation, edit distance, corpus accumulation."""

import random
import time

import pytest

from textspotter.metrics.text import (
    TextCounts,
    TextNormalization,
    _bit_parallel_levenshtein,
    bag_errors,
    levenshtein,
    normalize_text,
    text_counts,
)


def naive_levenshtein(a, b):
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3), ("same", "same", 0), ("flaw", "lawn", 2)],
)
def test_levenshtein_known_pairs(a, b, distance):
    assert levenshtein(a, b) == distance
    assert _bit_parallel_levenshtein(a, b) == distance


def test_bit_parallel_levenshtein_matches_dynamic_programming():
    rng = random.Random(0)
    for _ in range(300):
        # Lengths past 64 and 128 cross machine-word boundaries of the bit vectors.
        a = "".join(rng.choice("abcd ") for _ in range(rng.randint(0, 150)))
        b = "".join(rng.choice("abcde") for _ in range(rng.randint(0, 150)))
        assert _bit_parallel_levenshtein(a, b) == naive_levenshtein(a, b)


def test_levenshtein_on_word_sequences():
    assert levenshtein(["the", "cat", "sat"], ["the", "bat", "sat", "down"]) == 2
    assert _bit_parallel_levenshtein(["a", "b", "c"], ["c", "b", "a"]) == 2
    # A str against a list compares characters with items, never raises.
    assert levenshtein("ab", ["a", "b"]) == 0


def test_rapidfuzz_and_fallback_agree():
    pytest.importorskip("rapidfuzz")
    rng = random.Random(1)
    for _ in range(50):
        a = "".join(rng.choice("xyz é中") for _ in range(rng.randint(0, 300)))
        b = "".join(rng.choice("xyz é中") for _ in range(rng.randint(0, 300)))
        assert levenshtein(a, b) == _bit_parallel_levenshtein(a, b)


def test_edit_distance_of_long_pages_is_fast_and_exact():
    rng = random.Random(2)
    page = "".join(rng.choice("abcdefghij ") for _ in range(6000))
    positions = rng.sample(range(6000), 25)
    edited = list(page)
    for position in positions:
        edited[position] = "#"  # not in the alphabet: each substitution is exactly one edit
    start = time.perf_counter()
    assert _bit_parallel_levenshtein(page, "".join(edited)) == 25
    # About 0.05 s alone; the bound leaves room for a loaded machine while excluding quadratic pure Python (~30 s).
    assert time.perf_counter() - start < 5.0


def test_normalize_text_whitespace_unicode_and_cjk():
    assert normalize_text("  a\n\n b\t c  ") == "a b c"
    assert normalize_text("ﬁnd Ａ²") == "find A2"
    assert normalize_text("ﬁnd", TextNormalization(unicode_form=None)) == "ﬁnd"
    assert normalize_text("AbC", TextNormalization(lowercase=True)) == "abc"
    assert normalize_text("我 是 中国 人") == "我是中国人"
    assert normalize_text("我 是", TextNormalization(join_cjk=False)) == "我 是"
    # Korean separates words with spaces: they stay.
    assert normalize_text("안녕 하세요") == "안녕 하세요"


def test_quotes_are_folded_only_when_asked():
    # An apostrophe printed curly is ’ in one reference set and ' in another: the diagnostic folds both ways.
    fold = TextNormalization(fold_quotes=True)
    assert normalize_text("didn’t ‘so’ “said” „x‟ 5′ 6″", fold) == 'didn\'t \'so\' "said" "x" 5\' 6"'
    assert normalize_text("didn’t “said”") == "didn’t “said”"
    assert text_counts("I’ve “it”", 'I\'ve "it"', normalization=fold).rates()["bag_of_word_error"] == 0.0
    assert text_counts("I’ve", "I've").rates()["bag_of_word_error"] == 1.0


def test_normalization_rejects_bad_input():
    with pytest.raises(ValueError, match="unicode_form"):
        TextNormalization(unicode_form="NFX")
    with pytest.raises(TypeError, match="str"):
        normalize_text(b"bytes")


def test_cer_and_wer_of_known_strings():
    rates = text_counts("abcd", "abed").rates()
    assert rates["cer"] == pytest.approx(1 / 4)
    assert rates["wer"] == pytest.approx(1.0)
    # one substitution (sat -> sit) and one deletion (the), over 6 reference words
    rates = text_counts("the cat sat on the mat", "the cat sit on mat").rates()
    assert rates["wer"] == pytest.approx(2 / 6)
    assert rates["cer"] == pytest.approx(5 / 22)


def test_line_breaks_and_spacing_are_not_errors():
    counts = text_counts("first line\nsecond  line\n\nnext paragraph", "first line second line next paragraph")
    assert counts.character_edits == 0 and counts.word_edits == 0


def test_bag_of_words_ignores_reordering():
    rates = text_counts("alpha beta gamma", "gamma beta alpha").rates()
    assert rates["bag_of_word_error"] == 0.0
    assert rates["bag_of_char_error"] == 0.0
    assert rates["wer"] == pytest.approx(2 / 3)


def test_bag_errors_counts_multiset_differences():
    assert bag_errors("aab", "ab") == 1  # one missing 'a'
    assert bag_errors("abc", "abd") == 1  # one substitution
    assert bag_errors("ab", "abxyz") == 3  # three insertions
    assert bag_errors(["to", "be", "or"], ["be", "to", "not"]) == 1
    rates = text_counts("the the cat", "the cat dog dog").rates()
    # reference {the: 2, cat}, hypothesis {the, cat, dog: 2}: 1 missing, 2 extra -> max = 2 over 3 words
    assert rates["bag_of_word_error"] == pytest.approx(2 / 3)


def test_ned_uses_the_longer_string():
    rates = text_counts("abc", "abcdef").rates()
    assert rates["cer"] == pytest.approx(1.0)
    assert rates["ned"] == pytest.approx(3 / 6)


def test_corpus_accumulation_is_not_the_mean_of_page_rates():
    short = text_counts("a", "b")  # CER 1.0
    long = text_counts("x" * 99, "x" * 99)  # CER 0.0
    corpus = (short + long).rates()["cer"]
    assert corpus == pytest.approx(1 / 100)
    mean_of_pages = (short.rates()["cer"] + long.rates()["cer"]) / 2
    assert mean_of_pages == pytest.approx(0.5)
    assert corpus != pytest.approx(mean_of_pages)


def test_unordered_references_count_only_bag_metrics():
    counts = text_counts("b a", "a b", ordered=False)
    rates = counts.rates()
    assert rates["cer"] is None and rates["wer"] is None and rates["ned"] is None
    assert rates["bag_of_word_error"] == 0.0
    assert counts.pages == 1 and counts.ordered_pages == 0


def test_empty_totals_give_none():
    assert TextCounts().rates() == dict.fromkeys(["cer", "wer", "ned", "bag_of_char_error", "bag_of_word_error"], None)
    # An empty reference with a non-empty hypothesis still counts its edits (in the numerator).
    counts = text_counts("", "abc") + text_counts("abcd", "abcd")
    assert counts.rates()["cer"] == pytest.approx(3 / 4)

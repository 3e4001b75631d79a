"""benchmarks/paired.py: a paired bootstrap of two runs' per-page counts."""

from pathlib import Path

import pytest

from textspotter.metrics.text import text_counts

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "paired.py"
REFERENCES = [f"page {k} holds the words of a short test sentence number {k}" for k in range(12)]


@pytest.fixture(scope="module")
def paired(load_script):
    return load_script(SCRIPT, "paired")


def test_identical_runs_differ_by_nothing(paired):
    counts = [text_counts(ref, ref.replace("words", "wards")) for ref in REFERENCES]
    (cer,) = paired.compare_runs(counts, counts, ["cer"], resamples=200)
    assert cer.pages == 12 and cer.a == cer.b > 0
    assert cer.low == cer.high == 0.0 and cer.better == cer.worse == 0


def test_a_run_better_on_every_page_has_an_interval_below_zero(paired):
    a = [text_counts(ref, ref.replace("short", "shrot").replace("test", "tset")) for ref in REFERENCES]
    b = [text_counts(ref, ref.replace("short", "shrot")) for ref in REFERENCES]
    cer, bag = paired.compare_runs(a, b, ["cer", "bag_of_word_error"], resamples=300)
    assert cer.b < cer.a and cer.high < 0 and (cer.better, cer.worse) == (12, 0)
    assert bag.b < bag.a and bag.high < 0
    # The pooled rates are those of the summed counts, as the bench reports them.
    total = sum(a[1:], a[0])
    assert cer.a == pytest.approx(total.rates()["cer"])


def test_mixed_pages_give_an_interval_around_zero(paired):
    worse = [text_counts(ref, ref.replace("short", "shrot")) for ref in REFERENCES]
    right = [text_counts(ref, ref) for ref in REFERENCES]
    a = worse[:6] + right[6:]
    b = right[:6] + worse[6:]
    (ned,) = paired.compare_runs(a, b, ["ned"], resamples=500)
    assert ned.a == pytest.approx(ned.b)
    assert ned.low < 0 < ned.high and (ned.better, ned.worse) == (6, 6)


def test_bad_input_is_refused(paired):
    counts = [text_counts("a b", "a b")]
    with pytest.raises(ValueError, match="same pages"):
        paired.compare_runs(counts, counts * 2, ["cer"])
    with pytest.raises(ValueError, match="unknown metrics"):
        paired.compare_runs(counts, counts, ["accuracy"])
    with pytest.raises(ValueError, match="resamples"):
        paired.compare_runs(counts, counts, ["cer"], resamples=10)


def test_the_table_names_both_runs(paired):
    counts = [text_counts(ref, ref) for ref in REFERENCES]
    text = paired.table(paired.compare_runs(counts, counts, ["cer"], resamples=100), ("s30", "s31"))
    assert "| cer | 12 | 0.00 | 0.00 | +0.00 | [+0.00, +0.00] | 0 / 0 |" in text and "s31 − s30" in text

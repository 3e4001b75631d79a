"""Tests of textspotter.ops.quotes and the closing-quote pass of the recognizer stage."""

import pytest
import torch

from textspotter.geometry import extend_quads
from textspotter.ops.quotes import (
    QuoteOptions,
    accept_closing_quotes,
    quote_balance,
    quote_candidates,
    quote_options,
)


def test_quote_balance_counts_double_quotes_only():
    assert quote_balance(["“Yes,”", "he", "said."]) == 0
    assert quote_balance(["“It’s", "nothing."]) == 1  # the apostrophe is no closing quote
    assert quote_balance(['"Even', "so.", '"No"']) == 1
    assert quote_balance(["‘single’", "quotes", "don’t", "count"]) == 0
    assert quote_balance(["done.”", "”"]) == -1  # a lone mark closes nothing it opened first
    assert quote_balance([]) == 0


def test_candidates_are_punctuated_words_of_unbalanced_pages_only():
    texts = ["“I", "felt.", "me,", "ok”", "a.", "“x", "10.", "2,", "word", "..", "end.”"]
    pages = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    # Page 0 opens two and closes one; page 1 opens none.
    assert quote_candidates(texts, pages) == [1, 2, 4]
    assert quote_candidates(texts, pages, skip={2}) == [1, 4]
    with pytest.raises(ValueError, match="differ in length"):
        quote_candidates(texts, pages[:-1])


def test_accept_keeps_only_added_quotes_within_the_page_budget():
    texts = ["“I", "felt.", "me,", "you.", "“We", "went."]
    pages = [0, 0, 0, 0, 1, 1]
    options = QuoteOptions(min_confidence=0.75)
    candidates = [1, 2, 3, 5]
    second = ["felt.”", "me”", "you.”", "went.l"]
    confidence = [0.90, 0.95, 0.80, 0.99]
    accepted = accept_closing_quotes(texts, pages, candidates, second, confidence, options)
    # Page 0 left one quotation open: only the most confident second reading gains its quote ("me”": in place of
    # the comma, so the comma stays); page 1's second reading adds a letter, not a quote.
    assert accepted == {2: "”"}
    # Under the confidence floor nothing is kept.
    assert accept_closing_quotes(texts, pages, candidates, second, [0.5] * 4, options) == {}
    with pytest.raises(ValueError, match="differ in length"):
        accept_closing_quotes(texts, pages, candidates, second[:2], confidence, options)


def test_quote_options_and_validation():
    assert quote_options("off") is None
    assert quote_options("auto") == "auto"
    assert quote_options("on") == QuoteOptions()
    with pytest.raises(ValueError, match="closing-quote"):
        quote_options("maybe")
    with pytest.raises(ValueError, match="extend"):
        QuoteOptions(extend=0.0)
    with pytest.raises(ValueError, match="min_confidence"):
        QuoteOptions(min_confidence=1.5)


def test_extend_quads_can_lengthen_one_end():
    quad = torch.tensor([[[0.0, 0.0], [40.0, 0.0], [40.0, 10.0], [0.0, 10.0]]])
    end_only = extend_quads(quad, 0.5, start=False)
    assert torch.allclose(end_only[0, :, 0], torch.tensor([0.0, 45.0, 45.0, 0.0]))
    start_only = extend_quads(quad, 0.5, end=False)
    assert torch.allclose(start_only[0, :, 0], torch.tensor([-5.0, 40.0, 40.0, -5.0]))


def _box(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def test_recognize_reads_punctuated_words_again_lengthened_and_adds_the_quote(monkeypatch):
    import textspotter.pipeline.stages as stages
    from textspotter.models import create_model

    torch.manual_seed(0)
    model = create_model("tiny-test").eval()
    features = torch.randn(1, model.spec.detector.feature_channels, 32, 128)
    quads = torch.tensor([_box(4, 4, 20, 8), _box(30, 4, 24, 8), _box(60, 4, 24, 8), _box(90, 4, 20, 8)])
    indices = torch.zeros(4, dtype=torch.int64)
    readings = [["“I", "felt.", "went.", "on"], ["felt.”", "went.l"]]
    seen: list[torch.Tensor] = []
    real_read = stages.read_strip_buckets

    def read(recognizer, features, quads, *args, **kwargs):
        seen.append(quads.clone())
        return real_read(recognizer, features, quads, *args, **kwargs)

    def decode(logits, spec, options, cjk_lm, banned=()):
        texts = readings[len(seen) - 1]
        assert len(texts) == logits.shape[0]
        return texts, torch.full((logits.shape[0],), 0.9)

    monkeypatch.setattr(stages, "read_strip_buckets", read)
    monkeypatch.setattr(stages, "_decode_strips", decode)
    base = stages.RecognitionOptions(lexicon=None, precision="model", cjk_lm=None, unify_scripts=False, long_words=None)
    assert base.closing_quotes == "auto"
    with torch.inference_mode():
        out = stages.recognize(model, features, quads, indices, input_size=(128, 512), options=base)
    assert out.texts == ["“I", "felt.”", "went.", "on"]
    # The second pass read the two punctuated words, lengthened after their end by 0.35 of their height only.
    assert len(seen) == 2
    assert torch.allclose(seen[1], extend_quads(quads[1:3], 0.35, start=False))
    seen.clear()
    readings[0] = ["“I", "felt.”", "went.", "on"]  # balanced page: nothing read again
    with torch.inference_mode():
        out = stages.recognize(model, features, quads, indices, input_size=(128, 512), options=base)
    assert len(seen) == 1 and out.texts == readings[0]
    with pytest.raises(TypeError, match="closing_quotes"):
        stages.RecognitionOptions(closing_quotes="on")  # type: ignore[arg-type]


def test_read_and_eval_pass_the_closing_quotes_flag(read_recognition):
    import argparse

    from textspotter.cli.eval import add_arguments, engine_options

    assert read_recognition().closing_quotes == "auto"
    assert read_recognition("--closing-quotes", "off").closing_quotes is None
    assert read_recognition("--closing-quotes", "on").closing_quotes == QuoteOptions()
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--dataset", "docbank", "--engine", "textspotter"]
    assert engine_options("textspotter", parser.parse_args(base)).closing_quotes == "auto"
    assert engine_options("textspotter", parser.parse_args([*base, "--closing-quotes", "off"])).closing_quotes == "off"

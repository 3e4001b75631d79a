"""The Chinese/Japanese character language model and its CTC beam search (textspotter.ops.charlm)."""

import dataclasses
import math

import pytest
import torch

import textspotter.pipeline.stages as stages
from test_pipeline_fakes import DarkBoxDetector, page_with_boxes, read_always
from textspotter import OCR
from textspotter.charset import Charset, latin_charset, multilingual_charset
from textspotter.models import create_model, get_spec
from textspotter.ops.charlm import (
    CharLM,
    CharLMOptions,
    beam_search,
    char_lm_options,
    charset_has_lm_chars,
    load_char_lm,
    rescore_cjk,
)
from textspotter.pipeline import OrientationOptions, RecognitionOptions


def test_shipped_model_knows_common_pairs_and_maps_traditional_characters():
    lm = load_char_lm()
    assert load_char_lm() is lm  # loaded once
    assert len(lm.unigrams) > 5000 and len(lm.pairs) > 100_000
    assert lm.simplified["館"] == "馆" and lm.simplified["門"] == "门"
    # 馆 follows 书 in 图书馆; 情 (the look-alike the recognizer read) does not.
    assert lm.log_prob("书", "馆") > lm.log_prob("书", "情") + 3
    assert lm.log_prob("書", "館") == lm.log_prob("书", "馆")  # Traditional looked up by its Simplified form
    assert lm.log_prob("の", "中") < 0 and lm.log_prob(None, "の") > lm.log_prob(None, "鬱")


def _logits(charset: Charset, columns: list[dict[str, float]]) -> torch.Tensor:
    """``[T, V]`` logits: each column a few characters (or ``""`` for the blank) with their probabilities."""
    logits = torch.full((len(columns), charset.num_tokens), -20.0)
    for t, column in enumerate(columns):
        for char, probability in column.items():
            logits[t, 0 if char == "" else charset.token_id(char)] = math.log(probability)
    return logits


def _read(charset: Charset, tokens: list[int]) -> str:
    return "".join(charset.characters[t - 3] for t in tokens)


def test_beam_search_prefers_the_common_pair_and_follows_the_recognizer_without_weight():
    charset = multilingual_charset()
    # 开 then a column torn between 行 (0.5) and 门 (0.45): 开门 ("open") is a common word, 开行 rarely so.
    columns = [{"开": 0.98, "": 0.02}, {"": 0.99}, {"行": 0.5, "门": 0.45, "": 0.05}, {"": 0.99}]
    log_probs = torch.log_softmax(_logits(charset, columns), -1)
    lm = load_char_lm()
    assert _read(charset, beam_search(log_probs, charset, lm, CharLMOptions())) == "开门"
    greedy = CharLMOptions(weight=0.0, char_bonus=0.0)
    assert _read(charset, beam_search(log_probs, charset, lm, greedy)) == "开行"


def test_beam_search_without_weight_reads_what_ctc_best_path_reads():
    charset = multilingual_charset()
    # Repeats merged unless a blank separates them (CTC), Latin and Hangul untouched by the model.
    text_columns = [{"a": 0.9}, {"a": 0.9}, {"": 0.9}, {"a": 0.9}, {"한": 0.95}, {"中": 0.95}, {"中": 0.95}, {"": 0.95}]
    log_probs = torch.log_softmax(_logits(charset, text_columns), -1)
    tokens = beam_search(log_probs, charset, load_char_lm(), CharLMOptions(weight=0.0, char_bonus=0.0))
    assert _read(charset, tokens) == "aa한中"


def test_kana_are_not_read_into_a_line_without_kana():
    charset = multilingual_charset()
    columns = [{"中": 0.98, "": 0.02}, {"の": 0.55, "": 0.45}, {"文": 0.98, "": 0.02}, {"": 0.99}]
    log_probs = torch.log_softmax(_logits(charset, columns), -1)
    lm = load_char_lm()
    assert _read(charset, beam_search(log_probs, charset, lm, CharLMOptions())) == "中の文"
    assert _read(charset, beam_search(log_probs, charset, lm, CharLMOptions(), kana=False)) == "中文"


def test_rescore_cjk_changes_only_unsure_han_and_kana_readings():
    charset = multilingual_charset()
    torn = [{"开": 0.98, "": 0.02}, {"": 0.99}, {"行": 0.5, "门": 0.45, "": 0.05}, {"": 0.99}]
    latin = [{"o": 0.6, "0": 0.4}, {"": 0.99}, {"n": 0.9}, {"": 0.99}]
    logits = torch.stack([_logits(charset, torn), _logits(charset, torn), _logits(charset, latin)])
    texts = ["开行", "开行", "on"]
    confidence = torch.tensor([0.7, 0.995, 0.7])
    new_texts, new_confidence = rescore_cjk(logits, texts, confidence, charset)
    assert new_texts == ["开门", "开行", "on"]  # the confident reading and the Latin one stay as read
    assert new_confidence.tolist() == confidence.tolist()  # a corrected reading keeps its confidence
    with pytest.raises(ValueError, match="texts"):
        rescore_cjk(logits, texts[:2], confidence, charset)


def test_a_charset_without_han_or_kana_has_nothing_to_rescore():
    assert charset_has_lm_chars(multilingual_charset())
    assert not charset_has_lm_chars(latin_charset())


def test_char_lm_from_its_parts_and_options_checked():
    lm = CharLM({"中": math.log(0.1)}, {}, {})
    assert math.isclose(lm.log_prob("中", "中"), math.log(0.2 * 0.1))  # no pair: the unigram share only
    assert lm.log_prob(None, "文") == lm.floor
    assert char_lm_options("auto") == "auto" and char_lm_options("off") is None
    assert char_lm_options("on") == CharLMOptions()
    with pytest.raises(ValueError, match="unknown"):
        char_lm_options("zh")
    for bad in ({"weight": -1.0}, {"char_bonus": float("nan")}, {"bigram_share": 1.5}, {"beam": 0}, {"top_k": 2.0}):
        with pytest.raises(ValueError, match="CharLMOptions"):
            CharLMOptions(**bad)
    with pytest.raises(TypeError, match="cjk_lm"):
        RecognitionOptions(cjk_lm="zh")


def _ctc_model(name: str):
    spec = get_spec(name)
    spec = dataclasses.replace(spec, recognizer=dataclasses.replace(spec.recognizer, decoding="ctc"))
    torch.manual_seed(0)
    model = create_model(spec).eval()
    model.detector = DarkBoxDetector(model.detector)
    return model


@pytest.mark.parametrize(
    ("name", "cjk_lm", "expected_calls"),
    [
        ("tiny-multi", "auto", True),
        ("tiny-multi", None, False),
        ("tiny-test", "auto", False),
        ("tiny-test", CharLMOptions(), True),
    ],
)
def test_recognize_runs_the_beam_search_for_ctc_models_that_read_han(monkeypatch, name, cjk_lm, expected_calls):
    model = _ctc_model(name)
    read_always(model, "ab")
    calls = []

    def recorder(logits, texts, confidence, charset, *, options):
        calls.append((logits.shape[0], options))
        return ["read again"] * len(texts), confidence

    monkeypatch.setattr(stages, "rescore_cjk", recorder)
    ocr = OCR(
        model=model,
        device="cpu",
        orientation=OrientationOptions(mode="off"),
        recognition=RecognitionOptions(cjk_lm=cjk_lm, lexicon=None),
    )
    (doc,) = ocr.read(page_with_boxes(200, 300, [(40, 40, 200, 72)]))
    words = [w.text for w in doc.pages[0].words]
    if expected_calls:
        assert calls and all(options == CharLMOptions() for _, options in calls)
        assert words == ["read again"]
    else:
        assert not calls and words == ["ab"]

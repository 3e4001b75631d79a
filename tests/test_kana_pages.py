"""Kana read on Chinese pages (textspotter.ops.kana, RecognitionOptions.han_pages)."""

import dataclasses

import pytest
import torch

from test_pipeline_fakes import DarkBoxDetector, page_with_boxes, read_always
from textspotter import OCR
from textspotter.charset import Charset
from textspotter.models import create_model, get_spec
from textspotter.ops.kana import han_pages, kana_token_ids
from textspotter.pipeline import OrientationOptions, RecognitionOptions
from textspotter.pipeline.stages import _decode_strips


def test_a_page_is_chinese_when_its_kana_are_few_among_enough_han():
    texts = ["中文" * 20, "か", "日本語のテキストです" * 4, "中" * 10, "ハングル한국어"]
    pages = [0, 0, 1, 2, 3]
    # Page 0: 40 Han, 1 kana; page 1: Japanese (kana 60 %); page 2: too few characters; page 3: Hangul is no Han.
    assert han_pages(texts, pages) == {0}
    assert han_pages(texts, pages, min_characters=10) == {0, 2}
    assert han_pages(texts, pages, max_kana_share=0.8) == {0, 1}
    # The katakana middle dot writes Chinese names (塞缪尔・约翰逊): not a kana.
    assert han_pages(["塞缪尔・约翰逊" * 6], [0]) == {0}
    with pytest.raises(ValueError, match="one page index per text"):
        han_pages(["a"], [])
    with pytest.raises(ValueError, match="max_kana_share"):
        han_pages([], [], max_kana_share=1.5)


def test_kana_token_ids_are_the_charsets_kana():
    charset = Charset(tuple("abかカ中・ー"))
    ids = kana_token_ids(charset)
    assert [charset.characters[i - 3] for i in ids] == ["か", "カ", "ー"]
    assert kana_token_ids(Charset(tuple("abc"))) == ()


def test_banned_tokens_are_never_decoded():
    spec = get_spec("tiny-multi")
    spec = dataclasses.replace(spec, recognizer=dataclasses.replace(spec.recognizer, decoding="ctc"))
    charset = spec.charset
    logits = torch.full((1, 3, charset.num_tokens), -9.0)
    logits[0, 0, charset.token_id("中")] = 5.0
    logits[0, 1, charset.token_id("か")] = 5.0
    logits[0, 1, charset.token_id("力")] = 4.0
    logits[0, 2, 0] = 5.0
    options = RecognitionOptions(lexicon=None, cjk_lm=None)
    assert _decode_strips(logits, spec, options, None)[0] == ["中か"]
    assert _decode_strips(logits, spec, options, None, kana_token_ids(charset))[0] == ["中力"]


@pytest.mark.parametrize(("han", "expected"), [(True, "中文字中文字力"), (False, "中文字中文字か")])
def test_recognize_reads_kana_again_without_them_on_a_chinese_page(han, expected):
    spec = get_spec("tiny-multi")
    spec = dataclasses.replace(spec, recognizer=dataclasses.replace(spec.recognizer, decoding="ctc"))
    torch.manual_seed(0)
    model = create_model(spec).eval()
    model.detector = DarkBoxDetector(model.detector)
    read_always(model, "中文字中文字か")  # five regions: 30 Han, 5 kana read on the page
    second = torch.zeros(model.spec.recognizer.max_width, model.spec.recognizer.num_tokens)
    second[6, model.spec.charset.token_id("力")] = 59.0  # the kana's column holds 力 next (logit 29 against 30)
    model.recognizer.classifier.register_forward_hook(lambda module, args, out: out + second[: out.shape[-2]].to(out))
    ocr = OCR(
        model=model,
        device="cpu",
        orientation=OrientationOptions(mode="off"),
        recognition=RecognitionOptions(lexicon=None, cjk_lm=None, han_pages=han),
    )
    boxes = [(40, 40 + 60 * k, 260, 72 + 60 * k) for k in range(5)]
    (doc,) = ocr.read(page_with_boxes(400, 300, boxes))
    assert [w.text for w in doc.pages[0].words] == [expected] * 5
    with pytest.raises(TypeError, match="han_pages"):
        RecognitionOptions(han_pages="on")


def test_read_eval_and_batch_pass_the_han_pages_flag(read_recognition):
    import argparse

    from textspotter.cli.eval import add_arguments, engine_options
    from textspotter.evaluate.engines import TextspotterOptions

    assert read_recognition().han_pages is True
    assert read_recognition("--han-pages", "off").han_pages is False
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--dataset", "docbank", "--engine", "textspotter"]
    assert engine_options("textspotter", parser.parse_args(base)).han_pages is True
    assert engine_options("textspotter", parser.parse_args([*base, "--han-pages", "off"])).han_pages is False
    assert TextspotterOptions().han_pages is True

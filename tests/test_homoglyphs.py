"""Latin/Cyrillic look-alikes written in the script of their word (textspotter.ops.homoglyphs)."""

import dataclasses

import pytest
import torch

from test_pipeline_fakes import DarkBoxDetector, page_with_boxes, read_always
from textspotter import OCR
from textspotter.charset import Charset
from textspotter.models import create_model, get_spec
from textspotter.ops.decode import decode_greedy
from textspotter.ops.homoglyphs import CYRILLIC_LOOKALIKES, LATIN_LOOKALIKES, settle_alphabets, unify_scripts
from textspotter.pipeline import OrientationOptions, RecognitionOptions


def test_the_lookalike_tables_pair_cyrillic_and_latin_letters():
    assert len(CYRILLIC_LOOKALIKES) == len(LATIN_LOOKALIKES) == len(set(CYRILLIC_LOOKALIKES))
    assert all("\u0400" <= c <= "\u04ff" for c in CYRILLIC_LOOKALIKES)
    assert all(c.isascii() and c.isalpha() for c in LATIN_LOOKALIKES)


def test_a_word_takes_the_script_of_its_other_letters():
    russian = "Меликов Пономаренко ГОСТ"
    # Latin M, e, o inside a Russian word; Cyrillic е, о inside an English one.
    assert unify_scripts(["Meликoв", "Hеllо", "ГOCT,"]) == ["Меликов", "Hello", "ГОСТ,"]
    assert unify_scripts(russian.split()) == russian.split()  # nothing to change
    # Letters that exist in one script only, from both: a misreading this cannot settle, left as read.
    assert unify_scripts(["Зefn"]) == ["Зefn"]
    # Each token of a line on its own.
    assert unify_scripts(["в Meтоде Hеllо"]) == ["в Методе Hello"]


def test_short_words_of_lookalikes_follow_their_page():
    texts = ["Ландау", "Лифшиц", "A.", "c", "Ка-", "TeX", "1995a;"]
    # A Russian page: initials, the preposition and a hyphenated syllable become Cyrillic; a longer all-look-alike
    # word read in one script keeps it ("TeX"), and so do letters after digits.
    assert unify_scripts(texts) == ["Ландау", "Лифшиц", "А.", "с", "Ка-", "TeX", "1995a;"]
    # The same short words on an English page stay (or become) Latin; pages are settled apart.
    english = ["Landau", "and", "Lifshitz", "А.", "с"]
    out = unify_scripts(texts + english, pages=[0] * len(texts) + [1] * len(english))
    assert out[len(texts) :] == ["Landau", "and", "Lifshitz", "A.", "c"]
    assert out[2] == "А."


def test_pages_without_cyrillic_are_returned_as_they_are():
    texts = ["The", "quick", "A.", "TeX", "", "中文", "123"]
    out = unify_scripts(texts)
    assert out == texts and out is not texts
    assert unify_scripts([]) == []
    with pytest.raises(ValueError, match="one page index per text"):
        unify_scripts(["a", "b"], pages=[0])


@pytest.mark.parametrize(("unify", "expected"), [(True, "Меликов"), (False, "Meликoв")])
def test_recognize_writes_lookalikes_in_the_script_of_their_word(unify, expected):
    spec = get_spec("tiny-multi")
    spec = dataclasses.replace(spec, recognizer=dataclasses.replace(spec.recognizer, decoding="ctc"))
    torch.manual_seed(0)
    model = create_model(spec).eval()
    model.detector = DarkBoxDetector(model.detector)
    read_always(model, "Meликoв")
    ocr = OCR(
        model=model,
        device="cpu",
        orientation=OrientationOptions(mode="off"),
        recognition=RecognitionOptions(lexicon=None, cjk_lm=None, unify_scripts=unify),
    )
    (doc,) = ocr.read(page_with_boxes(200, 300, [(40, 40, 200, 72)]))
    assert [w.text for w in doc.pages[0].words] == [expected]
    with pytest.raises(TypeError, match="unify_scripts"):
        RecognitionOptions(unify_scripts="on")


def _logits(charset: Charset, columns: list[dict[str, float]]) -> torch.Tensor:
    """``[1, T, V]`` logits: each column's listed characters (``""`` = blank) at their logit, the rest at -9."""
    logits = torch.full((1, len(columns), charset.num_tokens), -9.0)
    for t, column in enumerate(columns):
        for char, value in column.items():
            logits[0, t, 0 if char == "" else charset.token_id(char)] = value
    return logits


def _greedy(charset: Charset, logits: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    return decode_greedy(logits, charset, mode="geometric_mean", collapse_repeats=True)


def test_a_run_spelled_in_both_alphabets_is_decoded_again_in_one():
    cs = Charset(tuple("ГOCTОСТrgaеe-PDFфайлyу"))
    # Г (Cyrillic only) then O, C, T read as Latin but close to their Cyrillic twins: the run is Cyrillic, because
    # a look-alike pair counts as one letter and only Cyrillic has a Г.
    columns = [{"Г": 5.0, "T": 2.0}, {"O": 5.0, "О": 4.5}, {"C": 5.0, "С": 4.0}, {"T": 5.0, "Т": 4.8}]
    logits = _logits(cs, columns)
    texts, conf = _greedy(cs, logits)
    assert texts == ["ГOCT"]
    settled, settled_conf, changed = settle_alphabets(logits, texts, conf, cs)
    assert settled == ["ГОСТ"] and changed == [0]
    assert 0.0 < float(settled_conf[0]) <= 1.0
    # A Latin word with one stray Cyrillic letter whose Latin reading is nearly as likely: Latin.
    columns = [{"g": 5.0}, {"а": 5.0, "a": 4.0}, {"r": 5.0}, {"y": 3.0, "у": 5.0, "": 4.0}]
    logits = _logits(cs, columns)
    texts, conf = _greedy(cs, logits)
    assert texts == ["gаrу"]
    assert settle_alphabets(logits, texts, conf, cs)[0] == ["gary"]


def test_runs_of_one_alphabet_lookalikes_only_and_other_rows_are_left_alone():
    cs = Charset(tuple("PDFфайл-OОCС"))
    # Two alphabets across a hyphen: two runs, each of one alphabet.
    columns = [{c: 5.0} for c in "PDF-файл"]
    logits = _logits(cs, columns)
    texts, conf = _greedy(cs, logits)
    assert settle_alphabets(logits, texts, conf, cs)[0] == ["PDF-файл"]
    # Look-alikes only, read in both alphabets: the two score the same; unify_scripts decides by the page.
    columns = [{"O": 5.0, "О": 4.0}, {"С": 5.0, "C": 4.0}]
    logits = _logits(cs, columns)
    texts, conf = _greedy(cs, logits)
    assert texts == ["OС"]
    out, out_conf, changed = settle_alphabets(logits, texts, conf, cs)
    assert out == ["OС"] and changed == [] and torch.equal(out_conf, conf)
    # No Cyrillic at all: returned as read, logits never looked at.
    assert settle_alphabets(torch.zeros(0), ["PDF", ""], torch.ones(2), cs)[0] == ["PDF", ""]
    with pytest.raises(ValueError, match="classes"):
        settle_alphabets(torch.zeros(1, 2, 5), ["Oф"], torch.ones(1), cs)

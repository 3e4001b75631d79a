"""The lexicon rescoring of CTC readings (ops/lexicon.py): the asset, the candidate index, what it never changes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from importlib import resources

import pytest
import torch
import torch.nn.functional as F

from textspotter.charset import latin_charset
from textspotter.ops import decode_greedy
from textspotter.ops.lexicon import (
    Lexicon,
    LexiconOptions,
    choose_reading,
    ctc_log_likelihood,
    language_pages,
    lexicon_hypotheses,
    lexicon_options,
    load_lexicon,
    rescore_candidates,
    rescore_pages,
    rescore_with_lexicon,
    word_parts,
)

CHARSET = latin_charset()
T = 32
# Settings that let every candidate through: what stays unchanged under them is kept by the rules, not by a threshold.
PERMISSIVE = LexiconOptions(weight=3.0, oov_zipf=0.0, margin=0.0, max_confidence=1.0, max_confidence_in_lexicon=1.0)


def reading(text: str, *, strength: float = 8.0, doubt: dict[int, tuple[str, float]] | None = None) -> torch.Tensor:
    """``[T, V]`` logits that read ``text`` one character per two columns (character, blank).

    ``doubt`` maps a character position to ``(other character, logit)``: that column also leans towards another
    character, and its own character gets logit 3 instead of ``strength``, so the reading is unsure there.
    """
    doubt = doubt or {}
    logits = torch.full((T, CHARSET.num_tokens), -8.0)
    logits[:, 0] = strength  # blanks wherever no character is placed
    for position, char in enumerate(text):
        column = 2 * position
        logits[column, 0] = -8.0
        if position in doubt:
            other, value = doubt[position]
            logits[column, CHARSET.token_id(char)] = 3.0
            logits[column, CHARSET.token_id(other)] = value
        else:
            logits[column, CHARSET.token_id(char)] = strength
    return logits


def rescore(rows: list[torch.Tensor], options: LexiconOptions = PERMISSIVE) -> tuple[list[str], list[str]]:
    """Greedy readings of the rows and what the rescoring makes of them."""
    logits = torch.stack(rows)
    texts, confidence = decode_greedy(logits, CHARSET, mode="geometric_mean", collapse_repeats=True)
    new_texts, _ = rescore_with_lexicon(logits, texts, confidence, CHARSET, options=options)
    return texts, new_texts


# ------------------------------------------------------------------------------------------------------------
# The shipped asset


def test_the_english_asset_loads_with_its_documented_size_and_provenance():
    meta = json.loads(resources.files("textspotter.assets").joinpath("lexicon-en.meta.json").read_text("utf-8"))
    lexicon = load_lexicon("en")
    assert len(lexicon) == meta["size"] == 80_000
    assert meta["licence"] == "CC-BY-SA-4.0" and "wordfreq" in meta["attribution"] and meta["wordfreq"]
    size = resources.files("textspotter.assets").joinpath("lexicon-en.tsv.gz").read_bytes()
    assert len(size) < 400_000  # a few hundred kB
    assert lexicon.zipf("the") > 7 and lexicon.zipf("The") == lexicon.zipf("the")
    assert "recognition" in lexicon and "xqzt" not in lexicon and lexicon.zipf("xqzt") is None
    assert load_lexicon("en") is lexicon  # loaded once per process


def test_reading_the_asset_needs_no_wordfreq():
    # A None entry in sys.modules makes `import wordfreq` fail, as on a machine without it.
    code = (
        "import sys; sys.modules['wordfreq'] = None\n"
        "from textspotter.ops.lexicon import load_lexicon\n"
        "assert len(load_lexicon('en')) == 80000\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_language_and_bad_options_are_refused():
    with pytest.raises(ValueError, match="lexicon"):
        load_lexicon("xx")
    with pytest.raises(ValueError, match="language"):
        LexiconOptions(language="fr")
    with pytest.raises(ValueError, match="max_confidence"):
        LexiconOptions(max_confidence=1.5)
    with pytest.raises(ValueError, match="weight"):
        LexiconOptions(weight=-1.0)
    assert lexicon_options("off") is None and lexicon_options("en") == LexiconOptions()
    with pytest.raises(ValueError, match="lexicon must be"):
        lexicon_options("on")


# ------------------------------------------------------------------------------------------------------------
# The candidate index


def test_candidates_are_the_words_within_the_index_reach():
    lexicon = Lexicon({"word": 5.0, "world": 5.5, "sword": 3.0, "ward": 4.0, "wordy": 2.5, "apple": 5.0})
    assert lexicon.candidates("wprd") == ["ward", "word"]  # one substitution
    assert lexicon.candidates("wrd") == ["ward", "word"]  # a character missing
    # One too many; one deletion on each side also reaches words two edits away.
    assert lexicon.candidates("woord", max_deletions=1) == ["sword", "word", "wordy", "world"]
    assert "word" in lexicon.candidates("wxoxrd") and "ward" not in lexicon.candidates("wxoxrd")  # two too many
    assert "world" in lexicon.candidates("wordd") and "apple" not in lexicon.candidates("wprd")
    assert lexicon.candidates("") == [] and Lexicon({}).candidates("word") == []


def test_every_single_edit_of_a_shipped_word_finds_it():
    lexicon = load_lexicon("en")
    word = "recognition"
    edits = {word[:i] + word[i + 1 :] for i in range(len(word))}  # deletions
    edits |= {word[:i] + "x" + word[i + 1 :] for i in range(len(word))}  # substitutions
    edits |= {word[:i] + "q" + word[i:] for i in range(len(word) + 1)}  # insertions
    for edit in edits:
        assert word in lexicon.candidates(edit), edit


def test_word_parts_splits_edge_punctuation_and_names_the_case():
    assert word_parts("word") == ("", "word", "", "lower")
    assert word_parts('("Word,') == ('("', "Word", ",", "title")
    assert word_parts("WORD.)") == ("", "WORD", ".)", "upper")
    assert word_parts("’tis") is None  # an apostrophe that is not at the edge of a word of 3 letters
    for text in ("A4B-77", "x2", "x_1", "a/b", "e-mail@host.org", "iPhone", "McDonald", "1234", "3.14", "http://a.b"):
        assert word_parts(text) is None, text
    for text in ("", "a", "of", "(of).", "U.S", "e.g.", "αβγ", "^ab"):
        assert word_parts(text) is None, text


# ------------------------------------------------------------------------------------------------------------
# Scoring


def ids_of(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ``[M, S]`` token ids of ``texts`` and their ``[M]`` lengths."""
    longest = max(len(t) for t in texts)
    ids = [[CHARSET.token_id(c) for c in t] + [0] * (longest - len(t)) for t in texts]
    return torch.tensor(ids), torch.tensor([len(t) for t in texts])


def test_compact_ctc_likelihood_equals_ctc_loss_over_the_whole_vocabulary():
    torch.manual_seed(0)
    logits = torch.randn(3, 12, CHARSET.num_tokens) * 3
    log_probs = torch.log_softmax(logits, dim=-1)
    texts = ["hello", "abc", "aab", "zz", "abab", "aaa", "baaab"]
    regions = torch.tensor([0, 1, 2, 2, 1, 0, 2])
    targets, lengths = ids_of(texts)
    got = ctc_log_likelihood(log_probs, regions, targets, lengths)
    for k, text in enumerate(texts):
        region = int(regions[k])
        expected = -F.ctc_loss(
            log_probs[region : region + 1].transpose(0, 1),
            targets[k : k + 1, : len(text)],
            torch.tensor([12]),
            torch.tensor([len(text)]),
            blank=0,
            reduction="sum",
        )
        assert torch.isclose(got[k], expected, atol=1e-4), text
    # A target that cannot fit in the columns (a doubled letter needs a blank between: 3 columns for "zz").
    assert ctc_log_likelihood(log_probs[:, :2], torch.tensor([0]), *ids_of(["zz"]))[0] == float("-inf")


def test_a_misread_common_word_is_corrected():
    texts, fixed = rescore([reading("tbe", doubt={1: ("h", 2.5)})], LexiconOptions())
    assert texts == ["tbe"] and fixed == ["the"]


def test_case_and_edge_punctuation_are_put_back():
    rows = [
        reading('("Tbe,', doubt={3: ("h", 2.5)}),
        reading("WBICH.", doubt={1: ("H", 2.5)}),
        reading("recognitlon", doubt={8: ("i", 2.0)}),
        reading("TBE.", doubt={1: ("H", 2.5)}),  # all capitals and under 5 letters: an acronym, kept
    ]
    texts, fixed = rescore(rows)
    assert texts == ['("Tbe,', "WBICH.", "recognitlon", "TBE."]
    assert fixed == ['("The,', "WHICH.", "recognition", "TBE."]


def test_codes_numbers_names_and_short_words_are_never_changed():
    # Each reading is unsure at one column, which leans towards a character that would make a lexicon word or
    # nearly one, and the options let any candidate through: only the ordinary word "tbe" may change.
    cases = {
        "tbe": {1: ("h", 2.5)},  # the control: an ordinary word, corrected
        "iPhone": {1: ("p", 2.9)},  # iphone is in the lexicon
        "McDonald": {2: ("d", 2.9)},  # mcdonald is in the lexicon
        "e-mail": {1: ("m", 2.9)},
        "A4B-77": {1: ("a", 2.9)},
        "x2": {1: ("o", 2.9)},
        "x_1": {1: ("o", 2.9)},
        "a/b": {1: ("n", 2.9)},
        "1234": {0: ("l", 2.9)},
        "3.14": {0: ("e", 2.9)},
        "tbe1": {1: ("h", 2.5)},
        "tb": {1: ("o", 2.9)},  # two letters: too short
        "Tbe": {0: ("t", 2.9), 1: ("h", 2.5)},  # the reading's case is kept: "The", never "the"
    }
    greedy, rescored = rescore([reading(text, doubt=doubt) for text, doubt in cases.items()])
    assert greedy == list(cases)
    assert dict(zip(greedy, rescored)) == {text: text for text in cases} | {"tbe": "the", "Tbe": "The"}
    assert "iphone" in load_lexicon() and "mcdonald" in load_lexicon()  # so the rules, not the lexicon, kept them


def test_a_confident_reading_outside_the_lexicon_stays():
    # A name the lexicon does not hold, read confidently: never compared with "neutron" or "emotion".
    texts, kept = rescore([reading("Nemotron")], LexiconOptions())
    assert texts == kept == ["Nemotron"]
    # Read unsurely, it still stays: the recognizer's columns do not support the lexicon's neighbours.
    texts, kept = rescore([reading("Nemotron", doubt={2: ("n", 2.0)})], PERMISSIVE)
    assert texts == kept == ["Nemotron"]


def test_replaced_texts_get_the_ctc_confidence_of_the_new_text():
    logits = reading("tbe", doubt={1: ("h", 2.5)})[None]
    texts, confidence = decode_greedy(logits, CHARSET, mode="geometric_mean", collapse_repeats=True)
    new_texts, new_confidence = rescore_with_lexicon(logits, texts, confidence, CHARSET, options=PERMISSIVE)
    assert new_texts == ["the"]
    log_probs = torch.log_softmax(logits, -1)
    expected = torch.exp(ctc_log_likelihood(log_probs, torch.tensor([0]), *ids_of(["the"])) / 3)
    assert torch.isclose(new_confidence, expected).all() and 0 < float(new_confidence[0]) < float(confidence[0])
    _, product = rescore_with_lexicon(logits, texts, confidence, CHARSET, options=PERMISSIVE, mode="product")
    assert torch.isclose(product, expected**3).all()


def test_empty_input_and_nothing_to_do():
    logits = torch.zeros(0, T, CHARSET.num_tokens)
    texts, confidence = rescore_with_lexicon(logits, [], torch.zeros(0), CHARSET)
    assert texts == [] and confidence.shape == (0,)
    assert lexicon_hypotheses(logits, [], torch.zeros(0), CHARSET, lexicon=load_lexicon(), options=PERMISSIVE) == []
    with pytest.raises(ValueError, match="confidences"):
        rescore_with_lexicon(torch.zeros(1, T, CHARSET.num_tokens), ["a"], torch.zeros(2), CHARSET)


def test_the_margin_and_the_weight_decide():
    logits = reading("tbe", doubt={1: ("h", 2.5)})[None]
    texts, confidence = decode_greedy(logits, CHARSET, mode="geometric_mean", collapse_repeats=True)
    (hypotheses,) = lexicon_hypotheses(logits, texts, confidence, CHARSET, lexicon=load_lexicon(), options=PERMISSIVE)
    the = hypotheses.texts.index("the")
    assert choose_reading(hypotheses, PERMISSIVE) == the
    assert choose_reading(hypotheses, dataclasses.replace(PERMISSIVE, weight=0.0)) == 0  # likelihood alone: tbe
    assert choose_reading(hypotheses, dataclasses.replace(PERMISSIVE, margin=100.0)) == 0


# ------------------------------------------------------------------------------------------------------------
# Wiring


def test_recognition_options_take_lexicon_options_auto_or_none():
    from textspotter.pipeline import RecognitionOptions

    assert RecognitionOptions().lexicon == "auto" and RecognitionOptions(lexicon=None).lexicon is None
    assert RecognitionOptions(lexicon=LexiconOptions()).lexicon == LexiconOptions()
    with pytest.raises(TypeError, match="lexicon"):
        RecognitionOptions(lexicon="en")  # type: ignore[arg-type]


def test_recognize_applies_the_lexicon_to_ctc_models_only():
    from textspotter.models import create_model, get_spec
    from textspotter.pipeline import RecognitionOptions, recognize

    torch.manual_seed(0)
    parallel = create_model("tiny-test").eval()
    ctc_config = dataclasses.replace(get_spec("tiny-test").recognizer, decoding="ctc")
    ctc = create_model("tiny-test", recognizer=ctc_config).eval()
    features = torch.randn(1, parallel.detector.feature_channels, 32, 32)
    quads = torch.tensor([[[8.0, 8.0], [100.0, 8.0], [100.0, 30.0], [8.0, 30.0]]] * 3)
    index = torch.zeros(3, dtype=torch.int64)
    options = RecognitionOptions(lexicon=LexiconOptions())
    with torch.inference_mode():
        with pytest.raises(ValueError, match="CTC"):
            recognize(parallel, features, quads, index, input_size=(128, 128), options=options)
        # The default ("auto") leaves the published parallel decoders alone instead of refusing them.
        recognize(parallel, features, quads, index, input_size=(128, 128))
        plain = recognize(ctc, features, quads, index, input_size=(128, 128), options=RecognitionOptions(lexicon=None))
        read = recognize(ctc, features, quads, index, input_size=(128, 128), options=options)
    assert len(read.texts) == 3 and read.confidence.shape == (3,) and torch.equal(read.features, plain.features)


def test_the_cli_flag_and_the_bench_engine_name_the_lexicon():
    from textspotter.cli.read import add_lexicon_argument
    from textspotter.evaluate.engines import TextspotterEngine, TextspotterOptions

    parser = argparse.ArgumentParser()
    add_lexicon_argument(parser)
    assert parser.parse_args([]).lexicon == "auto" and parser.parse_args(["--lexicon", "en"]).lexicon == "en"
    with pytest.raises(SystemExit):
        parser.parse_args(["--lexicon", "fr"])
    off = TextspotterEngine(TextspotterOptions(lexicon="off")).version()
    on = TextspotterEngine(TextspotterOptions(lexicon="en")).version()
    auto = TextspotterEngine(TextspotterOptions()).version()
    assert "lexicon" not in off and "lexicon en: language en" in on and "margin" in on
    assert "lexicon auto: language en" in auto


def test_read_eval_and_bench_pass_the_flag_to_the_pipeline(read_recognition):
    from textspotter.cli.eval import add_arguments, engine_options

    assert read_recognition().lexicon == "auto"
    assert read_recognition("--lexicon", "off").lexicon is None
    assert read_recognition("--lexicon", "en").lexicon == LexiconOptions()
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--dataset", "docbank", "--engine", "textspotter"]
    assert engine_options("textspotter", parser.parse_args(base)).lexicon == "auto"
    assert engine_options("textspotter", parser.parse_args([*base, "--lexicon", "en"])).lexicon == "en"


# ------------------------------------------------------------------------------------------------------------
# Which pages are rescored


ENGLISH = "The results of this study show that the method works well for all of the pages which we have tested".split()  # noqa: SIM905
FRENCH = "Les résultats de cette étude montrent que la méthode fonctionne bien pour toutes les pages testées".split()  # noqa: SIM905
GERMAN = "Die Ergebnisse dieser Studie zeigen dass die Methode für alle geprüften Seiten gut funktioniert".split()  # noqa: SIM905


def test_only_pages_of_running_english_text_are_rescored():
    lexicon = load_lexicon("en")
    options = LexiconOptions()
    texts = ENGLISH + FRENCH + GERMAN + ["Total", "Amount", "Date"]
    groups = [0] * len(ENGLISH) + [1] * len(FRENCH) + [2] * len(GERMAN) + [3] * 3
    # French and German text is not "corrected" into English; three words are too few to tell a language.
    assert language_pages(texts, groups, options, lexicon) == {0}
    assert lexicon.function_words >= {"the", "and", "for", "that", "which"} and len(lexicon.function_words) == 100


def test_rescore_pages_changes_only_the_held_readings_of_english_pages():
    misread = reading("tbe", doubt={1: ("h", 2.9)})  # 'tbe', nearly 'the'
    context = [reading(word) for word in ENGLISH]
    logits = torch.stack([misread, *context, misread, *[reading(w) for w in FRENCH]])
    texts, confidence = decode_greedy(logits, CHARSET, mode="geometric_mean", collapse_repeats=True)
    groups = [0] * (1 + len(ENGLISH)) + [1] * (1 + len(FRENCH))
    held_rows = rescore_candidates(texts, confidence, PERMISSIVE)
    assert 0 in held_rows and 1 + len(ENGLISH) in held_rows
    held = [(held_rows, logits[held_rows])]
    new_texts, new_confidence = rescore_pages(texts, confidence, groups, held, CHARSET, options=PERMISSIVE)
    assert texts[0] == "tbe" and new_texts[0] == "the"  # an English page: corrected
    assert new_texts[1 + len(ENGLISH)] == "tbe"  # the same reading on a French page: kept
    assert new_texts[1 : 1 + len(ENGLISH)] == texts[1 : 1 + len(ENGLISH)]
    assert new_confidence.shape == confidence.shape


def test_the_shipped_lexicon_leaves_out_profanity():
    lexicon = load_lexicon("en")
    assert "fuck" not in lexicon and "shit" not in lexicon and "duck" in lexicon

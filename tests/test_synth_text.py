"""Text sources, languages and bidirectional word ordering of the synthetic generator."""

import numpy as np
import pytest

from textspotter.charset import latin_charset
from textspotter.synth.corpus import ENTITY_KINDS, TextOptions, TextSampler, _accented_words, _traditional_table
from textspotter.synth.languages import LANGUAGES, language_spec, normalize_language, script_of
from textspotter.synth.render import unspaced_units, visual_order, word_direction


@pytest.mark.parametrize("code", LANGUAGES)
def test_sampler_text_fits_language(code):
    sampler = TextSampler(code)
    rng = np.random.default_rng(7)
    texts = [sampler.paragraph(rng, 1, 3) for _ in range(20)] + [sampler.heading(rng) for _ in range(10)]
    texts += [sampler.entity(rng, kind) for kind in ENTITY_KINDS for _ in range(3)]
    texts += [sampler.term(rng, key) for key in ("subtotal", "total", "thanks", "page", "figure")]
    texts += [label for label, _kind in sampler.labels()]
    for text in texts:
        assert text.strip(), f"{code}: empty text"
        assert sampler.spec.allows(text.replace(" ", "")), f"{code}: {text!r} has characters outside the language"
    # Native script dominates (the Latin share is small).
    letters = [c for t in texts for c in t if c.isalpha()]
    native = [c for c in letters if sampler.spec.native(c) or code == "en"]
    assert len(native) > 0.6 * len(letters)


def test_english_uses_exactly_the_latin_charset():
    sampler = TextSampler("en")
    allowed = set(latin_charset().characters)
    rng = np.random.default_rng(0)
    for _ in range(200):
        for word in sampler.paragraph(rng).split():
            assert set(word) <= allowed, word


def test_sampler_is_a_function_of_the_generator():
    a, b = TextSampler("ru"), TextSampler("ru")
    assert a.paragraph(np.random.default_rng(3)) == b.paragraph(np.random.default_rng(3))
    assert a.entity(np.random.default_rng(4), "address") == b.entity(np.random.default_rng(4), "address")
    assert a.paragraph(np.random.default_rng(3)) != a.paragraph(np.random.default_rng(5))


def test_accented_words_of_other_languages_are_mixed_in_only_when_asked():
    plain, none = TextSampler("en"), TextSampler("en", TextOptions(accented_prob=0.0))
    assert plain.paragraph(np.random.default_rng(7)) == none.paragraph(np.random.default_rng(7))  # same stream
    mixed = TextSampler("en", TextOptions(accented_prob=0.3))
    rng, allowed = np.random.default_rng(8), set(latin_charset().characters)
    words = [w for _ in range(40) for w in mixed.paragraph(rng).split()]
    accented = [w for w in words if any(ord(c) > 127 and c.isalpha() for c in w)]
    assert len(accented) > 0.1 * len(words)
    assert all(set(w) <= allowed for w in words)
    vocabulary, cdf = _accented_words("en")
    assert cdf[-1] == pytest.approx(1.0) and len(vocabulary) == len(cdf)
    assert {"heißt", "größte", "über", "déjà"} <= set(vocabulary)  # ß put back where wordfreq folded it
    assert "müßen" not in vocabulary and "außehen" not in vocabulary
    assert TextSampler("ru", TextOptions(accented_prob=0.3))._accented[0] == ()  # Latin-script text only
    with pytest.raises(ValueError, match="accented_prob"):
        TextOptions(accented_prob=1.5)


def test_frequency_exponent_flattens_the_distribution():
    rng = np.random.default_rng(1)
    natural = TextSampler("en", TextOptions(frequency_exponent=1.0)).words(rng, 3000)
    flat = TextSampler("en", TextOptions(frequency_exponent=0.4)).words(rng, 3000)
    assert len(set(flat)) > 1.5 * len(set(natural))
    assert natural.count("the") > flat.count("the")


def test_traditional_chinese_conversion():
    table = _traditional_table()
    assert [table.get(c, c) for c in "机后于发国说"] == list("機後於發國說")
    assert [table.get(c, c) for c in "制家面"] == list("制家面")  # already traditional characters
    text = TextSampler("zh-Hant").paragraph(np.random.default_rng(2))
    for char in text:
        if script_of(char) == "cjk":
            char.encode("big5")  # every Han character exists in Big5


def test_language_aliases_and_errors():
    assert normalize_language("zh") == "zh-Hans"
    assert normalize_language("zh-TW") == "zh-Hant"
    assert normalize_language("JP") == "ja"
    with pytest.raises(ValueError, match="unknown language"):
        normalize_language("xx")
    with pytest.raises(TypeError):
        normalize_language(3)
    with pytest.raises(ValueError, match="vocabulary_size"):
        TextOptions(vocabulary_size=10)
    with pytest.raises(ValueError, match="unknown entity"):
        TextSampler("en").entity(np.random.default_rng(0), "planet")
    assert language_spec("ar").direction == "rtl" and not language_spec("ja").spaced


def test_word_direction_types():
    assert [word_direction(w) for w in ("hello", "שלום", "مرحبا", "2024", "(12)", "—", "ПРИВЕТ")] == [
        "L",
        "R",
        "R",
        "EN",
        "EN",
        "N",
        "L",
    ]


def test_visual_order_follows_the_bidi_algorithm_per_word():
    # Left-to-right paragraph: nothing moves.
    assert visual_order(["L", "L", "EN", "L"], "ltr")[0] == [0, 1, 2, 3]
    # Right-to-left paragraph of right-to-left words: fully reversed.
    assert visual_order(["R", "R", "R"], "rtl")[0] == [2, 1, 0]
    # An embedded Latin run keeps its internal left-to-right order: "R1 L2 L3 R4" reads R4 L2 L3 R1 on screen.
    order, resolved = visual_order(["R", "L", "L", "R"], "rtl")
    assert order == [3, 1, 2, 0] and resolved == ["R", "L", "L", "R"]
    # Numbers after right-to-left words count as right-to-left for ordering (so do consecutive numbers).
    assert visual_order(["R", "EN", "EN"], "rtl")[0] == [2, 1, 0]
    # A number after Latin text joins the Latin run; a neutral between two Latin words too.
    assert visual_order(["R", "L", "EN", "R"], "rtl")[0] == [3, 1, 2, 0]
    assert visual_order(["R", "L", "N", "L"], "rtl")[0] == [1, 2, 3, 0]
    # A Hebrew run inside English text is reversed in place.
    assert visual_order(["L", "R", "R", "L"], "ltr")[0] == [0, 2, 1, 3]


def test_unspaced_units_cut_after_punctuation_and_at_spaces():
    line = "我们今天去公园，天气很好。 iPhone 手机「新品」"
    units = [line[a:b] for a, b in unspaced_units(line)]
    assert units == ["我们今天去公园，", "天气很好。", "iPhone", "手机", "「新品」"]

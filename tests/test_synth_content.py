"""What real documents are full of: technical tokens, citations, references, hyphenation, emphasis, chart labels,
text faces only (no symbol fonts), and words the effects made illegible marked ``ignore``."""

import glob
import re
import shutil
from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFont

from textspotter.synth import EffectConfig, SynthConfig, generate_page
from textspotter.synth.annotate import AnnotationBuilder
from textspotter.synth.corpus import (
    SCRIPT_MARKS,
    TECHNICAL_KINDS,
    TextOptions,
    TextSampler,
    split_scripts,
    strip_scripts,
)
from textspotter.synth.effects import effective_blur, illegible_words
from textspotter.synth.fonts import FontCatalogue, latin_letters_drawn
from textspotter.synth.languages import language_spec
from textspotter.synth.layout import PageContext, _author_words, _figure, _list_item, _references
from textspotter.synth.render import TextStyle, Typesetter

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# Symbol and ornament faces whose character maps claim the ASCII letters (Debian paths; fonts-urw-base35). Noto Sans
# Symbols is no example: it draws real Latin letters (and is left out by name).
SYMBOL_FONTS = [
    path
    for pattern in (
        "/usr/share/fonts/opentype/urw-base35/D050000L.otf",
        "/usr/share/fonts/opentype/urw-base35/StandardSymbolsPS.otf",
        "/usr/share/fonts/**/*[Dd]ingbat*.[ot]tf",
    )
    for path in glob.glob(pattern, recursive=True)
]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    return FontCatalogue.scan(cache_path=tmp_path_factory.getbasetemp() / "synth-fonts.json")


@pytest.fixture(scope="module")
def english_text():
    sampler = TextSampler("en")
    rng = np.random.default_rng(2024)
    sentences = [sampler.sentence(rng) for _ in range(3000)]
    return sampler, sentences


def _ink_shares(image: np.ndarray, quads: np.ndarray) -> list[float]:
    """Share of dark pixels inside each word box."""
    ink = np.asarray(image).min(axis=2) < 160
    shares = []
    for quad in quads:
        box = np.zeros(ink.shape, np.uint8)
        cv2.fillPoly(box, [np.round((quad - 0.5) * 16).astype(np.int32)], 1, shift=4)
        shares.append(float(ink[box > 0].mean()) if box.any() else 0.0)
    return shares


# ------------------------------------------------------------------------------------------------ text kinds
# A detector per content kind, applied to words of running text; expected share = technical_prob × weight.
_DETECTORS = {
    "email": re.compile(r"^[\w.]+@[\w-]+\.[\w.]+$"),
    "url": re.compile(r"^(https://|www\.|doi:10\.|arXiv:\d)"),
    "footnote": re.compile(r"^[^\W\d_]+[¹²³†‡*][.,!?]?$"),
    "crossref": re.compile(r"^(Fig\.|Figure|Table|Tab\.|Sec\.|Section|Eq\.|Equation|Appendix|Algorithm|Alg\.|Theorem"
                           r"|Lemma|Chapter|Ref\.)$"),
}  # fmt: skip


def test_technical_kinds_appear_at_their_rates(english_text):
    sampler, sentences = english_text
    words = [w for s in sentences for w in s.split()]
    probability = TextOptions().technical_prob
    for kind, pattern in _DETECTORS.items():
        found = sum(bool(pattern.match(w)) for w in words)
        expected = probability * TECHNICAL_KINDS[kind] * len(words)
        # crossref labels are dropped in 15 % of cases; e-mail hosts and footnotes may carry a stop.
        assert 0.5 * expected < found < 1.6 * expected, f"{kind}: {found} words, expected about {expected:.0f}"
    compounds = sum(bool(re.fullmatch(r"[^\W\d_]+(-[^\W\d_]+)+[.,!?]?", w)) for w in words)
    assert compounds > 0.5 * probability * TECHNICAL_KINDS["compound"] * len(words)
    relations = sum(w in ("=", "<", ">", "≤", "≥", "≈", "≠", "∈", "→") for w in words)
    assert relations > 0.1 * probability * TECHNICAL_KINDS["math"] * len(words)
    units = sum(w.rstrip(".,!?") in ("mm", "cm", "kg", "ms", "Hz", "MHz", "GB", "°C", "dB", "V", "W") for w in words)
    assert units > 0.02 * probability * TECHNICAL_KINDS["measure"] * len(words)
    letters = sum(w.rstrip(".,!?") in ("(a)", "(b)", "(c)", "(i)", "(ii)", "(iii)") for w in words)
    assert letters > 0


def test_citations_appear_in_about_their_share_of_sentences(english_text):
    _sampler, sentences = english_text
    cited = re.compile(r"\[\d+(?:[,–]\s?\d+)*(?:, \d+–\d+)?\]|\([^()]+(?: et al\.| and [^()]+)?, \d{4}[abc]?\)")
    share = sum(bool(cited.search(s)) for s in sentences) / len(sentences)
    assert 0.08 < share < 0.18, share  # citation_prob = 0.12
    # Numeric citations are whole words: "[12]." ends a sentence, "[3, 7–9]" spans words.
    assert any(re.fullmatch(r"\[\d+\][.?!]", s.split()[-1]) for s in sentences)


@pytest.mark.parametrize("kind", list(TECHNICAL_KINDS))
def test_each_technical_kind_is_label_safe(kind):
    for code in ("en", "ru"):
        sampler = TextSampler(code)
        rng = np.random.default_rng(5)
        for _ in range(40):
            token = sampler.technical(rng, kind)
            assert token.strip() and sampler.spec.allows(token.replace(" ", "")), (code, kind, token)
    with pytest.raises(ValueError, match="unknown technical kind"):
        TextSampler("en").technical(np.random.default_rng(0), "poem")


def test_scripted_math_only_where_asked_and_label_safe():
    sampler = TextSampler("en")
    rng = np.random.default_rng(6)
    plain = " ".join(sampler.paragraph(rng) for _ in range(100))
    assert not set(plain) & set(SCRIPT_MARKS)
    scripted = [w for _ in range(100) for w in sampler.paragraph(rng, scripts=True).split() if SCRIPT_MARKS[2] in w]
    assert len(scripted) > 20
    for word in scripted:
        runs = split_scripts(word)
        assert any(level for _text, level in runs) and "".join(t for t, _level in runs) == strip_scripts(word)
        assert sampler.spec.allows(strip_scripts(word)), word
    assert split_scripts("x\ue0a2i\ue0a3\ue0a12\ue0a3") == [("x", 0), ("i", -1), ("2", 1)]


def test_technical_text_only_in_latin_and_cyrillic_languages():
    rng = np.random.default_rng(3)
    text = " ".join(TextSampler("ja").paragraph(rng) for _ in range(20))
    assert "@" not in text and "https://" not in text and "et al." not in text


def test_reference_entries_look_like_bibliographies():
    sampler = TextSampler("en")
    rng = np.random.default_rng(8)
    pattern = re.compile(r"^(?:[A-Z]\. )+[^\s,]+.*\. .+, (?:19|20)\d\d\.$")
    entries = [sampler.reference_entry(rng) for _ in range(60)]
    for entry in entries:
        assert pattern.match(entry), entry
    assert sum("pp. " in e or re.search(r"\d+\(\d+\):\d+–\d+", e) is not None for e in entries) > 20


# ------------------------------------------------------------------------------------------------ typesetting
def _typesetter(catalogue, width=420, height=900):
    image = Image.new("RGB", (width, height), (255, 255, 255))
    builder = AnnotationBuilder()
    return image, builder, Typesetter(image, catalogue, builder)


def test_line_end_hyphenation_labels_what_is_drawn(catalogue):
    spec = language_spec("en")
    image, builder, typesetter = _typesetter(catalogue)
    face = next(f for f in catalogue.faces_for("en") if f.family == "DejaVu Serif" and not f.bold and not f.italic)
    style = TextStyle(face, 18, (0, 0, 0))
    text = " ".join(TextSampler("en").paragraph(np.random.default_rng(1), 6, 6).split())
    text = typesetter.fit(text + " the state-of-the-art information", style, spec)
    plan = typesetter.plan(text, style, spec, 240, hyphenate=np.random.default_rng(0), hyphen_prob=1.0)
    lines = [line.words for line in plan.lines]
    broken = [i for i, words in enumerate(lines[:-1]) if words[-1].endswith("-")]
    assert len(broken) >= 3, lines
    # Each break undone gives a word of the text: "infor-" + "mation", or "state-of-" + "the-art".
    original = text.split()
    for i in broken:
        head, tail = lines[i][-1], lines[i + 1][0]
        assert head[:-1] + tail in original or head + tail in original, (head, tail)
    words = [w for line in lines for w in line]
    line_ids, _bottom = typesetter.draw_plan(plan, 20, 20, align="justify")
    assert builder.texts == words
    # The hyphen is drawn at the right end of each broken word's box.
    ink = np.asarray(image).min(axis=2) < 160
    for i in broken:
        word_id = builder.lines[line_ids[i]][-1]
        quad = builder.quads[word_id]
        hyphen = catalogue.font(face, 18).getlength("-")
        x1, top, bottom = quad[1, 0], quad[0, 1], quad[3, 1]
        assert abs((x1 - quad[0, 0]) - typesetter._length(style, builder.texts[word_id])) < 0.5
        assert ink[int(top) : int(bottom), int(x1 - hyphen) : int(np.ceil(x1))].any()
        assert not ink[int(top) : int(bottom), int(np.ceil(x1)) + 1 : int(np.ceil(x1)) + 6].any()


def test_hyphen_break_rules(catalogue):
    _image, _builder, typesetter = _typesetter(catalogue)
    style = TextStyle(catalogue.faces_for("en")[0], 16)
    assert typesetter._hyphen_break("information,", style, 1000) == ("informa-", "tion,")
    assert typesetter._hyphen_break("state-of-the-art.", style, 1000) == ("state-of-the-", "art.")
    assert typesetter._hyphen_break("short", style, 1000) is None  # too short
    assert typesetter._hyphen_break("3.14159", style, 1000) is None  # not a word
    assert typesetter._hyphen_break("information", style, 1) is None  # nothing fits


def test_emphasised_words_use_their_own_face_and_boxes(catalogue):
    spec = language_spec("en")
    image, builder, typesetter = _typesetter(catalogue, 1000, 200)
    regular = next(f for f in catalogue.faces_for("en") if f.family == "DejaVu Serif" and f.style == "Book")
    italic = catalogue.variant(regular, bold=False, italic=True)
    bold = catalogue.variant(regular, bold=True, italic=False)
    assert italic.family == bold.family == regular.family and italic.italic and bold.bold and not bold.italic
    base, slanted, heavy = TextStyle(regular, 22), TextStyle(italic, 22), TextStyle(bold, 22)
    text = "plain words then slanted words and one heavy word to close"
    styles = [base, base, base, slanted, slanted, base, base, heavy, heavy, base, base]
    plan = typesetter.plan(text, base, spec, 960, word_styles=styles)
    line_ids, _ = typesetter.draw_plan(plan, 10, 10)
    assert builder.texts == text.split() and len(line_ids) == 1
    for word_id, (word, style) in enumerate(zip(text.split(), styles)):
        width = builder.quads[word_id, 1, 0] - builder.quads[word_id, 0, 0]
        assert abs(width - catalogue.font(style.face, 22).getlength(word)) < 0.01
    assert min(_ink_shares(np.asarray(image), builder.quads)) > 0.05
    with pytest.raises(ValueError, match="word_styles"):
        typesetter.plan(text, base, spec, 960, word_styles=styles[:3])


def test_sub_and_superscripts_are_drawn_small_and_labelled_plain(catalogue):
    spec = language_spec("en")
    image, builder, typesetter = _typesetter(catalogue, 600, 120)
    face = next(f for f in catalogue.faces_for("en") if f.family == "DejaVu Serif" and f.style == "Book")
    style = TextStyle(face, 30, (0, 0, 0))
    sup, sub, end = SCRIPT_MARKS
    text = f"with α{sub}i{end} and 10{sup}−3{end} here"
    typesetter.paragraph(text, style, spec, 10, 20, 580)
    assert builder.texts == ["with", "αi", "and", "10−3", "here"]
    quads = builder.quads
    plain_height = quads[0, 3, 1] - quads[0, 0, 1]
    assert quads[1, 3, 1] > quads[0, 3, 1] and quads[3, 0, 1] < quads[0, 0, 1]  # boxes grown to the scripts
    assert quads[1, 3, 1] - quads[1, 0, 1] < 1.5 * plain_height
    small = catalogue.font(face, 21)
    expected = catalogue.font(face, 30).getlength("10") + small.getlength("−3")
    assert abs((quads[3, 1, 0] - quads[3, 0, 0]) - expected) < 0.01
    # All ink lies inside the word boxes (grown by a pixel), the scripts' included.
    ink = np.asarray(image).min(axis=2) < 160
    covered = np.zeros(ink.shape, np.uint8)
    for quad in quads:
        cv2.fillPoly(covered, [np.round((quad - 0.5) * 16).astype(np.int32)], 1, shift=4)
    covered = cv2.dilate(covered, np.ones((3, 3), np.uint8))
    assert not (ink & (covered == 0)).any()
    assert min(_ink_shares(np.asarray(image), quads)) > 0.05


# ------------------------------------------------------------------------------------------------ fonts
@pytest.mark.skipif(not SYMBOL_FONTS, reason="no symbol font installed")
@pytest.mark.parametrize("path", SYMBOL_FONTS)
def test_symbol_fonts_are_not_text_faces(path, tmp_path):
    assert not latin_letters_drawn(ImageFont.truetype(path, 96))
    folder = tmp_path / "fonts"
    folder.mkdir()
    (folder / "symbol.otf").symlink_to(path)
    (folder / "dejavu.ttf").symlink_to(DEJAVU)
    catalogue = FontCatalogue.scan([str(folder)], cache_path=tmp_path / "fonts.json")
    assert [f.family for f in catalogue.faces] == ["DejaVu Sans"]


def test_dingbats_face_is_rejected_whatever_its_name(tmp_path):
    path = "/usr/share/fonts/opentype/urw-base35/D050000L.otf"
    if not glob.glob(path):
        pytest.skip("fonts-urw-base35 not installed")
    folder = tmp_path / "fonts"
    folder.mkdir()
    shutil.copy(path, folder / "PlainTextFace.otf")  # a harmless name: no name list can catch it
    assert FontCatalogue.scan([str(folder)], cache_path=tmp_path / "fonts.json").faces == ()


@pytest.mark.parametrize("family", ["DejaVu Sans", "DejaVu Sans Mono", "Liberation Serif", "Comic Neue", "CMU Serif"])
def test_text_faces_pass_the_letter_test(catalogue, family):
    faces = [f for f in catalogue.faces if f.family == family]
    if not faces:
        pytest.skip(f"{family} not installed")
    for face in faces:
        assert latin_letters_drawn(ImageFont.truetype(face.path, 96, index=face.index)), face.name


def test_office_and_tex_faces_are_catalogued(catalogue):
    families = {f.family for f in catalogue.faces_for("en")}
    wanted = {"Carlito", "Caladea", "CMU Serif", "Latin Modern Roman", "TeX Gyre Termes"}
    missing = wanted - families
    if missing:
        pytest.skip(f"not installed: {sorted(missing)} (see .ci/apt-packages.txt)")
    caladea = [f for f in catalogue.faces if f.family == "Caladea"]
    assert all(f.serif for f in caladea) and any(f.italic for f in caladea)


# ------------------------------------------------------------------------------------------------ layout pieces
def _context(catalogue, seed, width=700, height=900):
    image = Image.new("RGB", (width, height), (255, 255, 255))
    builder = AnnotationBuilder()
    return PageContext(
        rng=np.random.default_rng(seed),
        image=image,
        typesetter=Typesetter(image, catalogue, builder),
        samplers={"en": TextSampler("en")},
        main="en",
        font_size=(14, 18),
    )


def test_reference_list_has_hanging_labels(catalogue):
    ctx = _context(catalogue, 4)
    bottom, next_number = _references(ctx, "en", 20, 20, 660, 880, 15, False, 1)
    assert bottom is not None and next_number >= 3
    texts = ctx.annotations.texts
    labels = [texts[line[0]] for line in ctx.annotations.lines[1:]]
    numbered = [label for label in labels if re.fullmatch(r"\[\d+\]|\d{1,2}\.", label)]  # not a year starting a line
    assert numbered[:2] in (["[1]", "[2]"], ["1.", "2."])
    assert min(_ink_shares(np.asarray(ctx.image), ctx.annotations.quads)) > 0.02


def test_reference_authors_in_small_capitals_keep_their_case(catalogue):
    entry = "A. Pollicott and B. C. Jenkinson. Dimension of limit sets. In Proc. X, 2019."
    assert _author_words(entry) == 6 and _author_words("no full stop") == 0
    spec_face = next(f for f in catalogue.faces_for("en") if "DejaVuSans.ttf" in f.path)
    tops = {}
    for caps in (0, 6):
        ctx = _context(catalogue, 3)
        style = TextStyle(spec_face, 20, (0, 0, 0))
        bottom = _list_item(ctx, "[1]", entry, style, "en", 20, 20, 660, 1.15, 400, small_caps_words=caps)
        texts = ctx.annotations.texts
        assert bottom is not None and texts[:3] == ["A.", "Pollicott", "and"]  # the bullet is recorded last
        assert min(_ink_shares(np.asarray(ctx.image), ctx.annotations.quads)) > 0.02
        # the top of the ink of "and" (word 2): the d's ascender, or a small capital D at about the x-height
        x0, x1 = ctx.annotations.quads[2][:, 0].min(), ctx.annotations.quads[2][:, 0].max()
        rows = np.flatnonzero((np.asarray(ctx.image.convert("L"))[:60, int(x0) : int(x1)] < 128).any(axis=1))
        tops[caps] = rows[0]
    assert tops[6] > tops[0] + 2


def test_chart_axis_labels_are_words_on_the_ink(catalogue):
    found, turned = False, 0
    for seed in range(20):
        ctx = _context(catalogue, seed)
        _figure(ctx, 40, 40, 600, 400)
        texts = ctx.annotations.texts
        if not texts:
            continue  # a picture, or a chart without labels
        found = True
        assert sum(bool(re.fullmatch(r"\d+(\.\d+)?", t)) for t in texts) >= 3  # tick numbers
        quads = ctx.annotations.quads
        assert quads[..., 0].min() >= 39 and quads[..., 0].max() <= 641 and quads[..., 1].max() <= 441
        # Some label faces are light or thin at these sizes: each box holds some clearly darker pixels.
        gray = np.asarray(ctx.image).min(axis=2)
        for quad in quads:
            (x0, y0), (x1, y1) = np.floor(quad.min(0)).astype(int), np.ceil(quad.max(0)).astype(int)
            assert gray[y0:y1, x0:x1].min() < 200
        lines = [[texts[w] for w in line] for line in ctx.annotations.lines]
        assert all(len(p) == 1 for p in ctx.annotations.paragraphs) and lines
        # A y-axis title turned a quarter left reads bottom to top: vertex 0 -> 1 runs up, 0 -> 3 runs right.
        for quad in quads:
            if abs(quad[1, 1] - quad[0, 1]) > 1:
                assert quad[1, 1] < quad[0, 1] and abs(quad[1, 0] - quad[0, 0]) < 0.01 and quad[3, 0] > quad[0, 0]
                turned += 1
    assert found and turned


# ------------------------------------------------------------------------------------------------ illegible words
def _page_with_words(heights=(10, 40)):
    image = np.full((200, 400, 3), 255, np.uint8)
    quads = []
    for i, h in enumerate(heights):
        x0, y0 = 20, 20 + i * 80
        cv2.putText(image, "Hello", (x0, y0 + int(h * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, h / 30, (0, 0, 0), 2)
        quads.append([[x0, y0], [x0 + 4 * h, y0], [x0 + 4 * h, y0 + h], [x0, y0 + h]])
    quads.append([[250, 20], [350, 20], [350, 50], [250, 50]])  # a box with nothing in it
    return image, np.asarray(quads, np.float64)


def test_effective_blur_combines_records():
    assert effective_blur([{"name": "paper"}, {"name": "jpeg", "quality": 50}]) == 0
    assert effective_blur([{"name": "blur", "kind": "gaussian", "sigma": 3.0}]) == pytest.approx(3.0)
    combined = effective_blur(
        [{"name": "blur", "kind": "gaussian", "sigma": 3.0}, {"name": "downscale", "factor": 0.5}]
    )
    assert combined == pytest.approx(np.hypot(3.0, 0.5 * np.sqrt(3.0)))
    assert effective_blur([{"name": "blur", "kind": "motion", "length": 12, "angle": 0}]) == pytest.approx(
        12 / np.sqrt(12)
    )


def test_heavy_blur_makes_small_words_illegible():
    image, quads = _page_with_words()
    blur = [{"name": "blur", "kind": "gaussian", "sigma": 3.0}]
    # 3 px of blur on a 10 px word is illegible, on a 40 px word it is not; blur alone erases no ink.
    assert illegible_words(image, quads, blur).tolist() == [True, False, False]
    assert illegible_words(image, quads, []).tolist() == [False, False, False]  # no effect, no judgement
    # After an effect that can erase ink, the empty box counts as a word whose ink is gone.
    washed = blur + [{"name": "contrast", "low": 60, "high": 200}]
    assert illegible_words(image, quads, washed).tolist() == [True, False, True]
    skip = np.array([True, False, False])
    assert illegible_words(image, quads, washed, skip=skip).tolist() == [False, False, True]
    with pytest.raises(ValueError, match="quads"):
        illegible_words(image, quads[:, :3], blur)


def test_erased_ink_is_illegible_but_faint_ink_is_not():
    image, quads = _page_with_words((30, 30))
    washed = image.copy()
    washed[quads[0, 0, 1].astype(int) : quads[0, 2, 1].astype(int)] = 250  # the first word's strokes erased
    faint = np.where(washed < 128, 200, washed).astype(np.uint8)  # the second word light grey, still readable
    record = [{"name": "stroke", "mode": "thin", "size": 2}]
    assert illegible_words(faint, quads, record).tolist() == [True, False, True]
    # Strong noise raises the bar: a box of noise is not ink.
    noisy = faint.astype(np.int16) + np.random.default_rng(0).normal(0, 12, faint.shape).round().astype(np.int16)
    noisy = np.clip(noisy, 0, 255).astype(np.uint8)
    noise = {"name": "noise", "sigma": 12.0, "grain": 1, "color": False, "seed": 0}
    assert illegible_words(noisy, quads, record + [noise]).tolist() == [True, False, True]


def test_generated_articles_carry_the_new_content_with_plain_labels():
    config = SynthConfig(layouts=("article",), effects=EffectConfig.none())
    texts, hyphenated = [], 0
    for index in range(4):
        _image, page = generate_page(config, 12, index)
        words = [w.text for w in page.words]
        texts += words
        for line, following in zip(page.lines, page.lines[1:]):
            hyphenated += page.words[line.words[-1]].text.endswith("-") and len(following.words) > 0
        assert not any(set(w) & set(SCRIPT_MARKS) for w in words)
    joined = " ".join(texts)
    assert re.search(r"\[\d+(?:, ?\d+)*\]|et al\.,", joined)  # citations
    assert re.search(r"\b[\w.]+@\w", joined) or re.search(r"https://|www\.|doi:|arXiv:", joined)
    assert hyphenated > 0


def test_generated_pages_mark_blurred_words_ignore():
    effects = replace(EffectConfig.none(), blur=1.0, blur_max=5.0)
    config = SynthConfig(layouts=("article",), effects=effects)
    marked = 0
    for index in range(2):
        _image, page = generate_page(config, 1, index)
        sigma = effective_blur(page.params["effects"])
        for word in page.words:
            quad = np.asarray(word.quad)
            height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
            if sigma > 0.18 * height:
                assert word.ignore, (word.text, height, sigma)
                marked += 1
    assert marked > 0

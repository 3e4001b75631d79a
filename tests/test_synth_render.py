"""Font catalogue and typesetting: glyph coverage, and word boxes that sit exactly on the drawn words."""

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from textspotter.synth import fonts
from textspotter.synth.annotate import AnnotationBuilder
from textspotter.synth.corpus import TextSampler
from textspotter.synth.fonts import FontCatalogue, read_cmap
from textspotter.synth.languages import LANGUAGES, language_spec
from textspotter.synth.render import TextStyle, Typesetter, small_caps_runs

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    return FontCatalogue.scan(cache_path=tmp_path_factory.getbasetemp() / "synth-fonts.json")


def test_read_cmap_excludes_missing_glyphs():
    with open(DEJAVU, "rb") as fh:
        ranges = read_cmap(fh.read())
    covered = lambda c: any(a <= ord(c) <= b for a, b in ranges)  # noqa: E731
    assert covered("A") and covered("é") and covered("Ж")
    assert not covered("国") and not covered("\ue000")
    with pytest.raises(ValueError, match="cmap"):
        read_cmap(b"\x00\x01\x00\x00\x00\x00" + b"\x00" * 20)


def test_catalogue_cache_is_written_and_reused(tmp_path):
    cache = tmp_path / "fonts.json"
    first = FontCatalogue.scan(["/usr/share/fonts/truetype/dejavu"], cache_path=cache)
    content = json.loads(cache.read_text())
    assert content["version"] == fonts._CACHE_VERSION and any("DejaVuSans.ttf" in path for path in content["files"])
    second = FontCatalogue.scan(["/usr/share/fonts/truetype/dejavu"], cache_path=cache)
    assert first.faces == second.faces and len(first.faces) >= 5
    with pytest.raises(FileNotFoundError):
        FontCatalogue.scan([tmp_path / "missing"], cache_path=cache)


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_language_has_fonts_covering_its_core(catalogue, code):
    spec = language_spec(code)
    faces = catalogue.faces_for(code)
    assert faces, f"no font for {code}"
    for face in faces:
        assert catalogue.covers(face, spec.required)
        if face.region in ("SC", "TC", "HK", "JP", "KR"):
            assert face.region in spec.region_tags


def test_catalogue_traits_and_choice(catalogue):
    faces = catalogue.faces_for("en")
    assert any(f.serif for f in faces) and any(not f.serif for f in faces)
    assert any(f.monospace for f in faces) and any(f.bold for f in faces) and any(f.italic for f in faces)
    face = catalogue.choose(np.random.default_rng(0), "en", monospace=True)
    assert face.monospace
    assert catalogue.choose(np.random.default_rng(5), "ja") == catalogue.choose(np.random.default_rng(5), "ja")
    tofu = "\ue000"
    assert not catalogue.covers(face, "abc" + tofu)


def _ink_check(image: np.ndarray, builder: AnnotationBuilder) -> tuple[float, list[float]]:
    """Return (share of ink outside all word boxes grown by 2 px, ink share inside each word box)."""
    ink = image.min(axis=2) < 160
    mask = np.zeros(ink.shape, np.uint8)
    shares = []
    for quad in builder.quads:
        # Sub-pixel polygon fill (4 fractional bits); OpenCV fills pixel centres, quads use pixel corners.
        points = [np.round((quad - 0.5) * 16).astype(np.int32)]
        cv2.fillPoly(mask, points, 1, shift=4)
        box = np.zeros(ink.shape, np.uint8)
        cv2.fillPoly(box, points, 1, shift=4)
        shares.append(float(ink[box > 0].mean()) if box.any() else 0.0)
    grown = cv2.dilate(mask, np.ones((5, 5), np.uint8))
    outside = float((ink & (grown == 0)).sum()) / max(1, int(ink.sum()))
    return outside, shares


@pytest.mark.parametrize("code", LANGUAGES)
@pytest.mark.parametrize("align", ["start", "justify", "center"])
def test_word_boxes_sit_on_the_ink(catalogue, code, align):
    spec = language_spec(code)
    sampler = TextSampler(code)
    rng = np.random.default_rng(11)
    image = Image.new("RGB", (900, 700), (255, 255, 255))
    builder = AnnotationBuilder()
    typesetter = Typesetter(image, catalogue, builder)
    y = 10.0
    for size in (14, 22, 31):
        style = TextStyle(catalogue.choose(rng, spec), size, (0, 0, 0))
        y = typesetter.paragraph(sampler.paragraph(rng, 1, 2), style, spec, 20, y, 860, align=align) + 12
    assert builder.texts and len(builder.lines) >= 3
    outside, shares = _ink_check(np.asarray(image), builder)
    assert outside < 0.01, f"{code}: {outside:.3%} of the ink lies outside the word boxes"
    assert min(shares) > 0.02, f"{code}: a word box holds no ink"
    for text in builder.texts:
        assert text and " " not in text and spec.allows(text)


def test_small_capitals_keep_the_labels_case_and_draw_capitals(catalogue):
    assert small_caps_runs("Straße-x") == [
        ("S", False),
        ("tra", True),
        ("ß", False),
        ("e", True),
        ("-", False),
        ("x", True),
    ]
    spec = language_spec("en")
    face = next(f for f in catalogue.faces_for("en") if "DejaVuSans.ttf" in f.path)
    plain, caps = TextStyle(face, 30, (0, 0, 0)), TextStyle(face, 30, (0, 0, 0), small_caps=True)
    heights = {}
    for style in (plain, caps):
        image = Image.new("RGB", (700, 80), (255, 255, 255))
        builder = AnnotationBuilder()
        typesetter = Typesetter(image, catalogue, builder)
        typesetter.paragraph("Pollicott and Jenkinson", style, spec, 10, 10, 680)
        assert builder.texts == ["Pollicott", "and", "Jenkinson"]  # the label keeps the letters' case
        outside, shares = _ink_check(np.asarray(image), builder)
        assert outside < 0.01 and min(shares) > 0.02
        # "and" alone: its ink height
        x0, x1 = builder.quads[1][:, 0].min(), builder.quads[1][:, 0].max()
        rows = np.flatnonzero((np.asarray(image.convert("L"))[:, int(x0) : int(np.ceil(x1))] < 128).any(axis=1))
        heights[style.small_caps] = rows[-1] - rows[0]
    # plain "and" stands as tall as the d's ascender; "AND" in small capitals only about as tall as the x-height
    assert heights[True] < 0.85 * heights[False]


def test_right_to_left_lines_read_from_the_right(catalogue):
    spec = language_spec("he")
    image = Image.new("RGB", (600, 100), (255, 255, 255))
    builder = AnnotationBuilder()
    typesetter = Typesetter(image, catalogue, builder)
    face = next(f for f in catalogue.faces_for("he") if catalogue.covers(f, "0123456789"))
    typesetter.paragraph("שלום עולם גדול 2024", TextStyle(face, 24), spec, 10, 10, 580)
    assert builder.texts == ["שלום", "עולם", "גדול", "2024"]  # logical order
    centers = builder.quads.mean(axis=1)[:, 0]
    assert list(np.argsort(-centers)) == [0, 1, 2, 3]  # first word rightmost
    outside, _ = _ink_check(np.asarray(image), builder)
    assert outside < 0.01


def test_vertical_column_boxes(catalogue):
    spec = language_spec("ja")
    image = Image.new("RGB", (120, 700), (255, 255, 255))
    builder = AnnotationBuilder()
    typesetter = Typesetter(image, catalogue, builder)
    face = catalogue.choose(np.random.default_rng(0), spec)
    line, consumed = typesetter.vertical_column(
        "縦書きの文章です。次の文、ここまで", TextStyle(face, 28), spec, 60, 10, 680
    )
    assert line is not None and consumed > 0
    quads = builder.quads
    # Vertex 0 → 1 runs down the column (the reading direction); vertex 0 is the top-right corner.
    assert np.all(quads[:, 1, 1] > quads[:, 0, 1]) and np.all(quads[:, 0, 0] > quads[:, 3, 0])
    outside, shares = _ink_check(np.asarray(image), builder)
    assert outside < 0.01 and min(shares) > 0.02

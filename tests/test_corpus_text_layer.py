"""Text-layer labels of PDFs the tests write themselves: exact words, ligatures, hyphens, rotation, accents."""

import math

import numpy as np
import pypdfium2 as pdfium
import pytest

from textspotter.corpus.pdfwrite import TextRun, write_pdf
from textspotter.corpus.text_layer import Glyph, _merge_accents, extract_glyphs, group_lines, group_words


def read_words(path, scale=2.0, page=0):
    document = pdfium.PdfDocument(str(path))
    try:
        text = extract_glyphs(document[page], scale)
    finally:
        document.close()
    return text, group_words(text.glyphs)


def test_known_text_gives_exact_words_lines_and_boxes(tmp_path):
    pdf = write_pdf(
        tmp_path / "known.pdf",
        [
            [
                TextRun(20, 150, 12, "Hello world, again."),
                TextRun(20, 134, 12, "second line"),
                TextRun(20, 80, 14, "Far"),
            ]
        ],
    )
    text, words = read_words(pdf)
    assert (text.width, text.height) == (600, 400)
    assert [w.text for w in words] == ["Hello", "world,", "again.", "second", "line", "Far"]
    lines, paragraphs = group_lines(words)
    assert lines == [[0, 1, 2], [3, 4], [5]] and paragraphs == [[0, 1], [2]]
    first = words[0].quad
    # 2 px per point: "Hello" starts at x = 20 pt, baseline 150 pt above the bottom (y = 100 px), upright quad.
    assert abs(first[0, 0] - 40) < 0.5 and first[0, 1] < 100 < first[2, 1]
    assert np.allclose(first[0, 1], first[1, 1]) and np.allclose(first[0, 0], first[3, 0])


def test_ligatures_are_expanded_and_not_split(tmp_path):
    pdf = write_pdf(tmp_path / "lig.pdf", [[TextRun(20, 150, 12, "the de\x01nition of \x02ow \x01\x02")]])
    _, words = read_words(pdf)
    assert [w.text for w in words] == ["the", "definition", "of", "flow", "fifl"]
    # The word's box covers the ligature glyph: it is one box from "d" to "n".
    definition = words[1].quad
    assert definition[1, 0] - definition[0, 0] > 80


def test_rotated_text_gets_rotated_quads(tmp_path):
    pdf = write_pdf(tmp_path / "rot.pdf", [[TextRun(100, 40, 12, "Rotated text", angle=30)]])
    _, words = read_words(pdf)
    assert [w.text for w in words] == ["Rotated", "text"]
    quad = words[0].quad
    top = quad[1] - quad[0]
    # 30° counter-clockwise in the PDF: up and to the right on screen (y down), vertex 0 → 1 along the text.
    assert math.isclose(math.degrees(math.atan2(-top[1], top[0])), 30, abs_tol=1.0)
    side = quad[3] - quad[0]
    assert abs(float(top @ side)) < 1e-6 * np.linalg.norm(top) * np.linalg.norm(side) + 1e-6  # a rectangle
    assert 12 * 2 <= np.linalg.norm(side) <= 16 * 2  # about the font's ascent-to-descent height at 2 px / pt


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_turned_pages_keep_the_content_order(tmp_path, rotate):
    runs = [
        TextRun(20, 150, 12, "one"),
        TextRun(20, 130, 12, "two"),
        TextRun(20, 110, 12, "three"),
        TextRun(56, 110, 12, "four"),
    ]
    pdf = write_pdf(tmp_path / "turned.pdf", [runs], rotate=rotate)
    _, words = read_words(pdf)
    assert [w.text for w in words] == ["one", "two", "three", "four"]  # pdfium alone gives "three two one" at 90
    lines, paragraphs = group_lines(words)
    assert lines == [[0], [1], [2, 3]] and paragraphs == [[0, 1, 2]]
    document = pdfium.PdfDocument(str(pdf))
    assert document[0].get_rotation() == rotate  # the turn is put back for rendering
    document.close()


def test_rotated_page_turns_the_quads(tmp_path):
    pdf = write_pdf(tmp_path / "page.pdf", [[TextRun(20, 150, 12, "Sideways")]], rotate=90)
    text, words = read_words(pdf)
    assert (text.width, text.height) == (400, 600)
    quad = words[0].quad
    assert words[0].text == "Sideways"
    # The page turns clockwise: the text runs down the image, its top towards +x.
    assert quad[1, 1] - quad[0, 1] > 100 and abs(quad[1, 0] - quad[0, 0]) < 1e-6
    assert quad[2, 0] < quad[1, 0]


def test_hyphen_markers_and_soft_hyphens_read_as_hyphens():
    def glyph(text, x):
        quad = np.array([[x, 0], [x + 5, 0], [x + 5, 10], [x, 10]], dtype=float)
        return Glyph(text=text, raw=text, quad=quad, height=10.0)

    # extract_glyphs maps U+0002 / U+FFFE to "-": the grouping sees "-" glued to the word.
    words = group_words([glyph("h", 0), glyph("y", 5), glyph("-", 10)])
    assert [w.text for w in words] == ["hy-"]


def test_spacing_accents_join_their_letter():
    def glyph(text, x, y0, y1):
        quad = np.array([[x, y0], [x + 5, y0], [x + 5, y1], [x, y1]], dtype=float)
        return Glyph(text=text, raw=text, quad=quad, height=y1 - y0)

    merged = _merge_accents([glyph("D", 0, 0, 10), glyph("\u00a8", 5.5, -2, 3), glyph("u", 5, 2, 10)])
    assert [g.text for g in merged] == ["D", "ü"]
    assert merged[1].quad[:, 1].min() == -2  # the box covers the accent
    assert [w.text for w in group_words(merged)] == ["Dü"]


def test_cjk_runs_are_line_level_regions():
    # One region per CJK run on a line (issue #22), Latin words in it stay words; long runs come in pieces.
    def glyph(text, x):
        quad = np.array([[x, 0], [x + 10, 0], [x + 10, 10], [x, 10]], dtype=float)
        return Glyph(text=text, raw=text, quad=quad, height=10.0)

    words = group_words([glyph(c, 10 * i) for i, c in enumerate("日本語。中文ABC中文")])
    assert [w.text for w in words] == ["日本語。中文", "ABC", "中文"]
    assert words[0].new_line and not words[1].new_line
    assert words[1].quad[0, 0] == 60 and words[1].quad[1, 0] == 90


def test_spread_cjk_lines_stay_one_run():
    # A justified CJK line spreads its characters; pdfium infers a space in every gap ("タ␣イ␣ル", seen in
    # jlreq-ja.pdf). Those go, real spaces and wide gaps still cut, and Latin words keep pdfium's spaces.
    def glyph(text, x):
        quad = np.array([[x, 0], [x + 10, 0], [x + 10, 10], [x, 10]], dtype=float)
        return Glyph(text=text, raw=text, quad=quad, height=10.0)

    inferred = Glyph("", " ", np.zeros((4, 2)), space=True, generated=True)
    real = Glyph("", " ", np.zeros((4, 2)), space=True)

    def spread(text, step, space):
        out = []
        for i, c in enumerate(text):
            out += ([space] if i else []) + [glyph(c, step * i)]
        return out

    assert [w.text for w in group_words(spread("タイルへと切り替えます", 12.5, inferred))] == ["タイルへと切り替えます"]
    assert [w.text for w in group_words(spread("ページ", 18.0, inferred))] == ["ページ"]  # a heading, 0.8 em apart
    assert [w.text for w in group_words(spread("日本", 12.5, real))] == ["日", "本"]
    assert [w.text for w in group_words(spread("ab", 12.5, inferred))] == ["a", "b"]
    assert [w.text for w in group_words(spread("日a", 12.5, inferred))] == ["日", "a"]
    wide = group_words(spread("日本", 25.0, inferred))  # 1.5 heights apart: another column
    assert [(w.text, w.new_line) for w in wide] == [("日", True), ("本", True)]
    # Without pdfium's space, CJK characters up to one height apart are one run; Latin letters are not.
    assert [w.text for w in group_words([glyph("日", 0), glyph("本", 16)])] == ["日本"]
    assert [w.text for w in group_words([glyph("a", 0), glyph("b", 16)])] == ["a", "b"]


def test_vertical_cjk_columns_get_column_quads():
    def glyph(text, y):
        quad = np.array([[0, y], [10, y], [10, y + 10], [0, y + 10]], dtype=float)
        return Glyph(text=text, raw=text, quad=quad, height=10.0)

    words = group_words([glyph(c, 10 * i) for i, c in enumerate("縦書き")])
    assert [w.text for w in words] == ["縦書き"] and words[0].vertical
    quad = words[0].quad
    assert quad[0].tolist() == [10, 0] and quad[1].tolist() == [10, 30]  # top right, then down the column


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_words_do_not_depend_on_the_scale(tmp_path, scale):
    pdf = write_pdf(tmp_path / "s.pdf", [[TextRun(20, 150, 9, "a b c de\x01ne"), TextRun(20, 100, 9, "x y")]])
    _, at_one = read_words(pdf, 1.0)
    _, at_scale = read_words(pdf, scale)
    assert [w.text for w in at_one] == [w.text for w in at_scale]
    assert np.allclose(np.stack([w.quad for w in at_one]) * scale, np.stack([w.quad for w in at_scale]), atol=1e-3)


def test_inferred_line_breaks_inside_a_word_are_ignored():
    def glyph(text, x, y=0.0):
        quad = np.array([[x, y], [x + 5, y], [x + 5, y + 10], [x, y + 10]], dtype=float)
        return Glyph(text=text, raw=text, quad=quad, height=10.0)

    inferred = Glyph("", "\n", np.zeros((4, 2)), space=True, newline=True, generated=True)
    # pdfium broke "This" after "T" (Chromium's PDFs); the next line really starts lower down.
    glyphs = [glyph("T", 0), inferred, glyph("h", 5), glyph("i", 10), glyph("s", 15), inferred, glyph("n", 0, 20)]
    words = group_words(glyphs)
    assert [(w.text, w.new_line) for w in words] == [("This", True), ("n", True)]


def test_an_inherited_media_box_places_the_words(tmp_path):
    # pypdfium2's get_cropbox() answers a default letter page when the box is inherited from the page tree.
    pdf = write_pdf(tmp_path / "a4.pdf", [[TextRun(20, 800, 12, "Top")]], size=(595, 842), inherit_box=True)
    text, words = read_words(pdf, 1.0)
    assert (text.width, text.height) == (595, 842)
    quad = words[0].quad
    assert quad[0, 1] < 842 - 800 < quad[2, 1]  # the baseline 800 pt above the bottom of an A4 page


def test_long_cjk_runs_are_cut_into_equal_pieces():
    def glyph(text, x):
        quad = np.array([[x, 0], [x + 10, 0], [x + 10, 10], [x, 10]], dtype=float)
        return Glyph(text=text, raw=text, quad=quad, height=10.0)

    clause = "日本語" * 25  # 75 characters without punctuation
    words = group_words([glyph(c, 10 * i) for i, c in enumerate(clause)])
    assert "".join(w.text for w in words) == clause
    assert [len(w.text) for w in words] == [38, 37]  # MAX_CJK_RUN = 40 characters a region
    assert words[1].quad[0, 0] == 380  # each piece's box starts at its first glyph


def test_synth_pdf_import_uses_these_labels(tmp_path):
    from textspotter.synth.pdf import PdfOptions, pdf_pages

    pdf = write_pdf(
        tmp_path / "doc.pdf", [[TextRun(20, 800, 12, "the de\x01nition")]], size=(595, 842), inherit_box=True
    )
    ((image, page),) = list(pdf_pages(pdf, PdfOptions(dpi=72)))
    assert image.shape[:2] == (842, 595)
    assert [w.text for w in page.words] == ["the", "definition"]
    assert page.words[1].quad[0][1] < 842 - 800 < page.words[1].quad[2][1]


def test_characters_beyond_the_bmp_are_joined_from_surrogates(tmp_path):
    pdf = write_pdf(tmp_path / "math.pdf", [[TextRun(20, 150, 12, "let"), TextRun(60, 150, 12, "AB", font="MATH")]])
    _, words = read_words(pdf)
    assert [w.text for w in words] == ["let", "\U0001d400\U0001d401"]
    assert all(len(g.text) == 1 for g in words[1].glyphs)


def test_a_word_starting_with_a_ligature_code_point():
    def glyph(text, x):
        quad = np.array([[x, 0], [x + 5, 0], [x + 5, 10], [x, 10]], dtype=float)
        return Glyph(text=text, raw=text, quad=quad, height=10.0)

    # extract_glyphs expands U+FB01 to "fi": one glyph with a two-letter label.
    assert [w.text for w in group_words([glyph("fi", 0), glyph("t", 5)])] == ["fit"]


def test_upside_down_and_downward_text(tmp_path):
    pdf = write_pdf(
        tmp_path / "turns.pdf", [[TextRun(200, 100, 12, "Upside", angle=180), TextRun(100, 20, 12, "Down", angle=-90)]]
    )
    _, words = read_words(pdf)
    upside, down = (w.quad for w in words)
    # Upside down: vertex 0 → 1 runs right to left, the written top (vertex 0) below the baseline y = 200 px.
    assert upside[1, 0] < upside[0, 0] and upside[0, 1] > 200 > upside[3, 1]
    # Turned clockwise: the text runs down the image, its written top towards +x.
    assert down[1, 1] > down[0, 1] and down[0, 0] > down[3, 0]

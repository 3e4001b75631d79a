"""Tests of the searchable PDF (textspotter.export.pdf), read back with pypdfium2: text, positions, images, sizes."""

import io
import math
import shutil
import struct
import subprocess

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from textspotter.document import Document, Line, Page, Paragraph, Word, bounding_quad
from textspotter.export import PdfOptions, PdfWriter, to_pdf
from textspotter.export.pdf import DEFAULT_IMAGE_DPI, source_dpi
from textspotter.imageio import ImageOptions


def _word(text, quad):
    return Word(text, tuple(tuple(map(float, p)) for p in quad), 0.9, 0.9, 0.9)


def _box(text, x0, y0, x1, y1):
    return _word(text, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def _turned(text, cx, cy, width, height, degrees):
    """A word quad of ``width`` x ``height`` centred on (cx, cy), turned clockwise on screen (image y down)."""
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    corners = [(-width / 2, -height / 2), (width / 2, -height / 2), (width / 2, height / 2), (-width / 2, height / 2)]
    return _word(text, [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in corners])


def _line(*words):
    return Line(tuple(words), bounding_quad([w.quad for w in words]), 0.9)


def _page(lines, width=400, height=400, index=0):
    paragraph = Paragraph(tuple(lines), bounding_quad([line.quad for line in lines]), 0.9)
    return Page(width=width, height=height, paragraphs=(paragraph,), index=index)


@pytest.fixture
def multilingual():
    return _page(
        [
            _line(_box("Hello", 20, 20, 120, 50), _box("world", 140, 20, 240, 50)),
            _line(_box("Привет", 20, 80, 160, 110), _box("мир", 180, 80, 240, 110)),
            _line(_box("漢字テキスト", 20, 140, 260, 170), _box("😀x", 300, 140, 360, 170)),
            _line(_turned("rotated", 200, 300, 150, 30, 30)),
        ]
    )


def _white(width=400, height=400):
    return np.full((height, width, 3), 255, np.uint8)


def _lines_of(pdf_page):
    return pdf_page.get_textpage().get_text_range().replace("\r\n", "\n").split("\n")


def test_text_round_trips_latin_cyrillic_cjk_and_emoji(multilingual):
    document = pdfium.PdfDocument(to_pdf(multilingual, images=[_white()], dpi=72))
    assert _lines_of(document[0]) == [line.text for line in multilingual.lines]
    assert _lines_of(document[0]) == ["Hello world", "Привет мир", "漢字テキスト 😀x", "rotated"]


def _inside(point, quad, margin=1.0):
    """Whether ``point`` is inside the convex quad (clockwise on screen, so counter-clockwise in PDF space)."""
    signs = []
    for (ax, ay), (bx, by) in zip(quad, quad[1:] + quad[:1]):
        cross = (bx - ax) * (point[1] - ay) - (by - ay) * (point[0] - ax)
        signs.append(cross / math.hypot(bx - ax, by - ay))
    return all(s >= -margin for s in signs) or all(s <= margin for s in signs)


def test_every_character_lands_on_its_word_quad(multilingual):
    dpi = 144.0  # two pixels per point: the positions are scaled, not copied
    document = pdfium.PdfDocument(to_pdf(multilingual, images=[_white()], dpi=dpi))
    textpage = document[0].get_textpage()
    height_pt = 400 * 72 / dpi
    index = 0
    for line in multilingual.lines:
        for k, word in enumerate(line.words):
            quad = [(x * 72 / dpi, height_pt - y * 72 / dpi) for x, y in word.quad]
            for character in word.text:
                units = len(character.encode("utf-16-le")) // 2  # pdfium counts UTF-16 units
                left, bottom, right, top = textpage.get_charbox(index, loose=True)
                centre = ((left + right) / 2, (bottom + top) / 2)
                assert textpage.get_text_range(index, units) == character
                assert _inside(centre, quad), (character, centre, quad)
                index += units
            index += 1 if k < len(line.words) - 1 else 0  # the space after a word
        index += 2  # the line break pdfium writes as \r\n
    # The first and last characters of a straight word reach its quad's ends (the word is stretched, Tz).
    left, *_ = textpage.get_charbox(0, loose=True)
    assert left == pytest.approx(20 * 72 / dpi, abs=0.5)
    _, bottom, right, top = textpage.get_charbox(4, loose=True)  # the "o" of Hello
    assert (bottom, top) == (pytest.approx(height_pt - 50 * 72 / dpi, abs=0.5), pytest.approx(height_pt - 10, abs=0.5))
    assert right == pytest.approx(120 * 72 / dpi, abs=2)


def test_text_is_found_inside_its_word_box(multilingual):
    document = pdfium.PdfDocument(to_pdf(multilingual, images=[_white()], dpi=72))
    textpage = document[0].get_textpage()
    # get_text_bounded(left, bottom, right, top) in PDF points; y up from the page bottom.
    assert textpage.get_text_bounded(180, 400 - 110, 240, 400 - 80).strip() == "мир"
    assert textpage.get_text_bounded(20, 400 - 170, 260, 400 - 140).strip() == "漢字テキスト"


def test_page_size_follows_the_dpi_and_the_image_fills_the_page():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    page = _page([_line(_box("a", 1, 1, 20, 20))], width=80, height=60)
    data = to_pdf(page, images=[image], dpi=144, options=PdfOptions(image_format="flate"))
    pdf_page = pdfium.PdfDocument(data)[0]
    assert pdf_page.get_size() == (40, 30)  # points: pixels * 72 / dpi
    rendered = pdf_page.render(scale=2, rev_byteorder=True).to_numpy()[..., :3]
    assert rendered.shape == image.shape
    # Lossless storage: the rendering at the image's own resolution gives the pixels back (pdfium resamples the
    # edges a little).
    assert np.abs(rendered.astype(int) - image).mean() < 2


def test_jpeg_images_are_small_and_close_and_grey_pages_have_one_channel():
    y, x = np.mgrid[0:300, 0:400]
    grey = ((x + y) % 256).astype(np.uint8)
    image = np.repeat(grey[..., None], 3, axis=2)
    page = _page([_line(_box("a", 1, 1, 20, 20))], width=400, height=300)
    jpeg = to_pdf(page, images=[image], dpi=72)
    flate = to_pdf(page, images=[image], dpi=72, options=PdfOptions(image_format="flate"))
    assert b"/DCTDecode" in jpeg and b"/FlateDecode" in flate and b"/DeviceGray" in jpeg
    rendered = pdfium.PdfDocument(jpeg)[0].render(scale=1, rev_byteorder=True).to_numpy()[..., :3]
    assert np.abs(rendered.astype(int) - image).mean() < 4
    colour = image.copy()
    colour[0, 0] = (255, 0, 0)
    assert b"/DeviceRGB" in to_pdf(page, images=[colour], dpi=72)


def test_a_document_is_read_again_from_its_source_with_its_dpi(tmp_path):
    path = tmp_path / "scan.png"
    Image.fromarray(_white(200, 100)).save(path, dpi=(150, 150))
    pages = tuple(_page([_line(_box(t, 10, 10, 60, 40))], width=200, height=100, index=i) for i, t in enumerate("ab"))
    tiff = tmp_path / "two.tif"
    Image.fromarray(_white(200, 100)).save(tiff, save_all=True, append_images=[Image.fromarray(_white(200, 100))])
    document = pdfium.PdfDocument(to_pdf(Document(pages=pages[:1], source=str(path))))
    assert document[0].get_size() == (pytest.approx(200 * 72 / 150), pytest.approx(100 * 72 / 150))
    document = pdfium.PdfDocument(to_pdf(Document(pages=pages, source=str(tiff))))
    assert len(document) == 2 and [_lines_of(p) for p in document] == [["a"], ["b"]]
    assert document[0].get_size()[0] == pytest.approx(200 * 72 / DEFAULT_IMAGE_DPI)  # no dpi metadata: 300


def test_source_dpi_of_a_pdf_is_its_render_dpi(tmp_path):
    path = tmp_path / "doc.pdf"
    Image.fromarray(_white(100, 100)).save(path, resolution=72)
    assert source_dpi(str(path), image_options=ImageOptions(dpi=123)) == 123
    assert source_dpi(path.read_bytes()) == ImageOptions().dpi
    assert source_dpi(b"not an image") == DEFAULT_IMAGE_DPI


def test_many_distinct_characters_and_an_empty_page():
    characters = [chr(0x4E00 + i) for i in range(250)]  # more than one 100-entry bfchar block
    words = [_box("".join(characters[i : i + 10]), 10, 10 + i, 390, 10 + i + 12) for i in range(0, 250, 10)]
    lines = [_line(w) for w in words]
    page = Page(width=400, height=400, paragraphs=(Paragraph(tuple(lines), lines[0].quad, 0.9),))
    empty = Page(width=400, height=400, index=1)
    buffer = io.BytesIO()
    writer = PdfWriter(buffer)
    writer.add_page(_white(), page, dpi=72)
    writer.add_page(_white(), empty, dpi=72)
    writer.close()
    document = pdfium.PdfDocument(buffer.getvalue())
    assert "".join(document[0].get_textpage().get_text_range().split()) == "".join(characters)
    assert document[1].get_textpage().get_text_range() == ""


def test_errors_name_the_problem(multilingual, tmp_path):
    with pytest.raises(ValueError, match="image of 300x400 pixels for a page of 400x400"):
        to_pdf(multilingual, images=[_white(300, 400)], dpi=72)
    with pytest.raises(ValueError, match="cannot be read again"):
        to_pdf(multilingual)
    with pytest.raises(ValueError, match="1 page images for a document of 2 pages"):
        to_pdf(Document(pages=(multilingual, multilingual)), images=[_white()], dpi=72)
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        to_pdf(multilingual, images=[_white()], dpi=0)
    with pytest.raises(ValueError, match="image_format"):
        PdfOptions(image_format="png")
    with pytest.raises(ValueError, match="jpeg_quality"):
        PdfOptions(jpeg_quality=0)


def test_the_embedded_font_is_a_valid_truetype_program(multilingual):
    ttlib = pytest.importorskip("fontTools.ttLib")
    from textspotter.export.pdf import glyphless_truetype

    font = ttlib.TTFont(io.BytesIO(glyphless_truetype()), checkChecksums=2)  # raises on a wrong table checksum
    assert font["maxp"].numGlyphs == 2 and font["head"].unitsPerEm == 1000
    assert [font["hmtx"][name][0] for name in font.getGlyphOrder()] == [500, 500]
    whole = sum(struct.unpack(f">{len(glyphless_truetype()) // 4}I", glyphless_truetype())) & 0xFFFFFFFF
    assert whole == 0xB1B0AFBA  # head.checkSumAdjustment
    data = to_pdf(multilingual, images=[_white()], dpi=72)
    assert b"/FontFile2" in data and b"/CIDToGIDMap" in data
    # With the embedded font every glyph is exactly its share of the word: "Hello" is 100 pt wide, 20 pt a letter.
    textpage = pdfium.PdfDocument(data)[0].get_textpage()
    assert [round(textpage.get_charbox(i, loose=True)[0], 1) for i in range(5)] == [20, 40, 60, 80, 100]


def test_touching_and_overlapping_words_keep_their_spaces(tmp_path):
    # Detector boxes often overlap: "Moste" ends 4.5 px after "of" starts (quads of a real page).
    page = _page([_line(_box("Moste", 146.84, 153.7, 209.0, 173.4), _box("of", 204.45, 153.7, 223.9, 173.6))])
    data = to_pdf(page, images=[_white()], dpi=300)
    textpage = pdfium.PdfDocument(data)[0].get_textpage()
    assert _lines_of(pdfium.PdfDocument(data)[0]) == ["Moste of"]
    # "Moste" is narrowed to end before "of" starts, so it still lies on its own quad.
    scale = 72 / 300
    left, right = textpage.get_charbox(0, loose=True)[0], textpage.get_charbox(4, loose=True)[2]
    assert 146.84 * scale - 0.1 <= left and right <= 204.45 * scale
    pdftotext = shutil.which("pdftotext")
    if pdftotext is not None:  # poppler finds words by the gaps between glyphs, not by the space characters
        (tmp_path / "words.pdf").write_bytes(data)
        result = subprocess.run([pdftotext, str(tmp_path / "words.pdf"), "-"], capture_output=True, text=True)
        assert result.stdout.split() == ["Moste", "of"]

"""Tests of textspotter.export: the published shapes (hand-computed), the text views and the XML views."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from textspotter.document import Document, Line, Page, Paragraph, Word, bounding_quad
from textspotter.export import (
    MERGE_LEVELS,
    draw_overlay,
    escape_markdown,
    merge_items,
    reading_order,
    to_alto,
    to_hocr,
    to_json,
    to_markdown,
    to_model_card,
    to_nim,
    to_published,
    to_text,
)

ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"
XHTML = "{http://www.w3.org/1999/xhtml}"


def _word(text, x0, y0, x1, y1, confidence, order=0):
    quad = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return Word(text, quad, confidence, confidence, confidence, order)


def _line(words, order=0):
    confidence = sum(w.confidence for w in words) / len(words)
    return Line(tuple(words), bounding_quad([w.quad for w in words]), confidence, order)


def _paragraph(lines, order=0):
    confidence = sum(line.confidence for line in lines) / len(lines)
    return Paragraph(tuple(lines), bounding_quad([line.quad for line in lines]), confidence, order)


@pytest.fixture
def page():
    """A 200×100 page. In graph order: paragraph A = ["Hello world", "again"], then paragraph B = ["Title"].

    Word key points (top-left): Hello (10, 10), world (55, 12), again (10, 30), Title (100, 2).
    """
    hello = _word("Hello", 10, 10, 50, 20, 0.9)
    world = _word("world", 55, 12, 90, 22, 0.7, order=1)
    again = _word("again", 10, 30, 40, 40, 0.5)
    title = _word("Title", 100, 2, 150, 8, 0.6)
    first = _paragraph([_line([hello, world]), _line([again], order=1)])
    second = _paragraph([_line([title])], order=1)
    return Page(width=200, height=100, paragraphs=(first, second), index=0)


# --------------------------------------------------------------------------------------------------------------
# Published shapes


def test_reading_order_clusters_y_with_a_gap_of_10_pixels():
    # gap of exactly 10 stays in one cluster (key int(5.0) = 5): ordered by x
    assert reading_order([(50, 0), (0, 10)]) == [1, 0]
    # gap above 10 splits the clusters: ordered by cluster first
    assert reading_order([(50, 0), (0, 10.5)]) == [0, 1]
    # chained small gaps make one cluster although its ends are 16 px apart
    assert reading_order([(30, 0), (20, 8), (10, 16)]) == [2, 1, 0]
    # equal keys and equal x keep their input order (stable sort)
    assert reading_order([(5, 3), (5, 1), (5, 2)]) == [0, 1, 2]
    assert reading_order([]) == []


def test_published_word_level(page):
    # ys sorted 2 (Title), 10 (Hello), 12 (world), 30 (again); gaps 8, 2, 18 → clusters {Title, Hello, world} with
    # key int(24 / 3) = 8 and {again} with key 30; then by x within a key.
    items = to_published(page, "word")
    assert [item["text"] for item in items] == ["Hello", "world", "Title", "again"]
    assert items[0] == {"text": "Hello", "confidence": 0.9, "left": 0.05, "upper": 0.2, "right": 0.25, "lower": 0.1}
    assert items[2] == pytest.approx(
        {"text": "Title", "confidence": 0.6, "left": 0.5, "upper": 0.08, "right": 0.75, "lower": 0.02}
    )
    assert list(items[0]) == ["text", "confidence", "left", "upper", "right", "lower"]


def test_published_sentence_level(page):
    # Lines: "Hello world" box (10, 10)-(90, 22), confidence mean(0.9, 0.7) = 0.8; "again" (10, 30)-(40, 40), 0.5;
    # "Title" (100, 2)-(150, 8), 0.6. Key ys 10, 30, 2 → clusters {2, 10} key 6, {30} key 30.
    items = to_published(page, "sentence")
    assert [item["text"] for item in items] == ["Hello world", "Title", "again"]
    assert items[0] == pytest.approx(
        {"text": "Hello world", "confidence": 0.8, "left": 0.05, "upper": 0.22, "right": 0.45, "lower": 0.1}
    )
    assert items[2]["confidence"] == pytest.approx(0.5)


def test_published_paragraph_level(page):
    # Paragraph A: box (10, 10)-(90, 40); text = line texts joined by a space; confidence = mean of the line
    # confidences (0.8 + 0.5) / 2 = 0.65, not the mean of the words (0.7). Key ys 10 and 2 → one cluster, by x.
    items = to_published(page, "paragraph")
    assert [item["text"] for item in items] == ["Hello world again", "Title"]
    assert items[0] == pytest.approx(
        {"text": "Hello world again", "confidence": 0.65, "left": 0.05, "upper": 0.4, "right": 0.45, "lower": 0.1}
    )
    assert to_published(page) == items  # paragraph is the default


def test_published_rotated_word_uses_vertex_0_and_the_extremes():
    quad = ((10.0, 20.0), (50.0, 10.0), (52.0, 18.0), (12.0, 28.0))
    word = Word("tilted", quad, 0.75, 0.8, 0.7)
    other = _word("later", 0, 35, 5, 40, 0.5)  # key y 35: a separate cluster after the word (key y 20)
    page = Page(100, 50, (_paragraph([Line((word,), bounding_quad([quad]), 0.75)]), _paragraph([_line([other])])))
    first = to_published(page, "word")[0]
    assert first == pytest.approx(
        {"text": "tilted", "confidence": 0.75, "left": 0.1, "upper": 0.56, "right": 0.52, "lower": 0.2}
    )
    assert to_model_card(page, "word")["ocr_boxes"][0] == [[10.0, 20.0], [50.0, 10.0], [52.0, 18.0], [12.0, 28.0]]


def test_empty_text_words_do_not_make_double_spaces():
    words = [_word("a", 0, 0, 5, 5, 0.9), _word("", 6, 0, 8, 5, 0.2, 1), _word("b", 9, 0, 14, 5, 0.9, 2)]
    page = Page(20, 10, (_paragraph([_line(words)]),))
    (item,) = to_published(page, "sentence")
    assert item["text"] == "a b"
    assert item["confidence"] == pytest.approx((0.9 + 0.2 + 0.9) / 3)
    assert [w["text"] for w in to_published(page, "word")] == ["a", "", "b"]  # invalid words stay at word level


def test_model_card_and_nim_follow_the_published_order(page):
    for level in MERGE_LEVELS:
        published = to_published(page, level)
        card = to_model_card(page, level)
        nim = to_nim(page, level)["text_detections"]
        assert card["ocr_txts"] == [item["text"] for item in published]
        assert card["ocr_confs"] == [item["confidence"] for item in published]
        assert [d["text_prediction"]["text"] for d in nim] == card["ocr_txts"]
        for item, box, detection in zip(published, card["ocr_boxes"], nim):
            xs, ys = [p[0] for p in box], [p[1] for p in box]
            assert (min(xs) / 200, max(ys) / 100) == pytest.approx((item["left"], item["upper"]))
            points = detection["bounding_box"]["points"]
            assert detection["bounding_box"]["type"] == "quadrilateral"
            # Flat lists: pytest >= 9.2 refuses nested structures in approx.
            found = [c for p in points for c in (p["x"], p["y"])]
            assert found == pytest.approx([c for x, y in box for c in (x / 200, y / 100)])
    sentence = to_model_card(page, "sentence")
    assert sentence["ocr_boxes"][0] == [[10, 10], [90, 10], [90, 22], [10, 22]]


def test_empty_page_gives_empty_outputs():
    page = Page(100, 100)
    assert to_published(page, "word") == []
    assert to_model_card(page) == {"ocr_boxes": [], "ocr_txts": [], "ocr_confs": []}
    assert to_nim(page) == {"text_detections": []}


def test_unknown_merge_level_names_the_valid_ones(page):
    for function in (to_published, to_model_card, to_nim, merge_items):
        with pytest.raises(ValueError, match="word, sentence, paragraph, line; got 'lines'"):
            function(page, "lines")


def test_line_is_another_name_of_the_sentence_level(page):
    for function in (to_published, to_model_card, to_nim, merge_items):
        assert function(page, "line") == function(page, "sentence")
    image = np.full((100, 200, 3), 255, np.uint8)
    line_overlay = np.asarray(draw_overlay(image, page, level="line"))
    assert (line_overlay == np.asarray(draw_overlay(image, page, level="sentence"))).all()
    assert (line_overlay != np.asarray(draw_overlay(image, page, level="word"))).any()


def test_the_ocr_api_accepts_line_as_a_merge_level():
    from textspotter.models import create_model
    from textspotter.pipeline import OCR

    ocr = OCR(model=create_model("tiny-test"), device="cpu")
    image = np.full((64, 96, 3), 255, np.uint8)
    assert ocr(image, merge_level="line") == ocr(image, merge_level="sentence")
    assert ocr.model_card(image, merge_level="line") == ocr.model_card(image, merge_level="sentence")
    with pytest.raises(ValueError, match="got 'lines'"):
        ocr(image, merge_level="lines")  # type: ignore[arg-type]


def test_page_without_size_is_rejected():
    with pytest.raises(ValueError, match="no size"):
        to_published(Page(0, 10))
    with pytest.raises(TypeError, match="Page"):
        to_published(Document())


# --------------------------------------------------------------------------------------------------------------
# Text views


def test_json_and_text(page):
    document = Document(pages=(page,), source="scan.png")
    assert json.loads(to_json(document)) == document.to_dict()
    assert '"quad": [[10, 10], [90, 10], [90, 22], [10, 22]],' in to_json(document)  # one line per quad
    assert json.loads(to_json(page))["pages"][0] == page.to_dict()
    assert to_json(document, indent=None).count("\n") == 0
    assert to_text(document) == "Hello world\nagain\n\nTitle"
    assert to_text(page) == page.text()


def test_markdown_paragraphs_pages_and_escaping(page):
    special = Page(50, 20, (_paragraph([_line([_word("#1", 0, 0, 5, 5, 0.9), _word("*bold*_", 6, 0, 9, 5, 0.9)])]),))
    document = Document(pages=(page, special))
    assert to_markdown(document) == "Hello world\nagain\n\nTitle\n\n---\n\n\\#1 \\*bold\\*\\_\n"
    assert to_markdown(Document()) == ""
    assert escape_markdown("1. [x](y) <b> `c` | ~ $") == "1\\. \\[x\\](y) \\<b\\> \\`c\\` \\| \\~ \\$"
    assert escape_markdown("- item") == "\\- item"
    assert escape_markdown("AT&T &amp;") == "AT&T \\&amp;"


# --------------------------------------------------------------------------------------------------------------
# XML views


@pytest.fixture
def document(page):
    tricky = _word('<a & "b">', 10.4, 60.2, 80.6, 75.9, 0.876)
    empty = _word("", 90, 60, 95, 70, 0.1, order=1)
    second = Page(width=300, height=150, paragraphs=(_paragraph([_line([tricky, empty])]),), index=1)
    return Document(pages=(page, second), source="in/scan.tif")


def test_hocr_structure_and_boxes(document):
    root = ET.fromstring(to_hocr(document))
    body = root.find(f"{XHTML}body")
    pages = body.findall(f"{XHTML}div")
    assert [p.get("class") for p in pages] == ["ocr_page", "ocr_page"]
    assert pages[0].get("title") == 'image "in/scan.tif"; bbox 0 0 200 100; ppageno 0'
    paragraphs = pages[0].findall(f"{XHTML}p")
    assert [p.get("class") for p in paragraphs] == ["ocr_par", "ocr_par"]
    assert paragraphs[0].get("title") == "bbox 10 10 90 40"
    lines = paragraphs[0].findall(f"{XHTML}span")
    assert [line.get("class") for line in lines] == ["ocr_line", "ocr_line"]
    assert lines[0].get("title") == "bbox 10 10 90 22"
    words = lines[0].findall(f"{XHTML}span")
    assert [w.get("class") for w in words] == ["ocrx_word", "ocrx_word"]
    assert [w.text for w in words] == ["Hello", "world"]
    assert words[1].get("title") == "bbox 55 12 90 22; x_wconf 70"
    # Second page: coordinates floored / ceiled, text escaped, the empty word left out.
    (word,) = [w for w in pages[1].iter() if w.get("class") == "ocrx_word"]
    assert word.text == '<a & "b">'
    assert word.get("title") == "bbox 10 60 81 76; x_wconf 88"
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    assert root.find(f"{XHTML}head/{XHTML}meta[@name='ocr-system']").get("content").startswith("textspotter ")


def test_alto_structure_coordinates_and_spaces(document):
    root = ET.fromstring(to_alto(document))
    assert root.tag == f"{ALTO}alto"
    assert root.find(f"{ALTO}Description/{ALTO}MeasurementUnit").text == "pixel"
    assert root.find(f"{ALTO}Description/{ALTO}sourceImageInformation/{ALTO}fileName").text == "in/scan.tif"
    pages = root.findall(f"{ALTO}Layout/{ALTO}Page")
    assert [(p.get("WIDTH"), p.get("HEIGHT"), p.get("PHYSICAL_IMG_NR")) for p in pages] == [
        ("200", "100", "1"),
        ("300", "150", "2"),
    ]
    blocks = pages[0].findall(f"{ALTO}PrintSpace/{ALTO}TextBlock")
    assert len(blocks) == 2
    assert {k: blocks[0].get(k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")} == {
        "HPOS": "10",
        "VPOS": "10",
        "WIDTH": "80",
        "HEIGHT": "30",
    }
    first_line = blocks[0].find(f"{ALTO}TextLine")
    children = list(first_line)
    assert [c.tag.removeprefix(ALTO) for c in children] == ["String", "SP", "String"]
    hello, space, world = children
    assert (hello.get("CONTENT"), hello.get("HPOS"), hello.get("WIDTH"), hello.get("WC")) == (
        "Hello",
        "10",
        "40",
        "0.9000",
    )
    assert (space.get("HPOS"), space.get("WIDTH"), space.get("VPOS")) == ("50", "5", "10")
    assert (world.get("HPOS"), world.get("VPOS"), world.get("HEIGHT")) == ("55", "12", "10")
    (tricky,) = pages[1].iter(f"{ALTO}String")  # the empty word is left out
    assert tricky.get("CONTENT") == '<a & "b">'
    assert {k: tricky.get(k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT", "WC")} == {
        "HPOS": "10",
        "VPOS": "60",
        "WIDTH": "71",
        "HEIGHT": "16",
        "WC": "0.8760",
    }
    ids = [e.get("ID") for e in root.iter() if e.get("ID")]
    assert len(ids) == len(set(ids))


def test_xml_views_drop_characters_xml_forbids():
    page = Page(20, 10, (_paragraph([_line([_word("a\x00b\x1fc", 0, 0, 5, 5, 0.9)])]),))
    assert [s.get("CONTENT") for s in ET.fromstring(to_alto(page)).iter(f"{ALTO}String")] == ["abc"]
    hocr_words = [w.text for w in ET.fromstring(to_hocr(page)).iter() if w.get("class") == "ocrx_word"]
    assert hocr_words == ["abc"]


def test_views_reject_other_types():
    for function in (to_json, to_text, to_markdown, to_hocr, to_alto):
        with pytest.raises(TypeError, match="Document or Page"):
            function({"pages": []})


# --------------------------------------------------------------------------------------------------------------
# Overlay


def test_overlay_draws_boxes_and_labels(page):
    white = np.full((100, 200, 3), 255, dtype=np.uint8)
    result = draw_overlay(white, page, level="word")
    assert isinstance(result, Image.Image) and result.mode == "RGB" and result.size == (200, 100)
    pixels = np.asarray(result)
    assert pixels[35, 25].tolist() != [255, 255, 255]  # inside "again": tinted
    assert pixels[95, 195].tolist() == [255, 255, 255]  # far from every box: untouched
    assert (pixels[22:30, 10:40] < 100).any()  # the label of "again" is written above its box


def test_overlay_accepts_pil_and_rescaled_images(page):
    small = Image.new("L", (100, 50), 255)
    result = draw_overlay(small, page, level="paragraph")
    assert result.size == (100, 50)
    assert np.asarray(result)[12, 20].tolist() != [255, 255, 255]  # paragraph A scaled by 0.5


def test_overlay_errors(page):
    with pytest.raises(ValueError, match="aspect ratio"):
        draw_overlay(np.zeros((100, 100, 3), np.uint8), page)
    with pytest.raises(ValueError, match="level must be one of"):
        draw_overlay(np.zeros((100, 200, 3), np.uint8), page, level="lines")
    with pytest.raises(TypeError, match="numpy array or a PIL image"):
        draw_overlay("page.png", page)

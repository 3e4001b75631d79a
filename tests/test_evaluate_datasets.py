"""Dataset adapters on tiny fixtures written here, and on one real file of each ../shared/data set."""

import json

import numpy as np
import pytest
from PIL import Image

from textspotter.data.manifest import (
    LineAnnotation,
    PageAnnotation,
    ParagraphAnnotation,
    TableAnnotation,
    WordAnnotation,
    write_manifest,
)
from textspotter.evaluate.datasets import (
    FORMATS,
    Region,
    detect_format,
    load_image,
    open_dataset,
    read_alto,
    read_docbank,
    read_first_lines,
    read_funsd,
    read_hocr,
    read_icdar,
    read_manifest_samples,
    read_pubtabnet,
    read_text_folder,
)


def write_image(path, size=(200, 100), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, "white").save(path)
    return path


def box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_manifest(tmp_path):
    write_image(tmp_path / "images" / "p0.png")
    words = [
        WordAnnotation("world", box(60, 10, 100, 20)),
        WordAnnotation("Hello", box(10, 10, 50, 20)),
        WordAnnotation("smudge", box(10, 40, 50, 50), ignore=True),
        WordAnnotation("Bye", box(60, 40, 90, 50)),
    ]
    page = PageAnnotation(
        id="p0",
        image="images/p0.png",
        width=200,
        height=100,
        words=words,
        lines=[LineAnnotation([1, 0]), LineAnnotation([2, 3])],
        paragraphs=[ParagraphAnnotation([0]), ParagraphAnnotation([1])],
        tables=[TableAnnotation("<table><tr><td>x</td></tr></table>", box(0, 60, 100, 90))],
        language="en",
    )
    write_manifest(tmp_path, [page])
    (sample,) = read_manifest_samples(tmp_path)
    assert sample.image == tmp_path / "images" / "p0.png"
    assert [w.text for w in sample.words] == ["Hello", "world", "smudge", "Bye"]
    assert [w.ignore for w in sample.words] == [False, False, True, False]
    assert sample.text == "Hello world\n\nBye"
    assert [line.text for line in sample.lines] == ["Hello world", "Bye"]
    assert sample.lines[0].quad == ((10.0, 10.0), (100.0, 10.0), (100.0, 20.0), (10.0, 20.0))
    assert sample.ordered and sample.language == "en"
    assert sample.tables[0].quad == ((0.0, 60.0), (100.0, 60.0), (100.0, 90.0), (0.0, 90.0))
    assert detect_format(tmp_path) == "manifest"


def test_docbank(tmp_path):
    write_image(tmp_path / "page_ori.jpg", size=(2000, 1000))
    rows = [
        "Title\t100\t100\t200\t120\t0\t0\t0\tF\ttitle",
        "S(cid:32)lupecki´s\t210\t100\t300\t120\t0\t0\t0\tF\ttitle",
        "##LTLine##\t100\t130\t900\t130\t0\t0\t0\tF\tparagraph",
        "next\t100\t140\t150\t160\t0\t0\t0\tF\tparagraph",
        "ﬁrst\t160\t140\t200\t160\t0\t0\t0\tF\tparagraph",
        "##LTFigure##\t100\t200\t900\t600\t0\t0\t0\tdefault\tfigure",
    ]
    (tmp_path / "page.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (sample,) = read_docbank(tmp_path)
    # Ligature characters are the letters the page shows ("ﬁrst" is "first").
    assert [w.text for w in sample.words] == ["Title", "Slupeckis", "next", "first"]
    # 0-1000 boxes scaled to the 2000 x 1000 image.
    assert sample.words[0].quad == ((200.0, 100.0), (400.0, 100.0), (400.0, 120.0), (200.0, 120.0))
    assert [line.text for line in sample.lines] == ["Title Slupeckis", "next first"]
    assert sample.text == "Title Slupeckis\nnext first"
    assert detect_format(tmp_path) == "docbank"


def test_docbank_two_columns_are_read_column_by_column(tmp_path):
    # DocBank lists tokens row by row across columns; the adapter rebuilds lines and a column-wise order.
    write_image(tmp_path / "two_ori.jpg", size=(1000, 1000))
    tokens = [
        ("Title", 100, 50, 300, 70),  # full width above both columns
        ("across", 320, 50, 900, 70),
        ("L1a", 100, 100, 200, 115),
        ("L1b", 210, 100, 450, 115),
        ("R1", 550, 100, 900, 115),  # a column gap of 100 units (6.7 line heights)
        ("L2", 100, 120, 450, 135),
        ("R2", 550, 120, 900, 135),
        ("Caption", 100, 150, 900, 165),  # full width between the column halves
        ("L3", 100, 180, 450, 195),
        ("R3", 550, 180, 900, 195),
    ]
    rows = [f"{t}\t{x0}\t{y0}\t{x1}\t{y1}\t0\t0\t0\tF\tparagraph" for t, x0, y0, x1, y1 in tokens]
    (tmp_path / "two.txt").write_text("\n".join(rows), encoding="utf-8")
    (sample,) = read_docbank(tmp_path)
    assert sample.text.split("\n") == ["Title across", "L1a L1b", "L2", "R1", "R2", "Caption", "L3", "R3"]
    assert [w.text for w in sample.words][:4] == ["Title", "across", "L1a", "L1b"]
    assert sample.ordered


def test_text_folder(tmp_path):
    write_image(tmp_path / "a.png")
    (tmp_path / "a.txt").write_text("first page\n", encoding="utf-8")
    write_image(tmp_path / "b.tif")
    (tmp_path / "b.gt.txt").write_text("second", encoding="utf-8")
    write_image(tmp_path / "no-transcript.png")
    samples = list(read_text_folder(tmp_path))
    assert [(s.id, s.text) for s in samples] == [("a.png", "first page\n"), ("b.tif", "second")]
    assert not samples[0].words and samples[0].ordered
    assert detect_format(tmp_path) == "folder"


def test_pubtabnet(tmp_path):
    write_image(tmp_path / "t.png")
    record = {
        "filename": "t.png",
        "html": {
            "structure": {"tokens": ["<tr>", "<td>", "</td>", "<td>", "</td>", "</tr>"]},
            "cells": [{"tokens": ["<b>", "A", "</b>"], "bbox": [0, 0, 5, 5]}, {"tokens": []}],
        },
    }
    (tmp_path / "tables.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (sample,) = read_pubtabnet(tmp_path)
    assert sample.tables[0].html == "<table><tr><td><b>A</b></td><td></td></tr></table>"
    assert sample.tables[0].quad is None and sample.text == "A"
    assert detect_format(tmp_path) == "pubtabnet"
    (tmp_path / "tables.jsonl").write_text('{"filename": "t.png"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="tables.jsonl:1"):
        list(read_pubtabnet(tmp_path / "tables.jsonl"))


def test_first_lines(tmp_path):
    write_image(tmp_path / "crop.png")
    labels = {"note": "...", "labels": {"crop.png": "Hello there"}}
    (tmp_path / "expected_first_line.json").write_text(json.dumps(labels), encoding="utf-8")
    (sample,) = read_first_lines(tmp_path)
    assert sample.text == "Hello there" and sample.first_line_only
    assert detect_format(tmp_path) == "first-line"


def test_funsd(tmp_path):
    write_image(tmp_path / "images" / "form1.png")
    form = {
        "form": [
            {
                "id": 0,
                "text": "Name: Ann",
                "box": [10, 10, 90, 20],
                "label": "question",
                "words": [{"text": "Name:", "box": [10, 10, 50, 20]}, {"text": "Ann", "box": [55, 10, 90, 20]}],
                "linking": [],
            },
            {"id": 1, "text": "", "box": [0, 0, 1, 1], "words": [], "linking": []},
        ]
    }
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "form1.json").write_text(json.dumps(form), encoding="utf-8")
    (sample,) = read_funsd(tmp_path)
    assert sample.image == tmp_path / "images" / "form1.png"
    assert [w.text for w in sample.words] == ["Name:", "Ann"]
    assert [line.text for line in sample.lines] == ["Name: Ann"]
    assert not sample.ordered
    assert detect_format(tmp_path) == "funsd"


HOCR = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><meta name="ocr-system" content="x"><title>t</title></head>
<body><div class="ocr_page" title='image "scan.png"; bbox 0 0 200 100; ppageno 0'>
 <p class="ocr_par"><span class="ocr_line" title="bbox 10 10 120 30; baseline 0 0">
  <span class="ocrx_word" title="bbox 10 10 50 30; x_wconf 95">Hello</span>
  <span class="ocrx_word" title="bbox 60 10 120 30; x_wconf 90"><strong>w&amp;rld</strong></span>
 </span><br/>
 <span class="ocr_line" title="bbox 10 40 60 60"><span class="ocrx_word" title="bbox 10 40 60 60">two</span></span></p>
</div></body></html>
"""


def test_hocr(tmp_path):
    write_image(tmp_path / "scan.png")
    (tmp_path / "truth.hocr").write_text(HOCR, encoding="utf-8")
    (sample,) = read_hocr(tmp_path)
    assert sample.image == tmp_path / "scan.png"
    assert [w.text for w in sample.words] == ["Hello", "w&rld", "two"]
    assert sample.words[1].quad == ((60.0, 10.0), (120.0, 10.0), (120.0, 30.0), (60.0, 30.0))
    assert [line.text for line in sample.lines] == ["Hello w&rld", "two"]
    assert sample.text == "Hello w&rld\ntwo"
    assert detect_format(tmp_path / "truth.hocr") == "hocr"


ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
 <Description><MeasurementUnit>pixel</MeasurementUnit>
  <sourceImageInformation><fileName>page.png</fileName></sourceImageInformation></Description>
 <Layout><Page WIDTH="200" HEIGHT="100"><PrintSpace><TextBlock>
  <TextLine HPOS="10" VPOS="10" WIDTH="110" HEIGHT="20">
   <String CONTENT="Guten" HPOS="10" VPOS="10" WIDTH="50" HEIGHT="20"/><SP/>
   <String CONTENT="Tag" HPOS="70" VPOS="10" WIDTH="50" HEIGHT="20"/>
  </TextLine>
 </TextBlock></PrintSpace></Page></Layout>
</alto>
"""


def test_alto(tmp_path):
    write_image(tmp_path / "page.png")
    (tmp_path / "gt.xml").write_text(ALTO, encoding="utf-8")
    (sample,) = read_alto(tmp_path)
    assert [w.text for w in sample.words] == ["Guten", "Tag"]
    assert sample.words[1].quad == ((70.0, 10.0), (120.0, 10.0), (120.0, 30.0), (70.0, 30.0))
    assert sample.lines[0].text == "Guten Tag" and sample.text == "Guten Tag"
    assert detect_format(tmp_path) == "alto"
    (tmp_path / "gt.xml").write_text(ALTO.replace(">pixel<", ">mm10<"), encoding="utf-8")
    with pytest.raises(ValueError, match="mm10"):
        list(read_alto(tmp_path))


def test_icdar(tmp_path):
    write_image(tmp_path / "images" / "img_1.jpg")
    write_image(tmp_path / "images" / "img_2.jpg")
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "gt_img_1.txt").write_text(
        "\ufeff377,117,463,117,465,130,378,130,Genaxis Theatre\n"
        "493,115,519,115,519,131,493,131,[06]\n"
        "10,10,20,10,20,20,10,20,###\n"
        "30,30,60,30,60,40,30,40,a,b\n",
        encoding="utf-8",
    )
    (tmp_path / "gt" / "gt_img_2.txt").write_text('38, 43, 920, 215, "Tiredness"\n', encoding="utf-8")
    first, second = read_icdar(tmp_path)
    assert [w.text for w in first.words] == ["Genaxis Theatre", "[06]", "###", "a,b"]
    assert [w.ignore for w in first.words] == [False, False, True, False]
    assert first.words[0].quad[0] == (377.0, 117.0)
    assert first.text == "Genaxis Theatre [06] a,b" and not first.ordered
    assert second.words[0].text == "Tiredness"
    assert second.words[0].quad == ((38.0, 43.0), (920.0, 43.0), (920.0, 215.0), (38.0, 215.0))
    assert detect_format(tmp_path) == "icdar"
    (tmp_path / "gt" / "gt_img_2.txt").write_text("only,text\n", encoding="utf-8")
    with pytest.raises(ValueError, match="gt_img_2.txt:1"):
        list(read_icdar(tmp_path))


def test_open_dataset_specs(tmp_path):
    write_image(tmp_path / "data" / "tesseract-test" / "x.png")
    (tmp_path / "data" / "tesseract-test" / "x.txt").write_text("x", encoding="utf-8")
    write_image(tmp_path / "data" / "tesseract-test" / "y.png")
    (tmp_path / "data" / "tesseract-test" / "y.txt").write_text("y", encoding="utf-8")
    dataset = open_dataset("tesseract-test", data_root=tmp_path / "data")
    assert (dataset.name, dataset.format, len(dataset)) == ("tesseract-test", "folder", 2)
    assert len(open_dataset("tesseract-test", data_root=tmp_path / "data", limit=1)) == 1
    forced = open_dataset(f"folder:{tmp_path / 'data' / 'tesseract-test'}")
    assert forced.format == "folder" and len(forced) == 2
    with pytest.raises(ValueError, match="data_root"):
        open_dataset("tesseract-test")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        open_dataset(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="unknown dataset format"):
        open_dataset(tmp_path / "data" / "tesseract-test", format="pdf")
    with pytest.raises(ValueError, match="limit"):
        open_dataset(tmp_path / "data" / "tesseract-test", limit=0)
    assert set(FORMATS) >= {"manifest", "docbank", "folder", "pubtabnet", "first-line", "funsd", "hocr", "alto"}


def test_load_image_gives_rgb_with_alpha_on_white(tmp_path):
    path = tmp_path / "alpha.png"
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[..., 3] = 0  # fully transparent black
    Image.fromarray(rgba, "RGBA").save(path)
    image = load_image(path)
    assert image.shape == (4, 6, 3) and image.dtype == np.uint8
    assert (image == 255).all()


# ------------------------------------------------------------------------------------------------------------
# One real file of each development set


def test_shared_docbank(shared_data):
    dataset = open_dataset("docbank", data_root=shared_data, limit=1)
    (sample,) = dataset.samples
    assert sample.image.name.endswith("_ori.jpg") and sample.ordered
    assert len(sample.words) > 100 and len(sample.lines) > 10
    width, height = Image.open(sample.image).size
    quads = np.array([w.quad for w in sample.words])
    assert quads[..., 0].max() <= width + 1 and quads[..., 1].max() <= height + 1
    assert "##LT" not in sample.text and "(cid:" not in sample.text
    assert all(isinstance(w, Region) for w in sample.words)


def test_shared_tesseract_test(shared_data):
    dataset = open_dataset("tesseract-test", data_root=shared_data)
    ids = {s.id for s in dataset.samples}
    assert {"phototest.tif", "eurotext.tif"} <= ids
    assert "hebrew.png" not in ids  # no transcript: smoke-test image only
    phototest = next(s for s in dataset.samples if s.id == "phototest.tif")
    assert phototest.text.startswith("This is a lot of 12 point text")


def test_shared_pubtabnet(shared_data):
    dataset = open_dataset("pubtabnet", data_root=shared_data, limit=1)
    (sample,) = dataset.samples
    assert sample.image.is_file()
    assert sample.tables[0].html.startswith("<table>") and "<td" in sample.tables[0].html
    assert sample.text


def test_shared_rapidocr_lines(shared_data):
    dataset = open_dataset("rapidocr-lines", data_root=shared_data)
    assert len(dataset) == 12
    english = next(s for s in dataset.samples if s.id == "en_rec.jpg")
    assert english.first_line_only and english.text.startswith("To facilitate")
    assert all(s.image.is_file() for s in dataset.samples)

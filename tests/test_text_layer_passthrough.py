"""Born-digital PDF pages read from their text layer (``pipeline.textlayer``), with PDFs the tests write themselves."""

import json

import numpy as np
import pytest

from textspotter import OCR
from textspotter.cli.main import main
from textspotter.corpus.pdfwrite import TextRun, pdf_bytes, write_pdf
from textspotter.document import Line, Page, Paragraph, Word, bounding_quad
from textspotter.imageio import ImageOptions, iter_pages
from textspotter.models import create_model, save_model
from textspotter.pipeline.textlayer import TextLayerOptions, finish_page, plan_page

# 144 dpi: 2 pixels per PDF point, so positions in points double in pixels (a 300 × 200 pt page is 600 × 400 px).
DPI = 144
DECODE = ImageOptions(dpi=DPI, text_layer=True)
KNOWN = [
    TextRun(20, 150, 12, "Hello world, again."),
    TextRun(20, 134, 12, "second line"),
    TextRun(20, 80, 14, "Far"),
]


@pytest.fixture(scope="module")
def tiny():
    return create_model("tiny-test")


def _ocr(tiny, mode="auto"):
    return OCR(model=tiny, device="cpu", image_options=ImageOptions(dpi=DPI), text_layer=TextLayerOptions(mode=mode))


def _no_model(*args, **kwargs):
    raise AssertionError("the model ran on a page that the text layer should have read")


def _first_page(path):
    return next(iter_pages(str(path), options=DECODE))


def _image_pdf(path, *, text=b"Header text here"):
    """A 300 × 200 pt page: a line of Helvetica at the top, then a grey 200 × 100 pt raster image below it."""
    content = b"BT /F1 12 Tf 20 170 Td (" + text + b") Tj ET\nq 200 0 0 100 40 20 cm /Im1 Do Q"
    pixels = bytes([200] * 64)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
        4: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        6: b"<< /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Length 64 >>\nstream\n" + pixels + b"\nendstream",
    }
    path.write_bytes(pdf_bytes(objects))
    return path


def _ocr_page(width, height, words, index=0):
    """A page as OCR would read it: one paragraph per ``(text, [x0, y0, x1, y1])``; a word "?..." is invalid."""
    paragraphs = []
    for order, (text, (x0, y0, x1, y1)) in enumerate(words):
        quad = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        confidence = 0.3 if text.startswith("?") else 0.9
        word = Word(text, quad, confidence, 0.9, confidence, valid=confidence > 0.5)
        line = Line((word,), quad, 0.9)
        paragraphs.append(Paragraph((line,), bounding_quad([quad]), 0.9, order=order))
    return Page(width, height, tuple(paragraphs), index=index, timings={"detect": 0.1})


# ----------------------------------------------------------------------------------------------------------------
# Text-layer pages


def test_born_digital_page_is_read_from_its_text_layer_without_the_model(tmp_path, tiny, monkeypatch):
    pdf = write_pdf(tmp_path / "known.pdf", [KNOWN])
    ocr = _ocr(tiny)
    monkeypatch.setattr(ocr, "_read_pages", _no_model)
    (doc,) = ocr.read(str(pdf))
    (page,) = doc.pages
    assert (page.width, page.height, page.text_source, page.text_layer_reason) == (600, 400, "text-layer", None)
    assert page.text() == "Hello world, again.\nsecond line\n\nFar"
    assert [[line.text for line in p.lines] for p in page.paragraphs] == [
        ["Hello world, again.", "second line"],
        ["Far"],
    ]
    assert [w.order for w in page.paragraphs[0].lines[0].words] == [0, 1, 2]
    assert all(w.confidence == w.text_confidence == w.detection_confidence == 1.0 and w.valid for w in page.words)
    hello = np.array(page.words[0].quad)
    # "Hello" starts at x = 20 pt, on a baseline 150 pt above the bottom of a 200 pt page: x = 40 px, y = 100 px.
    assert abs(hello[0, 0] - 40) < 0.5 and hello[0, 1] < 100 < hello[2, 1]
    # Clockwise from the top-left: top edge level, right edge to the right, bottom below.
    assert hello[0, 1] == hello[1, 1] and hello[1, 0] > hello[0, 0] and hello[3, 1] > hello[0, 1]
    far = np.array(page.paragraphs[1].lines[0].words[0].quad)
    assert abs(far[0, 0] - 40) < 0.5 and far[0, 1] < 240 < far[2, 1]  # baseline 80 pt up: y = 240 px
    assert page.timings["text_layer"] >= 0 and "detect" not in page.timings


def test_a_turned_page_is_read_from_its_text_layer_with_quads_along_the_text(tmp_path):
    page = _first_page(write_pdf(tmp_path / "turned.pdf", [KNOWN[:2]], rotate=90))
    result = finish_page(plan_page(page))
    assert (page.width, page.height, result.text_source) == (400, 600, "text-layer")
    assert result.text() == "Hello world, again.\nsecond line"
    hello = np.array(result.words[0].quad)
    # /Rotate 90 turns the page clockwise: the text runs down the image, vertex 0 -> 1 along it, 3 to its left.
    assert hello[1, 1] > hello[0, 1] and abs(hello[1, 0] - hello[0, 0]) < 0.5 and hello[3, 0] < hello[0, 0]
    assert abs(hello[0, 1] - 40) < 0.5  # "Hello" starts 20 pt from the page's left edge, now its top


def test_ocr_mode_ocrs_the_born_digital_page(tmp_path, tiny, monkeypatch):
    pdf = write_pdf(tmp_path / "known.pdf", [KNOWN])
    ocr = _ocr(tiny, "ocr")
    calls = []
    read_pages = ocr._read_pages
    monkeypatch.setattr(ocr, "_read_pages", lambda pages, loads: calls.append(len(pages)) or read_pages(pages, loads))
    (page,) = ocr.read(str(pdf))[0].pages
    assert calls == [1] and "detect" in page.timings
    assert (page.text_source, page.text_layer_reason) == ("ocr", None)


@pytest.mark.parametrize(
    ("runs", "reason"),
    [
        ([TextRun(20, 150, 12, "all invisible words here", render_mode=3), TextRun(20, 120, 12, "x")], "unreliable"),
        ([TextRun(20, 150, 12, "private use glyphs everywhere", font="PUA")], "unreliable"),
    ],
    ids=["invisible", "unmapped"],
)
def test_an_untrustworthy_text_layer_falls_back_to_ocr(tmp_path, tiny, monkeypatch, runs, reason):
    pdf = write_pdf(tmp_path / "bad.pdf", [runs])
    ocr = _ocr(tiny)
    calls = []
    read_pages = ocr._read_pages
    monkeypatch.setattr(ocr, "_read_pages", lambda pages, loads: calls.append(len(pages)) or read_pages(pages, loads))
    (page,) = ocr.read(str(pdf))[0].pages
    assert calls == [1]
    assert (page.text_source, page.text_layer_reason) == ("ocr", reason)
    assert "detect" in page.timings and "text_layer" in page.timings


def test_only_mode_leaves_a_page_without_text_empty_with_the_reason(tmp_path, tiny, monkeypatch):
    pdf = _image_pdf(tmp_path / "scan.pdf", text=b"")
    ocr = _ocr(tiny, "only")
    monkeypatch.setattr(ocr, "_read_pages", _no_model)
    (page,) = ocr.read(str(pdf))[0].pages
    assert (page.text_source, page.text_layer_reason, page.words) == ("none", "no_text", ())
    record = page.to_dict()
    assert record["text_source"] == "none" and record["text_layer_reason"] == "no_text"


def test_a_blank_pdf_page_needs_no_ocr(tmp_path, tiny, monkeypatch):
    pdf = write_pdf(tmp_path / "blank.pdf", [[]])
    ocr = _ocr(tiny)
    monkeypatch.setattr(ocr, "_read_pages", _no_model)
    (page,) = ocr.read(str(pdf))[0].pages
    assert (page.text_source, page.text_layer_reason, page.words) == ("text-layer", None, ())


def test_images_are_always_ocred_and_keep_their_timings(tiny):
    (page,) = _ocr(tiny, "only").read(np.full((64, 96, 3), 255, dtype=np.uint8))[0].pages
    assert (page.text_source, page.text_layer_reason) == ("ocr", None)
    assert "text_layer" not in page.timings


def test_pages_of_one_pdf_are_ocred_only_where_needed_and_stay_in_order(tmp_path, tiny, monkeypatch):
    pages = [KNOWN, [TextRun(20, 150, 12, "hidden words only", render_mode=3)], [TextRun(20, 150, 12, "Third")]]
    pdf = write_pdf(tmp_path / "three.pdf", pages)
    ocr = _ocr(tiny)
    seen = []
    read_pages = ocr._read_pages
    monkeypatch.setattr(ocr, "_read_pages", lambda p, loads: seen.extend(x.index for x in p) or read_pages(p, loads))
    streamed = []
    (doc,) = ocr.read_iter(str(pdf), on_page=lambda position, page: streamed.append(page))
    assert seen == [1]
    assert [(p.index, p.text_source) for p in doc.pages] == [(0, "text-layer"), (1, "ocr"), (2, "text-layer")]
    assert [p.index for p in streamed] == [0, 1, 2] and doc.pages[2].text() == "Third"


def test_pages_can_be_streamed_without_being_kept(tmp_path, tiny, monkeypatch):
    pdf = write_pdf(tmp_path / "long.pdf", [[TextRun(20, 100, 12, f"page {i}")] for i in range(70)], size=(120, 160))
    ocr = _ocr(tiny)
    monkeypatch.setattr(ocr, "_read_pages", _no_model)
    streamed = []
    (doc,) = ocr.read_iter(str(pdf), on_page=lambda position, page: streamed.append(page), keep_pages=False)
    # Every page went out once, in order; the Document names its input and holds no page.
    assert [p.text() for p in streamed] == [f"page {i}" for i in range(70)]
    assert (doc.ok, doc.source, doc.pages) == (True, str(pdf), ())
    with pytest.raises(ValueError, match="needs on_page"):
        ocr.read_iter(str(pdf), keep_pages=False)


def test_a_long_born_digital_pdf_is_passed_on_while_it_is_read(tmp_path, tiny, monkeypatch):
    # Text-layer pages hold no model batch open: they must still be passed on every 64 pages, not at the end.
    pdf = write_pdf(tmp_path / "long.pdf", [[TextRun(20, 100, 12, f"page {i}")] for i in range(65)], size=(120, 160))
    ocr = _ocr(tiny)
    monkeypatch.setattr(ocr, "_read_pages", _no_model)
    batches = []
    (doc,) = ocr.read(str(pdf), progress=batches.append)
    assert batches == [64, 1] and doc.pages[64].text() == "page 64"


# ----------------------------------------------------------------------------------------------------------------
# Mixed pages: images and untrusted words


def test_a_page_with_an_image_is_ocred_and_merged(tmp_path):
    page = _first_page(_image_pdf(tmp_path / "mixed.pdf"))
    plan = plan_page(page)
    assert (plan.source, plan.reason, plan.needs_ocr) == ("mixed", "images", True)
    (order, box) = plan.regions[0]
    assert np.allclose(box, [80, 160, 480, 360])  # 40..240 × 20..120 pt, y flipped, at 2 px per point
    header = [w for w in plan.words if w.text == "Header"][0]
    x0, y0 = header.quad.min(0)
    x1, y1 = header.quad.max(0)
    ocr_page = _ocr_page(
        600,
        400,
        [
            ("Header", (x0 + 1, y0, x1 - 1, y1)),  # the text layer's word, read again: not added twice
            ("inside", (120, 200, 200, 230)),  # text of the image: added
            ("?noise", (300, 300, 340, 330)),  # an invalid reading in the image (a picture's texture): ignored
            ("outside", (500, 370, 580, 395)),  # not in the image and not a text-layer word: ignored
        ],
    )
    merged = finish_page(plan, ocr_page)
    assert merged.text_source == "mixed" and merged.text_layer_reason == "images"
    assert [p.text for p in merged.paragraphs] == ["Header text here", "inside"]
    assert merged.words[3].confidence == pytest.approx(0.9) and merged.words[0].confidence == 1.0
    assert "detect" in merged.timings and "text_layer" in merged.timings
    with pytest.raises(ValueError, match="needs the OCR result"):
        finish_page(plan)


def test_only_mode_reads_the_text_of_a_page_with_an_image_and_says_what_it_left(tmp_path):
    plan = plan_page(_first_page(_image_pdf(tmp_path / "mixed.pdf")), TextLayerOptions(mode="only"))
    assert (plan.source, plan.reason, plan.needs_ocr) == ("text-layer", "images", False)
    assert finish_page(plan).text() == "Header text here"
    small = TextLayerOptions(min_image_area=0.5)  # the image covers a sixth of the page: too small to OCR
    assert plan_page(_first_page(tmp_path / "mixed.pdf"), small).source == "text-layer"


def test_words_in_a_suspect_font_are_read_again_in_their_line(tmp_path):
    runs = [
        TextRun(20, 150, 12, "one two three four five six"),
        TextRun(20, 130, 12, "seven eight nine"),
        TextRun(120, 130, 12, "hni", font="SYM"),  # Computer Modern symbols: ⟨n⟩ extracted as "hni"
        TextRun(150, 130, 12, "ten"),
    ]
    page = _first_page(write_pdf(tmp_path / "sym.pdf", [runs]))
    plan = plan_page(page)
    assert (plan.source, plan.reason) == ("mixed", "untrusted_words")
    suspect = [w for w in plan.words if w.wrong_text]
    assert [w.text for w in suspect] == ["hni"]
    x0, y0 = suspect[0].quad.min(0)
    x1, y1 = suspect[0].quad.max(0)
    ocr_page = _ocr_page(600, 400, [("<n>", (x0, y0, x1, y1)), ("elsewhere", (400, 300, 500, 330))])
    merged = finish_page(plan, ocr_page)
    assert merged.text() == "one two three four five six\nseven eight nine <n> ten"
    assert [w.order for w in merged.lines[1].words] == [0, 1, 2, 3, 4]
    only = plan_page(page, TextLayerOptions(mode="only"))
    assert (only.source, only.reason) == ("text-layer", "untrusted_words")
    assert finish_page(only).text() == "one two three four five six\nseven eight nine ten"


# ----------------------------------------------------------------------------------------------------------------
# Options, CLI and JSON


def test_options_are_checked():
    with pytest.raises(ValueError, match="mode"):
        TextLayerOptions(mode="never")
    with pytest.raises(ValueError, match="min_image_area"):
        TextLayerOptions(min_image_area=2)
    with pytest.raises(TypeError, match="trust"):
        TextLayerOptions(trust={"min_ink": 0.1})
    with pytest.raises(TypeError, match="text_layer"):
        OCR(model=create_model("tiny-test"), text_layer="only")
    with pytest.raises(TypeError, match="text_layer"):
        ImageOptions(text_layer="yes")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny):
    return save_model(tiny, tmp_path_factory.mktemp("models") / "tiny")


def test_cli_text_layer_flag_and_json_output(tmp_path, model_dir, capsys):
    pdf = write_pdf(tmp_path / "known.pdf", [KNOWN])
    base = ["read", str(pdf), "--model", str(model_dir), "--device", "cpu", "--dpi", str(DPI), "--level", "word"]
    assert main([*base, "--text-layer", "only"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["text_source"] == "text-layer"
    assert [item["text"] for item in record["results"]] == ["Hello", "world,", "again.", "second", "line", "Far"]
    out = tmp_path / "out"
    assert main([*base, "--text-layer", "ocr", "--format", "document", "--out", str(out)]) == 0
    document = json.loads((out / "known.document.json").read_text(encoding="utf-8"))
    assert document["pages"][0]["text_source"] == "ocr"
    with pytest.raises(SystemExit):
        main([*base, "--text-layer", "never"])
    assert "invalid choice" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------------------------
# Service


@pytest.fixture
def service():
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from test_serve_app import LOCAL, FakeOCR, TestClient
    from textspotter.serve.app import create_app
    from textspotter.serve.config import ServeConfig

    fake = FakeOCR()
    with TestClient(create_app(ServeConfig(model="folder/fake"), ocr=fake), base_url=LOCAL) as client:
        yield client, fake


def test_service_text_layer_form_field(tmp_path, service):
    client, fake = service
    pages = [KNOWN, [TextRun(20, 150, 12, "hidden words only", render_mode=3)]]
    pdf = write_pdf(tmp_path / "two.pdf", pages).read_bytes()
    upload = [("files", ("two.pdf", pdf, "application/pdf"))]
    sources = {}
    for mode in ("auto", "ocr", "only"):
        before = sum(fake.batch_sizes)
        response = client.post("/v1/read", files=upload, data={"text_layer": mode, "dpi": str(DPI)})
        assert response.status_code == 200, response.text
        (document,) = response.json()["documents"]
        sources[mode] = ([p["text_source"] for p in document["pages"]], sum(fake.batch_sizes) - before)
        if mode == "auto":
            first = document["pages"][0]
            assert set(first) == set(Page(1, 1).to_dict())  # the service's page is Page.to_dict(), field for field
            assert [w["text"] for w in first["paragraphs"][0]["lines"][1]["words"]] == ["second", "line"]
            assert [p["index"] for p in document["pages"]] == [0, 1]
    # (text source of each page, pages the model read)
    assert sources == {
        "auto": (["text-layer", "ocr"], 1),
        "ocr": (["ocr", "ocr"], 2),
        "only": (["text-layer", "none"], 0),
    }
    response = client.post("/v1/read", files=upload, data={"text_layer": "never"})
    assert response.status_code == 422

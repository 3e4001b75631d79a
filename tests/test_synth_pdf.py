"""PDF pages with a text layer become annotated pages of the manifest schema."""

import numpy as np
import pytest

from textspotter.corpus.pdfwrite import TextRun, write_pdf
from textspotter.data.manifest import read_manifest
from textspotter.synth.pdf import PdfOptions, convert_pdfs, pdf_pages


def write_text_pdf(path, pages, size=(300, 200)):
    """Write a PDF whose pages show text in Helvetica: ``pages`` = [[(x, y, font size, text), ...], ...]."""
    return write_pdf(
        path, [[TextRun(x, y, font_size, text) for x, y, font_size, text in lines] for lines in pages], size=size
    )


@pytest.fixture
def pdf(tmp_path):
    return write_text_pdf(
        tmp_path / "doc.pdf",
        [
            [
                (20, 150, 12, "Hello world, again."),
                (20, 134, 12, "second line here"),
                (20, 80, 14, "New paragraph 2024"),
                (200, 80, 14, "Right"),
            ],
            [(30, 100, 10, "Page (two)")],
        ],
    )


def test_words_lines_and_paragraphs_from_the_text_layer(pdf):
    pages = list(pdf_pages(pdf, PdfOptions(dpi=144, language="en")))
    assert len(pages) == 2
    image, page = pages[0]
    assert image.shape == (400, 600, 3) and (page.width, page.height) == (600, 400)
    assert [w.text for w in page.words] == [
        "Hello",
        "world,",
        "again.",
        "second",
        "line",
        "here",
        "New",
        "paragraph",
        "2024",
        "Right",
    ]
    assert [line.words for line in page.lines] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [p.lines for p in page.paragraphs] == [[0, 1], [2], [3]]
    assert page.source == "pdf:doc.pdf#1" and page.id == "doc-p0001" and page.language == "en"
    gray = image.mean(axis=2)
    ink = gray < 128
    covered = np.zeros_like(ink)
    for word in page.words:
        quad = np.asarray(word.quad)
        x0, y0 = np.floor(quad.min(0)).astype(int)
        x1, y1 = np.ceil(quad.max(0)).astype(int)
        assert ink[y0:y1, x0:x1].any(), word.text
        covered[y0:y1, x0:x1] = True
    assert (ink & ~covered).sum() == 0  # all the text's ink lies in word boxes
    # 144 dpi = 2 px per point: "Hello" starts at x = 20 pt and its baseline is 150 pt above the bottom.
    first = np.asarray(page.words[0].quad)
    assert abs(first[0, 0] - 40) < 1.5 and first[0, 1] < 2 * (200 - 150) < first[2, 1]
    assert [w.text for w in pages[1][1].words] == ["Page", "(two)"]


def test_convert_pdfs_writes_a_dataset(pdf, tmp_path):
    ticks = []
    manifest = convert_pdfs([pdf], tmp_path / "out", PdfOptions(dpi=72), progress=ticks.append)
    pages = list(read_manifest(manifest))
    assert len(pages) == 2 and sum(ticks) == 2
    for page in pages:
        assert (tmp_path / "out" / page.image).is_file()


def test_pdf_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(pdf_pages(tmp_path / "missing.pdf"))
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf")
    with pytest.raises(ValueError, match="not a readable PDF"):
        list(pdf_pages(bad))
    with pytest.raises(ValueError, match="dpi"):
        PdfOptions(dpi=5)

"""hOCR 1.2 view of a Document (XHTML; http://kba.github.io/hocr-spec/1.2/)."""

from __future__ import annotations

from .. import __version__
from ..document import Document, Page
from ._common import as_document, int_box, xml_text

__all__ = ["to_hocr"]

_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{title}</title>
  <meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
  <meta name="ocr-system" content="textspotter {version}" />
  <meta name="ocr-capabilities" content="ocr_page ocr_par ocr_line ocrx_word ocrp_wconf" />
  <meta name="ocr-number-of-pages" content="{pages}" />
 </head>
 <body>
"""


def _bbox(box: tuple[int, int, int, int]) -> str:
    return "bbox {} {} {} {}".format(*box)


def to_hocr(result: Document | Page) -> str:
    """Return the result as an hOCR 1.2 XHTML document.

    Structure: one ``div.ocr_page`` per page (``bbox 0 0 W H``, ``ppageno`` = 0-based page index, ``image`` =
    the source path when there is one), ``p.ocr_par`` per paragraph, ``span.ocr_line`` per line,
    ``span.ocrx_word`` per word with ``x_wconf`` (confidence × 100, rounded to an integer 0–100). Boxes are
    integer pixels of the original page image (floor of the minimum, ceiling of the maximum, clipped to the
    page). Words without text, and lines and paragraphs left without words, are not written.

    Args:
        result: a Document, or one Page.

    Returns:
        The XHTML text (UTF-8 declared); all text XML-escaped.
    """
    document = as_document(result)
    title = xml_text(document.source)
    parts = [_HEADER.format(title=title, version=__version__, pages=len(document.pages))]
    # hOCR properties quote strings with double quotes and have no escape for them.
    image = "" if not document.source or document.source.startswith("<") else document.source.replace('"', "")
    for p_num, page in enumerate(document.pages, start=1):
        width, height = page.width, page.height
        page_props = [f"bbox 0 0 {width} {height}", f"ppageno {page.index}"]
        if image:
            page_props.insert(0, f'image "{image}"')
        parts.append(f'  <div class="ocr_page" id="page_{p_num}" title="{xml_text("; ".join(page_props))}">\n')
        par_num = line_num = word_num = 0
        for paragraph in page.paragraphs:
            lines_xml = []
            for line in paragraph.lines:
                words_xml = []
                for word in line.words:
                    if not word.text:
                        continue
                    word_num += 1
                    confidence = round(min(max(word.confidence, 0.0), 1.0) * 100)
                    props = f"{_bbox(int_box(word.quad, width, height))}; x_wconf {confidence}"
                    words_xml.append(
                        f'     <span class="ocrx_word" id="word_{p_num}_{word_num}" title="{props}">'
                        f"{xml_text(word.text)}</span>\n"
                    )
                if not words_xml:
                    continue
                line_num += 1
                lines_xml.append(
                    f'    <span class="ocr_line" id="line_{p_num}_{line_num}" '
                    f'title="{_bbox(int_box(line.quad, width, height))}">\n' + "".join(words_xml) + "    </span>\n"
                )
            if not lines_xml:
                continue
            par_num += 1
            parts.append(
                f'   <p class="ocr_par" id="par_{p_num}_{par_num}" '
                f'title="{_bbox(int_box(paragraph.quad, width, height))}">\n' + "".join(lines_xml) + "   </p>\n"
            )
        parts.append("  </div>\n")
    parts.append(" </body>\n</html>\n")
    return "".join(parts)

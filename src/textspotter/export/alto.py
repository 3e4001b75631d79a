"""ALTO v4 XML view of a Document (https://www.loc.gov/standards/alto/)."""

from __future__ import annotations

from .. import __version__
from ..document import Document, Page
from ._common import as_document, int_box, xml_text

__all__ = ["to_alto"]

_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
      xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v4# http://www.loc.gov/alto/v4/alto-4-2.xsd">
  <Description>
    <MeasurementUnit>pixel</MeasurementUnit>
    <sourceImageInformation>
      <fileName>{source}</fileName>
    </sourceImageInformation>
    <Processing ID="processing_1">
      <processingSoftware>
        <softwareName>textspotter</softwareName>
        <softwareVersion>{version}</softwareVersion>
      </processingSoftware>
    </Processing>
  </Description>
  <Layout>
"""


def _position(box: tuple[int, int, int, int]) -> str:
    x0, y0, x1, y1 = box
    return f'HPOS="{x0}" VPOS="{y0}" WIDTH="{x1 - x0}" HEIGHT="{y1 - y0}"'


def to_alto(result: Document | Page) -> str:
    """Return the result as an ALTO v4 XML document.

    Structure: ``Layout/Page`` per page (``WIDTH``/``HEIGHT`` of the image, ``PHYSICAL_IMG_NR`` = page index + 1)
    holding one ``PrintSpace`` over the whole page, a ``TextBlock`` per paragraph, a ``TextLine`` per line and a
    ``String`` per word (``CONTENT``; ``WC`` = word confidence in [0, 1], 4 decimals), with an ``SP`` element
    covering the gap between consecutive strings of a line. ``MeasurementUnit`` is ``pixel``: ``HPOS``/``VPOS``
    are the integer top-left corner and ``WIDTH``/``HEIGHT`` the integer size of the box covering each element in
    the original page image (floor of the minimum, ceiling of the maximum, clipped to the page). Words without
    text, and lines and blocks left without words, are not written.

    Args:
        result: a Document, or one Page.

    Returns:
        The XML text (UTF-8 declared); all text XML-escaped.
    """
    document = as_document(result)
    parts = [_HEADER.format(source=xml_text(document.source), version=__version__)]
    for p_num, page in enumerate(document.pages, start=1):
        width, height = page.width, page.height
        parts.append(
            f'    <Page ID="page_{p_num}" PHYSICAL_IMG_NR="{page.index + 1}" WIDTH="{width}" HEIGHT="{height}">\n'
            f'      <PrintSpace HPOS="0" VPOS="0" WIDTH="{width}" HEIGHT="{height}">\n'
        )
        block_num = line_num = word_num = 0
        for paragraph in page.paragraphs:
            lines_xml = []
            for line in paragraph.lines:
                words = [w for w in line.words if w.text]
                if not words:
                    continue
                line_num += 1
                line_box = int_box(line.quad, width, height)
                items = []
                previous_right = None
                for word in words:
                    box = int_box(word.quad, width, height)
                    if previous_right is not None:
                        gap = max(box[0] - previous_right, 0)
                        items.append(f'            <SP HPOS="{previous_right}" VPOS="{line_box[1]}" WIDTH="{gap}"/>\n')
                    word_num += 1
                    confidence = min(max(word.confidence, 0.0), 1.0)
                    items.append(
                        f'            <String ID="string_{p_num}_{word_num}" {_position(box)} '
                        f'CONTENT="{xml_text(word.text)}" WC="{confidence:.4f}"/>\n'
                    )
                    previous_right = box[2]
                lines_xml.append(
                    f'          <TextLine ID="line_{p_num}_{line_num}" {_position(line_box)}>\n'
                    + "".join(items)
                    + "          </TextLine>\n"
                )
            if not lines_xml:
                continue
            block_num += 1
            block_box = int_box(paragraph.quad, width, height)
            parts.append(
                f'        <TextBlock ID="block_{p_num}_{block_num}" {_position(block_box)}>\n'
                + "".join(lines_xml)
                + "        </TextBlock>\n"
            )
        parts.append("      </PrintSpace>\n    </Page>\n")
    parts.append("  </Layout>\n</alto>\n")
    return "".join(parts)

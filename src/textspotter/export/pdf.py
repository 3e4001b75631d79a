"""Searchable PDF: each page image with an invisible text layer placed on the words (what OCR tools call a
"sandwich" PDF), so the result can be searched, selected and copied in any viewer.

The file is written here, without a PDF library:

* one PDF page per Document page, sized ``width * 72 / dpi`` by ``height * 72 / dpi`` points, so that it prints at
  the size of the original; the page image fills it, as a JPEG (``DCTDecode``) or lossless (``FlateDecode``) image
  XObject (pages whose three channels are equal are stored as grey, a third of the size);
* every word with text as one ``Tj`` in text render mode 3 (neither filled nor stroked: invisible, but searchable),
  its baseline on the bottom edge of the word's quad, rotated to the quad's angle, its font size the quad's height
  and its horizontal scaling (``Tz``) chosen so that the word spans the quad's width; a space follows every word
  but the last of its line, stretched over the gap to the next word, so that copied text has the Document's
  spaces and line breaks.

The font, and why: text must round-trip any Unicode (Latin, Cyrillic, CJK, emoji). A simple font with WinAnsi
covers Western European text only; a simple font with custom ``/Differences`` and a ``ToUnicode`` CMap reaches
any character but only 256 per font, so a CJK page would need many fonts. Instead there is one composite font
(``Type0``, ``Identity-H``: two bytes per character) whose character codes are numbered per file in order of first
use (up to 65,535 distinct characters) and whose ``ToUnicode`` CMap maps each code back to its text (UTF-16, so
characters beyond the BMP too). Its descendant ``CIDFontType2`` gives every glyph the same advance (half an em),
ascent 1 em and descent 0 (so that a selection covers exactly the word's quad), and embeds a font program of 284
bytes written here (:func:`glyphless_truetype`): a TrueType font whose one glyph, shown for every code, is a
rectangle filling that box. The text is never drawn (render mode 3), so the shape does not matter, but an embedded
program spares viewers the search for a font named ``GlyphLessFont`` that no system has (Tesseract's PDF renderer
embeds such a font for the same reason), and a glyph with a box gives every character a box (PDFium leaves out of
the page's text a one-letter word whose glyph is empty).

The page images are decoded again from ``document.source`` unless they are given:

>>> from textspotter.export import to_pdf  # doctest: +SKIP
>>> pdf_bytes = to_pdf(document)           # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import os
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Literal

import numpy as np
from PIL import Image

from ..document import Document, Page, Quad
from ..imageio import ImageOptions, PageImage, iter_pages
from ._common import as_document

__all__ = ["DEFAULT_IMAGE_DPI", "PdfOptions", "PdfWriter", "to_pdf", "write_pdf", "source_dpi", "glyphless_truetype"]

DEFAULT_IMAGE_DPI = 300.0
"""Resolution assumed for an image without dpi metadata (scanners commonly scan text at 300 dpi)."""

# The advance of every glyph of the text font, in thousandths of the font size.
_GLYPH_WIDTH = 500
# The least space between a word and the next, in ems (poppler's word break starts at 0.1 em).
_MIN_GAP = 0.15
_FONT_NAME = b"/F1"
_IMAGE_NAME = b"/Im1"


@dataclass(frozen=True)
class PdfOptions:
    """How the page images are stored in the PDF.

    Attributes:
        image_format: ``"jpeg"`` (lossy ``DCTDecode``, small) or ``"flate"`` (lossless ``FlateDecode``, larger).
        jpeg_quality: JPEG quality in [1, 95] (PIL's scale).
    """

    image_format: Literal["jpeg", "flate"] = "jpeg"
    jpeg_quality: int = 85

    def __post_init__(self) -> None:
        if self.image_format not in ("jpeg", "flate"):
            raise ValueError(f"PdfOptions.image_format must be 'jpeg' or 'flate', got {self.image_format!r}")
        if isinstance(self.jpeg_quality, bool) or not isinstance(self.jpeg_quality, int):
            raise TypeError(f"PdfOptions.jpeg_quality must be an int, got {self.jpeg_quality!r}")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"PdfOptions.jpeg_quality must be in [1, 95], got {self.jpeg_quality!r}")


def _number(value: float) -> bytes:
    """Format a PDF real with at most 4 decimals and no exponent (``1e-05`` is not PDF syntax)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return (text if text not in ("-0", "") else "0").encode("ascii")


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


class PdfWriter:
    """Write a searchable PDF to a binary file, one page at a time; :meth:`close` writes the font and the index.

    Only what one page needs is held in memory; the font's character table grows with the distinct characters.

    Args:
        file: a binary file object open for writing (``open(path, "wb")``, ``io.BytesIO``).
        options: how the page images are stored.

    >>> import io, numpy as np
    >>> from textspotter.document import Page
    >>> buffer = io.BytesIO()
    >>> writer = PdfWriter(buffer)
    >>> writer.add_page(np.full((100, 200, 3), 255, np.uint8), Page(width=200, height=100), dpi=72)
    >>> writer.close()
    >>> buffer.getvalue()[:8]
    b'%PDF-1.7'
    """

    def __init__(self, file: IO[bytes], *, options: PdfOptions = PdfOptions()) -> None:  # noqa: B008 - frozen
        if not isinstance(options, PdfOptions):
            raise TypeError(f"options must be a PdfOptions, got {type(options).__name__}")
        self._file = file
        self._options = options
        self._offsets: dict[int, int] = {}
        self._position = 0
        self._count = 0
        self._pages: list[int] = []
        self._codes: dict[str, int] = {}  # character → its two-byte code in the font (1, 2, ...; 0 unused)
        self._closed = False
        # Numbers fixed up front, because every page refers to them; the objects are written by close().
        self._catalog, self._page_tree, self._font = self._reserve(), self._reserve(), self._reserve()
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")  # the binary comment tells transfer tools the file is binary

    def _reserve(self) -> int:
        self._count += 1
        return self._count

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._position += len(data)

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self._offsets[number] = self._position
        if stream is None:
            self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
        else:
            self._write(b"%d 0 obj\n%s\nstream\n%s\nendstream\nendobj\n" % (number, body, stream))

    def _code(self, character: str) -> int:
        code = self._codes.get(character)
        if code is None:
            code = len(self._codes) + 1
            if code > 0xFFFF:
                raise ValueError("a PDF text layer holds at most 65,535 distinct characters; this document has more")
            self._codes[character] = code
        return code

    def add_page(self, image: np.ndarray | Image.Image, page: Page, *, dpi: float) -> None:
        """Add one page: its image, and its words as invisible text.

        Args:
            image: the page image, ``[H, W, 3]`` uint8 RGB (or ``[H, W]`` grey) or a PIL image, of the size the
                page's quads refer to (``page.width`` x ``page.height``).
            page: what was read on it; quads in pixels of ``image``.
            dpi: resolution of ``image`` in dots per inch, > 0: the PDF page is ``page.width * 72 / dpi`` points
                wide.

        Raises:
            ValueError: an image whose size differs from the page's, a dpi that is not a positive number, or a
                writer already closed.
        """
        if self._closed:
            raise ValueError("this PdfWriter is closed")
        if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not math.isfinite(dpi) or dpi <= 0:
            raise ValueError(f"dpi must be a positive number, got {dpi!r}")
        picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
        if picture.size != (page.width, page.height):
            raise ValueError(
                f"page {page.index}: image of {picture.size[0]}x{picture.size[1]} pixels for a page of "
                f"{page.width}x{page.height}"
            )
        scale = 72.0 / float(dpi)  # points per pixel
        width, height = page.width * scale, page.height * scale
        image_number = self._reserve()
        self._image_object(image_number, picture)
        content = b"q %s 0 0 %s 0 0 cm %s Do Q\n" % (_number(width), _number(height), _IMAGE_NAME)
        content += self._text_layer(page, scale, height)
        content_number = self._reserve()
        compressed = zlib.compress(content)
        self._object(content_number, b"<< /Length %d /Filter /FlateDecode >>" % len(compressed), compressed)
        page_number = self._reserve()
        resources = b"<< /XObject << %s %d 0 R >> /Font << %s %d 0 R >> >>" % (
            _IMAGE_NAME,
            image_number,
            _FONT_NAME,
            self._font,
        )
        self._object(
            page_number,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources %s /Contents %d 0 R >>"
            % (self._page_tree, _number(width), _number(height), resources, content_number),
        )
        self._pages.append(page_number)

    def _image_object(self, number: int, picture: Image.Image) -> None:
        picture = picture.convert("RGB") if picture.mode != "L" else picture
        if picture.mode == "RGB":
            pixels = np.asarray(picture)
            if (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all():
                picture = Image.fromarray(np.ascontiguousarray(pixels[..., 0]))  # a grey scan: one channel
        colour_space = b"/DeviceGray" if picture.mode == "L" else b"/DeviceRGB"
        if self._options.image_format == "jpeg":
            buffer = io.BytesIO()
            picture.save(buffer, format="JPEG", quality=self._options.jpeg_quality)
            data, filter_name = buffer.getvalue(), b"/DCTDecode"
        else:
            data, filter_name = zlib.compress(picture.tobytes(), 6), b"/FlateDecode"
        self._object(
            number,
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 "
            b"/Filter %s /Length %d >>" % (picture.width, picture.height, colour_space, filter_name, len(data)),
            data,
        )

    def _text_layer(self, page: Page, scale: float, page_height: float) -> bytes:
        parts = []
        for line in page.lines:
            placed = []
            for word in line.words:
                if word.text and (placement := _place(word.quad, scale, page_height, len(word.text))) is not None:
                    placed.append((word, placement))
            for k, (word, placement) in enumerate(placed):
                (a, b, c, d, e, f), size, stretch, width = placement
                show = b"<%s> Tj" % "".join(f"{self._code(ch):04X}" for ch in word.text).encode("ascii")
                if k + 1 < len(placed):
                    # A space follows, over the gap to the next word's start (along this word's baseline). Word
                    # boxes often touch or overlap; extractors that find words by the gaps between glyphs (poppler)
                    # would then join the two words, so the word is narrowed to leave a gap of _MIN_GAP em.
                    next_x, next_y = placed[k + 1][1][0][4:]
                    advance = (next_x - e) * a + (next_y - f) * b
                    gap = _MIN_GAP * size
                    if width + gap > advance and advance - gap >= width / 2:
                        stretch *= (advance - gap) / width
                        width = advance - gap
                    space = max(advance - width, gap) / (_GLYPH_WIDTH / 1000.0 * size) * 100.0
                    show += b" %s Tz <%04X> Tj" % (_number(space), self._code(" "))
                matrix = b" ".join(_number(v) for v in (a, b, c, d, e, f))
                parts.append(b"%s %s Tf %s Tz %s Tm %s" % (_FONT_NAME, _number(size), _number(stretch), matrix, show))
        if not parts:
            return b""
        return b"BT 3 Tr\n" + b"\n".join(parts) + b"\nET\n"

    def close(self) -> None:
        """Write the font, the page tree, the catalog, the cross-reference table and the trailer (once)."""
        if self._closed:
            return
        self._closed = True
        descendant, descriptor, to_unicode, program, gid_map = (self._reserve() for _ in range(5))
        self._object(
            self._font,
            b"<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H "
            b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (descendant, to_unicode),
        )
        self._object(
            descendant,
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            b"/FontDescriptor %d 0 R /DW %d /CIDToGIDMap %d 0 R >>" % (descriptor, _GLYPH_WIDTH, gid_map),
        )
        self._object(
            descriptor,
            b"<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 4 /FontBBox [0 0 %d 1000] /ItalicAngle 0 "
            b"/Ascent 1000 /Descent 0 /CapHeight 1000 /StemV 80 /FontFile2 %d 0 R >>" % (_GLYPH_WIDTH, program),
        )
        font = glyphless_truetype()
        self._object(program, b"<< /Length %d /Length1 %d >>" % (len(font), len(font)), font)
        # Every code (CID) shows glyph 1, the font's one empty glyph: two bytes per CID, 0 to the highest in use.
        gids = zlib.compress(b"\x00\x01" * (len(self._codes) + 1))
        self._object(gid_map, b"<< /Length %d /Filter /FlateDecode >>" % len(gids), gids)
        cmap = _to_unicode_cmap(self._codes)
        self._object(to_unicode, b"<< /Length %d >>" % len(cmap), cmap)
        kids = b" ".join(b"%d 0 R" % number for number in self._pages)
        self._object(self._page_tree, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self._pages)))
        self._object(self._catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % self._page_tree)
        info = self._reserve()
        self._object(info, b"<< /Producer (textspotter) >>")
        start = self._position
        table = [b"xref\n0 %d\n" % (self._count + 1), b"0000000000 65535 f \n"]
        table += [b"%010d 00000 n \n" % self._offsets[number] for number in range(1, self._count + 1)]
        self._write(b"".join(table))
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (self._count + 1, self._catalog, info, start)
        )


def glyphless_truetype() -> bytes:
    """Return a minimal TrueType font: an empty ``.notdef`` and one rectangle glyph, each half an em wide.

    Only the tables a PDF viewer's font engine needs to load a ``CIDFontType2`` program are written (``glyf``,
    ``head``, ``hhea``, ``hmtx``, ``loca``, ``maxp``; PDF 32000-1 9.9 makes ``cmap``, ``name``, ``OS/2`` and
    ``post`` optional there); units per em 1000, ascent 1000, descent 0.
    """
    glyphs = 2
    # Glyph 1 is a rectangle over its advance and the em height, never drawn (text render mode 3): an empty glyph
    # would give a one-letter word an empty box, and PDFium then leaves it out of the page's text.
    outline = struct.pack(
        ">hhhhhHH4B4h4h", 1, 0, 0, _GLYPH_WIDTH, 1000, 3, 0, *([1] * 4), 0, 0, _GLYPH_WIDTH, 0, 0, 1000, 0, -1000
    )
    tables = {
        b"glyf": outline,  # .notdef is empty (its two loca offsets are equal), glyph 1 follows
        b"head": struct.pack(
            ">IIIIHHqqhhhhHHhhh",
            0x10000,
            0x10000,
            0,
            0x5F0F3CF5,
            0b1011,
            1000,
            0,
            0,
            0,
            0,
            _GLYPH_WIDTH,
            1000,
            0,
            3,
            2,
            0,
            0,
        ),
        b"hhea": struct.pack(
            ">IhhhHhhhhhhhhhhhH", 0x10000, 1000, 0, 0, _GLYPH_WIDTH, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, glyphs
        ),
        b"hmtx": struct.pack(">" + "Hh" * glyphs, *([_GLYPH_WIDTH, 0] * glyphs)),
        b"loca": struct.pack(">3H", 0, 0, len(outline) // 2),  # short offsets: bytes / 2
        b"maxp": struct.pack(">IH" + "H" * 13, 0x10000, glyphs, 4, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0),
    }
    count = len(tables)
    power = 1 << (count.bit_length() - 1)  # the largest power of two <= count
    directory = struct.pack(">IHHHH", 0x10000, count, power * 16, power.bit_length() - 1, (count - power) * 16)
    offset = len(directory) + 16 * count
    entries, body = b"", b""
    for tag in sorted(tables):
        data = tables[tag]
        entries += struct.pack(">4sIII", tag, _checksum(data), offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    font = directory + entries + body
    # head.checkSumAdjustment (at offset 8 of the head table) makes the whole font sum to 0xB1B0AFBA.
    head_offset = offset + sum(len(tables[t]) + (-len(tables[t]) % 4) for t in sorted(tables) if t < b"head")
    adjustment = (0xB1B0AFBA - _checksum(font)) & 0xFFFFFFFF
    return font[: head_offset + 8] + struct.pack(">I", adjustment) + font[head_offset + 12 :]


def _checksum(data: bytes) -> int:
    """The TrueType table checksum: the sum of big-endian 32-bit words, the data zero-padded to a multiple of 4."""
    padded = data + b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


def _to_unicode_cmap(codes: dict[str, int]) -> bytes:
    """Return the ToUnicode CMap mapping each two-byte code back to its character (UTF-16BE)."""
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    entries = sorted((code, character) for character, code in codes.items())
    for start in range(0, len(entries), 100):  # at most 100 entries per bfchar block (PDF 32000-1, 9.10.3)
        block = entries[start : start + 100]
        lines.append(f"{len(block)} beginbfchar")
        lines += [f"<{code:04X}> <{_utf16_hex(character)}>" for code, character in block]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return ("\n".join(lines) + "\n").encode("ascii")


def _place(
    quad: Quad, scale: float, page_height: float, length: int
) -> tuple[tuple[float, float, float, float, float, float], float, float, float] | None:
    """Return the text matrix, font size and horizontal scaling that lay ``length`` glyphs over ``quad``.

    Args:
        quad: ``[4, 2]`` pixels of the page image, clockwise from the top-left vertex.
        scale: points per pixel.
        page_height: page height in points (PDF's y axis points up, the image's down).
        length: number of glyphs of the word (without a following space).

    Returns:
        ``((a, b, c, d, e, f), size, stretch, width)``: the rotation and origin (the bottom-left vertex) of the
        text matrix, the font size in points (the quad's height), ``Tz`` in percent and the word's width in points;
        None for a degenerate quad.
    """
    points = [(x * scale, page_height - y * scale) for x, y in quad]
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    # Along the text: from the middle of the left edge to the middle of the right edge.
    dx, dy = (x1 + x2 - x0 - x3) / 2, (y1 + y2 - y0 - y3) / 2
    width = math.hypot(dx, dy)
    if width <= 0 or length <= 0:
        return None
    cos, sin = dx / width, dy / width
    # Height: the distance between the top and bottom edges' middles, across the text direction.
    height = abs(((x0 + x1 - x2 - x3) / 2) * -sin + ((y0 + y1 - y2 - y3) / 2) * cos)
    if height <= 0:
        return None
    stretch = 100.0 * width / (length * _GLYPH_WIDTH / 1000.0 * height)
    return (cos, sin, -sin, cos, x3, y3), height, stretch, width


def source_dpi(source: str | bytes, *, image_options: ImageOptions = ImageOptions()) -> float:  # noqa: B008
    """Return the resolution of an input's page images, read from its header only (nothing is decoded).

    Args:
        source: a path, or the bytes of an image or PDF.
        image_options: the options the pages are decoded with (a PDF's pages are rendered at its ``dpi``).

    Returns:
        ``image_options.dpi`` for a PDF; an image's own horizontal dpi metadata (PNG ``pHYs``, JPEG JFIF/EXIF,
        TIFF resolution) when it is a plausible value in [10, 10000]; otherwise :data:`DEFAULT_IMAGE_DPI`.
    """
    head = source[:1024] if isinstance(source, bytes) else _read_head(source)
    if b"%PDF-" in head:
        return float(image_options.dpi)
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            value = image.info.get("dpi")
    except (OSError, ValueError, Image.DecompressionBombError):
        return DEFAULT_IMAGE_DPI
    try:
        dpi = float(value[0]) if isinstance(value, tuple) else float(value)
    except (TypeError, ValueError, IndexError):
        return DEFAULT_IMAGE_DPI
    if abs(dpi - round(dpi)) < 0.1:
        dpi = float(round(dpi))  # PNG stores dots per metre: 150 dpi comes back as 150.0127
    return dpi if 10 <= dpi <= 10000 else DEFAULT_IMAGE_DPI


def _read_head(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(1024)
    except OSError:
        return b""


def write_pdf(
    result: Document | Page,
    file: IO[bytes],
    *,
    images: Iterable[np.ndarray | Image.Image | PageImage] | None = None,
    dpi: float | Sequence[float] | None = None,
    image_options: ImageOptions = ImageOptions(),  # noqa: B008 - frozen
    options: PdfOptions = PdfOptions(),  # noqa: B008 - frozen
) -> None:
    """Write ``result`` as a searchable PDF to a binary file (see :func:`to_pdf`)."""
    document = as_document(result)
    if images is None:
        if not isinstance(document.source, (str, os.PathLike)) or not os.path.isfile(document.source):
            raise ValueError(
                f"{document.source or 'this document'}: not a file, so its page images cannot be read again; "
                "pass them with images=..."
            )
        images = iter_pages(document.source, options=image_options)
    if dpi is None:
        is_file = isinstance(document.source, str) and os.path.isfile(document.source)
        dpi = source_dpi(document.source, image_options=image_options) if is_file else DEFAULT_IMAGE_DPI
    per_page = [float(dpi)] * len(document.pages) if isinstance(dpi, (int, float)) else [float(v) for v in dpi]
    if len(per_page) != len(document.pages):
        raise ValueError(f"dpi has {len(per_page)} values for {len(document.pages)} pages")
    writer = PdfWriter(file, options=options)
    pages = {page.index: (page, resolution) for page, resolution in zip(document.pages, per_page)}
    seen = 0
    for position, image in enumerate(images):
        index = image.index if isinstance(image, PageImage) else position
        if index not in pages:
            continue  # a page the Document does not hold (an input read only in part)
        page, resolution = pages[index]
        writer.add_page(image.image if isinstance(image, PageImage) else image, page, dpi=resolution)
        seen += 1
    if seen != len(document.pages):
        raise ValueError(f"{seen} page images for a document of {len(document.pages)} pages")
    writer.close()


def to_pdf(
    result: Document | Page,
    *,
    images: Iterable[np.ndarray | Image.Image | PageImage] | None = None,
    dpi: float | Sequence[float] | None = None,
    image_options: ImageOptions = ImageOptions(),  # noqa: B008 - frozen
    options: PdfOptions = PdfOptions(),  # noqa: B008 - frozen
) -> bytes:
    """Return a searchable PDF of ``result``: each page image with its words as invisible, selectable text.

    Args:
        result: a Document, or one Page (then ``images`` is needed).
        images: the page images, in page order (``[H, W, 3]`` uint8 arrays, PIL images or
            :class:`~textspotter.imageio.PageImage`, each of its page's size). ``None``: decode
            ``result.source`` again (a path) with ``image_options``.
        dpi: resolution of the page images (one for all, or one per page); ``None``: the PDF render dpi
            (``image_options.dpi``) for a PDF source, an image's dpi metadata, else :data:`DEFAULT_IMAGE_DPI`.
        image_options: how ``result.source`` was decoded (PDF render dpi, password), when ``images`` is None.
        options: how the images are stored (JPEG or lossless).

    Returns:
        The PDF file's bytes. Page ``i`` is ``width * 72 / dpi`` by ``height * 72 / dpi`` points.

    Raises:
        ValueError: no images and a source that is not a file, a count of images or dpi values that differs from
            the page count, an image of another size than its page.
    """
    buffer = io.BytesIO()
    write_pdf(result, buffer, images=images, dpi=dpi, image_options=image_options, options=options)
    return buffer.getvalue()

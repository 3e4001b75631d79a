"""Write small PDFs with a known text layer (for tests and examples): standard Type 1 fonts, no dependencies.

Fonts available to :class:`TextRun` (none embedded; pdfium draws its built-in substitutes):

* ``F1``: Helvetica, WinAnsi encoding, with byte 1 → the ``fi`` ligature glyph and byte 2 → ``fl``;
* ``F2``: Times-Roman, WinAnsi encoding;
* ``SYM``: a font named ``CMSY10`` (Computer Modern symbols) in standard encoding: its codes read as ASCII
  letters, the way old TeX documents' ⟨ ⟩ become "h" "i";
* ``MATH``: Times-Bold whose ``ToUnicode`` map sends A–Z to the mathematical bold capitals (U+1D400 ...);
* ``PUA``: Courier whose ``ToUnicode`` map sends every code to the private use area (unmapped glyphs).

>>> write_pdf("hello.pdf", [[TextRun(72, 700, 12, "Hello world")]])   # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TextRun", "write_pdf", "pdf_bytes"]

_FONTS = {
    "F1": "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding "
    "/BaseEncoding /WinAnsiEncoding /Differences [1 /fi /fl] >> >>",
    "F2": "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding /WinAnsiEncoding >>",
    # Widths and a descriptor fix the metrics, which pdfium would otherwise take from whatever font it substitutes.
    "SYM": "<< /Type /Font /Subtype /Type1 /BaseFont /CMSY10 /FirstChar 32 /LastChar 126 /Widths [{widths}] "
    "/FontDescriptor {descriptor} 0 R >>",
    "PUA": "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding /ToUnicode {cmap} 0 R >>",
    "MATH": "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Bold /Encoding /WinAnsiEncoding "
    "/ToUnicode {math_cmap} 0 R >>",
}
_CMAP = (
    "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /PUA def "
    "1 begincodespacerange <00> <FF> endcodespacerange 1 beginbfrange <20> <7E> <E020> endbfrange "
    "endcmap CMapName currentdict /CMap defineresource pop end end"
)
# A-Z → U+1D400.. (mathematical bold capitals), beyond the BMP: UTF-16 surrogate pairs in the CMap.
_MATH_CMAP = _CMAP.replace("/PUA", "/MATH").replace("<20> <7E> <E020>", "<41> <5A> <D835DC00>")


@dataclass(frozen=True)
class TextRun:
    """One string drawn on a page.

    Attributes:
        x, y: start of the baseline in PDF points (y up from the bottom of the page).
        size: font size in points.
        text: the string (Latin-1 bytes; ``\\x01`` is the ``fi`` ligature in font ``F1``).
        font: ``F1``, ``F2``, ``SYM``, ``MATH`` or ``PUA`` (see the module docstring).
        angle: rotation in degrees, counter-clockwise (PDF convention).
        render_mode: PDF text render mode (0 fill, 3 invisible).
        fill: fill colour, RGB 0..1.
    """

    x: float
    y: float
    size: float
    text: str
    font: str = "F1"
    angle: float = 0.0
    render_mode: int = 0
    fill: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def operators(self) -> str:
        import math

        if self.font not in _FONTS:
            raise ValueError(f"unknown font {self.font!r}; choose from {', '.join(_FONTS)}")
        escaped = self.text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        c, s = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        r, g, b = self.fill
        return (
            f"q {r:g} {g:g} {b:g} rg BT {self.render_mode} Tr /{self.font} {self.size:g} Tf "
            f"{c:.6f} {s:.6f} {-s:.6f} {c:.6f} {self.x:g} {self.y:g} Tm ({escaped}) Tj ET Q"
        )


def write_pdf(
    path: str | os.PathLike[str],
    pages: list[list[TextRun]],
    *,
    size: tuple[float, float] = (300.0, 200.0),
    rotate: int = 0,
    inherit_box: bool = False,
) -> Path:
    """Write a PDF of text pages and return its path.

    Args:
        path: the file to write.
        pages: the text runs of each page.
        size: page width and height in points.
        rotate: the pages' ``/Rotate`` (0, 90, 180, 270: how viewers turn the page clockwise).
        inherit_box: put the ``/MediaBox`` on the page tree instead of each page (pages inherit it).

    Raises:
        ValueError: for an unknown font or rotation.
    """
    if rotate not in (0, 90, 180, 270):
        raise ValueError(f"rotate must be 0, 90, 180 or 270, got {rotate}")
    objects: dict[int, bytes] = {}
    count = len(pages)
    font_ids = {name: 3 + 2 * count + i for i, name in enumerate(_FONTS)}
    cmap_id = 3 + 2 * count + len(_FONTS)
    descriptor_id = cmap_id + 1
    math_cmap_id = cmap_id + 2
    fonts = " ".join(f"/{name} {number} 0 R" for name, number in font_ids.items())
    kids = []
    for i, runs in enumerate(pages):
        page_id, content_id = 3 + 2 * i, 4 + 2 * i
        kids.append(f"{page_id} 0 R")
        box = "" if inherit_box else f"/MediaBox [0 0 {size[0]:g} {size[1]:g}] "
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R {box}/Rotate {rotate} "
            f"/Contents {content_id} 0 R /Resources << /Font << {fonts} >> >> >>"
        ).encode()
        stream = "\n".join(run.operators() for run in runs).encode("latin-1")
        objects[content_id] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    inherited = f"/MediaBox [0 0 {size[0]:g} {size[1]:g}] " if inherit_box else ""
    objects[2] = f"<< /Type /Pages {inherited}/Kids [{' '.join(kids)}] /Count {count} >>".encode()
    for name, number in font_ids.items():
        widths = " ".join(["500"] * 95)
        objects[number] = (
            _FONTS[name].format(cmap=cmap_id, widths=widths, descriptor=descriptor_id, math_cmap=math_cmap_id).encode()
        )
    objects[descriptor_id] = (
        b"<< /Type /FontDescriptor /FontName /CMSY10 /Flags 4 /FontBBox [0 -250 1000 750] /ItalicAngle 0 "
        b"/Ascent 750 /Descent -250 /CapHeight 700 /StemV 80 >>"
    )
    for number, text in ((cmap_id, _CMAP), (math_cmap_id, _MATH_CMAP)):
        data = text.encode()
        objects[number] = b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"
    target = Path(path)
    target.write_bytes(pdf_bytes(objects))
    return target


def pdf_bytes(objects: dict[int, bytes], *, trailer: bytes = b"") -> bytes:
    """Assemble a PDF file from its numbered object bodies, with a correct cross-reference table.

    Args:
        objects: object number → body (``<< ... >>`` or a stream), numbered 1..N without gaps; object 1 is the
            catalog.
        trailer: extra trailer entries, e.g. ``b"/Encrypt 5 0 R /ID [<...> <...>] "``.

    Raises:
        ValueError: if the numbers are not 1..N.
    """
    if sorted(objects) != list(range(1, len(objects) + 1)):
        raise ValueError(f"PDF objects must be numbered 1..{len(objects)}, got {sorted(objects)}")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number in range(1, len(objects) + 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)

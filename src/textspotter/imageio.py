"""Turn any supported input into RGB page images: the only place in textspotter that decodes images.

Accepted inputs (see ``docs/formats.md`` for every conversion rule):

* ``str`` / ``os.PathLike`` paths to PNG, JPEG, TIFF (every frame), WebP, BMP, GIF, PPM, JPEG 2000 or PDF
  (every page, rendered with pypdfium2 at ``ImageOptions.dpi``);
* ``bytes`` of any of those formats (sniffed; base64-encoded bytes are accepted too, as the published v1 API did);
* ``str`` holding base64 or a ``data:image/...;base64,...`` URL;
* file-like objects (anything with ``.read()`` returning bytes);
* ``PIL.Image.Image`` (its current frame);
* ``numpy.ndarray`` ``[H, W]`` or ``[H, W, C]`` with C in {1, 3, 4}, uint8 or float in [0, 1];
* ``torch.Tensor`` ``[H, W]``, ``[C, H, W]`` or ``[B, C, H, W]`` with C in {1, 3, 4}, uint8 or float in [0, 1]
  (one page per batch item).

Every page comes out as a ``[H, W, 3]`` uint8 RGB array: EXIF orientation applied, alpha composited onto white,
16-bit, palette, CMYK and grey-alpha images converted. Problems with an input raise :class:`ImageError` (a
``ValueError``) whose message starts with the input's printable name, ``FileNotFoundError`` for a missing path, or
``TypeError`` for an object of an unsupported type.
"""

from __future__ import annotations

import base64
import binascii
import errno
import io
import math
import os
import re
import struct
import sys
import urllib.parse
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeAlias, Union

import numpy as np
from PIL import ExifTags, Image, ImageOps

if TYPE_CHECKING:
    import torch

    from .corpus.text_layer import PageText

__all__ = [
    "INPUT_SUFFIXES",
    "ImageInput",
    "ImageOptions",
    "PageImage",
    "ImageError",
    "load_pages",
    "iter_pages",
    "describe_source",
]

# One input of load_pages / iter_pages / OCR (a list or tuple of these is a batch for OCR). The tensor is named
# as a string: importing torch here would make `import textspotter.imageio` cost a second.
ImageInput: TypeAlias = Union[  # noqa: UP007 - `|` cannot join the string forward reference at run time
    str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes], Image.Image, np.ndarray, "torch.Tensor"
]

# File suffixes that the CLI and the batch job pick up when they expand folders and globs.
INPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".pbm", ".pdf")

# Formats handed to PIL. An explicit list keeps plugins that shell out (EPS → Ghostscript) or that are rarely
# hardened away from untrusted bytes. (Camera JPEGs that PIL opens as MPO come through the JPEG opener.)
_PIL_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "DIB", "GIF", "PPM", "JPEG2000")

# Leading bytes of the formats we accept, used to tell raw bytes from base64 text.
_MAGICS = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"II+\x00",  # BigTIFF
    b"MM\x00+",
    b"BM",
    b"GIF87a",
    b"GIF89a",
    b"P1",
    b"P2",
    b"P3",
    b"P4",
    b"P5",
    b"P6",
    b"\x00\x00\x00\x0cjP  ",  # JPEG 2000 (JP2 box)
    b"\xff\x4f\xff\x51",  # JPEG 2000 codestream
)

# Exceptions PIL and its codecs raise on corrupt or truncated data.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error, zlib.error)

# Pixels per chunk of the per-pixel conversions (alpha compositing, float → uint8).
_CHUNK_PIXELS = 1 << 20

# A PDF is closed and opened again after this many pages (pdfium keeps what it loaded until it is closed).
_PDF_REOPEN_PAGES = 32

_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/_\-=\s]+")


class ImageError(ValueError):
    """An input could not be turned into page images.

    Attributes:
        source: printable name of the input (a path, ``"<bytes>"``, ``"<bytes #2>"``, ...).
        problem: what is wrong with it, without the name.
    """

    def __init__(self, source: str, problem: str) -> None:
        # Both parts go to Exception.args so that the error pickles (DataLoader workers send errors back).
        super().__init__(source, problem)
        self.source = source
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"


@dataclass(frozen=True)
class ImageOptions:
    """How inputs are decoded.

    Attributes:
        dpi: resolution at which PDF pages are rendered, in [1, 2400] dots per inch (a US-letter page at 200 dpi is
            1700×2200 pixels).
        max_pixels: largest accepted page, in pixels (width × height). Checked from the file header before any
            decoding (so decompression bombs are rejected cheaply), from the page size before a PDF page is
            rendered, and on arrays and tensors. PIL's process-wide ``Image.MAX_IMAGE_PIXELS`` also applies to
            files; an application that needs more than PIL's limit (about 179 M pixels) raises that itself.
        pdf_password: password of encrypted PDFs (user or owner password); ``None`` for none.
        text_layer: also read each PDF page's text layer into :attr:`PageImage.text_layer` (glyphs with quads in
            pixels of the rendered page; ``textspotter.pipeline.textlayer`` decides whether to use it).
    """

    dpi: float = 200.0
    max_pixels: int = 100_000_000
    pdf_password: str | None = None
    text_layer: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.dpi, bool) or not isinstance(self.dpi, (int, float)) or not math.isfinite(self.dpi):
            raise TypeError(f"ImageOptions.dpi must be a finite number, got {self.dpi!r}")
        if not 1 <= self.dpi <= 2400:
            raise ValueError(f"ImageOptions.dpi must be in [1, 2400], got {self.dpi!r}")
        if isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int):
            raise TypeError(f"ImageOptions.max_pixels must be an int, got {self.max_pixels!r}")
        if self.max_pixels < 1:
            raise ValueError(f"ImageOptions.max_pixels must be positive, got {self.max_pixels!r}")
        if self.pdf_password is not None and not isinstance(self.pdf_password, str):
            raise TypeError(f"ImageOptions.pdf_password must be a str or None, got {type(self.pdf_password).__name__}")
        if not isinstance(self.text_layer, bool):
            raise TypeError(f"ImageOptions.text_layer must be a bool, got {self.text_layer!r}")


@dataclass(frozen=True, eq=False)
class PageImage:
    """One decoded page.

    Attributes:
        image: ``[H, W, 3]`` uint8 RGB array, C-contiguous and writeable, values 0–255. It shares memory with the
            input when that was already a C-contiguous writeable uint8 ``[H, W, 3]`` array (or such a tensor).
        source: printable name of the input it came from.
        index: 0-based page number within that input (PDF page, TIFF frame or tensor batch item; 0 otherwise).
        text_layer: the PDF page's text layer (``textspotter.corpus.text_layer.PageText``: glyphs and raster-image
            boxes in pixels of ``image``) when ``ImageOptions.text_layer`` asked for it; None for other inputs.
    """

    image: np.ndarray
    source: str
    index: int = 0
    text_layer: PageText | None = None

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def describe_source(obj: Any, *, position: int | None = None) -> str:
    """Return a short printable name for an input, as used in errors and ``Document.source``.

    Args:
        obj: any input accepted by :func:`load_pages` (or anything else).
        position: index of the input within a batch; appended as ``" #<position>"`` to names that would otherwise
            be the same for every input of the same kind (``"<bytes #2>"``). Paths are unique and keep their name.

    Returns:
        The path for paths and named files; otherwise ``"<bytes>"``, ``"<base64>"``, ``"<data URL>"``,
        ``"<file>"``, ``"<PIL image>"``, ``"<array>"``, ``"<tensor>"`` or ``"<TypeName>"``.

    >>> describe_source("scan.png")
    'scan.png'
    >>> describe_source(b"...", position=2)
    '<bytes #2>'
    """
    if isinstance(obj, os.PathLike):
        return os.fsdecode(obj)
    if isinstance(obj, str):
        if obj.startswith("data:"):
            name = "data URL"
        elif _is_base64_of_known_format(obj) and not os.path.exists(obj):
            name = "base64"
        else:
            return obj if len(obj) <= 200 else obj[:200] + "..."
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        name = "bytes"
    elif isinstance(obj, Image.Image):
        name = "PIL image"
    elif isinstance(obj, np.ndarray):
        name = "array"
    elif _is_tensor(obj):
        name = "tensor"
    elif hasattr(obj, "read"):
        file_name = getattr(obj, "name", None)
        if isinstance(file_name, str) and file_name:
            return file_name
        name = "file"
    else:
        name = type(obj).__name__
    return f"<{name}>" if position is None else f"<{name} #{position}>"


def load_pages(
    source: ImageInput,
    *,
    options: ImageOptions = ImageOptions(),  # noqa: B008 - frozen, so sharing one default instance is safe
    name: str | None = None,
) -> list[PageImage]:
    """Decode one input into its pages.

    Args:
        source: a path (``str`` / ``os.PathLike``), ``bytes``, a base64 or data-URL ``str``, a file-like object,
            a PIL image, a numpy array ``[H, W]`` / ``[H, W, C]`` or a torch tensor ``[H, W]`` / ``[C, H, W]`` /
            ``[B, C, H, W]`` (C in {1, 3, 4}; uint8, or float in [0, 1]).
        options: decoding options (PDF resolution, pixel limit, PDF password).
        name: printable name used in errors and in ``PageImage.source``; defaults to :func:`describe_source`.

    Returns:
        One :class:`PageImage` per page (PDF page, TIFF frame, tensor batch item), in order; never empty.

    Raises:
        FileNotFoundError: a path that does not exist.
        TypeError: an object of an unsupported type, or a file opened in text mode.
        ImageError: an empty, corrupt, truncated, oversized or zero-size input; an array or tensor with a wrong
            shape, dtype or value range; an encrypted PDF without the right password; a PDF without pages.

    >>> import numpy as np
    >>> pages = load_pages(np.zeros((32, 48), dtype=np.uint8))
    >>> pages[0].image.shape, pages[0].source
    ((32, 48, 3), '<array>')
    """
    return list(iter_pages(source, options=options, name=name))


def iter_pages(
    source: ImageInput,
    *,
    options: ImageOptions = ImageOptions(),  # noqa: B008 - frozen, so sharing one default instance is safe
    name: str | None = None,
) -> Iterator[PageImage]:
    """Decode one input lazily, one page at a time (same arguments and errors as :func:`load_pages`).

    Use it for long PDFs and TIFFs: only the page being processed is held in memory. Errors about a page are
    raised when that page is reached.
    """
    if not isinstance(options, ImageOptions):
        raise TypeError(f"options must be an ImageOptions, got {type(options).__name__}")
    label = name if name is not None else describe_source(source)
    if _is_tensor(source):
        yield from _iter_tensor(source, label, options)
    elif isinstance(source, np.ndarray):
        yield PageImage(_array_to_rgb(source, label, options), label, 0)
    elif isinstance(source, Image.Image):
        yield PageImage(_pil_image_to_rgb(source, label, options), label, 0)
    elif isinstance(source, os.PathLike):
        yield from _iter_path(os.fsdecode(source), label, options)
    elif isinstance(source, str):
        yield from _iter_str(source, label, options)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        yield from _iter_bytes(bytes(source), label, options)
    elif hasattr(source, "read"):
        if isinstance(source, io.TextIOBase):
            raise TypeError(f"{label}: the file is open in text mode; open it in binary mode ('rb')")
        data = source.read()
        if isinstance(data, str):
            raise TypeError(f"{label}: the file-like object returned str; open it in binary mode ('rb')")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{label}: .read() returned {type(data).__name__}, expected bytes")
        yield from _iter_bytes(bytes(data), label, options)
    else:
        raise TypeError(
            f"{label}: unsupported input type {type(source).__module__}.{type(source).__qualname__}; expected a "
            "path, bytes, a base64 or data-URL string, a binary file object, a PIL image, a numpy array or a "
            "torch tensor"
        )


# --------------------------------------------------------------------------------------------------------------
# Dispatch by kind of input


def _is_tensor(obj: Any) -> bool:
    # Look torch up only if it is already imported: an object cannot be a tensor otherwise, and importing torch
    # here would make `import textspotter.imageio` cost a second.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def _is_base64_of_known_format(text: str) -> bool:
    """Tell whether ``text`` starts like base64 of a supported format, decoding only its first bytes."""
    compact = re.sub(r"\s+", "", text[:256])
    if len(compact) < 16 or _BASE64_TEXT.fullmatch(compact) is None:
        return False
    compact = compact[: len(compact) // 4 * 4].replace("-", "+").replace("_", "/").rstrip("=")
    compact += "=" * (-len(compact) % 4)
    try:
        head = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return False
    return _has_known_magic(head)


def _decode_base64(text: str | bytes, label: str) -> bytes:
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    compact = re.sub(r"\s+", "", text).replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(label, f"invalid base64 data ({exc})") from exc


def _has_known_magic(data: bytes) -> bool:
    return data.startswith(_MAGICS) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP") or _is_pdf(data)


def _is_pdf(head: bytes) -> bool:
    # The PDF specification lets the header start anywhere in the first 1024 bytes.
    return b"%PDF-" in head[:1024]


def _iter_str(text: str, label: str, options: ImageOptions) -> Iterator[PageImage]:
    if text.startswith("data:"):
        yield from _iter_bytes(_decode_data_url(text, label), label, options)
        return
    if os.path.exists(text):
        yield from _iter_path(text, label, options)
        return
    if _is_base64_of_known_format(text):
        yield from _iter_bytes(_decode_base64(text, label), label, options)
        return
    looks_encoded = len(text) >= 16 and _BASE64_TEXT.fullmatch(text) is not None
    problem = "no such file (and not base64 of a supported image or PDF)" if looks_encoded else "no such file"
    raise FileNotFoundError(errno.ENOENT, problem, label)


def _decode_data_url(url: str, label: str) -> bytes:
    header, sep, payload = url.partition(",")
    if not sep:
        raise ImageError(label, "malformed data URL: no ',' between the header and the data")
    media = header[len("data:") :].split(";")
    if media[0] and not media[0].startswith(("image/", "application/pdf", "application/octet-stream")):
        raise ImageError(label, f"data URL of media type {media[0]!r}; expected image/* or application/pdf")
    if "base64" in (p.strip().lower() for p in media[1:]):
        return _decode_base64(payload, label)
    return urllib.parse.unquote_to_bytes(payload)


def _iter_path(path: str, label: str, options: ImageOptions) -> Iterator[PageImage]:
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "no such file", path)
    if os.path.isdir(path):
        raise ImageError(label, "is a directory, not an image or PDF file")
    if os.path.getsize(path) == 0:
        raise ImageError(label, "is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(1024)
    if _is_pdf(head):
        yield from _iter_pdf(path, label, options)
    else:
        yield from _iter_pil(path, label, options)


def _iter_bytes(data: bytes, label: str, options: ImageOptions) -> Iterator[PageImage]:
    if not data:
        raise ImageError(label, "is empty (0 bytes)")
    if not _has_known_magic(data) and _is_base64_of_known_format(data[:256].decode("latin-1")):
        # The published v1 API takes base64-encoded bytes; accept them when they decode to a known format.
        data = _decode_base64(data, label)
    if _is_pdf(data):
        yield from _iter_pdf(data, label, options)
    else:
        yield from _iter_pil(io.BytesIO(data), label, options)


# --------------------------------------------------------------------------------------------------------------
# Raster files (PIL)


def _check_size(width: int, height: int, label: str, options: ImageOptions, what: str = "image") -> None:
    if width <= 0 or height <= 0:
        raise ImageError(label, f"zero-size {what} ({width}x{height} pixels)")
    if width * height > options.max_pixels:
        raise ImageError(
            label,
            f"{what} of {width}x{height} = {width * height:,} pixels is above the limit of {options.max_pixels:,} "
            "(ImageOptions.max_pixels)",
        )


def _iter_pil(file: str | io.BytesIO, label: str, options: ImageOptions) -> Iterator[PageImage]:
    try:
        # PIL warns above its own (lower) bomb threshold; our limit is checked right below, from the header.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(file, formats=_PIL_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageError(label, f"image above PIL's pixel limit, not decoded ({exc})") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageError(label, "not a supported image or PDF (unrecognised or corrupt header)") from exc
    except _DECODE_ERRORS as exc:
        raise ImageError(label, f"corrupt image header ({exc})") from exc
    with image:
        # Only TIFF frames are pages; other multi-frame formats (GIF, animated WebP, MPO) are animations or
        # stereo pairs, of which the first frame is the picture.
        frames = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1
        for index in range(frames):
            try:
                if index:
                    image.seek(index)
                _check_size(image.width, image.height, label, options, what=f"frame {index}" if frames > 1 else "image")
                image.load()
                frame = _upright(image)
            except ImageError:
                raise
            except _DECODE_ERRORS as exc:
                where = f"frame {index} is" if frames > 1 else "is"
                raise ImageError(label, f"{where} corrupt or truncated ({exc})") from exc
            yield PageImage(_pil_to_rgb(frame, label), label, index)


def _pil_image_to_rgb(image: Image.Image, label: str, options: ImageOptions) -> np.ndarray:
    _check_size(image.width, image.height, label, options)
    try:
        image.load()
        image = _upright(image)
    except _DECODE_ERRORS as exc:
        raise ImageError(label, f"cannot read the image ({exc})") from exc
    return _pil_to_rgb(image, label)


def _upright(image: Image.Image) -> Image.Image:
    """Return the loaded image turned by its EXIF orientation; the image itself when it needs no turning.

    (``ImageOps.exif_transpose`` copies the whole image even then.) The image passed in is never modified.
    """
    if image.getexif().get(ExifTags.Base.Orientation, 1) not in range(2, 9):
        return image
    return ImageOps.exif_transpose(image)


def _pil_to_rgb(image: Image.Image, label: str) -> np.ndarray:
    """Convert a loaded PIL image of any mode to ``[H, W, 3]`` uint8 RGB, compositing alpha onto white.

    Grey and RGB images, the common large ones, are read out of PIL by row chunks without an intermediate copy of
    the whole page: beyond PIL's own decoded image, they need little more than the result.
    """
    mode = image.mode
    if mode == "I" or mode.startswith("I;16"):
        # 16-bit grey (PNG, TIFF): full scale is 65535, not 255 as PIL's own convert("L") assumes.
        return _pil_by_rows(image, lambda part: (np.clip(part, 0, 65535).astype(np.uint32) * 255 + 32767) // 65535)
    if mode == "F":
        high = -math.inf
        for _, part in _pil_row_chunks(image):
            if not np.isfinite(part).all():
                raise ImageError(label, "floating-point image contains NaN or infinity")
            high = max(high, float(part.max()))
        # Float TIFFs come both as [0, 1] and as [0, 255]; a maximum of at most 1 means the former.
        scale = np.float32(255.0 if high <= 1.0 else 1.0)
        return _pil_by_rows(image, lambda part: np.clip(np.rint(part.astype(np.float32) * scale), 0, 255))
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info
    if mode in ("L", "RGB") and not has_alpha:
        return _pil_by_rows(image, lambda part: part)
    try:
        converted = image.convert("RGBA" if has_alpha else "RGB")
    except ValueError as exc:
        raise ImageError(label, f"unsupported image mode {mode!r} ({exc})") from exc
    array = np.array(converted)  # a writeable copy (np.asarray of a PIL image is read-only)
    del converted
    return _composite_on_white(array) if has_alpha else array


def _pil_row_chunks(image: Image.Image) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first row, [rows, W] or [rows, W, C] array)`` chunks of a PIL image, each about 1 M pixels."""
    step = _row_step(image.width)
    for y in range(0, image.height, step):
        with image.crop((0, y, image.width, min(image.height, y + step))) as part:
            yield y, np.asarray(part)


def _pil_by_rows(image: Image.Image, to_levels: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """A grey or RGB PIL image → ``[H, W, 3]`` uint8, applying ``to_levels`` (values → 0-255) chunk by chunk."""
    out = np.empty((image.height, image.width, 3), dtype=np.uint8)
    for y, part in _pil_row_chunks(image):
        levels = to_levels(part)
        out[y : y + levels.shape[0]] = levels if levels.ndim == 3 else levels[..., None]
    return out


def _row_step(width: int) -> int:
    """Rows per chunk of the per-pixel conversions: their temporaries stay near 1 M pixels, whatever the page."""
    return max(1, _CHUNK_PIXELS // max(1, width))


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """``[H, W, 4]`` uint8 (straight alpha) → ``[H, W, 3]`` uint8 over a white background, rounded."""
    out = np.empty(rgba.shape[:2] + (3,), dtype=np.uint8)
    step = _row_step(rgba.shape[1])
    # By row chunks: the uint16 arithmetic of the whole page would take 7 times the page's size at once.
    for y in range(0, rgba.shape[0], step):
        part = rgba[y : y + step]
        alpha = part[..., 3:4].astype(np.uint16)
        out[y : y + step] = (part[..., :3].astype(np.uint16) * alpha + 255 * (255 - alpha) + 127) // 255
    return out


# --------------------------------------------------------------------------------------------------------------
# PDF (pypdfium2)


def _open_pdf(file: str | bytes, label: str, options: ImageOptions) -> Any:
    """Open ``file`` as a ``pypdfium2.PdfDocument``; raise ``ImageError`` naming ``label`` and the problem."""
    import pypdfium2 as pdfium  # imported here: only PDF inputs need it
    import pypdfium2.raw as pdfium_c

    # PDFium keeps its last error in a process-wide slot that a failed load does not always overwrite (a document
    # whose page tree holds no page fails without setting one), so put a known value there first: FILE, which
    # loading bytes, or a file we have just read ourselves, does not otherwise produce. (PDFium is not thread-safe;
    # pypdfium2 asks callers not to use it from several threads at once.)
    pdfium_c.FPDF_LoadDocument(b"", None)
    try:
        document = pdfium.PdfDocument(file, password=options.pdf_password)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            if options.pdf_password is None:
                raise ImageError(
                    label,
                    "PDF is encrypted; give its password with ImageOptions(pdf_password=...) (textspotter read "
                    "--pdf-password, or the request's pdf_password field)",
                ) from exc
            raise ImageError(
                label, "wrong password for this encrypted PDF (ImageOptions.pdf_password / --pdf-password)"
            ) from exc
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise ImageError(label, "PDF uses an unsupported security handler") from exc
        if code in (pdfium_c.FPDF_ERR_FILE, pdfium_c.FPDF_ERR_SUCCESS):
            raise ImageError(label, "PDF has no pages (or no readable page tree)") from exc
        raise ImageError(label, f"not a readable PDF: corrupt or truncated ({exc})") from exc
    return document


def _iter_pdf(file: str | bytes, label: str, options: ImageOptions) -> Iterator[PageImage]:
    import pypdfium2 as pdfium

    document = _open_pdf(file, label, options)
    try:
        count = len(document)
        if count == 0:
            raise ImageError(label, "PDF has no pages")
        scale = options.dpi / 72.0  # PDF user space is 1/72 inch
        for index in range(count):
            if index and index % _PDF_REOPEN_PAGES == 0:
                # pdfium keeps every object it has loaded until the document is closed, each page's image stream
                # included: reading a 75 MB, 500-page scan grew by 0.15 MB a page, the size of its pages in the
                # file. Reopening drops that, so memory follows the pages in hand, not the file's size.
                document.close()
                document = _open_pdf(file, label, options)
                if len(document) != count:
                    raise ImageError(label, f"the PDF changed while it was read ({count} pages, now {len(document)})")
            try:
                page = document[index]
            except pdfium.PdfiumError as exc:
                raise ImageError(label, f"page {index} cannot be read ({exc})") from exc
            try:
                width_pt, height_pt = page.get_size()
                # The same rounding pypdfium2 uses to size its bitmap, so the limit is checked before rendering.
                _check_size(
                    math.ceil(width_pt * scale),
                    math.ceil(height_pt * scale),
                    label,
                    options,
                    what=f"page {index} at {options.dpi:g} dpi",
                )
                bitmap = page.render(scale=scale, rev_byteorder=True, fill_color=(255, 255, 255, 255))
                try:
                    # Copy: the array views pdfium's buffer, which close() frees.
                    image = np.array(bitmap.to_numpy()[..., :3], dtype=np.uint8, copy=True)
                finally:
                    bitmap.close()
                text = None
                if options.text_layer:
                    from .corpus.text_layer import extract_glyphs

                    # Read at the render scale: the glyph quads are then in pixels of ``image``. A text layer that
                    # pdfium cannot read leaves the page as an image (it is OCRed), not an unreadable input.
                    try:
                        text = extract_glyphs(page, scale)
                    except pdfium.PdfiumError:
                        text = None
            finally:
                page.close()
            yield PageImage(np.ascontiguousarray(image), label, index, text_layer=text)
    finally:
        document.close()


# --------------------------------------------------------------------------------------------------------------
# Arrays and tensors


def _array_to_rgb(array: np.ndarray, label: str, options: ImageOptions) -> np.ndarray:
    """Validate and convert a ``[H, W]`` or ``[H, W, C]`` (C in 1, 3, 4) uint8 / float array to RGB uint8."""
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ImageError(label, f"array of shape {tuple(array.shape)}; expected [H, W] or [H, W, C] with C in 1, 3, 4")
    if array.shape[2] not in (1, 3, 4):
        hint = " (it looks channels-first: transpose to [H, W, C])" if array.shape[0] in (1, 3, 4) else ""
        raise ImageError(
            label, f"array of shape {tuple(array.shape)} has {array.shape[2]} channels{hint}; expected 1, 3 or 4"
        )
    _check_size(int(array.shape[1]), int(array.shape[0]), label, options)
    if array.dtype == np.uint8:
        pixels = array
    elif np.issubdtype(array.dtype, np.floating):
        pixels = _float_to_uint8(array, label)
    else:
        raise ImageError(label, f"unsupported dtype {array.dtype}; expected uint8 (0-255) or float in [0, 1]")
    if pixels.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    if pixels.shape[2] == 4:
        return _composite_on_white(pixels)
    if not pixels.flags.writeable:
        # torch.from_numpy warns on read-only arrays; copy those (others are returned without a copy).
        return np.array(pixels, order="C")
    return np.ascontiguousarray(pixels)


def _check_tensor_kind(tensor: Any, label: str) -> None:
    """Refuse tensors that hold no plain pixel grid, before anything else touches them.

    Sparse, nested, quantized and meta tensors fail deep in torch or numpy with messages that do not name the
    input (or a plain ``TypeError`` from ``.numpy()``); each gets an error saying what to pass instead.
    """
    import torch

    if getattr(tensor, "is_nested", False):
        raise ImageError(label, "nested tensor; pass its pages as a list of tensors (tensor.unbind())")
    if tensor.layout != torch.strided:
        raise ImageError(label, f"{tensor.layout} tensor; pass a dense one (tensor.to_dense())")
    if tensor.is_quantized:
        raise ImageError(label, f"quantized tensor ({tensor.dtype}); pass a plain one (tensor.dequantize())")
    if tensor.is_meta:
        raise ImageError(label, "tensor on the meta device holds no data")


def _float_to_uint8(array: np.ndarray, label: str) -> np.ndarray:
    """Check that a ``[H, W, C]`` float array is finite and in [0, 1], and return ``round(v × 255)`` as uint8.

    Works by row chunks, so that the float32 temporaries stay small next to the page (a whole-page float32 copy
    and its product with 255 would take 8 times the uint8 result).
    """
    step = _row_step(array.shape[1])
    low, high = math.inf, -math.inf
    for y in range(0, array.shape[0], step):
        part = array[y : y + step].astype(np.float32, copy=False)  # checked as converted (float64 1 + 1e-12 is 1)
        if not np.isfinite(part).all():
            raise ImageError(label, "float array contains NaN or infinity")
        low, high = min(low, float(part.min())), max(high, float(part.max()))
    if low < 0.0 or high > 1.0:
        raise ImageError(label, f"float values must lie in [0, 1], got [{low:g}, {high:g}] (pass uint8 for 0-255 data)")
    out = np.empty(array.shape, dtype=np.uint8)
    for y in range(0, array.shape[0], step):
        out[y : y + step] = np.rint(array[y : y + step].astype(np.float32) * np.float32(255.0))
    return out


def _iter_tensor(tensor: Any, label: str, options: ImageOptions) -> Iterator[PageImage]:
    import torch  # already imported: _is_tensor said so

    _check_tensor_kind(tensor, label)
    tensor = tensor.detach()
    shape = tuple(tensor.shape)
    if tensor.ndim == 2:
        tensor = tensor[None, None]
    elif tensor.ndim == 3:
        tensor = tensor[None]
    elif tensor.ndim != 4:
        raise ImageError(label, f"tensor of shape {shape}; expected [H, W], [C, H, W] or [B, C, H, W]")
    if tensor.shape[1] not in (1, 3, 4):
        hint = " (it looks channels-last: permute to [C, H, W])" if tensor.shape[-1] in (1, 3, 4) else ""
        raise ImageError(label, f"tensor of shape {shape} has {tensor.shape[1]} channels{hint}; expected 1, 3 or 4")
    if tensor.shape[0] == 0:
        raise ImageError(label, f"tensor of shape {shape} holds an empty batch")
    if tensor.dtype != torch.uint8 and not tensor.dtype.is_floating_point:
        raise ImageError(label, f"unsupported dtype {tensor.dtype}; expected torch.uint8 (0-255) or float in [0, 1]")
    if tensor.dtype.is_floating_point and tensor.dtype != torch.float64:
        tensor = tensor.float()  # numpy has no bfloat16; float32 represents every float16 value exactly
    batch = tensor.shape[0]
    for index in range(batch):
        item = tensor[index].permute(1, 2, 0).cpu().numpy()  # (C, H, W) -> (H, W, C)
        try:
            image = _array_to_rgb(item, label, options)
        except ImageError as exc:
            if batch == 1:
                raise
            raise ImageError(label, f"batch item {index}: {exc.problem}") from None
        yield PageImage(image, label, index)

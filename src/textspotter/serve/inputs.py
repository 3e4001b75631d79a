"""Request inputs of the HTTP service: data URLs, sizes judged before decoding, and the server's pixel budget.

A request is measured before anything is decoded: its files are opened only far enough to count their pages and
read each page's size (an image's header, a PDF page's box at the rendering resolution), the sizes are checked
against :class:`ServeLimits`, and the request reserves its pixels from the process-wide :class:`PixelBudget`. Only
then are pages decoded, one at a time, each handed to the model as soon as it is ready and released once read.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .config import ServeLimits

if TYPE_CHECKING:
    from ..pipeline.textlayer import TextLayerOptions, TextLayerPlan

__all__ = [
    "ServiceError",
    "InputFile",
    "decode_data_url",
    "measure_file",
    "measure_request",
    "PageReader",
    "PixelBudget",
]

# Media types a data URL may declare on /v1/infer. Only a first filter with a clear message: the bytes themselves
# decide (a PDF labelled image/png is still refused).
_IMAGE_MEDIA_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/jpg", "image/webp", "image/tiff", "image/bmp", "image/gif"}
)

# PDFium may not be called from two threads at once, not even for different documents (pypdfium2's documentation);
# every PDF call of the service (measuring and rendering) holds this lock.
_PDFIUM_LOCK = threading.Lock()


class ServiceError(Exception):
    """An error answer: HTTP status, a stable ``type`` and a message naming the offending input."""

    def __init__(self, status_code: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class InputFile:
    """One input of a request, measured but not decoded.

    Attributes:
        name: printable name in errors (``input[2]``, an upload's file name).
        data: the file's bytes.
        is_pdf: whether it is rendered with PDFium (else decoded with Pillow).
        page_sizes: ``(width, height)`` in pixels of each page as it will be decoded.
    """

    name: str
    data: bytes
    is_pdf: bool
    page_sizes: tuple[tuple[int, int], ...]

    @property
    def pixels(self) -> int:
        return sum(width * height for width, height in self.page_sizes)


def decode_data_url(url: str, *, what: str) -> bytes:
    """Return the bytes of a ``data:image/...;base64,...`` URL.

    Raises:
        ServiceError: 400 ``unsupported_input`` for a remote URL, another scheme, a non-image media type or a data
            URL that is not base64; 400 ``invalid_image`` for bad base64.
    """
    head, comma, payload = url.partition(",")
    scheme = head.split(":", 1)[0].lower() if ":" in head else ""
    if scheme in ("http", "https", "ftp", "file"):
        raise ServiceError(
            400,
            "unsupported_input",
            f"{what}: this service does not fetch URLs ({scheme}://...); send the image inline as "
            "data:image/png;base64,...",
        )
    if scheme != "data" or not comma:
        raise ServiceError(
            400, "unsupported_input", f"{what}: expected a data URL (data:image/png;base64,...), got {url[:40]!r}"
        )
    params = [p.strip().lower() for p in head[len("data:") :].split(";")]
    media_type = params[0]
    if media_type not in _IMAGE_MEDIA_TYPES:
        raise ServiceError(
            400,
            "unsupported_input",
            f"{what}: unsupported media type {media_type or '(none)'!r}; accepted: "
            + ", ".join(sorted(_IMAGE_MEDIA_TYPES)),
        )
    if "base64" not in params[1:]:
        raise ServiceError(400, "unsupported_input", f"{what}: the data URL must be base64-encoded (;base64,)")
    # Line breaks of MIME-style base64 are harmless; anything else outside the alphabet is an error, not skipped.
    compact = "".join(payload.split())
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ServiceError(400, "invalid_image", f"{what}: invalid base64 data ({error})") from None
    if not data:
        raise ServiceError(400, "invalid_image", f"{what}: the data URL holds no data")
    return data


def _is_pdf(data: bytes) -> bool:
    # As textspotter.imageio: the PDF specification lets the header start anywhere in the first 1024 bytes.
    return b"%PDF-" in data[:1024]


def _too_many_pages(limits: ServeLimits) -> ServiceError:
    return ServiceError(
        413,
        "too_many_images",
        f"the files hold more than {limits.max_images_per_request} pages, the limit per request",
    )


def _check_page(what: str, width: int, height: int, limits: ServeLimits) -> None:
    if width <= 0 or height <= 0:
        raise ServiceError(400, "invalid_image", f"{what}: zero-size page ({width}x{height} pixels)")
    if width * height > limits.max_pixels_per_image:
        raise ServiceError(
            413,
            "image_too_large",
            f"{what}: {width}x{height} = {width * height:,} pixels is above the limit of "
            f"{limits.max_pixels_per_image:,} pixels per image",
        )


def _measure_pdf(data: bytes, *, what: str, dpi: float, password: str | None, max_pages: int, limits: ServeLimits):
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data, password=password)
        except pdfium.PdfiumError as error:
            code = getattr(error, "err_code", None)
            if code == pdfium_c.FPDF_ERR_PASSWORD:
                problem = "wrong PDF password" if password else "the PDF is encrypted; send its password"
                raise ServiceError(400, "invalid_image", f"{what}: {problem} (form field pdf_password)") from None
            raise ServiceError(400, "invalid_image", f"{what}: not a readable PDF ({error})") from None
        try:
            count = len(document)
            if count == 0:
                raise ServiceError(400, "invalid_image", f"{what}: the PDF has no pages")
            if count > max_pages:
                raise ServiceError(413, "too_many_images", "")  # the caller words it for the whole request
            scale = dpi / 72.0  # PDF user space is 1/72 inch
            sizes = []
            for index in range(count):
                try:
                    width_pt, height_pt = document.get_page_size(index)  # from the page tree, nothing rendered
                except pdfium.PdfiumError as error:
                    raise ServiceError(400, "invalid_image", f"{what}: page {index} cannot be read ({error})") from None
                # The rounding textspotter.imageio (and pypdfium2) use to size the rendered bitmap.
                width, height = math.ceil(width_pt * scale), math.ceil(height_pt * scale)
                _check_page(f"{what} page {index} at {dpi:g} dpi", width, height, limits)
                sizes.append((width, height))
        finally:
            document.close()
    return tuple(sizes)


def _measure_raster(data: bytes, *, what: str, max_pages: int, limits: ServeLimits):
    import warnings

    from PIL import Image

    from ..imageio import _PIL_FORMATS  # the formats the decoder accepts, so that both agree

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    except Image.DecompressionBombError:
        raise ServiceError(
            413, "image_too_large", f"{what}: the image exceeds {limits.max_pixels_per_image:,} pixels"
        ) from None
    except Exception:  # noqa: BLE001 - Pillow raises many kinds of errors for data that is not an image it knows
        raise ServiceError(
            400, "invalid_image", f"{what}: not a supported image or PDF (unrecognised or corrupt header)"
        ) from None
    with image:
        try:
            # Only TIFF frames are pages (as in textspotter.imageio); other formats give their first frame.
            count = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1
            if count > max_pages:
                raise ServiceError(413, "too_many_images", "")
            sizes = []
            for index in range(count):
                if index:
                    image.seek(index)
                what_page = f"{what} frame {index}" if count > 1 else what
                _check_page(what_page, image.width, image.height, limits)
                sizes.append((image.width, image.height))
        except ServiceError:
            raise
        except Exception as error:  # noqa: BLE001 - a corrupt frame directory
            raise ServiceError(400, "invalid_image", f"{what}: corrupt image header ({error})") from None
    return tuple(sizes)


def measure_file(
    name: str,
    data: bytes,
    *,
    limits: ServeLimits,
    allow_pdf: bool,
    dpi: float = 200.0,
    pdf_password: str | None = None,
    max_pages: int | None = None,
) -> InputFile:
    """Count the pages of a file and read their sizes without decoding any pixel.

    The file's bytes decide what it is (a PDF labelled ``image/png`` is a PDF).

    Args:
        name: printable name of the input, for errors.
        data: the file.
        limits: per-image pixel limit (and the page limit when ``max_pages`` is ``None``).
        allow_pdf: refuse PDFs (400 ``unsupported_input``) when false.
        dpi: resolution PDF pages will be rendered at.
        pdf_password: password of an encrypted PDF.
        max_pages: pages the request may still hold.

    Raises:
        ServiceError: 400 ``invalid_image`` (unreadable, wrong password), 400 ``unsupported_input`` (a PDF where
            none is allowed), 413 ``image_too_large`` or ``too_many_images``.
    """
    if not data:
        raise ServiceError(400, "invalid_image", f"{name}: the file is empty")
    max_pages = limits.max_images_per_request if max_pages is None else max_pages
    try:
        if _is_pdf(data):
            if not allow_pdf:
                raise ServiceError(
                    400, "unsupported_input", f"{name}: the data is a PDF; this endpoint takes images (use /v1/read)"
                )
            sizes = _measure_pdf(data, what=name, dpi=dpi, password=pdf_password, max_pages=max_pages, limits=limits)
            return InputFile(name, data, True, sizes)
        return InputFile(name, data, False, _measure_raster(data, what=name, max_pages=max_pages, limits=limits))
    except ServiceError as error:
        if error.error_type == "too_many_images" and not error.message:
            raise _too_many_pages(limits) from None
        raise


def measure_request(
    files: list[tuple[str, bytes]],
    *,
    limits: ServeLimits,
    allow_pdf: bool,
    dpi: float = 200.0,
    pdf_password: str | None = None,
) -> list[InputFile]:
    """Measure every file of a request and check the request's page and pixel totals (see :func:`measure_file`).

    Raises:
        ServiceError: as :func:`measure_file`; 413 ``too_many_images`` when the files hold more pages than
            ``limits.max_images_per_request``, 413 ``request_too_large`` when their pages hold more pixels than
            ``limits.max_pixels_per_request``.
    """
    measured: list[InputFile] = []
    pages = pixels = 0
    for name, data in files:
        remaining = limits.max_images_per_request - pages
        if remaining <= 0:
            raise _too_many_pages(limits)
        item = measure_file(
            name, data, limits=limits, allow_pdf=allow_pdf, dpi=dpi, pdf_password=pdf_password, max_pages=remaining
        )
        pages += len(item.page_sizes)
        pixels += item.pixels
        if pixels > limits.max_pixels_per_request:
            raise ServiceError(
                413,
                "request_too_large",
                f"the request's pages hold more than {limits.max_pixels_per_request:,} pixels (reached at {name}), "
                "the limit per request; send fewer or smaller pages per request",
            )
        measured.append(item)
    return measured


class PageReader:
    """Decode the pages of one measured file one at a time; every call from a worker thread, never two at once.

    ``next_page()`` returns ``(page index, RGB uint8 [H, W, 3] array, text-layer plan)`` or ``None`` after the last
    page; the plan (``pipeline.textlayer.plan_page``) says whether the page needs OCR or was read from its PDF text
    layer (``text_layer`` mode ``"auto"`` or ``"only"``; the text layer is not read for ``"ocr"``). ``close()`` frees
    the decoder (a PDF document) early. PDF work holds the process-wide PDFium lock.

    Raises:
        ServiceError: 400 ``invalid_image`` when a page cannot be decoded.
    """

    def __init__(
        self,
        item: InputFile,
        *,
        dpi: float,
        pdf_password: str | None,
        max_pixels: int,
        text_layer: TextLayerOptions | None = None,
    ) -> None:
        from ..imageio import ImageOptions, iter_pages
        from ..pipeline.textlayer import TextLayerOptions

        self.item = item
        self.text_layer = text_layer or TextLayerOptions(mode="ocr")
        read_text = item.is_pdf and self.text_layer.mode != "ocr"
        options = ImageOptions(dpi=dpi, max_pixels=max_pixels, pdf_password=pdf_password, text_layer=read_text)
        self._pages: Iterator = iter_pages(item.data, options=options, name=item.name)
        self._lock = _PDFIUM_LOCK if item.is_pdf else threading.Lock()

    def next_page(self) -> tuple[int, np.ndarray, TextLayerPlan] | None:
        from ..imageio import ImageError
        from ..pipeline.textlayer import plan_page

        with self._lock:
            try:
                page = next(self._pages, None)
            except ImageError as error:
                raise ServiceError(400, "invalid_image", str(error)) from None
        if page is None:
            return None
        return page.index, page.image, plan_page(page, self.text_layer)

    def close(self) -> None:
        with self._lock:
            self._pages.close()


class PixelBudget:
    """The decoded pixels a server process may hold at once; used from the event loop only (no locking).

    A request reserves all its pixels before decoding and gives each page's back once the model has read it.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0

    def try_reserve(self, pixels: int) -> bool:
        """Reserve ``pixels`` if they are free; return whether they were."""
        if self.in_use + pixels > self.capacity:
            return False
        self.in_use += pixels
        return True

    def release(self, pixels: int) -> None:
        self.in_use = max(0, self.in_use - pixels)

"""The HTTP service: a FastAPI app that NVIDIA OCR NIM clients (NV-Ingest, for example) can call unchanged.

Endpoints (docs/serve.md has curl examples):

* ``POST /v1/infer`` and ``POST /v1/ocr``: the NIM request (base64 data URLs + merge levels) → NIM detections with
  points normalised to [0, 1] (spec §8.4), one ``data`` entry per image.
* ``POST /v1/read``: multipart upload of image and PDF files → ``Document.to_dict()`` per file.
* ``GET /v1/health/live``, ``/v1/health/ready``, ``/v1/models``, ``/v1/metadata``; ``/docs`` and ``/openapi.json``.

The model is loaded once, when the app starts (its lifespan), on the batcher's worker thread, which then runs every
model call; requests only decode their inputs (in other threads) and await their pages. Every error answer has the
body ``{"error": {"type": ..., "message": ...}}``; a 500 never carries a traceback (the server log does).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import io
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import FastAPI, File, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import Request

from .. import __version__
from ..document import Document, Page
from ..export import MERGE_LEVELS, to_nim
from .batching import BatcherClosedError, DynamicBatcher, QueueFullError
from .config import CONFIG_ENV, ServeConfig, ServeLimits
from .schemas import (
    BatchingJSON,
    ErrorResponse,
    HealthResponse,
    InferRequest,
    InferResponse,
    LimitsJSON,
    MetadataResponse,
    ModelCard,
    ModelInfo,
    ModelList,
    ReadResponse,
    StatsJSON,
)

if TYPE_CHECKING:
    from ..pipeline.ocr import OCR

__all__ = ["ServiceError", "Service", "create_app", "app_from_environment"]

_logger = logging.getLogger(__name__)

_NOT_READY = "the model is not loaded yet, or the server is shutting down"

# Media types a data URL may declare on /v1/infer. The decoder looks at the bytes, not at this label; the list only
# turns away what the NIM does not take (PDFs, text, ...) with a clear message.
_IMAGE_MEDIA_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/jpg", "image/webp", "image/tiff", "image/bmp", "image/gif"}
)


class ServiceError(Exception):
    """An error answer: HTTP status, a stable ``type`` and a message naming the offending input."""

    def __init__(self, status_code: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type
        self.message = message


def _error_response(status_code: int, error_type: str, message: str, headers: dict[str, str] | None = None):
    body = {"error": {"type": error_type, "message": message}}
    return JSONResponse(body, status_code=status_code, headers=headers)


# --- Inputs --------------------------------------------------------------------------------------------------------


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


def _probe_size(data: bytes, *, what: str, limits: ServeLimits) -> None:
    """Answer 413 for an oversized raster image, judged from its header alone.

    The decoder (``textspotter.imageio``) refuses it too, but as an :class:`ImageError` like any corrupt file; this
    look at the header (no pixels are decoded) lets the client tell "too large" from "broken". PDF pages over the
    limit come back from the decoder, as 400 ``invalid_image`` naming the limit.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
    except Image.DecompressionBombError:
        raise ServiceError(
            413, "image_too_large", f"{what}: the image exceeds {limits.max_pixels_per_image} pixels"
        ) from None
    except Exception:  # noqa: BLE001 - not a raster image Pillow knows (a PDF, or garbage): the decoder will say
        return
    if width * height > limits.max_pixels_per_image:
        raise ServiceError(
            413,
            "image_too_large",
            f"{what}: {width}x{height} = {width * height:,} pixels is above the limit of "
            f"{limits.max_pixels_per_image:,} pixels per image",
        )


def iter_file_pages(data: bytes, *, what: str, limits: ServeLimits) -> Iterator[tuple[int, np.ndarray]]:
    """Decode an image or PDF lazily into ``(page index, RGB uint8 HWC array)`` pairs, checking the pixel limit.

    Lazily, so that a caller that counts pages stops a long PDF before rendering all of it.

    Raises:
        ServiceError: 400 ``invalid_image`` when the data cannot be decoded, 413 ``image_too_large``.
    """
    from ..imageio import ImageError, ImageOptions, iter_pages

    _probe_size(data, what=what, limits=limits)
    try:
        for page in iter_pages(data, options=ImageOptions(max_pixels=limits.max_pixels_per_image), name=what):
            yield page.index, page.image
    except ImageError as error:
        raise ServiceError(400, "invalid_image", str(error)) from None


def load_data_url_image(url: str, *, what: str, limits: ServeLimits) -> np.ndarray:
    """Decode one ``/v1/infer`` input into an RGB uint8 HWC array (exactly one image, no multi-page files).

    Raises:
        ServiceError: see :func:`decode_data_url` and :func:`iter_file_pages`; 400 ``unsupported_input`` for a
            multi-page file.
    """
    with contextlib.closing(iter_file_pages(decode_data_url(url, what=what), what=what, limits=limits)) as pages:
        _, image = next(pages)  # imageio never yields zero pages (it raises instead)
        if next(pages, None) is not None:
            raise ServiceError(
                400, "unsupported_input", f"{what}: holds several pages; send single images (use /v1/read for files)"
            )
    return image


# --- The service ---------------------------------------------------------------------------------------------------


class Service:
    """The model, its batcher and the limits: the state the app factory owns (no module globals).

    Args:
        config: model, device, batching and limits.
        ocr: an already built :class:`textspotter.OCR` (or an object with the same ``read``); ``None`` loads
            ``config.model`` on :meth:`start`.
    """

    def __init__(self, config: ServeConfig, *, ocr: OCR | None = None) -> None:
        self.config = config
        self.ocr = ocr
        self.batcher: DynamicBatcher[np.ndarray, Document] = DynamicBatcher(self._run_batch, options=config.batching)
        self.ready = False

    def _run_batch(self, images: list[np.ndarray]) -> list[Document]:
        assert self.ocr is not None  # start() loads the model before the batcher gets any item
        return self.ocr.read(images)

    def _load(self) -> OCR:
        import torch

        from ..imageio import ImageOptions
        from ..pipeline.ocr import OCR

        if self.config.torch_threads is not None:
            torch.set_num_threads(self.config.torch_threads)

        # One server batch is one detector forward pass: the OCR batch size follows the batcher's maximum. The
        # pixel limit is the server's (the pipeline checks arrays against its own, default, limit otherwise).
        return OCR(
            model=self.config.model,
            device=self.config.device,
            batch_size=self.config.batching.max_batch_size,
            image_options=ImageOptions(max_pixels=self.config.limits.max_pixels_per_image),
        )

    async def start(self) -> None:
        """Start the worker thread and load the model on it (a failure here stops the server from starting)."""
        await self.batcher.start()
        if self.ocr is None:
            _logger.info("loading model %s on %s", self.config.model or "(default)", self.config.device)
            try:
                self.ocr = await self.batcher.call(self._load)
            except BaseException:
                await self.batcher.stop()
                raise
        self.ready = True
        _logger.info("ready: model %s on %s", self.model_id, self.device)

    async def stop(self) -> None:
        self.ready = False
        await self.batcher.stop()

    @property
    def model_id(self) -> str:
        """The model's spec name; for an engine without a spec (a test double), the folder name."""
        name = getattr(getattr(self.ocr, "spec", None), "name", None)
        if name:
            return str(name)
        return os.path.basename(os.path.normpath(self.config.model)) if self.config.model else "textspotter"

    @property
    def device(self) -> str:
        """Where the model runs (the configured device until it is loaded)."""
        return str(getattr(self.ocr, "device", self.config.device))

    def admit(self) -> None:
        """Refuse a request before it decodes anything when the model is not ready or the queue is already full.

        Raises:
            ServiceError: 503 ``not_ready`` or ``overloaded``.
        """
        if not self.ready:
            raise ServiceError(503, "not_ready", _NOT_READY)
        if self.batcher.queued >= self.config.batching.max_queue_size:
            raise ServiceError(503, "overloaded", f"{self.batcher.queued} images are already waiting; try again later")

    async def read(self, images: list[np.ndarray], names: list[str]) -> list[Page]:
        """OCR page images through the batcher; return one page each, in order.

        Raises:
            ServiceError: 503 when the server is overloaded or shutting down, 500 when the model failed.
        """
        self.admit()
        tasks = [asyncio.ensure_future(self.batcher.submit(image)) for image in images]
        try:
            documents = await asyncio.gather(*tasks)
        except QueueFullError as error:
            raise ServiceError(503, "overloaded", str(error)) from None
        except BatcherClosedError:
            raise ServiceError(503, "not_ready", "the server is shutting down") from None
        finally:
            # If one page failed, the others of this request are of no use: free their places in the queue.
            for task in tasks:
                task.cancel()
        pages = []
        for name, document in zip(names, documents):
            if document.error is not None or len(document.pages) != 1:
                _logger.error("inference failed for %s: %s", name, document.error)
                raise ServiceError(500, "internal_error", f"inference failed for {name}")
            pages.append(document.pages[0])
        return pages


# --- Middleware ----------------------------------------------------------------------------------------------------

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]


class _BodyLimit:
    """Refuse request bodies over the limit: at once from Content-Length, or as soon as a streamed body passes it."""

    def __init__(self, app: Callable[[_Scope, _Receive, _Send], Awaitable[None]], max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _message(self, size: str) -> str:
        return f"the request body ({size}) exceeds the limit of {self.max_body_bytes} bytes"

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            response = _error_response(413, "payload_too_large", self._message(f"{int(declared)} bytes"))
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> _Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # An HTTPException passes through FastAPI's body parsing untouched and reaches our handler.
                    raise HTTPException(413, self._message(f"more than {self.max_body_bytes} bytes"))
            return message

        await self.app(scope, limited_receive, send)


# --- Error handlers ------------------------------------------------------------------------------------------------

_HTTP_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def _describe_validation_error(error: dict[str, Any]) -> str:
    """One pydantic/FastAPI validation error as ``"input[0].type: Input should be 'image_url'"``."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        return f"the body is not valid JSON (at character {loc[-1]}: {detail})"
    parts = [str(p) for p in (loc[1:] if loc[:1] == ("body",) else loc)]
    where = ""
    for part in parts:
        where += f"[{part}]" if part.isdigit() else (f".{part}" if where else part)
    return f"{where or 'body'}: {error.get('msg', 'invalid')}"


def _install_error_handlers(app: FastAPI) -> None:
    async def service_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ServiceError)
        headers = {"Retry-After": "1"} if error.status_code == 503 else None
        return _error_response(error.status_code, error.error_type, error.message, headers)

    async def validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [_describe_validation_error(e) for e in error.errors()]
        return _error_response(422, "invalid_request", "; ".join(problems) or "invalid request")

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        error_type = _HTTP_ERROR_TYPES.get(error.status_code, "http_error")
        return _error_response(error.status_code, error_type, str(error.detail), getattr(error, "headers", None))

    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        # The traceback goes to the server log (uvicorn logs the exception); the client gets no internals.
        return _error_response(500, "internal_error", "internal server error")

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)


# --- Routes --------------------------------------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": description}
    for code, description in {
        400: "Bad input: base64, image data or input type.",
        413: "Body, image count or image size over the limits.",
        422: "The body does not match the schema (includes unknown merge levels).",
        500: "The model failed; details only in the server log.",
        503: "Overloaded (retry) or not ready.",
    }.items()
}


def _add_routes(app: FastAPI, service: Service) -> None:
    limits = service.config.limits

    async def infer(request: InferRequest) -> dict[str, Any]:
        if len(request.input) > limits.max_images_per_request:
            raise ServiceError(
                413,
                "too_many_images",
                f"{len(request.input)} images exceed the limit of {limits.max_images_per_request} per request",
            )
        service.admit()
        names = [f"input[{i}]" for i in range(len(request.input))]

        def decode_all() -> list[np.ndarray]:
            return [load_data_url_image(item.url, what=name, limits=limits) for item, name in zip(request.input, names)]

        # Decoding is CPU work: keep it off the event loop, and off the model's thread too.
        images = await asyncio.to_thread(decode_all)
        pages = await service.read(images, names)
        return {"data": [to_nim(page, level) for page, level in zip(pages, request.levels())]}

    infer_doc = (
        "OCR images sent as base64 data URLs; the request and response of NVIDIA's OCR NIM. One `data` entry per "
        "image, in order; points normalised to [0, 1] by the image width and height."
    )
    for path in ("/v1/infer", "/v1/ocr"):
        app.add_api_route(
            path,
            infer,
            methods=["POST"],
            response_model=InferResponse,
            responses=_ERRORS,
            summary="OCR images (NIM API)",
            description=infer_doc,
            tags=["NIM"],
            operation_id=path.strip("/").replace("/", "_"),
        )

    @app.post(
        "/v1/read",
        response_model=ReadResponse,
        responses=_ERRORS,
        summary="OCR uploaded image and PDF files",
        tags=["textspotter"],
    )
    async def read(
        files: Annotated[
            list[UploadFile], File(description="Image (PNG, JPEG, TIFF, ...) or PDF files; PDFs give one page each.")
        ],
    ) -> dict[str, Any]:
        """Answer the full Document JSON (paragraphs → lines → words, quads in page pixels) of each file."""
        service.admit()
        contents = [(upload.filename or f"file[{i}]", await upload.read()) for i, upload in enumerate(files)]

        def decode_all() -> list[tuple[str, list[tuple[int, np.ndarray]]]]:
            decoded = []
            budget = limits.max_images_per_request
            for name, data in contents:
                pages = []
                with contextlib.closing(iter_file_pages(data, what=name, limits=limits)) as file_pages:
                    for index, image in file_pages:
                        if budget == 0:
                            raise ServiceError(
                                413,
                                "too_many_images",
                                f"the files hold more than {limits.max_images_per_request} pages, the limit per "
                                "request",
                            )
                        budget -= 1
                        pages.append((index, image))
                decoded.append((name, pages))
            return decoded

        decoded = await asyncio.to_thread(decode_all)
        images = [image for _, pages in decoded for _, image in pages]
        names = [f"{name} page {index}" for name, pages in decoded for index, _ in pages]
        read_pages = iter(await service.read(images, names))
        documents = []
        for name, pages in decoded:
            doc_pages = tuple(dataclasses.replace(next(read_pages), index=index) for index, _ in pages)
            documents.append(Document(pages=doc_pages, source=name).to_dict())
        return {"documents": documents}

    @app.get("/v1/health/live", response_model=HealthResponse, tags=["health"], summary="The process answers")
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get(
        "/v1/health/ready",
        response_model=HealthResponse,
        responses={503: {"model": ErrorResponse}},
        tags=["health"],
        summary="The model is loaded and requests are served",
    )
    async def ready() -> dict[str, str]:
        if not service.ready:
            raise ServiceError(503, "not_ready", _NOT_READY)
        return {"status": "ready"}

    @app.get("/v1/models", response_model=ModelList, tags=["textspotter"], summary="The served model")
    async def models() -> ModelList:
        return ModelList(data=[ModelCard(id=service.model_id)])

    @app.get("/v1/metadata", response_model=MetadataResponse, tags=["textspotter"], summary="Version and settings")
    async def metadata() -> MetadataResponse:
        return MetadataResponse(
            version=__version__,
            modelInfo=[ModelInfo(shortName=service.model_id, modelUrl=service.config.model or "")],
            device=service.device,
            merge_levels=list(MERGE_LEVELS),
            limits=LimitsJSON(**dataclasses.asdict(limits)),
            batching=BatchingJSON(**dataclasses.asdict(service.config.batching)),
            stats=StatsJSON(
                batches_run=service.batcher.batches_run,
                images_run=service.batcher.items_run,
                images_queued=service.batcher.queued,
            ),
        )


# --- Factory -------------------------------------------------------------------------------------------------------


def create_app(config: ServeConfig | None = None, *, ocr: OCR | None = None) -> FastAPI:
    """Build the service app; the model loads when the app starts (uvicorn runs its lifespan), not here.

    Args:
        config: model, device, batching and limits; defaults to the shipped model on the best device.
        ocr: an already built OCR engine to serve instead of loading ``config.model``.

    Returns:
        A FastAPI app; its :class:`Service` is ``app.state.service``.

    >>> import uvicorn                                                                  # doctest: +SKIP
    >>> uvicorn.run(create_app(ServeConfig(model="weights/v1")), port=8000)             # doctest: +SKIP
    """
    config = config or ServeConfig()
    service = Service(config, ocr=ocr)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="textspotter",
        version=__version__,
        description="OCR service compatible with NVIDIA's OCR NIM (`/v1/infer`), plus `/v1/read` for files.",
        lifespan=lifespan,
    )
    app.state.service = service
    _install_error_handlers(app)
    app.add_middleware(_BodyLimit, max_body_bytes=config.limits.max_body_bytes)
    _add_routes(app, service)
    return app


def app_from_environment() -> FastAPI:
    """Build the app from the JSON :class:`ServeConfig` in ``$TEXTSPOTTER_SERVE_CONFIG`` (uvicorn ``--workers``).

    Worker processes import the app by name and cannot receive Python objects, so the CLI passes the config this
    way; the variable is read only when uvicorn calls this factory.
    """
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"${CONFIG_ENV} is not set; start the service with `textspotter serve`")
    return create_app(ServeConfig.from_json(text))

"""The HTTP service: a FastAPI app that NVIDIA OCR NIM clients (NV-Ingest, for example) can call unchanged.

Endpoints (docs/serve.md has curl examples):

* ``POST /v1/infer`` and ``POST /v1/ocr``: the NIM request (base64 data URLs + merge levels) → NIM detections with
  points normalised to [0, 1] (spec §8.4), one ``data`` entry per image.
* ``POST /v1/read``: multipart upload of image and PDF files → ``Document.to_dict()`` per file.
* ``GET /v1/health/live``, ``/v1/health/ready``, ``/v1/models``, ``/v1/metadata``; ``/metrics`` (Prometheus);
  ``/docs`` (a self-contained page, no CDN) and ``/openapi.json``.

The model is loaded once, when the app starts (its lifespan), on the batcher's worker thread, which then runs every
model call; requests only decode their inputs (on the service's decoding threads) and await their pages. A request
is measured before it is decoded (``textspotter.serve.inputs``) and guarded before its body is read
(``textspotter.serve.guards``). Every error answer has the body ``{"error": {"type": ..., "message": ...}}``; a 500
never carries a traceback (the server log does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from fastapi import FastAPI, File, Form, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request

from .. import __version__
from ..document import Document, Page
from ..export import MERGE_LEVELS, to_alto, to_hocr, to_markdown, to_nim, to_text
from ..models.spec import PreprocessConfig
from ..pipeline.preprocess import check_page_shape
from ..pipeline.textlayer import TextLayerOptions, TextLayerPlan, finish_page
from . import docs_page
from .batching import BatcherClosedError, DynamicBatcher, QueueFullError
from .config import CONFIG_ENV, ServeConfig
from .guards import AccessGuard, BodyGuard, error_response
from .inputs import InputFile, PageReader, PixelBudget, ServiceError, decode_data_url, measure_request
from .metrics import CONNECTIONS, CONTENT_TYPE, MetricsMiddleware, ServiceMetrics
from .schemas import (
    BatchingJSON,
    ConnectionsJSON,
    ErrorResponse,
    ExportResponse,
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

__all__ = ["ServiceError", "Service", "create_app", "app_from_environment", "PDF_DPI", "MIN_DPI", "MAX_DPI"]

_logger = logging.getLogger(__name__)

_NOT_READY = "the model is not loaded yet, or the server is shutting down"

PDF_DPI = 200.0
"""Resolution at which ``/v1/read`` renders PDF pages by default (the decoder's default)."""

MIN_DPI = 36.0
MAX_DPI = 600.0
"""Bounds of ``/v1/read``'s ``dpi``: below 36 dpi body text is a few pixels high; above 600 a page only grows (a
letter page at 600 dpi is 34 M pixels, near the default per-page limit, which applies whatever the dpi)."""

ReadFormat = Literal["document", "text", "markdown", "hocr", "alto"]
"""What ``/v1/read`` answers per file: the Document JSON, or one of ``textspotter.export``'s text views."""

# The text views of /v1/read: the exporter and the media type of its text.
_EXPORTS = {
    "text": (to_text, "text/plain"),
    "markdown": (to_markdown, "text/markdown"),
    "hocr": (to_hocr, "application/xhtml+xml"),
    "alto": (to_alto, "application/xml"),
}


# --- The service ---------------------------------------------------------------------------------------------------


class Service:
    """The model, its batcher, the decoding threads and the pixel budget: the state the app factory owns.

    Args:
        config: model, device, batching and limits.
        ocr: an already built :class:`textspotter.OCR` (or an object with the same ``read``); ``None`` loads
            ``config.model`` on :meth:`start`.
    """

    def __init__(self, config: ServeConfig, *, ocr: OCR | None = None) -> None:
        self.config = config
        self.ocr = ocr
        self.batcher: DynamicBatcher[np.ndarray, Document] = DynamicBatcher(self._run_batch, options=config.batching)
        self.budget = PixelBudget(config.limits.max_pixels_in_flight)
        self.metrics = ServiceMetrics(max_batch_size=config.batching.max_batch_size)
        self.decoder: concurrent.futures.ThreadPoolExecutor | None = None
        self.ready = False

    def _run_batch(self, images: list[np.ndarray]) -> list[Document]:
        assert self.ocr is not None  # start() loads the model before the batcher gets any item
        start = time.perf_counter()
        failed = True
        try:
            documents = self.ocr.read(images)
            failed = any(document.error is not None for document in documents)
            return documents
        finally:
            self.metrics.batch_run(len(images), time.perf_counter() - start, failed=failed)

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
        self.decoder = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.config.decode_threads, thread_name_prefix="textspotter-decode"
        )
        await self.batcher.start()
        if self.ocr is None:
            _logger.info("loading model %s on %s", self.config.model or "(default)", self.config.device)
            try:
                self.ocr = await self.batcher.call(self._load)
            except BaseException:
                await self.stop()
                raise
        self.ready = True
        _logger.info("ready: model %s on %s", self.model_id, self.device)

    async def stop(self) -> None:
        self.ready = False
        await self.batcher.stop()
        if self.decoder is not None:
            decoder, self.decoder = self.decoder, None
            # Decodes still running belong to cancelled requests; their threads end with their page.
            decoder.shutdown(wait=False, cancel_futures=True)

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
        if not self.ready or self.decoder is None:
            raise ServiceError(503, "not_ready", _NOT_READY)
        if self.batcher.queued >= self.config.batching.max_queue_size:
            raise ServiceError(503, "overloaded", f"{self.batcher.queued} images are already waiting; try again later")

    async def in_decoder(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on a decoding thread (CPU work kept off the event loop and off the model's thread)."""
        if self.decoder is None:
            raise ServiceError(503, "not_ready", _NOT_READY)
        return await asyncio.get_running_loop().run_in_executor(self.decoder, fn, *args)

    async def read_files(
        self,
        files: list[InputFile],
        *,
        pdf_password: str | None = None,
        dpi: float = PDF_DPI,
        text_layer: TextLayerOptions | None = None,
    ) -> list[list[Page]]:
        """OCR every page of measured files; return their pages, file by file, each with its page index.

        The request's pixels are reserved first (503 when the server already holds too many); then pages are
        decoded one at a time and each goes to the batcher at once, so decoding overlaps the model and no page
        waits decoded longer than it must. A page's pixels are given back as soon as the model has read it.

        Args:
            files: measured files (:func:`~textspotter.serve.inputs.measure_request`).
            pdf_password: password of the encrypted PDFs among them.
            dpi: resolution PDF pages are rendered at: the one they were measured at.
            text_layer: whether PDF pages are read from their text layer (``pipeline.textlayer``); None OCRs every
                page. A page read from its text layer never goes to the model; a "mixed" page is OCRed and merged.

        Raises:
            ServiceError: 503 when the server is overloaded or shutting down, 400 when a page cannot be decoded
                or is too elongated for the model's detector side, 500 when the model failed.
        """
        self.admit()
        # A page the model cannot read (too elongated for its detector side) is the request's fault: say so with
        # a 400 before any pixel is decoded, rather than a 500 from the pipeline's refusal.
        preprocess = getattr(self.ocr, "preprocess", None)
        if isinstance(preprocess, PreprocessConfig):
            for item in files:
                for index, (width, height) in enumerate(item.page_sizes):
                    if problem := check_page_shape(height, width, preprocess):
                        raise ServiceError(400, "invalid_image", f"{item.name} page {index}: {problem}")
        pixels = sum(item.pixels for item in files)
        if not self.budget.try_reserve(pixels):
            raise ServiceError(
                503,
                "overloaded",
                f"the server already holds {self.budget.in_use:,} of its {self.budget.capacity:,} decoded pixels; "
                f"this request needs {pixels:,}; try again later",
            )
        unused = pixels  # reserved pixels not yet handed to a page task (which gives its own back)
        tasks: list[asyncio.Future[Document]] = []
        # (file number, page index, printable name, text-layer plan) of each task
        where: list[tuple[int, int, str, TextLayerPlan]] = []
        try:
            for number, item in enumerate(files):
                reader = PageReader(
                    item,
                    dpi=dpi,
                    pdf_password=pdf_password,
                    max_pixels=self.config.limits.max_pixels_per_image,
                    text_layer=text_layer,
                )
                try:
                    for width, height in item.page_sizes:
                        if any(task.done() and (task.cancelled() or task.exception()) for task in tasks):
                            break  # a page already failed (full queue, shutdown): decoding more is no use
                        decoded = await self.in_decoder(reader.next_page)
                        if decoded is None:  # fewer pages than measured: the decoder and the measure disagree
                            raise ServiceError(400, "invalid_image", f"{item.name}: pages cannot be read")
                        index, image, plan = decoded
                        if plan.needs_ocr:
                            task = asyncio.ensure_future(self.batcher.submit(image))
                        else:  # read from its text layer: the model has nothing to do
                            task = asyncio.get_running_loop().create_future()
                            task.set_result(Document(pages=(finish_page(plan, options=reader.text_layer),)))
                        del decoded, image  # the batcher holds the page until it is read, and nobody after
                        # A done callback runs even for a task cancelled before it started.
                        task.add_done_callback(lambda _, size=width * height: self.budget.release(size))
                        unused -= width * height
                        tasks.append(task)
                        where.append((number, index, f"{item.name} page {index}", plan))
                finally:
                    await self.in_decoder(reader.close)
            documents = await asyncio.gather(*tasks)
        except QueueFullError as error:
            raise ServiceError(503, "overloaded", str(error)) from None
        except BatcherClosedError:
            raise ServiceError(503, "not_ready", "the server is shutting down") from None
        finally:
            # If one page failed, the others of this request are of no use: free their places in the queue.
            for task in tasks:
                task.cancel()
            self.budget.release(unused)
        pages: list[list[Page]] = [[] for _ in files]
        for (number, index, name, plan), document in zip(where, documents):
            if document.error is not None or len(document.pages) != 1:
                _logger.error("inference failed for %s: %s", name, document.error)
                raise ServiceError(500, "internal_error", f"inference failed for {name}")
            page = document.pages[0]
            if plan.needs_ocr:
                page = finish_page(plan, page, options=text_layer)
            pages[number].append(dataclasses.replace(page, index=index))
        for kind, is_pdf in (("image", False), ("pdf", True)):
            counted = [item for item in files if item.is_pdf == is_pdf]
            if counted:
                self.metrics.pages_read(
                    kind,
                    files=len(counted),
                    pages=sum(len(item.page_sizes) for item in counted),
                    pixels=sum(item.pixels for item in counted),
                )
        return pages

    def render_metrics(self) -> str:
        """Every metric of this process in the Prometheus text format (docs/serve.md lists them)."""
        gauges = [
            ("textspotter_ready", "1 once the model is loaded and requests are served, else 0.", int(self.ready)),
            ("textspotter_queue_depth", "Images waiting for a model batch.", self.batcher.queued),
            (
                "textspotter_pixels_in_flight",
                "Decoded pixels reserved by requests being decoded or read.",
                self.budget.in_use,
            ),
            (
                "textspotter_pixels_in_flight_limit",
                "The process's pixel budget (--max-pixels-in-flight).",
                self.budget.capacity,
            ),
            (
                "textspotter_open_connections",
                "Open HTTP connections of this process (counted by textspotter serve's protocol).",
                CONNECTIONS.open,
            ),
            (
                "textspotter_connections_refused_total",
                "Connections answered 503 because --max-connections were open.",
                CONNECTIONS.refused,
            ),
        ]
        info = {"version": __version__, "model": self.model_id, "device": self.device}
        return self.metrics.render(gauges=gauges, info=info)


# --- Error handlers ------------------------------------------------------------------------------------------------

_HTTP_ERROR_TYPES = {
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
}

_UNPARSABLE_BODY = "There was an error parsing the body"  # FastAPI's detail when parsing fails other than JSON's way


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


def _unparsable_body(cause: BaseException | None) -> JSONResponse:
    """The answer for a body FastAPI could not parse: 422 for JSON that is too deep or not text, else 400."""
    if isinstance(cause, RecursionError):
        # The JSON decoder gives up at the interpreter's recursion limit, so nesting costs neither stack nor time.
        message = f"the body is not valid JSON: nested more than {sys.getrecursionlimit()} levels deep"
        return error_response(422, "invalid_request", message)
    if isinstance(cause, UnicodeDecodeError):
        return error_response(422, "invalid_request", f"the body is not valid JSON: not UTF-8 text ({cause.reason})")
    detail = f" ({type(cause).__name__}: {str(cause)[:200]})" if cause is not None else ""
    return error_response(400, "invalid_request", f"the body could not be parsed{detail}")


def _install_error_handlers(app: FastAPI) -> None:
    async def service_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ServiceError)
        headers = {"Retry-After": "1"} if error.status_code == 503 else None
        return error_response(error.status_code, error.error_type, error.message, headers)

    async def validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [_describe_validation_error(e) for e in error.errors()]
        return error_response(422, "invalid_request", "; ".join(problems) or "invalid request")

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        if error.status_code == 400 and error.detail == _UNPARSABLE_BODY:
            return _unparsable_body(error.__cause__)
        error_type = _HTTP_ERROR_TYPES.get(error.status_code, "http_error")
        return error_response(error.status_code, error_type, str(error.detail), getattr(error, "headers", None))

    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        # The traceback goes to the server log (uvicorn logs the exception); the client gets no internals.
        return error_response(500, "internal_error", "internal server error")

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)


# --- Routes --------------------------------------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": description}
    for code, description in {
        400: "Bad input: base64, image data or input type.",
        401: "An API key is configured and the request did not carry it.",
        403: "The Host header or the browser origin is not allowed.",
        408: "The request body did not arrive in time.",
        413: "Body, image count, image size or pixels per request over the limits.",
        422: "The body does not match the schema (includes unknown merge levels).",
        500: "The model failed; details only in the server log.",
        503: "Overloaded (retry) or not ready.",
    }.items()
}


def _add_routes(app: FastAPI, service: Service) -> None:
    limits = service.config.limits
    # AccessGuard checks the key; these dependencies only declare it in the OpenAPI schema (either header will do),
    # so that the /docs page offers "Authorize" and sends it.
    secured: list[Any] = []
    if service.config.access.api_key is not None:
        secured = [
            Security(HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")),
            Security(APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key")),
        ]

    async def infer(request: InferRequest) -> dict[str, Any]:
        if len(request.input) > limits.max_images_per_request:
            raise ServiceError(
                413,
                "too_many_images",
                f"{len(request.input)} images exceed the limit of {limits.max_images_per_request} per request",
            )
        service.admit()

        def measure_all() -> list[InputFile]:
            # Base64 decoding and header reading are CPU work: on a decoding thread, off the event loop.
            files = [
                (f"input[{i}]", decode_data_url(item.url, what=f"input[{i}]")) for i, item in enumerate(request.input)
            ]
            measured = measure_request(files, limits=limits, allow_pdf=False)
            for item in measured:
                if len(item.page_sizes) != 1:
                    raise ServiceError(
                        400,
                        "unsupported_input",
                        f"{item.name}: holds several pages; send single images (use /v1/read for files)",
                    )
            return measured

        files = await service.in_decoder(measure_all)
        pages = [file_pages[0] for file_pages in await service.read_files(files)]
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
            dependencies=secured,
        )

    @app.post(
        "/v1/read",
        response_model=ReadResponse | ExportResponse,
        responses=_ERRORS,
        summary="OCR uploaded image and PDF files",
        tags=["textspotter"],
        dependencies=secured,
    )
    async def read(
        files: Annotated[
            list[UploadFile], File(description="Image (PNG, JPEG, TIFF, ...) or PDF files; PDFs give one page each.")
        ],
        pdf_password: Annotated[
            str | None, Form(description="Password of the encrypted PDFs among the files (one for all).")
        ] = None,
        dpi: Annotated[
            float,
            Form(
                ge=MIN_DPI,
                le=MAX_DPI,
                allow_inf_nan=False,
                description="Resolution PDF pages are rendered at (images are read as they are). The page limits "
                "apply to the rendered size: a higher dpi makes pages larger.",
            ),
        ] = PDF_DPI,
        text_layer: Annotated[
            Literal["auto", "ocr", "only"],
            Form(
                description="PDF pages: `auto` reads a trusted text layer and OCRs the other pages and their "
                "images; `ocr` OCRs every page; `only` never OCRs (a page without a trusted text layer stays empty). "
                "Each page's `text_source` says which it got (`ocr`, `text-layer`, `mixed`, `none`). Images are "
                "always OCRed.",
            ),
        ] = "auto",
        output_format: Annotated[
            ReadFormat,
            Form(
                alias="format",
                description="`document`: the Document JSON of each file (`documents`). `text`, `markdown`, `hocr`, "
                "`alto`: that view of each file as text (`outputs`), as `textspotter read --format` writes it.",
            ),
        ] = "document",
    ) -> dict[str, Any]:
        """Answer the full Document JSON (paragraphs → lines → words, quads in page pixels) of each file, or a text
        view of it (plain text, Markdown, hOCR, ALTO) with `format`.

        Every file is measured (pages counted, each page's size read from its header or from its PDF page box at
        the requested dpi) before any page is rendered, so a request over the limits is refused without decoding
        anything.
        """
        service.admit()
        contents = [(upload.filename or f"file[{i}]", await upload.read()) for i, upload in enumerate(files)]
        measure = functools.partial(
            measure_request, contents, limits=limits, allow_pdf=True, dpi=dpi, pdf_password=pdf_password
        )
        measured = await service.in_decoder(measure)
        del contents, measure  # the measured files hold the bytes from here on
        pages = await service.read_files(
            measured, pdf_password=pdf_password, dpi=dpi, text_layer=TextLayerOptions(mode=text_layer)
        )
        documents = [Document(pages=tuple(file_pages), source=item.name) for item, file_pages in zip(measured, pages)]
        if output_format == "document":
            return {"documents": [document.to_dict() for document in documents]}
        export, media_type = _EXPORTS[output_format]
        outputs = [
            {"source": document.source, "media_type": media_type, "content": export(document)} for document in documents
        ]
        return {"format": output_format, "outputs": outputs}

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {}}, "description": "Prometheus text format 0.0.4"}},
        tags=["health"],
        summary="Prometheus metrics of this process",
        dependencies=secured if service.config.access.metrics_need_key else [],
    )
    async def metrics() -> Response:
        """Requests by route and status, errors by type, latency histograms, pages read, model batches, queue
        depth, pixels in flight and open connections (docs/serve.md lists every metric)."""
        return Response(service.render_metrics(), media_type=CONTENT_TYPE)

    @app.get(docs_page.DOCS_PATH, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        page = docs_page.docs_html(
            title=app.title,
            openapi_url=app.openapi_url or "/openapi.json",
            root_path=request.scope.get("root_path", ""),
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": docs_page.CONTENT_SECURITY_POLICY})

    @app.get(docs_page.SCRIPT_PATH, include_in_schema=False)
    async def docs_script() -> Response:
        return Response(docs_page.DOCS_SCRIPT, media_type="text/javascript; charset=utf-8")

    @app.get(docs_page.STYLE_PATH, include_in_schema=False)
    async def docs_style() -> Response:
        return Response(docs_page.DOCS_STYLE, media_type="text/css; charset=utf-8")

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

    @app.get(
        "/v1/models", response_model=ModelList, tags=["textspotter"], summary="The served model", dependencies=secured
    )
    async def models() -> ModelList:
        return ModelList(data=[ModelCard(id=service.model_id)])

    @app.get(
        "/v1/metadata",
        response_model=MetadataResponse,
        tags=["textspotter"],
        summary="Version and settings",
        dependencies=secured,
    )
    async def metadata() -> MetadataResponse:
        return MetadataResponse(
            version=__version__,
            modelInfo=[ModelInfo(shortName=service.model_id, modelUrl=service.config.model or "")],
            device=service.device,
            merge_levels=list(MERGE_LEVELS),
            limits=LimitsJSON(**dataclasses.asdict(limits)),
            connections=ConnectionsJSON(**dataclasses.asdict(service.config.connections)),
            batching=BatchingJSON(**dataclasses.asdict(service.config.batching)),
            stats=StatsJSON(
                batches_run=service.batcher.batches_run,
                images_run=service.batcher.items_run,
                images_queued=service.batcher.queued,
                pixels_in_flight=service.budget.in_use,
            ),
        )


# --- Factory -------------------------------------------------------------------------------------------------------


def create_app(config: ServeConfig | None = None, *, ocr: OCR | None = None) -> FastAPI:
    """Build the service app; the model loads when the app starts (uvicorn runs its lifespan), not here.

    The connection limits (``config.connections``: header deadline, connection cap, keep-alive and shutdown
    timeouts) are the server's to apply: pass ``textspotter.serve.server.uvicorn_options(config.connections)`` to
    uvicorn, as ``textspotter serve`` does. The app itself applies the body deadline and size, the access policy and
    the pixel limits.

    Args:
        config: model, device, batching, limits and access policy; defaults to the shipped model on the best device.
        ocr: an already built OCR engine to serve instead of loading ``config.model``.

    Returns:
        A FastAPI app; its :class:`Service` is ``app.state.service``.

    >>> import uvicorn                                                                  # doctest: +SKIP
    >>> from textspotter.serve.server import uvicorn_options                            # doctest: +SKIP
    >>> config = ServeConfig(model="weights/v1")                                       # doctest: +SKIP
    >>> uvicorn.run(create_app(config), port=8000, **uvicorn_options(config.connections))  # doctest: +SKIP
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
        # FastAPI's /docs and /redoc load their scripts from a CDN (blank on an air-gapped host): ours is served here.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    _install_error_handlers(app)
    # Middleware added last runs first: access checks, then CORS answers for allowed origins, then the body guard.
    app.add_middleware(
        BodyGuard, max_body_bytes=config.limits.max_body_bytes, body_timeout_s=config.connections.body_timeout_s
    )
    origins = [origin for origin in config.access.allowed_origins if origin != "null"]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(AccessGuard, policy=config.access)
    _add_routes(app, service)
    # Outermost, so that the requests the guards refuse are counted too.
    routes = [getattr(route, "path", "") for route in app.routes]
    app.add_middleware(MetricsMiddleware, metrics=service.metrics, routes=routes)
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

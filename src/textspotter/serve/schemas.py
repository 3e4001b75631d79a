"""Pydantic schemas of the HTTP service: the NIM request/response shape (spec §8.4) and our own endpoints.

These classes describe the wire format (they are what ``/openapi.json`` and ``/docs`` show); the results themselves
are built by ``textspotter.export`` from :class:`textspotter.document.Document`, and FastAPI validates them against
these schemas on the way out.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MergeLevel",
    "ImageUrlInput",
    "InferRequest",
    "Point",
    "BoundingBox",
    "TextPrediction",
    "TextDetection",
    "InferResult",
    "InferResponse",
    "WordJSON",
    "LineJSON",
    "ParagraphJSON",
    "PageJSON",
    "DocumentJSON",
    "ReadResponse",
    "ExportJSON",
    "ExportResponse",
    "HealthResponse",
    "ModelCard",
    "ModelList",
    "ModelInfo",
    "LimitsJSON",
    "ConnectionsJSON",
    "BatchingJSON",
    "StatsJSON",
    "MetadataResponse",
    "ErrorBody",
    "ErrorResponse",
]

# The same levels as textspotter.export.MERGE_LEVELS (a test checks); spelled out so that the schema lists them.
MergeLevel = Literal["word", "sentence", "paragraph"]
# Other names accepted in requests (textspotter.export.MERGE_LEVEL_ALIASES), read as the level they name.
_LEVEL_ALIASES = {"line": "sentence"}

_EXAMPLE_URL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA..."


# --- NIM request ---------------------------------------------------------------------------------------------------


class ImageUrlInput(BaseModel):
    """One image, sent inline as a base64 data URL (the only input type of the NIM)."""

    type: Literal["image_url"] = Field(description="Always `image_url`.")
    url: str = Field(
        description="A `data:image/<png|jpeg|...>;base64,<data>` URL. Remote (http/https) URLs are refused: the "
        "service never fetches anything.",
        examples=[_EXAMPLE_URL],
    )


class InferRequest(BaseModel):
    """``POST /v1/infer`` (also ``/v1/ocr``): the request body of NVIDIA's OCR NIM."""

    # Unknown top-level fields (a `model` name, for example) are ignored, as NIM clients may send them.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"input": [{"type": "image_url", "url": _EXAMPLE_URL}]}]},
    )

    input: list[ImageUrlInput] = Field(min_length=1, description="The images, in the order of the `data` answer.")
    merge_levels: list[MergeLevel] | None = Field(
        default=None,
        description="Granularity of the detections per image: `word`, `sentence` (a line; `line` is the same) or "
        "`paragraph`. One per image, or one for all; default `paragraph`.",
    )

    @field_validator("merge_levels", mode="before")
    @classmethod
    def _merge_level_aliases(cls, value: object) -> object:
        if isinstance(value, list):
            return [_LEVEL_ALIASES.get(level, level) if isinstance(level, str) else level for level in value]
        return value

    @model_validator(mode="after")
    def _merge_levels_match_input(self) -> InferRequest:
        if self.merge_levels is not None and len(self.merge_levels) not in (1, len(self.input)):
            raise ValueError(
                f"merge_levels has {len(self.merge_levels)} entries for {len(self.input)} images: "
                "give one per image or one for all"
            )
        return self

    def levels(self) -> list[str]:
        """Return the merge level of each input image (broadcast, or the default ``paragraph``)."""
        if self.merge_levels is None:
            return ["paragraph"] * len(self.input)
        if len(self.merge_levels) == 1:
            return list(self.merge_levels) * len(self.input)
        return list(self.merge_levels)


# --- NIM response --------------------------------------------------------------------------------------------------


class Point(BaseModel):
    """A vertex, normalised to [0, 1] by the original image width (x) and height (y)."""

    x: float
    y: float


class BoundingBox(BaseModel):
    """Four vertices clockwise from the top-left one."""

    points: list[Point] = Field(min_length=4, max_length=4)
    type: Literal["quadrilateral"] = "quadrilateral"


class TextPrediction(BaseModel):
    text: str
    confidence: float = Field(description="In [0, 1].")


class TextDetection(BaseModel):
    bounding_box: BoundingBox
    text_prediction: TextPrediction


class InferResult(BaseModel):
    """The detections of one image at its merge level, in reading order."""

    text_detections: list[TextDetection]


class InferResponse(BaseModel):
    """One ``data`` entry per input image, in input order."""

    data: list[InferResult]


# --- Document JSON (POST /v1/read), mirroring textspotter.document.*.to_dict() -------------------------------------

_PointPixels = Annotated[list[float], Field(min_length=2, max_length=2)]
QuadJSON = Annotated[
    list[_PointPixels],
    Field(min_length=4, max_length=4, description="[[x, y] × 4] in page pixels, clockwise from top-left."),
]


class WordJSON(BaseModel):
    text: str
    quad: QuadJSON
    confidence: float
    detection_confidence: float
    text_confidence: float
    order: int
    valid: bool


class LineJSON(BaseModel):
    text: str
    quad: QuadJSON
    confidence: float
    order: int
    words: list[WordJSON]


class ParagraphJSON(BaseModel):
    text: str
    quad: QuadJSON
    confidence: float
    order: int
    lines: list[LineJSON]


class PageJSON(BaseModel):
    index: int = Field(description="Page number within its file (0-based).")
    width: int
    height: int
    rotation: int = Field(
        0,
        description="Degrees clockwise (0, 90, 180, 270) the page was turned before it was read; quads are in the "
        "uploaded image's pixels whatever the rotation.",
    )
    text_source: Literal["ocr", "text-layer", "mixed", "none"] = Field(
        "ocr",
        description="Where the page's text came from: `ocr` (read from the image), `text-layer` (the PDF page's own "
        "text), `mixed` (the text layer, with OCR of its images or of text-layer words that could not be trusted), "
        "`none` (`text_layer=only` on a page without a trusted text layer: nothing read).",
    )
    text_layer_reason: str | None = Field(
        None,
        description="Why the text layer was not used, or not wholly: `no_text`, `unreliable`, `uncovered_ink`, "
        "`images`, `untrusted_words` (several joined by `+`); null otherwise.",
    )
    paragraphs: list[ParagraphJSON]


class DocumentJSON(BaseModel):
    """``Document.to_dict()`` of one uploaded file."""

    source: str = Field(description="The uploaded file name.")
    pages: list[PageJSON]


class ReadResponse(BaseModel):
    """``POST /v1/read``: one document per uploaded file, in upload order."""

    documents: list[DocumentJSON]


class ExportJSON(BaseModel):
    """One uploaded file in a text format."""

    source: str = Field(description="The uploaded file name.")
    media_type: str = Field(
        description="The format's media type: text/plain, text/markdown, application/xhtml+xml (hOCR) or "
        "application/xml (ALTO).",
        examples=["text/plain"],
    )
    content: str = Field(description="The file's pages in that format (as `textspotter read --format` writes).")


class ExportResponse(BaseModel):
    """``POST /v1/read`` with ``format`` other than ``document``: one output per uploaded file, in upload order."""

    format: Literal["text", "markdown", "hocr", "alto"]
    outputs: list[ExportJSON]


# --- Service information -------------------------------------------------------------------------------------------


class HealthResponse(BaseModel):
    status: Literal["live", "ready"]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    owned_by: str = "textspotter"


class ModelList(BaseModel):
    """The served model, in the OpenAI/NIM list format."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ModelInfo(BaseModel):
    """One served model, with the camelCase field names of the NIM metadata endpoint."""

    shortName: str
    modelUrl: str


class LimitsJSON(BaseModel):
    max_body_bytes: int
    max_images_per_request: int
    max_pixels_per_image: int
    max_pixels_per_request: int
    max_pixels_in_flight: int


class ConnectionsJSON(BaseModel):
    max_connections: int
    header_timeout_s: float
    body_timeout_s: float
    keep_alive_timeout_s: float
    shutdown_timeout_s: float


class BatchingJSON(BaseModel):
    max_batch_size: int
    batch_timeout_ms: float
    max_queue_size: int


class StatsJSON(BaseModel):
    """Counters since start-up (``images_run / batches_run`` is the mean batch size)."""

    batches_run: int
    images_run: int
    images_queued: int
    pixels_in_flight: int = Field(description="Decoded pixels reserved by requests being decoded or read.")


class MetadataResponse(BaseModel):
    """NIM-style metadata plus the limits, connection limits, batching settings and counters of this server."""

    version: str
    modelInfo: list[ModelInfo]
    device: str
    merge_levels: list[str]
    limits: LimitsJSON
    connections: ConnectionsJSON
    batching: BatchingJSON
    stats: StatsJSON


# --- Errors --------------------------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    type: str = Field(
        description="Stable machine-readable kind: invalid_request, invalid_image, unsupported_input, "
        "too_many_images, image_too_large, request_too_large, payload_too_large, request_timeout, unauthorized, "
        "forbidden_host, forbidden_origin, not_found, method_not_allowed, overloaded, not_ready, internal_error.",
        examples=["invalid_image"],
    )
    message: str = Field(description="What was wrong, naming the offending input.")


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer has this body."""

    error: ErrorBody

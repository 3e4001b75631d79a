"""``OCR``: any page image → a structured, ordered ``Document`` (spec §1.2).

>>> from textspotter import OCR
>>> ocr = OCR()                                         # the shipped default model     # doctest: +SKIP
>>> ocr("page.png")                                     # the published dict list       # doctest: +SKIP
[{'text': 'Hello world', 'confidence': 0.97, 'left': 0.1, 'upper': 0.2, 'right': 0.6, 'lower': 0.1}, ...]
>>> doc = ocr.read(["page.png", "paper.pdf"])[1]       # one Document per input        # doctest: +SKIP
>>> print(doc.text())                                   # pages → paragraphs → lines    # doctest: +SKIP

The work per batch of pages: render each page into its detector views (``preprocess``), detect regions in all
views in batches (``stages.detect``), keep one detection per word when a page has several views
(``multiscale``), read every region from its view's features (``stages.recognize``), relate the regions of each
page (``stages.relate``), and build the pages (``assemble``). Pages are streamed: only ``batch_size`` detector
inputs' worth of pages is decoded and held at a time.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import torch

from ..document import Document, Page
from ..export.published import (
    MERGE_LEVELS,
    MergeLevel,
    ModelCardResult,
    PublishedItem,
    canonical_merge_level,
    to_model_card,
    to_published,
)
from ..geometry import quad_height
from ..imageio import ImageError, ImageInput, ImageOptions, PageImage, describe_source, iter_pages
from ..models.spec import ModelSpec, PreprocessConfig
from .assemble import AssemblyOptions, PageReadings, assemble_page
from .multiscale import select_view_detections
from .orientation import OrientationOptions, apply_rotations, decide_rotations
from .preprocess import DetectorView, ScaleOptions, check_page_shape, render_views, stack_inputs, tile_views
from .stages import (
    DetectionOptions,
    Detections,
    Groups,
    RecognitionOptions,
    Recognitions,
    RelationOptions,
    detect,
    detector_forward,
    ink_map,
    reading_detector,
    recognize,
    relate,
    uncrop_features,
    uses_int8,
)
from .textlayer import TextLayerOptions, TextLayerPlan, finish_page, plan_page

if TYPE_CHECKING:
    from ..models.registry import OCRModel

__all__ = [
    "OCR",
    "DetectedRegions",
    "RecognizedRegions",
    "default_model_dir",
    "shipped_model_dir",
    "SHIPPED_MODELS",
    "MERGE_LEVELS",
    "MergeLevel",
]

# Exceptions that mean "this input cannot be read" (imageio raises ImageError(ValueError), TypeError and
# FileNotFoundError; other OSErrors cover unreadable paths such as directories or missing permissions).
_INPUT_ERRORS = (ValueError, TypeError, OSError)

_STAGES = ("load", "preprocess", "detect", "recognize", "relate", "assemble")

# Pages held before a batch is read: text-layer pages need no model, so a long born-digital PDF would otherwise
# wait for OCR pages that never come before its pages are passed on (on_page, progress).
_MAX_PENDING_PAGES = 64


def default_model_dir() -> Path:
    """Return the folder of the shipped default model (``textspotter/weights/default``)."""
    return Path(__file__).resolve().parent.parent / "weights" / "default"


# Names accepted for shipped model folders (``OCR(model="multi")``, ``--model multi``) and what each one is.
SHIPPED_MODELS = MappingProxyType(
    {
        "default": "the English model (the default)",
        "multi": "the multilingual model: en, zh-Hans, zh-Hant, ja, ko, ru (issue #22)",
    }
)


def shipped_model_dir(name: str) -> Path:
    """Return the folder of the shipped model ``name`` (a key of :data:`SHIPPED_MODELS`).

    Raises:
        ValueError: ``name`` is not a shipped model name.
        FileNotFoundError: the name is known but its weights are not installed (``multi``: not shipped yet).
    """
    if name not in SHIPPED_MODELS:
        raise ValueError(f"unknown shipped model {name!r}; shipped models: {', '.join(SHIPPED_MODELS)}")
    folder = Path(__file__).resolve().parent.parent / "weights" / name
    if not (folder / "model.json").is_file():
        if name == "multi":
            raise FileNotFoundError(
                f"the multilingual weights are not shipped yet (expected a model folder at {folder}); train one with "
                "configs/small-multi.yaml (docs/models.md) and pass its folder as the model"
            )
        raise FileNotFoundError(f"no {name!r} weights are installed (expected a model folder at {folder})")
    return folder


@dataclass(frozen=True)
class DetectedRegions:
    """Text regions found on one page (``OCR.detect``).

    Attributes:
        quads: ``[N, 4, 2]`` float32 quads in original-page pixels, clockwise from top-left.
        confidence: ``[N]`` float32 detection confidence in [0, 1].
        width, height: page size in pixels.
    """

    quads: np.ndarray
    confidence: np.ndarray
    width: int
    height: int


@dataclass(frozen=True)
class RecognizedRegions:
    """What the recognizer read in given regions of one page (``OCR.recognize``).

    Attributes:
        texts: the text of each region.
        confidence: ``[N]`` float32 text confidence in [0, 1].
    """

    texts: list[str]
    confidence: np.ndarray


@dataclass
class _Regions:
    """The regions of a batch of pages, page-major, with everything the later stages need."""

    features: torch.Tensor  # (V, C, Hf, Wf) float32, one map per detector view
    input_size: tuple[int, int]
    view_index: torch.Tensor  # (N,) int64 view of each region
    crop_quads: torch.Tensor  # (N, 4, 2) in its view's detector pixels
    geometry_quads: torch.Tensor  # (N, 4, 2) in its page's single-view detector pixels
    original_quads: torch.Tensor  # (N, 4, 2) in original-page pixels
    detection_confidence: torch.Tensor  # (N,)
    page_counts: list[int] = field(default_factory=list)
    ink: torch.Tensor | None = None  # (V, 1, H, W) uint8, for a recognizer that reads pixels (pixel_scale > 0)


def _subset_pages(regions: _Regions, positions: Sequence[int]) -> _Regions:
    """Return the regions of some pages of a single-view batch (one view per page), in the given order."""
    if regions.features.shape[0] != len(regions.page_counts):
        raise ValueError("_subset_pages needs one detector view per page (ScaleOptions.mode 'single')")
    starts = np.concatenate([[0], np.cumsum(regions.page_counts)]).tolist()
    index = torch.cat([torch.arange(starts[p], starts[p + 1]) for p in positions]).to(regions.view_index.device)
    counts = [regions.page_counts[p] for p in positions]
    view_index = torch.repeat_interleave(torch.arange(len(positions)), torch.tensor(counts, dtype=torch.int64))
    return _Regions(
        features=regions.features[list(positions)],
        input_size=regions.input_size,
        view_index=view_index.to(regions.view_index.device),
        crop_quads=regions.crop_quads[index],
        geometry_quads=regions.geometry_quads[index],
        original_quads=regions.original_quads[index],
        detection_confidence=regions.detection_confidence[index],
        page_counts=counts,
        ink=None if regions.ink is None else regions.ink[list(positions)],
    )


def _summed(shares: Sequence[dict[str, float]], picks: Iterable[int], positions: Sequence[int]) -> dict[str, float]:
    """Sum the per-page timing shares of ``positions[i]`` for each ``i`` in ``picks``."""
    total: dict[str, float] = {}
    for i in picks:
        for key, value in shares[positions[i]].items():
            total[key] = total.get(key, 0.0) + value
    return total


def _resolve_device(device: str | torch.device, model: torch.nn.Module, explicit_model: bool) -> torch.device:
    if isinstance(device, str) and device == "auto":
        if explicit_model:
            return next(model.parameters()).device
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or a torch device, got {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available; use device='cpu' or 'auto'")
    return resolved


def _load_model(model: Any) -> tuple[OCRModel, bool]:
    """Return ``(model, given_as_instance)`` for ``OCR(model=...)``."""
    from ..models.registry import OCRModel

    if isinstance(model, OCRModel):
        return model, True
    if model is None:
        folder = default_model_dir()
        if not (folder / "model.json").is_file():
            raise FileNotFoundError(
                f"no default weights are installed (expected a model folder at {folder}); pass a model folder "
                "with OCR(model='path/to/model') (ours, or a published Nemotron OCR v1/v2 folder), or a model "
                "instance such as OCR(model=textspotter.models.create_model('tiny-test')) for random weights"
            )
        model = folder
    if isinstance(model, str) and model in SHIPPED_MODELS and not os.path.exists(model):
        # A shipped name; a folder of the same name in the working directory wins, as it always has.
        model = shipped_model_dir(model)
    if isinstance(model, (str, os.PathLike)):
        from ..models.checkpoints import load_model

        return load_model(model), False
    raise TypeError(f"model must be None, a model folder path or an OCRModel, got {type(model).__name__}")


def _check_merge_level(merge_level: object) -> None:
    canonical_merge_level(merge_level)  # "line" is accepted as "sentence"


def _is_batch(images: Any) -> bool:
    """A list or tuple is a batch of inputs; anything else (path, bytes, array, tensor, PIL...) is one input."""
    return isinstance(images, (list, tuple))


class OCR:
    """Read text from images and PDFs: detect words, read them, link them into lines and paragraphs.

    Args:
        model: a model folder (ours, or a published Nemotron OCR v1/v2 folder; see ``models.checkpoints``), the
            name of a shipped model (``"default"``, ``"multi"``: :data:`SHIPPED_MODELS`), an ``OCRModel``
            instance, or None for the shipped default model.
        device: ``"auto"`` (the instance's device for a model instance, else CUDA when available, else CPU),
            ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or a ``torch.device``. The model is moved there and put in eval
            mode; inference follows the model's dtype (cast it, e.g. ``model.half()``, before passing it).
        batch_size: detector inputs per forward pass (pages in single-scale mode; tiles count one each). Also
            the number of pages whose regions are recognized and related together.
        image_options: how inputs are decoded (PDF dpi and password, pixel limit).
        scale: the single view only (published), or also zoomed tiles for small text (``ScaleOptions``).
        detection: NMS threshold and pre-filter overrides (default: the model spec's values).
        recognition: recognizer chunk size.
        relation: relational model chunk size.
        assembly: validity pruning.
        orientation: find pages turned by 90, 180 or 270 degrees and read them upright (``OrientationOptions``;
            ``Page.rotation`` reports the turn, quads stay in the original image's pixels).
        text_layer: read born-digital PDF pages from their text layer when it can be trusted, OCR the rest
            (``TextLayerOptions``, default mode ``"auto"``; ``"ocr"`` OCRs every page, ``"only"`` never OCRs).
            ``Page.text_source`` says where each page's text came from. Images are always OCRed.

    Raises:
        FileNotFoundError: no default weights are installed, or the model folder does not exist.
        TypeError: ``model`` is of an unsupported type.
        ValueError: bad device, a model without charset, or bad options.

    >>> from textspotter.models import create_model
    >>> ocr = OCR(model=create_model("tiny-test"), device="cpu")
    >>> ocr(np.full((64, 96, 3), 255, dtype=np.uint8))   # a blank page: nothing to read
    []
    """

    def __init__(
        self,
        model: Any = None,
        *,
        device: str | torch.device = "auto",
        batch_size: int = 8,
        image_options: ImageOptions | None = None,
        scale: ScaleOptions | None = None,
        detection: DetectionOptions | None = None,
        recognition: RecognitionOptions | None = None,
        relation: RelationOptions | None = None,
        assembly: AssemblyOptions | None = None,
        orientation: OrientationOptions | None = None,
        text_layer: TextLayerOptions | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        for name, value, kind in (
            ("image_options", image_options, ImageOptions),
            ("scale", scale, ScaleOptions),
            ("detection", detection, DetectionOptions),
            ("recognition", recognition, RecognitionOptions),
            ("relation", relation, RelationOptions),
            ("assembly", assembly, AssemblyOptions),
            ("orientation", orientation, OrientationOptions),
            ("text_layer", text_layer, TextLayerOptions),
        ):
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"{name} must be a {kind.__name__} or None, got {type(value).__name__}")
        loaded, explicit = _load_model(model)
        if loaded.spec.charset is None:
            raise ValueError(f"model {loaded.spec.name!r} has no charset: its texts cannot be decoded")
        self.device = _resolve_device(device, loaded, explicit)
        self.model = loaded.to(self.device).eval()
        self.batch_size = batch_size
        self.image_options = image_options or ImageOptions()
        self.scale = scale or ScaleOptions()
        self.detection = detection or DetectionOptions()
        self.recognition = recognition or RecognitionOptions()
        # int8="on" where it cannot run: fail here, not at the first page.
        uses_int8(self.model, self.device, self.recognition.int8)
        uses_int8(self.model, self.device, self.detection.int8, "detector")
        self.relation = relation or RelationOptions()
        self.assembly = assembly or AssemblyOptions()
        self.orientation = orientation or OrientationOptions()
        self.text_layer = text_layer or TextLayerOptions()

    @property
    def spec(self) -> ModelSpec:
        """The model's ``ModelSpec`` (architecture, charset, preprocessing, decoding constants)."""
        return self.model.spec

    @property
    def preprocess(self) -> PreprocessConfig:
        """The preprocessing in use: the model's, with ``scale.infer_length`` applied when set."""
        return self.scale.preprocess(self.model.spec.preprocess)

    def __repr__(self) -> str:
        return (
            f"OCR(model={self.spec.name!r}, device={str(self.device)!r}, batch_size={self.batch_size}, "
            f"scale={self.scale.mode!r}, infer_length={self.preprocess.infer_length})"
        )

    # ------------------------------------------------------------------------------------------------------------
    # Whole pipeline

    # A list or tuple is a batch: one item list per page. One input gives one list if it has one page, else one
    # per page (a PDF or TIFF), which only run time can tell. (Batch items are Any: list is invariant, so
    # list[ImageInput] would refuse a list[np.ndarray].)
    @overload
    def __call__(
        self, images: list[Any] | tuple[Any, ...], merge_level: MergeLevel = "paragraph"
    ) -> list[list[PublishedItem]]: ...
    @overload
    def __call__(
        self, images: ImageInput, merge_level: MergeLevel = "paragraph"
    ) -> list[PublishedItem] | list[list[PublishedItem]]: ...
    def __call__(
        self, images: Any, merge_level: MergeLevel = "paragraph"
    ) -> list[PublishedItem] | list[list[PublishedItem]]:
        """Return the published Nemotron OCR output (spec §8.3).

        Args:
            images: one input (path, bytes, base64, file object, PIL image, array, tensor, PDF...) or a list of
                inputs.
            merge_level: ``"word"``, ``"sentence"`` (lines) or ``"paragraph"``.

        Returns:
            For one single-page input, a list of ``{"text", "confidence", "left", "upper", "right", "lower"}``
            dicts normalised to [0, 1], where, as published, ``"upper"`` is the **largest** y and ``"lower"`` the
            smallest. For a list of inputs, or a multi-page input (PDF, TIFF), one such list per page, in order.

        Raises:
            ValueError: an unknown merge level (checked before any work), or an input that cannot be read
                (``imageio.ImageError``). Unlike :meth:`read`, any unreadable input raises.
            FileNotFoundError, TypeError: a missing path, an unsupported input type.
        """
        _check_merge_level(merge_level)
        pages = [page for doc in self._documents(images, strict=True) for page in doc.pages]
        if not _is_batch(images) and len(pages) == 1:
            return to_published(pages[0], merge_level)
        return [to_published(page, merge_level) for page in pages]

    @overload
    def model_card(
        self, images: list[Any] | tuple[Any, ...], merge_level: MergeLevel = "paragraph"
    ) -> list[ModelCardResult]: ...
    @overload
    def model_card(
        self, images: ImageInput, merge_level: MergeLevel = "paragraph"
    ) -> ModelCardResult | list[ModelCardResult]: ...
    def model_card(self, images: Any, merge_level: MergeLevel = "paragraph") -> ModelCardResult | list[ModelCardResult]:
        """Return the model card's form ``{"ocr_boxes", "ocr_txts", "ocr_confs"}`` (boxes in original pixels).

        Same inputs, errors and one-versus-several-pages rule as :meth:`__call__`.
        """
        _check_merge_level(merge_level)
        pages = [page for doc in self._documents(images, strict=True) for page in doc.pages]
        if not _is_batch(images) and len(pages) == 1:
            return to_model_card(pages[0], merge_level)
        return [to_model_card(page, merge_level) for page in pages]

    def read(
        self, images: ImageInput | list[Any] | tuple[Any, ...], *, progress: Callable[[int], None] | None = None
    ) -> list[Document]:
        """Read inputs into Documents (Page → Paragraph → Line → Word, in reading order).

        Args:
            images: one input or a list of inputs (see :meth:`__call__`).
            progress: called with the number of pages just finished, after each batch (e.g. ``tqdm.update``).

        Returns:
            One ``Document`` per input, in input order. An input that cannot be read gives a Document with
            ``error`` set (and no pages); the others are read normally.
        """
        return list(self.read_iter(images, progress=progress))

    def read_iter(
        self,
        images: ImageInput | list[Any] | tuple[Any, ...],
        *,
        progress: Callable[[int], None] | None = None,
        on_page: Callable[[int, Page], None] | None = None,
        keep_pages: bool = True,
    ) -> Iterator[Document]:
        """Like :meth:`read`, but yield each Document as soon as its pages are done (for long batches).

        Args:
            images: one input or a list of inputs (see :meth:`__call__`).
            progress: as for :meth:`read`.
            on_page: called with ``(input position, Page)`` for each page as soon as its batch is read, before its
                Document is complete, so that a caller can save a long PDF page by page. The pages of an input that
                fails later (a page that cannot be decoded) are passed here before its error Document is yielded.
            keep_pages: False hands each page to ``on_page`` only and yields Documents without pages (``source``
                and ``error`` still set), so that memory stays flat over a long PDF however many pages it has
                (each Page holds its words, about 66 kB for 80 words). Needs ``on_page``.

        Raises:
            ValueError: ``keep_pages`` is False and there is no ``on_page`` (the pages would be lost).
        """
        if not keep_pages and on_page is None:
            raise ValueError("read_iter(keep_pages=False) needs on_page: the pages would be read and thrown away")
        return self._documents(images, strict=False, progress=progress, on_page=on_page, keep_pages=keep_pages)

    def _documents(
        self,
        images: Any,
        *,
        strict: bool,
        progress: Callable[[int], None] | None = None,
        on_page: Callable[[int, Page], None] | None = None,
        keep_pages: bool = True,
    ) -> Iterator[Document]:
        inputs = list(images) if _is_batch(images) else [images]
        # The decoder reads a PDF page's text layer beside its render unless every page is OCRed anyway.
        decode_options = dataclasses.replace(self.image_options, text_layer=self.text_layer.mode != "ocr")
        names: list[str] = []
        errors: dict[int, str] = {}
        done_pages: dict[int, list[Page]] = {}  # kept only with keep_pages
        done_counts: dict[int, int] = {}
        loaded_counts: dict[int, int] = {}  # pages per input, once the input is fully decoded
        # (input position, page image or None once read, load seconds, text-layer plan, Page when already read)
        pending: list[tuple[int, PageImage | None, float, TextLayerPlan, Page | None]] = []
        next_doc = 0

        def finished() -> Iterator[Document]:
            nonlocal next_doc
            while next_doc < len(inputs) and next_doc in loaded_counts:
                if next_doc not in errors and done_counts.get(next_doc, 0) < loaded_counts[next_doc]:
                    return
                if next_doc in errors:
                    yield Document(source=names[next_doc], error=errors[next_doc])
                else:
                    yield Document(pages=tuple(done_pages.get(next_doc, [])), source=names[next_doc])
                done_pages.pop(next_doc, None)
                done_counts.pop(next_doc, None)
                next_doc += 1

        def flush() -> None:
            batch = [entry for entry in pending if entry[0] not in errors]
            pending.clear()
            if not batch:
                return
            # Pages already read from their text layer carry their Page; the others (no image kept for the first)
            # are OCRed together, then merged with their text layer where the plan says "mixed".
            to_read = [(page, load) for _, page, load, _, _ in batch if page is not None]
            read = iter(self._read_pages([p for p, _ in to_read], [t for _, t in to_read]) if to_read else [])
            for d, image, _, plan, ready in batch:
                page = finish_page(plan, next(read), options=self.text_layer) if image is not None else ready
                if page is None:
                    raise RuntimeError("a pending page has neither an image nor a result")  # a bug, not user error
                done_counts[d] = done_counts.get(d, 0) + 1
                if keep_pages:
                    done_pages.setdefault(d, []).append(page)
                if on_page is not None:
                    on_page(d, page)
            # No malloc_trim here: what the allocator keeps from this batch serves the next one. A trim after each
            # batch gave back ~50 MB but made the next batch fault every page in again: 8 % of a DocBank page's CPU
            # time (benchmarks/RESULTS.md, "Session 41"); memory over a long PDF stays flat without it.
            if progress is not None:
                progress(len(batch))

        pending_views = 0
        for d, source in enumerate(inputs):
            names.append(describe_source(source, position=d if len(inputs) > 1 else None))
            pages_seen = 0
            start = time.perf_counter()
            iterator = iter_pages(source, options=decode_options, name=names[d])
            while True:
                try:
                    page = next(iterator)
                    plan = plan_page(page, self.text_layer)
                    if plan.needs_ocr:
                        self._check_page(page)
                except StopIteration:
                    break
                except _INPUT_ERRORS as exc:
                    if strict:
                        raise
                    errors[d] = str(exc)
                    break
                load = time.perf_counter() - start - plan.seconds
                if plan.needs_ocr:
                    pending.append((d, page, load, plan, None))
                    pending_views += self._view_count(page)
                else:
                    ready = finish_page(plan, options=self.text_layer, timings={"load": load})
                    pending.append((d, None, load, plan, ready))
                pages_seen += 1
                if pending_views >= self.batch_size or len(pending) >= _MAX_PENDING_PAGES:
                    flush()
                    pending_views = 0
                    yield from finished()
                start = time.perf_counter()
            loaded_counts[d] = pages_seen
            yield from finished()
        flush()
        yield from finished()

    def _check_page(self, page: PageImage) -> None:
        """Raise ``ImageError`` naming the input when the page is too elongated to read (``check_page_shape``)."""
        problem = check_page_shape(page.height, page.width, self.preprocess)
        if problem is not None:
            raise ImageError(page.source, problem if page.index == 0 else f"page {page.index}: {problem}")

    def _view_count(self, page: PageImage, preprocess: PreprocessConfig | None = None) -> int:
        if self.scale.mode == "single":
            return 1
        return 1 + len(tile_views(page.height, page.width, preprocess or self.preprocess, self.scale))

    def _detector_batch_size(self) -> int:
        """Detector inputs per forward pass: ``batch_size`` on a GPU, one on a CPU.

        On a CPU a batch saves no time per input (the convolutions of one ``L × L`` input already keep the cores
        busy: 2 × 1536² inputs took the same CPU time in one pass as in two) but holds every input's activations at
        once, about 300 MB per 1536² input; a batch of 8 pages peaked at 2.2 GB. A GPU gains from batches.
        """
        return self.batch_size if self.device.type == "cuda" else 1

    # ------------------------------------------------------------------------------------------------------------
    # Stages on pages

    def _sync(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _detect_views(
        self, pages: Sequence[PageImage], preprocess: PreprocessConfig, timings: dict[str, float]
    ) -> tuple[Detections, list[list[DetectorView]], torch.Tensor | None]:
        """Render and detect the pages' views a detector batch at a time; return the detections, each page's views
        and, for a recognizer that reads pixels, the views' ink levels (``stages.ink_map``; None otherwise).

        Only one detector batch of inputs is rendered at a time, and the feature maps are written into one
        preallocated ``[V, C, L/4, Wpad/4]`` tensor: memory holds the features of the whole batch of pages (the later
        stages crop them) plus a single forward pass, never all the inputs or two copies of the features.
        """
        chunk = self._detector_batch_size()
        total = sum(self._view_count(page, preprocess) for page in pages)
        views: list[list[DetectorView]] = []
        pending: list[torch.Tensor] = []
        pending_content: list[tuple[int, int, int, int]] = []
        parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (quads, confidence, region counts)
        features: torch.Tensor | None = None
        input_size: list[tuple[int, int]] = []
        filled = 0
        # A recognizer that reads pixels keeps each view's ink levels (a quarter of the view's RGB bytes).
        reads_pixels = self.model.spec.recognizer.pixel_scale > 0
        inks: list[torch.Tensor] = []

        def run() -> None:
            nonlocal features, filled
            start = self._sync()
            count = len(pending)
            batch = stack_inputs(pending)
            if reads_pixels:
                inks.append(ink_map(batch))
            found = detect(
                self.model,
                batch,
                batch_size=chunk,
                options=self.detection,
                content=pending_content,
                features_out=None if features is None else features[filled : filled + count],
            )
            pending.clear()
            pending_content.clear()
            if features is None:
                # The first pass gives the map's shape; later passes write straight into the batch's map.
                if count == total:
                    features = found.features
                else:
                    features = found.features.new_empty((total, *found.features.shape[1:]))
                    features[:count] = found.features
            filled += count
            parts.append((found.quads, found.confidence, found.region_counts))
            input_size.append(found.input_size)
            timings["detect"] += self._sync() - start

        for page in pages:
            start = self._sync()
            page_inputs, page_views = render_views(page.image, preprocess, self.scale, device=self.device, uint8=True)
            timings["preprocess"] += self._sync() - start
            views.append(page_views)
            for image, view in zip(page_inputs, page_views):
                pending.append(image)
                pending_content.append(view.content_box())
                if len(pending) == chunk:
                    run()
            del page_inputs
        if pending:
            run()
        if features is None or filled != total:
            raise RuntimeError(f"detected {filled} views of {total}")  # a bug in _view_count, not a user error
        found = Detections(
            quads=torch.cat([quads for quads, _, _ in parts]),
            confidence=torch.cat([confidence for _, confidence, _ in parts]),
            region_counts=torch.cat([counts for _, _, counts in parts]),
            features=features,
            input_size=input_size[0],
        )
        return found, views, (torch.cat(inks) if inks else None)

    def _detect_regions(
        self, pages: Sequence[PageImage], timings: dict[str, float], preprocess: PreprocessConfig | None = None
    ) -> _Regions:
        found, views, ink = self._detect_views(pages, preprocess or self.preprocess, timings)
        start = self._sync()
        per_view = torch.split(found.quads, found.region_counts.tolist())
        pieces: dict[str, list[torch.Tensor]] = {k: [] for k in ("view", "crop", "geometry", "original", "conf")}
        page_counts: list[int] = []
        first_view, first_region = 0, 0
        for page_views in views:
            quads = per_view[first_view : first_view + len(page_views)]
            count = sum(q.shape[0] for q in quads)
            crop = found.quads[first_region : first_region + count]
            conf = found.confidence[first_region : first_region + count]
            view_index = torch.cat([torch.full((q.shape[0],), first_view + v) for v, q in enumerate(quads)])
            view_index = view_index.to(crop.device)
            original = torch.cat([view.to_original(q) for view, q in zip(page_views, quads)])
            tiled = torch.cat([torch.full((q.shape[0],), view.tiled) for view, q in zip(page_views, quads)])
            if len(page_views) > 1:
                margin = self.scale.edge_margin
                cut = torch.cat([view.touches_cut_edge(q, margin).cpu() for view, q in zip(page_views, quads)])
                keep = select_view_detections(
                    original, conf, view_index, tiled=tiled, cut=cut, duplicate_overlap=self.scale.duplicate_overlap
                )
                crop, conf, view_index, original = crop[keep], conf[keep], view_index[keep], original[keep]
                tiled = tiled[keep.cpu()]
            # The relational model was trained on single-view geometry: give it that, whatever view read the word.
            single = page_views[0]
            geometry = torch.where(tiled.to(crop.device)[:, None, None], single.to_detector(original), crop)
            for key, value in zip(pieces, (view_index, crop, geometry, original, conf)):
                pieces[key].append(value)
            page_counts.append(int(crop.shape[0]))
            first_view += len(page_views)
            first_region += count
        timings["detect"] += self._sync() - start
        return _Regions(
            features=found.features,
            input_size=found.input_size,
            view_index=torch.cat(pieces["view"]),
            crop_quads=torch.cat(pieces["crop"]),
            geometry_quads=torch.cat(pieces["geometry"]),
            original_quads=torch.cat(pieces["original"]),
            detection_confidence=torch.cat(pieces["conf"]),
            page_counts=page_counts,
            ink=ink,
        )

    def _recognize_regions(self, regions: _Regions) -> Recognitions:
        return recognize(
            self.model,
            regions.features,
            regions.crop_quads,
            regions.view_index,
            input_size=regions.input_size,
            options=self.recognition,
            ink=regions.ink,
        )

    def _relate_regions(self, regions: _Regions, read: Recognitions) -> list[Groups]:
        return relate(
            self.model,
            regions.features,
            regions.crop_quads,
            regions.view_index,
            torch.tensor(regions.page_counts, dtype=torch.int64),
            read.features,
            input_size=regions.input_size,
            geometry_quads=regions.geometry_quads,
            options=self.relation,
        )

    def _preprocess_at(self, length: int) -> PreprocessConfig:
        """The preprocessing in use with detector side ``length`` (``self.preprocess`` itself at its own side)."""
        preprocess = self.preprocess
        return preprocess if length == preprocess.infer_length else dataclasses.replace(preprocess, infer_length=length)

    def _fitted_detection(
        self, pages: Sequence[PageImage], timings: dict[str, float]
    ) -> list[tuple[list[int], _Regions, dict[str, float]]]:
        """Detect on a batch of pages, reading again at a fitted size the pages whose text is too large.

        Pages smaller than ``L`` are read first at their own size (``ScaleOptions.small_first``) and again at the
        side their words call for, unless it is that one. ``timings`` receives the first reads' seconds.

        Returns:
            ``(page positions, regions, timings)`` per group of pages read at one size; the timings of a group are
            its pages' share of their first read plus its own second read.
        """
        length = self.preprocess.infer_length
        firsts = [self.scale.first_length(page.height, page.width, length) for page in pages]
        groups: list[tuple[list[int], _Regions, dict[str, float]]] = []
        shares: list[dict[str, float]] = [{} for _ in pages]
        again: dict[int, list[int]] = {}
        for first in sorted(set(firsts), reverse=True):
            positions = [p for p, f in enumerate(firsts) if f == first]
            first_timings = dict.fromkeys(timings, 0.0)
            regions = self._detect_regions([pages[p] for p in positions], first_timings, self._preprocess_at(first))
            for key, value in first_timings.items():
                timings[key] = timings.get(key, 0.0) + value
            heights = torch.split(quad_height(regions.geometry_quads), regions.page_counts)
            targets = [self.scale.refit_length(h, first, length) for h in heights]
            for p in positions:
                shares[p] = {k: v / len(positions) for k, v in first_timings.items()}
            kept = [i for i, target in enumerate(targets) if target is None]
            if len(kept) == len(positions):
                groups.append((positions, regions, first_timings))
            elif kept:
                groups.append(
                    ([positions[i] for i in kept], _subset_pages(regions, kept), _summed(shares, kept, positions))
                )
            for i, target in enumerate(targets):
                if target is not None:
                    again.setdefault(target, []).append(positions[i])
            del regions
        for target in sorted(again):
            positions = again[target]
            group_timings = _summed(shares, range(len(positions)), positions)
            preprocess = self._preprocess_at(target)
            groups.append(
                (
                    positions,
                    self._detect_regions([pages[p] for p in positions], group_timings, preprocess),
                    group_timings,
                )
            )
        return groups

    def _read_pages(
        self, pages: Sequence[PageImage], load_times: Sequence[float], *, orient: bool = True
    ) -> list[Page]:
        """Run every stage on a batch of pages and return their ``Page`` results, in order.

        With ``orient`` and ``orientation.mode`` "auto", pages found turned are read again upright (``orientation``).
        """
        timings = dict.fromkeys(_STAGES, 0.0)
        results: list[Page | None] = [None] * len(pages)
        with torch.inference_mode():
            groups = self._fitted_detection(pages, timings)
        decisions = decide_rotations(self, pages, groups) if orient else None
        for positions, regions, group_timings in groups:
            read = self._finish(
                [pages[p] for p in positions], [load_times[p] for p in positions], regions, group_timings
            )
            for p, page in zip(positions, read):
                results[p] = page
        if decisions is not None:
            return apply_rotations(self, pages, load_times, decisions, results)  # type: ignore[arg-type]
        return results  # type: ignore[return-value]  # every position belongs to exactly one group

    def _finish(
        self,
        pages: Sequence[PageImage],
        load_times: Sequence[float],
        regions: _Regions,
        timings: dict[str, float],
    ) -> list[Page]:
        """Recognize, relate and assemble the detected regions of a batch of pages."""
        with torch.inference_mode():
            start = self._sync()
            read = self._recognize_regions(regions)
            timings["recognize"] += self._sync() - start
            start = self._sync()
            groups = self._relate_regions(regions, read)
            timings["relate"] += self._sync() - start
        start = time.perf_counter()
        quads = regions.original_quads.cpu().numpy()
        detection = regions.detection_confidence.cpu().numpy()
        text_conf = read.confidence.cpu().numpy()
        results: list[Page] = []
        offset = 0
        # Batch stages are shared by the pages: each page is charged an equal part of them.
        shared = {k: v / len(pages) for k, v in timings.items()}
        assembly = self.assembly
        if assembly.valid_confidence is None:  # the model's validity threshold (0.5, the published rule, by default)
            assembly = dataclasses.replace(assembly, valid_confidence=self.spec.postprocess.valid_confidence)
        for p, page in enumerate(pages):
            n = regions.page_counts[p]
            results.append(
                assemble_page(
                    PageReadings(
                        texts=read.texts[offset : offset + n],
                        quads=quads[offset : offset + n],
                        detection_confidence=detection[offset : offset + n],
                        text_confidence=text_conf[offset : offset + n],
                        groups=groups[p],
                        width=page.width,
                        height=page.height,
                        index=page.index,
                        timings={**shared, "load": load_times[p]},
                    ),
                    options=assembly,
                )
            )
            offset += n
        assemble_share = (time.perf_counter() - start) / len(pages)
        for result in results:
            result.timings["assemble"] = assemble_share
        return results

    # ------------------------------------------------------------------------------------------------------------
    # Single stages on one page

    def _one_page(self, image: Any, page: int) -> PageImage:
        if isinstance(page, bool) or not isinstance(page, int) or page < 0:
            raise ValueError(f"page must be a non-negative int, got {page!r}")
        for decoded in iter_pages(image, options=self.image_options):
            if decoded.index == page:
                self._check_page(decoded)
                return decoded
        raise ValueError(f"{describe_source(image)}: has no page {page}")

    def detect(self, image: ImageInput, *, page: int = 0) -> DetectedRegions:
        """Run only the detector (and the multi-view merge of ``scale``) on one page.

        Args:
            image: any input accepted by :meth:`read`.
            page: page number for multi-page inputs.

        Returns:
            The regions' quads in original-page pixels and their detection confidences, in NMS order.
        """
        decoded = self._one_page(image, page)
        timings = dict.fromkeys(_STAGES, 0.0)
        with torch.inference_mode():
            [(_, regions, _)] = self._fitted_detection([decoded], timings)
        return DetectedRegions(
            quads=regions.original_quads.cpu().numpy().astype(np.float32),
            confidence=regions.detection_confidence.cpu().numpy().astype(np.float32),
            width=decoded.width,
            height=decoded.height,
        )

    def _given_regions(self, image: Any, quads: Any, page: int) -> _Regions:
        """Detector features of one page and the given quads placed in the view that shows each best."""
        array = np.asarray(quads, dtype=np.float32)
        if array.size and (array.ndim != 3 or array.shape[1:] != (4, 2)):
            raise ValueError(f"quads must have shape [N, 4, 2] in original-page pixels, got {array.shape}")
        original = torch.from_numpy(array.reshape(-1, 4, 2))
        decoded = self._one_page(image, page)
        preprocess = self.preprocess
        # Read the page at the size the pipeline would have chosen for words of these heights (fit_text).
        single_scale = max(decoded.height, decoded.width) / preprocess.infer_length
        fitted = self.scale.fitted_length(quad_height(original) / single_scale, preprocess.infer_length)
        if fitted is not None:
            preprocess = dataclasses.replace(preprocess, infer_length=fitted)
        inputs, views = render_views(decoded.image, preprocess, self.scale, device=self.device, uint8=True)
        single = views[0]
        stacked = stack_inputs(inputs)
        ink = ink_map(stacked) if self.model.spec.recognizer.pixel_scale > 0 else None
        with torch.inference_mode():
            features = _features(
                self.model,
                stacked,
                self._detector_batch_size(),
                self.detection,
                [view.content_box() for view in views],
            )
        original = original.to(self.device)
        view_index = torch.zeros(original.shape[0], dtype=torch.int64, device=self.device)
        crop = single.to_detector(original)
        # The single view reads every quad, unless it lies wholly inside a tile (away from its edges): more pixels.
        margin = self.scale.edge_margin
        for v, view in enumerate(views):
            if not view.tiled:
                continue
            local = view.to_detector(original)
            inside = (local.amin(dim=1) >= margin).all(-1) & (local[..., 0].amax(dim=1) <= view.width - margin)
            inside &= local[..., 1].amax(dim=1) <= view.height - margin
            take = inside & (view_index == 0)
            view_index[take] = v
            crop[take] = local[take]
        return _Regions(
            features=features,
            input_size=(views[0].height, views[0].width),
            view_index=view_index,
            crop_quads=crop,
            geometry_quads=single.to_detector(original),
            original_quads=original,
            detection_confidence=torch.ones(original.shape[0], device=self.device),
            page_counts=[int(original.shape[0])],
            ink=ink,
        )

    def recognize(self, image: ImageInput, quads: Any, *, page: int = 0) -> RecognizedRegions:
        """Read the text inside given quads of one page (runs the detector only for its feature map).

        Args:
            image: any input accepted by :meth:`read`.
            quads: ``[N, 4, 2]`` quads in original-page pixels, clockwise from the top-left vertex.
            page: page number for multi-page inputs.

        Returns:
            The text and text confidence of each quad, in the given order.
        """
        regions = self._given_regions(image, quads, page)
        with torch.inference_mode():
            read = self._recognize_regions(regions)
        return RecognizedRegions(texts=read.texts, confidence=read.confidence.cpu().numpy().astype(np.float32))

    def relate(self, image: ImageInput, quads: Any, *, page: int = 0) -> Groups:
        """Group given word quads of one page into lines and paragraphs with the relational model.

        Args:
            image: any input accepted by :meth:`read`.
            quads: ``[N, 4, 2]`` word quads in original-page pixels, clockwise from the top-left vertex.
            page: page number for multi-page inputs.

        Returns:
            Paragraphs → lines → indices into ``quads``, words and lines in the relational graph's reading order
            (paragraph order is undefined; ``assemble.reading_order`` orders paragraph boxes).
        """
        regions = self._given_regions(image, quads, page)
        with torch.inference_mode():
            return self._relate_regions(regions, self._recognize_regions(regions))[0]


def _features(
    model: OCRModel,
    images: torch.Tensor,
    batch_size: int,
    options: DetectionOptions,
    content: Sequence[tuple[int, int, int, int]],
) -> torch.Tensor:
    """Run the detector in batches and return its float32 feature maps ``[B, C, H/4, W/4]`` (as ``detect`` does)."""
    height, width = int(images.shape[-2]), int(images.shape[-1])
    maps = []
    for i in range(0, images.shape[0], batch_size):
        detector = reading_detector(model, images.device, options.int8)
        out, window = detector_forward(detector, images[i : i + batch_size], content[i : i + batch_size], options)
        maps.append(uncrop_features(out.features, window, height, width))
    return torch.cat(maps)

"""The work of a batch run's Ray Data stages: fetch and render inputs into page rows, OCR page rows in actors.

Both are plain Python (no Ray import): ``read_pages`` is the function of a ``flat_map`` stage and ``OCRWorker`` the
callable class of a ``map_batches`` actor stage (``scale.batch`` builds the pipeline).

Rows between the two stages hold ``source``, ``page`` (-1: the whole input failed), ``page_count`` (-1: unknown),
``image`` (``[H, W, 3]`` uint8 RGB; ``[0, 0, 3]`` on error rows and on pages already read), ``error`` (``""``: none;
numpy batches turn a missing string into NaN, so the sentinels are plain values), ``read_seconds``, and the
text-layer routing (``pipeline.textlayer``, docs/usage.md §7):

* a page read from its text layer (``text-layer``, or ``none`` in mode ``only``) is finished by the reader: its row
  carries ``document`` (the one-page Document JSON), ``text``, ``text_source`` and ``text_layer_reason`` and no
  image, and the actor passes it on without calling the model;
* a page to OCR carries its image and, when its text layer was looked at, ``plan`` (the pickled ``TextLayerPlan``:
  its source and reason, and for a ``mixed`` page the text-layer words to merge with the OCR result); ``document``
  is ``""``.

The pickled plan travels only from the reader tasks to the actors of the same run (never stored).
"""

from __future__ import annotations

import io
import pickle
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..document import Document, Page
from ..imageio import ImageOptions, iter_pages
from .results import TIMING_FIELDS, output_schema

if TYPE_CHECKING:
    from ..pipeline.textlayer import TextLayerOptions, TextLayerPlan

__all__ = ["read_pages", "OCRWorker", "count_pages"]

_NO_IMAGE = np.zeros((0, 0, 3), dtype=np.uint8)
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# What imageio raises for an input or page it cannot decode (ImageError is a ValueError).
_DECODE_ERRORS = (ValueError, TypeError, OSError)
_PIPELINE_STAGES = ("preprocess", "detect", "recognize", "relate", "assemble")


def count_pages(data: bytes, options: ImageOptions) -> int | None:
    """Return the number of pages ``imageio.iter_pages`` will yield for ``data``, or None if it cannot tell.

    Counting first lets every row carry ``page_count``, which is how a rerun knows an input is complete without
    opening it again. PDFs are counted by opening (not rendering) them; TIFFs by their frames; other images have one
    page. A corrupt file is counted as None or 1 here and reported by the decoder.
    """
    if b"%PDF-" in data[:1024]:
        import pypdfium2 as pdfium

        try:
            document = pdfium.PdfDocument(data, password=options.pdf_password)
        except pdfium.PdfiumError:
            return None
        try:
            return len(document)
        finally:
            document.close()
    if data.startswith(_TIFF_MAGICS):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as image:
                return int(getattr(image, "n_frames", 1))
        except (OSError, ValueError, SyntaxError):
            return None
    return 1


def _fetch(source: str) -> bytes:
    import fsspec

    with fsspec.open(source, "rb") as handle:
        return handle.read()


def _row(
    source: str,
    page: int,
    count: int | None,
    image: np.ndarray,
    error: str,
    seconds: float,
    *,
    plan: bytes = b"",
    result: Page | None = None,
) -> dict[str, Any]:
    return {
        "source": source,
        "page": page,
        "page_count": -1 if count is None else count,
        "image": image,
        "error": error,
        "read_seconds": seconds,
        "plan": plan,
        "document": "" if result is None else _document_json(result, source),
        "text": "" if result is None else result.text(),
        "text_source": "" if result is None else result.text_source,
        "text_layer_reason": "" if result is None or result.text_layer_reason is None else result.text_layer_reason,
    }


def read_pages(
    row: dict[str, Any], *, image_options: ImageOptions, text_layer: TextLayerOptions | None = None
) -> Iterator[dict[str, Any]]:
    """Fetch one input and yield one row per page still to do (the ``flat_map`` of a batch run).

    Args:
        row: ``{"source": name or URL, "skip_pages": pages already done}``.
        image_options: PDF resolution and password, pixel limit.
        text_layer: when a PDF page is read from its text layer (``TextLayerOptions``; None: mode ``"auto"``).
            Such pages are finished here and yielded without their image; mode ``"ocr"`` does not read text layers.

    Yields:
        Page rows (see the module docstring). An input that cannot be fetched or opened yields one error row with
        page -1 when its pages are unknown; a page that cannot be decoded (or whose text layer cannot be judged)
        yields an error row for it and for each later page (decoding stops there). Pages in ``skip_pages`` are
        decoded (the decoder reads pages in order) but not yielded.
    """
    from ..pipeline.textlayer import TextLayerOptions, finish_page, plan_page

    text_layer = text_layer or TextLayerOptions()
    # The decoder reads a PDF page's text layer beside its render unless every page is OCRed anyway (as OCR.read).
    image_options = replace(image_options, text_layer=text_layer.mode != "ocr")
    source = str(row["source"])
    skip = {int(p) for p in row["skip_pages"]}
    start = time.perf_counter()
    try:
        data = _fetch(source)
    except FileNotFoundError:
        yield _row(source, -1, None, _NO_IMAGE, f"{source}: no such file", time.perf_counter() - start)
        return
    except Exception as exc:  # noqa: BLE001 - any storage failure (permissions, network) fails this input only
        error = f"{source}: cannot be fetched ({type(exc).__name__}: {exc})"
        yield _row(source, -1, None, _NO_IMAGE, error, time.perf_counter() - start)
        return
    count = count_pages(data, image_options)
    pages = iter_pages(data, options=image_options, name=source)
    next_page = 0
    while True:
        try:
            page = next(pages)
            plan = None if page.index in skip else plan_page(page, text_layer)
        except StopIteration:
            return
        except _DECODE_ERRORS as exc:
            seconds = time.perf_counter() - start
            if count is None and next_page == 0:
                yield _row(source, -1, None, _NO_IMAGE, str(exc), seconds)
                return
            last = max(next_page + 1, count or 0)
            for index in range(next_page, last):
                if index in skip:
                    continue
                error = str(exc) if index == next_page else f"{exc} (page {index} comes after it and was not read)"
                yield _row(source, index, count, _NO_IMAGE, error, seconds if index == next_page else 0.0)
            return
        if plan is not None and plan.needs_ocr:
            # An image, or mode "ocr", has nothing to merge: its plan need not travel.
            carried = pickle.dumps(plan) if plan.reason is not None else b""
            yield _row(source, page.index, count, page.image, "", time.perf_counter() - start, plan=carried)
        elif plan is not None:
            # Read from the text layer here: the page goes past the model, without its image.
            result = finish_page(plan, options=text_layer)
            yield _row(source, page.index, count, _NO_IMAGE, "", time.perf_counter() - start, result=result)
        next_page = page.index + 1
        start = time.perf_counter()


class OCRWorker:
    """OCR page rows in batches with one model per instance (the ``map_batches`` actor of a batch run).

    Args:
        model: model folder, or None for the shipped default model.
        device: ``"cpu"`` or ``"cuda"`` (Ray makes the actor's GPU the only visible one).
        batch_size: detector batch of the ``OCR`` pipeline.
        image_options: pixel limit applied to the page arrays (as ``textspotter read`` applies it to files).
        scale: single view or tiled reading.
        detection: detector settings (``DetectionOptions``), or None for the model's.
        recognition: recognizer settings (``RecognitionOptions``), or None for the defaults.
        relation: relational model settings (``RelationOptions``), or None for the defaults.
        threads: PyTorch threads on CPU; the actor owns its process, so its thread pool is sized to its CPU share.
        text_layer: the text-layer options of the run (``max_overlap`` when a mixed page is merged), or None.

    Rows that the reader already finished from their text layer are passed on as they are: only the rows with an
    image are OCRed, so the model's batches hold pages to OCR only.
    """

    def __init__(
        self,
        *,
        model: str | None,
        device: str,
        batch_size: int,
        image_options: ImageOptions,
        scale: Any,
        threads: int,
        detection: Any = None,
        recognition: Any = None,
        relation: Any = None,
        text_layer: TextLayerOptions | None = None,
    ) -> None:
        import torch

        from ..pipeline.ocr import OCR

        if device == "cpu":
            torch.set_num_threads(threads)
        self._ocr = OCR(
            model=model,
            device=device,
            batch_size=batch_size,
            image_options=image_options,
            scale=scale,
            detection=detection,
            recognition=recognition,
            relation=relation,
        )
        self._text_layer = text_layer

    def _read(self, images: list[np.ndarray]) -> list[Document | str]:
        """OCR the images; return a Document per image, or the message of the exception it raised."""
        try:
            return list(self._ocr.read(images))
        except Exception:  # noqa: BLE001 - find the page that breaks the batch so the others are still read
            results: list[Document | str] = []
            for image in images:
                try:
                    results.extend(self._ocr.read([image]))
                except Exception as exc:  # noqa: BLE001 - recorded in the page's row; the run goes on
                    results.append(f"OCR failed ({type(exc).__name__}: {exc})")
            return results

    def __call__(self, batch: dict[str, np.ndarray]) -> Any:
        """Turn a batch of page rows into result rows (a ``pyarrow.Table`` with ``results.output_schema()``)."""
        import pyarrow as pa

        sources = [str(s) for s in batch["source"]]
        pages = [int(p) for p in batch["page"]]
        counts = [int(c) for c in batch["page_count"]]
        errors = [_string(e) for e in batch["error"]]
        read_seconds = [float(s) for s in batch["read_seconds"]]
        ready = [_string(d) for d in batch["document"]] if "document" in batch else [""] * len(sources)
        todo = [i for i, error in enumerate(errors) if not error and not ready[i]]
        start = time.perf_counter()
        documents = dict(zip(todo, self._read([batch["image"][i] for i in todo]))) if todo else {}
        ocr_share = (time.perf_counter() - start) / max(1, len(todo))
        rows = []
        for i, source in enumerate(sources):
            timings: dict[str, float | None] = dict.fromkeys(TIMING_FIELDS)
            timings["read"] = read_seconds[i]
            row: dict[str, Any] = {
                "source": source,
                "page": pages[i] if pages[i] >= 0 else None,
                "page_count": counts[i] if counts[i] >= 0 else None,
                "text": None,
                "document": None,
                "text_source": None,
                "text_layer_reason": None,
                "error": errors[i] or None,
                "timings": timings,
            }
            result = documents.get(i)
            if ready[i] and not errors[i]:
                # Read from its text layer by the reader: no model stage ran.
                row["text"] = _string(batch["text"][i])
                row["document"] = ready[i]
                row["text_source"] = _string(batch["text_source"][i])
                row["text_layer_reason"] = _string(batch["text_layer_reason"][i]) or None
            elif isinstance(result, str) or (isinstance(result, Document) and result.error is not None):
                problem = result if isinstance(result, str) else result.error
                row["error"] = f"{source}: page {pages[i]}: {problem}"
            elif isinstance(result, Document):
                page = self._finish(result.pages[0], batch["plan"][i] if "plan" in batch else b"", pages[i])
                row["text"] = page.text()
                row["document"] = _document_json(page, source)
                row["text_source"] = page.text_source
                row["text_layer_reason"] = page.text_layer_reason
                timings.update({stage: page.timings.get(stage) for stage in _PIPELINE_STAGES})
                timings["ocr"] = ocr_share
            rows.append(row)
        return pa.Table.from_pylist(rows, schema=output_schema())

    def _finish(self, ocr_page: Page, plan: Any, index: int) -> Page:
        """The page's result: the OCR reading merged with its text-layer plan, numbered as in its input."""
        from ..pipeline.textlayer import finish_page

        # The page came in as an array, so the pipeline numbered it 0: give it its place in the input.
        ocr_page = replace(ocr_page, index=index)
        if not isinstance(plan, (bytes, bytearray)) or not plan:
            return replace(ocr_page, text_source="ocr", text_layer_reason=None)
        decided: TextLayerPlan = pickle.loads(plan)  # noqa: S301 - written by this run's reader tasks
        return replace(finish_page(decided, ocr_page, options=self._text_layer), index=index)


def _string(value: Any) -> str:
    """A string column's value in a numpy batch ("" for the sentinel, and for NaN, which a missing string becomes)."""
    return str(value) if isinstance(value, str) else ""


def _document_json(page: Any, source: str) -> str:
    from ..export import to_json

    return to_json(Document(pages=(page,), source=source), indent=None)

"""Uses of the public API whose static types mypy checks (listed in ``[tool.mypy] files``; never run).

Each ``assert_type`` states the type a user's checker must infer, so a signature that loses precision (a return
type widened to ``Any``, a merge level widened to ``str``) fails the mypy step of ``.ci/run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image
from typing_extensions import assert_type

from textspotter import OCR, Document
from textspotter.export import MergeLevel, ModelCardResult, PublishedItem, to_model_card, to_published
from textspotter.imageio import PageImage, load_pages


def published_output(ocr: OCR, image: np.ndarray, level: MergeLevel) -> None:
    """A list or tuple of inputs gives one item list per page; one input gives one list, or one per page."""
    assert_type(ocr([image]), list[list[PublishedItem]])
    assert_type(ocr((image, "page.png"), merge_level="word"), list[list[PublishedItem]])
    assert_type(ocr(image, level), list[PublishedItem] | list[list[PublishedItem]])
    assert_type(ocr.model_card([image]), list[ModelCardResult])
    assert_type(ocr.model_card("page.png"), ModelCardResult | list[ModelCardResult])
    ocr(image, merge_level="lines")  # type: ignore[call-overload]  # not a merge level


def document_views(ocr: OCR, image: np.ndarray) -> None:
    """Documents and their views keep their element types."""
    documents = ocr.read([image])
    assert_type(documents, list[Document])
    page = documents[0].pages[0]
    item = to_published(page, "sentence")[0]
    assert_type(item["text"], str)
    assert_type(item["upper"], float)
    assert_type(to_model_card(page)["ocr_txts"], list[str])


def input_kinds(ocr: OCR, path: Path, data: bytes, file: BinaryIO, picture: Image.Image, tensor: torch.Tensor) -> None:
    """Every kind of input the decoder takes is accepted as one input, and a list of them as a batch."""
    for one in (str(path), path, data, bytearray(data), memoryview(data), file, picture, tensor):
        assert_type(load_pages(one), list[PageImage])
        ocr.detect(one)
    assert_type(ocr.read([path, data, picture]), list[Document])
    ocr.detect(3.5)  # type: ignore[arg-type]  # not an image

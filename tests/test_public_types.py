"""The public type declarations match what the code does at run time (mypy checks tests/typing/public_api.py)."""

from typing import get_args, get_type_hints

import numpy as np
import pytest

from textspotter.document import Line, Page, Paragraph, Word
from textspotter.export import (
    MERGE_LEVEL_ALIASES,
    MERGE_LEVELS,
    MergeLevel,
    ModelCardResult,
    PublishedItem,
    draw_overlay,
    to_model_card,
    to_published,
)
from textspotter.imageio import ImageInput, load_pages

QUAD = ((10.0, 20.0), (60.0, 20.0), (60.0, 40.0), (10.0, 40.0))


def _page() -> Page:
    word = Word("Hello", QUAD, 0.9, 0.9, 0.9)
    return Page(100, 200, (Paragraph((Line((word,), QUAD, 0.9),), QUAD, 0.9),))


def test_merge_level_literal_lists_exactly_the_accepted_levels():
    assert MERGE_LEVELS == ("word", "sentence", "paragraph") and MERGE_LEVEL_ALIASES == {"line": "sentence"}
    assert get_args(MergeLevel) == (*MERGE_LEVELS, *MERGE_LEVEL_ALIASES)
    for level in get_args(MergeLevel):
        assert to_published(_page(), level)
    with pytest.raises(ValueError, match="merge_level must be one of word, sentence, paragraph, line; got 'lines'"):
        to_published(_page(), "lines")  # type: ignore[arg-type]


def test_published_items_have_exactly_the_typed_keys_and_value_types():
    hints = get_type_hints(PublishedItem)
    for level in MERGE_LEVELS:
        [item] = to_published(_page(), level)
        assert set(item) == set(hints)
        for key, value in item.items():
            assert isinstance(value, hints[key]), (level, key, value)


def test_model_card_result_has_exactly_the_typed_keys():
    card = to_model_card(_page(), "word")
    assert set(card) == set(get_type_hints(ModelCardResult))
    assert card == {
        "ocr_boxes": [[[10.0, 20.0], [60.0, 20.0], [60.0, 40.0], [10.0, 40.0]]],
        "ocr_txts": ["Hello"],
        "ocr_confs": [0.9],
    }


def test_overlay_refuses_a_level_outside_the_literal():
    with pytest.raises(ValueError, match="got 'lines'"):
        draw_overlay(np.zeros((200, 100, 3), dtype=np.uint8), _page(), level="lines")  # type: ignore[arg-type]


def test_every_kind_that_image_input_names_decodes(tmp_path):
    import io

    import torch
    from PIL import Image

    picture = Image.new("RGB", (8, 6), "white")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    path = tmp_path / "page.png"
    path.write_bytes(buffer.getvalue())
    # One sample per member of ImageInput, in its order (typing.IO stands for any binary file object).
    samples = [
        str(path),
        path,
        buffer.getvalue(),
        bytearray(buffer.getvalue()),
        memoryview(buffer.getvalue()),
        io.BytesIO(buffer.getvalue()),
        picture,
        np.zeros((6, 8), dtype=np.uint8),
        torch.zeros(3, 6, 8),
    ]
    members = [str(getattr(kind, "__forward_arg__", getattr(kind, "__name__", kind))) for kind in get_args(ImageInput)]
    assert members == ["str", "PathLike", "bytes", "bytearray", "memoryview", "IO", "Image", "ndarray", "torch.Tensor"]
    for sample in samples:
        assert load_pages(sample)[0].image.shape == (6, 8, 3)

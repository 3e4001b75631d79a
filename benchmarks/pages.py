"""Synthetic word pages shared by the load benchmarks (serve_load.py, batch_scale.py); not a benchmark itself."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORDS = ("invoice", "total", "amount", "paid", "date", "order", "number", "customer", "address", "page", "table")


@dataclass(frozen=True)
class PageLayout:
    """Sizes as fractions of the page height: font ``1/font``, top and bottom margins ``1/margin``, line pitch
    ``1/pitch``; each line has ``words[0]`` to ``words[1] - 1`` words."""

    font: int
    margin: int
    pitch: int
    words: tuple[int, int]


def word_page(index: int, width: int, height: int, layout: PageLayout) -> Image.Image:
    """A white RGB page of lines of words, different for each index."""
    rng = np.random.default_rng(index)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(12, height // layout.font))
    y = height // layout.margin
    while y < height - height // layout.margin:
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(*layout.words))))
        draw.text((width // 16, y), text, fill=(0, 0, 0), font=font)
        y += height // layout.pitch
    return image

"""A picture of what was read: the page with every box drawn and its text written beside it."""

from __future__ import annotations

import os
import statistics

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..document import Page, Quad
from ..imageio import load_pages
from .published import MergeLevel, canonical_merge_level, merge_items

__all__ = ["draw_overlay"]

# Colour-blind-friendly qualitative palette (Okabe–Ito), cycled over the items.
_PALETTE = (
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (230, 159, 0),
    (86, 180, 233),
    (180, 50, 50),
)
_FILL_ALPHA = 60  # boxes stay see-through so that the page text under them remains legible
_LABEL_BACKGROUND = (255, 255, 255, 215)
_FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf")


def _side_height(quad: Quad) -> float:
    """Mean length of the left and right edges of a quad (the text height of a word), in its pixels."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    return (float(np.hypot(x3 - x0, y3 - y0)) + float(np.hypot(x2 - x1, y2 - y1))) / 2


def _load_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _FONT_CANDIDATES:
        if os.path.isabs(candidate) and not os.path.exists(candidate):
            continue
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1 has only the fixed-size bitmap font
        return ImageFont.load_default()


def _fit_label(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: float) -> str:
    """Shorten ``text`` with an ellipsis until it is at most ``max_width`` pixels wide."""
    if font.getlength(text) <= max_width:
        return text
    low, high = 0, len(text)
    while low < high:  # longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if font.getlength(text[:middle] + "…") <= max_width:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…" if low else ""


def draw_overlay(image: np.ndarray | Image.Image, page: Page, *, level: MergeLevel = "word") -> Image.Image:
    """Draw the page's boxes and texts over its image.

    Each item of :func:`~textspotter.export.merge_items` at ``level`` is drawn as a semi-transparent filled quad
    with an opaque outline, and its text is written in a label just above the box (below it at the top edge of
    the image), shortened with an ellipsis when wider than the box. Label size follows the median word
    height. Text is written with DejaVu Sans when installed, else with PIL's default font.

    Args:
        image: the page image, ``[H, W]`` / ``[H, W, C]`` uint8 or float [0, 1] array, or a PIL image. It may be a
            uniformly rescaled copy of the page image (same aspect ratio); the boxes are scaled to it.
        page: the page read from that image (quads in original-image pixels).
        level: ``"word"``, ``"sentence"`` (lines; ``"line"`` is the same) or ``"paragraph"``.

    Returns:
        A new RGB PIL image of the same size as ``image``.

    Raises:
        ValueError: an unknown level, or an image whose aspect ratio differs from the page's.
        TypeError: ``image`` is neither an array nor a PIL image.
    """
    if not isinstance(image, (np.ndarray, Image.Image)):
        raise TypeError(f"image must be a numpy array or a PIL image, got {type(image).__name__}")
    try:
        canonical_merge_level(level)
    except ValueError as exc:
        raise ValueError(str(exc).replace("merge_level", "level", 1)) from None
    rgb = load_pages(image, name="<overlay image>")[0].image
    height, width = rgb.shape[:2]
    if page.width <= 0 or page.height <= 0:
        raise ValueError(f"page {page.index} has no size ({page.width}x{page.height})")
    scale_x, scale_y = width / page.width, height / page.height
    if abs(scale_x - scale_y) > 0.01 * max(scale_x, scale_y):
        raise ValueError(
            f"image of {width}x{height} pixels does not match page {page.index} of {page.width}x{page.height} "
            "(different aspect ratio)"
        )

    items = merge_items(page, level)
    # geometry.quad_height would import torch; this view must stay light.
    word_heights = [_side_height(w.quad) for w in page.words]
    text_height = statistics.median(word_heights) * scale_y if word_heights else 20.0
    font_size = int(min(max(round(0.7 * text_height), 12), 64))
    font = _load_font(font_size)
    outline = max(1, round(min(width, height) / 600))

    canvas = Image.fromarray(rgb).convert("RGBA")
    boxes = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(boxes)
    for i, item in enumerate(items):
        colour = _PALETTE[i % len(_PALETTE)]
        points = [(x * scale_x, y * scale_y) for x, y in item.quad]
        draw.polygon(points, fill=(*colour, _FILL_ALPHA), outline=(*colour, 255), width=outline)
    canvas = Image.alpha_composite(canvas, boxes)

    # Labels go on a second layer so that no box is drawn over an earlier label.
    labels = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(labels)
    pad = max(1, outline)
    for i, item in enumerate(items):
        if not item.text:
            continue
        colour = _PALETTE[i % len(_PALETTE)]
        xs = [x * scale_x for x, _ in item.quad]
        ys = [y * scale_y for _, y in item.quad]
        box_width = max(xs) - min(xs)
        text = _fit_label(item.text, font, max(box_width, 8.0 * font_size))
        if not text:
            continue
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        label_w, label_h = right - left + 2 * pad, bottom - top + 2 * pad
        x = min(max(min(xs), 0.0), max(width - label_w, 0.0))
        y = min(ys) - label_h - outline
        if y < 0:
            y = max(ys) + outline
        draw.rectangle((x, y, x + label_w, y + label_h), fill=_LABEL_BACKGROUND, outline=(*colour, 255))
        dark = tuple(int(c * 0.55) for c in colour)
        draw.text((x + pad - left, y + pad - top), text, font=font, fill=(*dark, 255))
    return Image.alpha_composite(canvas, labels).convert("RGB")

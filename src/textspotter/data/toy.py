"""Toy pages: a few large words from a small vocabulary on a white square, for smoke tests of the training machinery.

The synthetic generator (``textspotter.synth``) makes realistic documents; these pages are deliberately trivial so
that a tiny model can learn to read them back in seconds: one paragraph of ``lines`` lines with ``words_per_line``
words each, black on white, one font. Every random choice comes from ``numpy.random.default_rng((seed, index))``,
so page ``index`` is the same whatever the number of workers.

>>> image, page = toy_page(0, 0, size=128)
>>> image.shape, len(page.words), len(page.lines), len(page.paragraphs)
((128, 128, 3), 4, 2, 1)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .manifest import LineAnnotation, ManifestWriter, PageAnnotation, ParagraphAnnotation, WordAnnotation

__all__ = ["TOY_VOCABULARY", "toy_page", "write_toy_dataset"]

TOY_VOCABULARY = ("CAT", "DOG", "SUN", "RED", "BOX", "TOP")
"""Default words of the toy pages (upper case: every word has the same height)."""

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
)


def _font(size: int):  # noqa: ANN202 - a PIL font
    from PIL import ImageFont

    for candidate in _FONT_CANDIDATES:
        if os.path.isfile(candidate):
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def toy_page(
    seed: int,
    index: int,
    *,
    size: int = 128,
    vocabulary: Sequence[str] = TOY_VOCABULARY,
    lines: int = 2,
    words_per_line: int = 2,
) -> tuple[np.ndarray, PageAnnotation]:
    """Render one toy page.

    Args:
        seed: master seed.
        index: page index.
        size: side of the square page in pixels; the font size is ``size / 8``.
        vocabulary: words to draw from.
        lines: lines of the single paragraph.
        words_per_line: words per line.

    Returns:
        ``(image [size, size, 3] uint8, annotation)`` with word quads in page pixels, lines in reading order and one
        paragraph.
    """
    from PIL import Image, ImageDraw

    rng = np.random.default_rng((seed, index))
    font_size = max(8, size // 8)
    font = _font(font_size)
    ascent, descent = font.getmetrics()
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    margin = size // 16
    line_pitch = int(font_size * 1.9)
    top = margin + int(rng.integers(0, max(1, size - margin - lines * line_pitch)))
    words: list[WordAnnotation] = []
    line_annotations: list[LineAnnotation] = []
    for line in range(lines):
        y = top + line * line_pitch
        x = margin + int(rng.integers(0, font_size))
        members = []
        for _ in range(words_per_line):
            text = str(vocabulary[int(rng.integers(0, len(vocabulary)))])
            left, _, right, _ = draw.textbbox((x, y), text, font=font, anchor="la")
            draw.text((x, y), text, font=font, fill=(0, 0, 0), anchor="la")
            # Vertical extent from the font metrics (not the glyphs) so every word of a line has the same height.
            bottom = y + ascent + descent
            quad = [[left - 1, y - 1], [right + 1, y - 1], [right + 1, bottom], [left - 1, bottom]]
            members.append(len(words))
            words.append(WordAnnotation(text=text, quad=[[float(a), float(b)] for a, b in quad], language="en"))
            x = right + int(font_size * 0.8)
        line_annotations.append(LineAnnotation(words=members))
    page = PageAnnotation(
        id=f"toy-{seed}-{index:06d}",
        image=f"images/toy-{seed}-{index:06d}.png",
        width=size,
        height=size,
        words=words,
        lines=line_annotations,
        paragraphs=[ParagraphAnnotation(lines=list(range(lines)))],
        language="en",
        params={"generator": "toy", "seed": seed, "index": index},
        source="toy",
    )
    return np.asarray(image, dtype=np.uint8).copy(), page


def write_toy_dataset(
    folder: str | os.PathLike[str], *, pages: int, seed: int = 0, size: int = 128, **options: object
) -> Path:
    """Write ``pages`` toy pages as a manifest folder (``data/manifest.py``) and return the folder.

    ``options`` are passed to :func:`toy_page` (``vocabulary``, ``lines``, ``words_per_line``).
    """
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    with ManifestWriter(folder) as writer:
        for index in range(pages):
            image, page = toy_page(seed, index, size=size, **options)  # type: ignore[arg-type]
            Image.fromarray(image).save(folder / page.image)
            writer.write(page)
    return folder

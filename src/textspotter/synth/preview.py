"""Draw annotations over page images and tile them into a contact sheet, to check labels by eye.

Word quads are outlined in red with their vertex 0 → 1 edge (the top of the text as written) in green, ignored words
in blue; each line is a thin orange chain through its words' centres in reading order; table outlines are magenta.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from textspotter.data.manifest import MANIFEST_NAME, PageAnnotation, read_manifest

__all__ = ["draw_annotations", "contact_sheet"]


def draw_annotations(image: np.ndarray | Image.Image, page: PageAnnotation, *, scale: float = 1.0) -> Image.Image:
    """Return an RGB copy of ``image`` resized by ``scale`` with the page's words, lines and tables drawn on it."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    picture = picture.convert("RGB")
    if scale != 1.0:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(picture)
    quads = [np.asarray(w.quad, dtype=np.float64) * scale for w in page.words]
    for table in page.tables:
        points = [tuple(p) for p in (np.asarray(table.quad) * scale)]
        draw.polygon(points, outline=(220, 0, 220))
    for line in page.lines:
        centers = [tuple(quads[w].mean(0)) for w in line.words]
        if len(centers) > 1:
            draw.line(centers, fill=(255, 140, 0), width=1)
    for word, quad in zip(page.words, quads):
        points = [tuple(p) for p in quad]
        draw.polygon(points, outline=(40, 40, 255) if word.ignore else (230, 0, 0))
        if not word.ignore:
            draw.line([points[0], points[1]], fill=(0, 190, 0), width=1)
    return picture


def contact_sheet(
    dataset: str | os.PathLike[str], *, pages: int = 12, columns: int = 3, thumb_width: int = 640
) -> Image.Image:
    """Tile the first ``pages`` pages of a dataset folder, annotations drawn, into one image.

    Raises:
        FileNotFoundError: if the folder has no manifest or a page image is missing.
        ValueError: if ``pages``, ``columns`` or ``thumb_width`` is not positive.
    """
    if pages < 1 or columns < 1 or thumb_width < 16:
        raise ValueError(
            f"pages and columns must be positive and thumb_width >= 16, got {pages}, {columns}, {thumb_width}"
        )
    folder = Path(dataset)
    if not (folder / MANIFEST_NAME).is_file():
        raise FileNotFoundError(f"no {MANIFEST_NAME} in {folder}")
    thumbs = []
    for page in read_manifest(folder):
        if len(thumbs) >= pages:
            break
        path = folder / page.image
        if not path.is_file():
            raise FileNotFoundError(f"page image not found: {path}")
        with Image.open(path) as image:
            thumbs.append(draw_annotations(image, page, scale=thumb_width / image.width))
    if not thumbs:
        return Image.new("RGB", (thumb_width, thumb_width), (255, 255, 255))
    columns = min(columns, len(thumbs))
    rows = -(-len(thumbs) // columns)
    cell_height = max(t.height for t in thumbs)
    gap = 8
    sheet = Image.new("RGB", (columns * (thumb_width + gap) + gap, rows * (cell_height + gap) + gap), (90, 90, 90))
    for i, thumb in enumerate(thumbs):
        r, c = divmod(i, columns)
        sheet.paste(thumb, (gap + c * (thumb_width + gap), gap + r * (cell_height + gap)))
    return sheet

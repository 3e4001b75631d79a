"""Collect a page's words, lines, paragraphs and tables while it is drawn, then export a :class:`PageAnnotation`.

Quads are kept as one float64 array ``[N, 4, 2]`` so that every geometric effect moves them with the same 3×3
matrix as the image (:meth:`AnnotationBuilder.transform`), exactly, in one vectorised step.

Coordinates are continuous pixel coordinates with the image's top-left *corner* at (0, 0): pixel (i, j) covers
``[i, i + 1) × [j, j + 1)``, as in Pillow's drawing and in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np

from textspotter.data.manifest import (
    LineAnnotation,
    PageAnnotation,
    ParagraphAnnotation,
    TableAnnotation,
    TableCell,
    WordAnnotation,
)

__all__ = ["AnnotationBuilder", "TableBuilder", "transform_points"]


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3×3 homography to ``[..., 2]`` points (x, y) and return them with the same shape."""
    flat = points.reshape(-1, 2).astype(np.float64)
    homogeneous = np.concatenate([flat, np.ones((len(flat), 1))], axis=1) @ np.asarray(matrix, np.float64).T
    return (homogeneous[:, :2] / homogeneous[:, 2:3]).reshape(points.shape)


@dataclass
class TableBuilder:
    """A table under construction: cells (row, col, spans, word ids, text, header flag) and its outline quad."""

    quad: np.ndarray
    cells: list[dict[str, Any]] = field(default_factory=list)

    def add_cell(
        self,
        row: int,
        col: int,
        words: list[int],
        text: str,
        *,
        rowspan: int = 1,
        colspan: int = 1,
        header: bool = False,
    ) -> None:
        """Record one cell (its words must already be added to the page)."""
        cell = {"row": row, "col": col, "rowspan": rowspan, "colspan": colspan, "words": words, "text": text}
        cell["header"] = header
        self.cells.append(cell)

    def html(self) -> str:
        """Return the table's structure and text as HTML, in the PubTabNet form TEDS compares.

        Header rows (all of whose cells are headers) go to ``<thead>``, the others to ``<tbody>``; spans become
        ``rowspan``/``colspan`` attributes; cell text is HTML-escaped.
        """
        rows: dict[int, list[dict[str, Any]]] = {}
        for cell in self.cells:
            rows.setdefault(cell["row"], []).append(cell)
        head, body = [], []
        for r in sorted(rows):
            cells = sorted(rows[r], key=lambda c: c["col"])
            parts = []
            for c in cells:
                attrs = ""
                if c["rowspan"] > 1:
                    attrs += f' rowspan="{c["rowspan"]}"'
                if c["colspan"] > 1:
                    attrs += f' colspan="{c["colspan"]}"'
                parts.append(f"<td{attrs}>{escape(c['text'], quote=False)}</td>")
            row_html = "<tr>" + "".join(parts) + "</tr>"
            (head if all(c["header"] for c in cells) and not body else body).append(row_html)
        out = "<table>"
        if head:
            out += "<thead>" + "".join(head) + "</thead>"
        return out + "<tbody>" + "".join(body) + "</tbody></table>"


class AnnotationBuilder:
    """Accumulate the annotation of one page as it is drawn.

    Words are added with their quads in page pixels (before effects); lines group word ids in reading order,
    paragraphs group line ids, and the order in which paragraphs are added is the page's reading order.
    """

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.languages: list[str] = []
        self.ignore: list[bool] = []
        self._quads: list[np.ndarray] = []
        self.lines: list[list[int]] = []
        self.paragraphs: list[list[int]] = []
        self.tables: list[TableBuilder] = []

    @property
    def quads(self) -> np.ndarray:
        """All word quads ``[N, 4, 2]`` float64."""
        return np.stack(self._quads) if self._quads else np.zeros((0, 4, 2))

    def add_word(self, text: str, quad: np.ndarray, language: str) -> int:
        """Add a word (text in logical order, no spaces) and return its id."""
        if not text or any(c.isspace() for c in text):
            raise ValueError(f"word text must be non-empty without spaces, got {text!r}")
        self.texts.append(text)
        self.languages.append(language)
        self.ignore.append(False)
        self._quads.append(np.asarray(quad, dtype=np.float64).reshape(4, 2))
        return len(self.texts) - 1

    def add_line(self, words: list[int]) -> int | None:
        """Add a line of word ids in reading order; returns its id (None for an empty line, which is dropped)."""
        if not words:
            return None
        self.lines.append(list(words))
        return len(self.lines) - 1

    def add_paragraph(self, lines: list[int | None]) -> int | None:
        """Add a paragraph of line ids in reading order (the next paragraph in page reading order)."""
        kept = [i for i in lines if i is not None]
        if not kept:
            return None
        self.paragraphs.append(kept)
        return len(self.paragraphs) - 1

    def add_table(self, quad: np.ndarray) -> TableBuilder:
        """Start a table with its outline quad; fill it with :meth:`TableBuilder.add_cell`."""
        table = TableBuilder(quad=np.asarray(quad, dtype=np.float64).reshape(4, 2))
        self.tables.append(table)
        return table

    def transform(self, matrix: np.ndarray) -> None:
        """Move every quad (words and tables) with a 3×3 homography, the one applied to the image."""
        if self._quads:
            self._quads = list(transform_points(matrix, self.quads))
        for table in self.tables:
            table.quad = transform_points(matrix, table.quad)

    def merge(self, other: AnnotationBuilder, matrix: np.ndarray) -> None:
        """Append another builder's content (drawn on a separate patch) moved by ``matrix`` into this page.

        The other builder's paragraphs follow this page's paragraphs in reading order.
        """
        word_offset, line_offset = len(self.texts), len(self.lines)
        if other.texts:
            moved = transform_points(matrix, other.quads)
            self.texts += other.texts
            self.languages += other.languages
            self.ignore += other.ignore
            self._quads += list(moved)
        self.lines += [[w + word_offset for w in line] for line in other.lines]
        self.paragraphs += [[li + line_offset for li in para] for para in other.paragraphs]
        for table in other.tables:
            table.quad = transform_points(matrix, table.quad)
            for cell in table.cells:
                cell["words"] = [w + word_offset for w in cell["words"]]
            self.tables.append(table)

    def mark_outside(self, width: int, height: int, *, tolerance: float = 1.0, min_height: float = 4.0) -> None:
        """Mark words ``ignore`` that are not fully inside the image or are too small to read."""
        if not self._quads:
            return
        quads = self.quads
        inside = (
            (quads[..., 0] >= -tolerance).all(1)
            & (quads[..., 0] <= width + tolerance).all(1)
            & (quads[..., 1] >= -tolerance).all(1)
            & (quads[..., 1] <= height + tolerance).all(1)
        )
        heights = (
            np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1) + np.linalg.norm(quads[:, 2] - quads[:, 1], axis=1)
        ) / 2
        for i in np.flatnonzero(~inside | (heights < min_height)):
            self.ignore[int(i)] = True

    def mark(self, flags: np.ndarray) -> None:
        """Mark words ``ignore`` where ``flags`` (``[N]`` bool, one per word) is True; others keep their flag."""
        flags = np.asarray(flags, dtype=bool).reshape(-1)
        if len(flags) != len(self.texts):
            raise ValueError(f"got {len(flags)} flags for {len(self.texts)} words")
        for i in np.flatnonzero(flags):
            self.ignore[int(i)] = True

    def build(
        self,
        *,
        page_id: str,
        image: str,
        width: int,
        height: int,
        language: str,
        params: dict[str, Any],
        source: str = "synth",
    ) -> PageAnnotation:
        """Return the finished :class:`PageAnnotation` (validated)."""
        quads = self.quads
        words = [
            WordAnnotation(
                text=text,
                quad=[[float(x), float(y)] for x, y in quads[i]],
                language=self.languages[i],
                ignore=self.ignore[i],
            )
            for i, text in enumerate(self.texts)
        ]
        tables = [
            TableAnnotation(
                html=t.html(),
                quad=[[float(x), float(y)] for x, y in t.quad],
                cells=[
                    TableCell(row=c["row"], col=c["col"], rowspan=c["rowspan"], colspan=c["colspan"], words=c["words"])
                    for c in t.cells
                ],
            )
            for t in self.tables
        ]
        page = PageAnnotation(
            id=page_id,
            image=image,
            width=int(width),
            height=int(height),
            words=words,
            lines=[LineAnnotation(words=list(w)) for w in self.lines],
            paragraphs=[ParagraphAnnotation(lines=list(p)) for p in self.paragraphs],
            tables=tables,
            language=language,
            params=params,
            source=source,
        )
        page.validate()
        return page

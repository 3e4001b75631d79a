"""The annotation schema that the synthetic generator writes and training and evaluation read.

A dataset is a folder with ``manifest.jsonl`` (one JSON object per page, schema below) and the page images it
names (paths relative to the manifest's folder).

Page record::

    {
      "id": "en-00000001",                  unique within the dataset
      "image": "images/en-00000001.png",    relative to the manifest folder
      "width": 1024, "height": 1324,        image size in pixels
      "language": "en",                     main language (ISO 639-1, "zh-Hans", "zh-Hant" for Chinese)
      "words": [                            every word, in no particular order
        {"text": "Hello", "quad": [[x, y] x 4], "language": "en", "ignore": false}
      ],
      "lines": [{"words": [0, 1, 2]}],      word indices in reading order (word → next word in the line)
      "paragraphs": [{"lines": [0, 1]}],    line indices in reading order (line → next line in the paragraph);
                                            the list itself is in page reading order
      "tables": [{"html": "<table>...</table>", "quad": [[x, y] x 4],
                  "cells": [{"row": 0, "col": 0, "rowspan": 1, "colspan": 1, "words": [5, 6]}]}],
      "params": {...},                      the generator's sampled parameters (layout, fonts, effects)
      "source": "synth"                     or e.g. "pdf:paper.pdf#3"
    }

Quads follow the project convention: ``[4, 2]`` (x, y) pixels of the page image, clockwise, vertex 0 first. For
rotated or vertical text, vertex 0 → vertex 1 runs along the text's reading direction (the top edge of the text as
written), which is what the detector's rotated boxes learn; for upright horizontal text this is the on-screen
top-left → top-right edge. Word text is in logical (reading) order, also for right-to-left scripts. A word marked
``ignore`` (illegible, clipped) is excluded from recognition targets and detection scoring but still masks the
detector's loss.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "WordAnnotation",
    "LineAnnotation",
    "ParagraphAnnotation",
    "TableCell",
    "TableAnnotation",
    "PageAnnotation",
    "read_manifest",
    "write_manifest",
    "ManifestWriter",
]

MANIFEST_NAME = "manifest.jsonl"

QuadList = list[list[float]]


def _check_quad(q: Any, where: str) -> QuadList:
    if not (isinstance(q, (list, tuple)) and len(q) == 4 and all(len(p) == 2 for p in q)):
        raise ValueError(f"{where}: quad must be 4 [x, y] points, got {q!r}")
    return [[float(p[0]), float(p[1])] for p in q]


@dataclass
class WordAnnotation:
    text: str
    quad: QuadList
    language: str = ""
    ignore: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "quad": [[round(x, 3), round(y, 3)] for x, y in self.quad]}
        if self.language:
            out["language"] = self.language
        if self.ignore:
            out["ignore"] = True
        return out


@dataclass
class LineAnnotation:
    words: list[int]


@dataclass
class ParagraphAnnotation:
    lines: list[int]


@dataclass
class TableCell:
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    words: list[int] = field(default_factory=list)


@dataclass
class TableAnnotation:
    html: str
    quad: QuadList
    cells: list[TableCell] = field(default_factory=list)


@dataclass
class PageAnnotation:
    """One annotated page (see the module docstring for the JSON form)."""

    id: str
    image: str
    width: int
    height: int
    words: list[WordAnnotation] = field(default_factory=list)
    lines: list[LineAnnotation] = field(default_factory=list)
    paragraphs: list[ParagraphAnnotation] = field(default_factory=list)
    tables: list[TableAnnotation] = field(default_factory=list)
    language: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    source: str = "synth"

    def validate(self) -> None:
        """Check indices and structure; raise ``ValueError`` naming the page and the problem."""
        n_words, n_lines = len(self.words), len(self.lines)
        seen_words: set[int] = set()
        for li, line in enumerate(self.lines):
            for w in line.words:
                if not 0 <= w < n_words:
                    raise ValueError(f"page {self.id}: line {li} names word {w} of {n_words}")
                if w in seen_words:
                    raise ValueError(f"page {self.id}: word {w} is in more than one line")
                seen_words.add(w)
        seen_lines: set[int] = set()
        for pi, para in enumerate(self.paragraphs):
            for li in para.lines:
                if not 0 <= li < n_lines:
                    raise ValueError(f"page {self.id}: paragraph {pi} names line {li} of {n_lines}")
                if li in seen_lines:
                    raise ValueError(f"page {self.id}: line {li} is in more than one paragraph")
                seen_lines.add(li)
        for ti, table in enumerate(self.tables):
            for cell in table.cells:
                for w in cell.words:
                    if not 0 <= w < n_words:
                        raise ValueError(f"page {self.id}: table {ti} cell names word {w} of {n_words}")

    def reading_order_words(self) -> list[int]:
        """Word indices in page reading order (paragraphs → lines → words); words in no line come last."""
        order = [w for p in self.paragraphs for li in p.lines for w in self.lines[li].words]
        placed = set(order)
        return order + [i for i in range(len(self.words)) if i not in placed]

    def line_texts(self) -> list[str]:
        """Text of each line (words joined with spaces), in page reading order."""
        return [" ".join(self.words[w].text for w in self.lines[li].words) for p in self.paragraphs for li in p.lines]

    def text(self) -> str:
        """Reading-order text: lines separated by newlines, paragraphs by a blank line."""
        paras = []
        for p in self.paragraphs:
            paras.append("\n".join(" ".join(self.words[w].text for w in self.lines[li].words) for li in p.lines))
        return "\n\n".join(paras)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "image": self.image,
            "width": self.width,
            "height": self.height,
            "language": self.language,
            "words": [w.to_dict() for w in self.words],
            "lines": [{"words": list(line.words)} for line in self.lines],
            "paragraphs": [{"lines": list(p.lines)} for p in self.paragraphs],
            "tables": [
                {
                    "html": t.html,
                    "quad": t.quad,
                    "cells": [
                        {"row": c.row, "col": c.col, "rowspan": c.rowspan, "colspan": c.colspan, "words": c.words}
                        for c in t.cells
                    ],
                }
                for t in self.tables
            ],
            "params": self.params,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageAnnotation:
        pid = str(data.get("id", "?"))
        try:
            page = cls(
                id=pid,
                image=str(data["image"]),
                width=int(data["width"]),
                height=int(data["height"]),
                words=[
                    WordAnnotation(
                        text=str(w["text"]),
                        quad=_check_quad(w["quad"], f"page {pid} word {i}"),
                        language=str(w.get("language", "")),
                        ignore=bool(w.get("ignore", False)),
                    )
                    for i, w in enumerate(data.get("words", []))
                ],
                lines=[LineAnnotation(words=[int(i) for i in line["words"]]) for line in data.get("lines", [])],
                paragraphs=[
                    ParagraphAnnotation(lines=[int(i) for i in p["lines"]]) for p in data.get("paragraphs", [])
                ],
                tables=[
                    TableAnnotation(
                        html=str(t["html"]),
                        quad=_check_quad(t["quad"], f"page {pid} table"),
                        cells=[TableCell(**c) for c in t.get("cells", [])],
                    )
                    for t in data.get("tables", [])
                ],
                language=str(data.get("language", "")),
                params=dict(data.get("params", {})),
                source=str(data.get("source", "synth")),
            )
        except KeyError as exc:
            raise ValueError(f"page {pid}: missing field {exc.args[0]!r}") from exc
        page.validate()
        return page


def read_manifest(path: str | os.PathLike[str]) -> Iterator[PageAnnotation]:
    """Yield the pages of a dataset folder (or a ``manifest.jsonl`` path) in file order.

    Image paths are left relative; resolve them against the manifest's folder.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                yield PageAnnotation.from_dict(json.loads(raw))
            except (json.JSONDecodeError, ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from exc


class ManifestWriter:
    """Append pages to ``<folder>/manifest.jsonl`` (one compact JSON object per line)."""

    def __init__(self, folder: str | os.PathLike[str], *, append: bool = False) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fh = (self.folder / MANIFEST_NAME).open("a" if append else "w", encoding="utf-8")

    def write(self, page: PageAnnotation) -> None:
        page.validate()
        self._fh.write(json.dumps(page.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_manifest(folder: str | os.PathLike[str], pages: list[PageAnnotation]) -> Path:
    """Write ``pages`` to ``<folder>/manifest.jsonl`` and return its path."""
    with ManifestWriter(folder) as writer:
        for page in pages:
            writer.write(page)
    return Path(folder) / MANIFEST_NAME

"""Dataset adapters: every ground-truth format becomes a sequence of :class:`Sample`.

A :class:`Sample` is one page image and what is known about it: the reference text (in reading order or not), word
and line quads, tables as HTML. Each adapter reads one format; :func:`open_dataset` finds the format of a path
(or takes it from ``FORMAT:PATH``) and resolves the named shortcuts of the development data (``docbank``,
``tesseract-test``, ``pubtabnet``, ``rapidocr-lines``) against a data root. Formats and their files are described
in ``docs/evaluation.md``.

Every quad here is ``[4, 2]`` (x, y) in pixels of the page image as :func:`load_image` returns it (EXIF orientation
applied), clockwise from the top-left vertex.

>>> dataset = open_dataset("docbank", data_root="../shared/data", limit=2)  # doctest: +SKIP
>>> sample = dataset.samples[0]; sample.image, len(sample.words), sample.text[:40]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from PIL import Image

from textspotter.document import Quad, as_quad, bounding_quad
from textspotter.geometry import order_quad
from textspotter.metrics.tables import pubtabnet_html, table_text

__all__ = [
    "Region",
    "TableTruth",
    "Sample",
    "Dataset",
    "FORMATS",
    "SHORTCUTS",
    "open_dataset",
    "detect_format",
    "load_image",
    "read_manifest_samples",
    "read_docbank",
    "read_text_folder",
    "read_pubtabnet",
    "read_first_lines",
    "read_funsd",
    "read_hocr",
    "read_alto",
    "read_icdar",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".jp2", ".pbm", ".pgm", ".ppm")


@dataclass(frozen=True)
class Region:
    """A ground-truth word or line: its text and quad; ``ignore`` marks illegible or clipped text."""

    text: str
    quad: Quad
    ignore: bool = False


@dataclass(frozen=True)
class TableTruth:
    """A ground-truth table: its HTML and, on a full page, the quad it occupies (``None``: the whole image)."""

    html: str
    quad: Quad | None = None


@dataclass(frozen=True)
class Sample:
    """One page of an evaluation dataset and its ground truth.

    Attributes:
        id: unique within the dataset (usually the image's file name without folder).
        image: path of the page image.
        text: reference text (lines separated by newlines), or ``None`` when the format has none.
        words: reference words; in reading order when ``ordered``.
        lines: reference lines; in reading order when ``ordered``.
        ordered: whether ``text``, ``words`` and ``lines`` follow the reading order. If not, only the
            order-insensitive text metrics (bag of characters, bag of words) are computed.
        tables: reference tables.
        first_line_only: the reference is the first line of the image only (compare the engine's first line).
        language: main language, when known (ISO 639-1).
    """

    id: str
    image: Path
    text: str | None = None
    words: tuple[Region, ...] = ()
    lines: tuple[Region, ...] = ()
    ordered: bool = True
    tables: tuple[TableTruth, ...] = ()
    first_line_only: bool = False
    language: str = ""


@dataclass(frozen=True)
class Dataset:
    """A named list of samples and where they were read from."""

    name: str
    format: str
    path: Path
    samples: tuple[Sample, ...]

    def __len__(self) -> int:
        return len(self.samples)


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode the first page of an image file into ``[H, W, 3]`` uint8 RGB (EXIF applied, alpha on white).

    This is the one decoding step every engine's input goes through, so all engines see the same pixels.
    """
    from textspotter.imageio import load_pages

    return load_pages(Path(path))[0].image


def _box_quad(x0: float, y0: float, x1: float, y1: float) -> Quad:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        width, height = image.size
        # EXIF orientations 5-8 swap width and height once the image is turned upright (as load_image does).
        orientation = image.getexif().get(0x0112, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _boxes(regions: list[Region]) -> np.ndarray:
    """``[N, 4]`` (x0, y0, x1, y1) boxes around the regions' quads."""
    quads = np.array([r.quad for r in regions], dtype=np.float64).reshape(-1, 4, 2)
    return np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1)


def _geometric_lines(words: list[Region], *, gap_factor: float = 1.5) -> list[list[int]]:
    """Group words into text lines by position alone (word indices, left to right; lines in no order).

    Words are taken left to right. A word joins the line it overlaps most vertically (by at least half the smaller
    height) among the lines that end no more than ``gap_factor`` heights to its left, else it starts a new line;
    so a column gap, wider than that in typeset text, separates the lines of neighbouring columns. Words without
    area (ignored) make lines of their own.
    """
    boxes = _boxes(words)
    lines: list[list[int]] = []
    tops: list[float] = []
    bottoms: list[float] = []
    rights: list[float] = []
    for index in np.argsort(boxes[:, 0], kind="stable"):
        x0, y0, x1, y1 = boxes[index]
        height = y1 - y0
        if lines and height > 0 and x1 > x0:
            top, bottom, right = np.array(tops), np.array(bottoms), np.array(rights)
            line_height = bottom - top
            overlap = np.minimum(y1, bottom) - np.maximum(y0, top)
            gap = x0 - right
            fits = (
                (overlap >= 0.5 * np.minimum(height, line_height))
                & (line_height > 0)
                & (gap <= gap_factor * np.minimum(height, line_height))
                # Tokens may touch or overlap a little (kerning, punctuation), not start far inside the line.
                & (gap >= -0.5 * height)
            )
            if fits.any():
                best = int(np.argmax(np.where(fits, overlap, -np.inf)))
                lines[best].append(int(index))
                tops[best], bottoms[best], rights[best] = (
                    min(tops[best], y0),
                    max(bottoms[best], y1),
                    max(right[best], x1),
                )
                continue
        lines.append([int(index)])
        tops.append(y0)
        bottoms.append(y1)
        rights.append(x1)
    return lines


def _reading_order(boxes: np.ndarray) -> list[int]:
    """Order text lines ``[N, 4]`` (x0, y0, x1, y1) for reading: columns top to bottom, left column first.

    T. Breuel's partial order ("High performance document layout analysis", 2003): line ``a`` comes before ``b``
    when their x-ranges overlap and ``a`` starts higher, or when ``a`` lies entirely left of ``b`` and no third line
    lying vertically between them spans the horizontal gap from ``a`` to ``b`` (as a full-width heading or caption
    does). The order is then completed by a depth-first topological sort that visits lines in top-to-bottom order.
    """
    n = len(boxes)
    if n == 0:
        return []
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    x_overlap = (x0[:, None] < x1[None, :]) & (x1[:, None] > x0[None, :])
    above = y0[:, None] < y0[None, :]
    left_of = x1[:, None] < x0[None, :]
    # separates[w, a, b]: w is vertically between a and b (not wholly above or below both) and spans the gap.
    lowest_top = np.minimum(y0[:, None], y0[None, :])
    highest_bottom = np.maximum(y1[:, None], y1[None, :])
    between = (y1[:, None, None] >= lowest_top[None]) & (y0[:, None, None] <= highest_bottom[None])
    spans = (x0[:, None, None] < x1[None, :, None]) & (x1[:, None, None] > x0[None, None, :])
    separated = (between & spans).any(axis=0)
    before = (x_overlap & above) | (~x_overlap & left_of & ~separated)
    np.fill_diagonal(before, False)
    visited = np.zeros(n, dtype=bool)
    order: list[int] = []
    for start in np.argsort(y0, kind="stable"):
        if visited[start]:
            continue
        # Iterative depth-first search: a line is emitted after every line that must come before it.
        visited[start] = True
        stack = [(int(start), iter(np.flatnonzero(before[:, start])))]
        while stack:
            node, predecessors = stack[-1]
            for predecessor in predecessors:
                if not visited[predecessor]:
                    visited[predecessor] = True
                    stack.append((int(predecessor), iter(np.flatnonzero(before[:, predecessor]))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _lines_from_words(words: list[Region], groups: list[list[int]]) -> list[Region]:
    lines = []
    for group in groups:
        members = [words[i] for i in group]
        text = " ".join(w.text for w in members if not w.ignore)
        lines.append(Region(text, bounding_quad([w.quad for w in members]), ignore=not text))
    return lines


# ------------------------------------------------------------------------------------------------------------
# Adapters


def read_manifest_samples(path: str | os.PathLike[str]) -> Iterator[Sample]:
    """Read our synthetic dataset format (``manifest.jsonl``, :mod:`textspotter.data.manifest`).

    Words come in page reading order (paragraphs → lines → words, then words in no line) when the page has
    paragraphs; otherwise in file order with ``ordered=False``. Line quads are the boxes around their words.
    Ignored words stay in ``words`` (flagged) and are left out of the text.
    """
    from textspotter.data.manifest import read_manifest

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    for page in read_manifest(path):
        ordered = bool(page.paragraphs)
        order = page.reading_order_words() if ordered else list(range(len(page.words)))
        position = {w: i for i, w in enumerate(order)}
        words = [Region(page.words[w].text, as_quad(page.words[w].quad), page.words[w].ignore) for w in order]
        line_ids = [li for p in page.paragraphs for li in p.lines] if ordered else list(range(len(page.lines)))
        line_ids = [li for li in line_ids if page.lines[li].words]
        lines = _lines_from_words(words, [[position[w] for w in page.lines[li].words] for li in line_ids])
        line_of = dict(zip(line_ids, lines))
        if ordered:
            paragraphs = ["\n".join(line_of[li].text for li in p.lines if li in line_of) for p in page.paragraphs]
            text = "\n\n".join(p for p in paragraphs if p.strip())
        else:
            text = " ".join(w.text for w in words if not w.ignore)
        yield Sample(
            id=page.id,
            image=folder / page.image,
            text=text,
            words=tuple(words),
            lines=tuple(lines),
            ordered=ordered,
            tables=tuple(TableTruth(t.html, as_quad(t.quad)) for t in page.tables),
            language=page.language,
        )


# pdfminer, which extracted DocBank's tokens, writes unmapped glyphs as "(cid:N)" and TeX accents as a separate
# spacing accent on either side of their letter ("S´eances", "Sobocin´ski"). Neither is what the page shows. The
# side is not reliable, so accents are dropped rather than guessed: an engine reading "é" then makes one
# substitution, as it would for any unreadable character.
_PDF_ARTEFACTS = re.compile(r"\(cid:\d+\)|[´`¨ˆ˜¸ˇ˘˙˚˝˛]")
# Typeset ligatures arrive as presentation forms (U+FB00–FB06: "ﬁrst", "eﬀects"); the page shows the letters, and
# a reader (or a search) that gives "first" is right. They are expanded to their letters (their NFKC form).
_LIGATURES = {chr(code): unicodedata.normalize("NFKC", chr(code)) for code in range(0xFB00, 0xFB07)}
_LIGATURE_PATTERN = re.compile("[" + "".join(_LIGATURES) + "]")


def _repair_docbank_token(token: str) -> str:
    token = _PDF_ARTEFACTS.sub("", token)
    return _LIGATURE_PATTERN.sub(lambda match: _LIGATURES[match.group()], token)


def read_docbank(folder: str | os.PathLike[str]) -> Iterator[Sample]:
    """Read DocBank pages: ``<name>_ori.jpg`` with ``<name>.txt`` of tab-separated tokens.

    Token lines are ``token x0 y0 x1 y1 R G B font label`` with boxes on a 0–1000 scale of the page, turned into
    pixels here. The layout markers ``##LTLine##`` and ``##LTFigure##`` are dropped; a token with an empty box
    is kept as an ignored word. Ligature characters (``ﬁ``, ``ﬀ``, ...) are expanded to their letters, and two
    PDF-extraction artefacts are removed from tokens: ``(cid:N)`` placeholders
    and detached spacing accents (``S´eances`` becomes ``Seances``).

    DocBank has no line annotation, and its token order is not reading order: tokens are sorted by position, row
    by row across the columns of two-column pages. Both are therefore derived here: lines by position
    (:func:`_geometric_lines`), their order by Breuel's column-aware rule (:func:`_reading_order`). Line F1 and the
    order-dependent scores on DocBank (CER, WER, NED, order tau, retrieval) are relative to this reconstruction;
    word detection and the bag metrics do not depend on it.
    """
    folder = Path(folder)
    for image_path in sorted(folder.glob("*_ori.jpg")):
        annotation = image_path.with_name(image_path.name[: -len("_ori.jpg")] + ".txt")
        if not annotation.is_file():
            continue
        width, height = _image_size(image_path)
        words: list[Region] = []
        for lineno, raw in enumerate(annotation.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            fields = raw.split("\t")
            if len(fields) < 5:
                raise ValueError(f"{annotation}:{lineno}: expected 'token x0 y0 x1 y1 ...', got {raw!r}")
            token = _repair_docbank_token(fields[0])
            if (token.startswith("##LT") and token.endswith("##")) or not token:
                continue
            x0, y0, x1, y1 = (float(v) for v in fields[1:5])
            quad = _box_quad(x0 * width / 1000, y0 * height / 1000, x1 * width / 1000, y1 * height / 1000)
            words.append(Region(token, quad, ignore=x1 <= x0 or y1 <= y0 or not token.strip()))
        groups = _geometric_lines(words)
        groups = [groups[k] for k in _reading_order(_boxes(_lines_from_words(words, groups)))]
        words = [words[i] for group in groups for i in group]
        lines, start = [], 0
        for group in groups:
            lines.append(list(range(start, start + len(group))))
            start += len(group)
        lines = _lines_from_words(words, lines)
        yield Sample(
            id=image_path.name,
            image=image_path,
            text="\n".join(line.text for line in lines if line.text),
            words=tuple(words),
            lines=tuple(lines),
            language="en",
        )


def read_text_folder(folder: str | os.PathLike[str]) -> Iterator[Sample]:
    """Read a folder of images with plain-text transcripts: ``<stem>.txt`` or ``<stem>.gt.txt`` beside each image.

    Images without a transcript are skipped (``tesseract-test`` keeps smoke-test images that have none).
    """
    folder = Path(folder)
    for image_path in _images_in(folder):
        for candidate in (image_path.with_suffix(".gt.txt"), image_path.with_suffix(".txt")):
            if candidate.is_file():
                yield Sample(id=image_path.name, image=image_path, text=candidate.read_text(encoding="utf-8"))
                break


def read_pubtabnet(path: str | os.PathLike[str]) -> Iterator[Sample]:
    """Read PubTabNet annotations (JSONL: ``filename`` and ``html.structure.tokens`` + ``html.cells[].tokens``).

    ``path`` is the JSONL file or a folder holding one; images are looked up beside it. The reference text is
    the table read row by row (cells joined by spaces, rows by newlines).
    """
    path = Path(path)
    if path.is_dir():
        candidates = sorted(path.glob("*.jsonl"))
        if len(candidates) != 1:
            raise FileNotFoundError(f"expected one .jsonl file in {path}, found {[c.name for c in candidates]}")
        path = candidates[0]
    records = []
    with path.open(encoding="utf-8") as handle:
        for lineno, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                html = pubtabnet_html(
                    record["html"]["structure"]["tokens"], [c["tokens"] for c in record["html"]["cells"]]
                )
                records.append((str(record["filename"]), html))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{lineno}: not a PubTabNet record: {exc}") from exc
    for filename, html in sorted(records):
        yield Sample(
            id=filename, image=path.parent / filename, text=table_text(html), tables=(TableTruth(html),), language="en"
        )


def read_first_lines(folder: str | os.PathLike[str]) -> Iterator[Sample]:
    """Read single-line crops with ``expected_first_line.json`` (``{"labels": {image name: text}}``).

    The reference is the first line of each image only: it is compared with the engine's first line.
    """
    folder = Path(folder)
    labels_path = folder / "expected_first_line.json"
    data = json.loads(labels_path.read_text(encoding="utf-8"))
    labels = data.get("labels", data) if isinstance(data, dict) else None
    if not isinstance(labels, dict):
        raise ValueError(f"{labels_path}: expected an object mapping image names to texts")
    for name, text in sorted(labels.items()):
        if isinstance(text, str):
            yield Sample(id=name, image=folder / name, text=text, first_line_only=True)


def read_funsd(folder: str | os.PathLike[str]) -> Iterator[Sample]:
    """Read FUNSD-style forms: ``annotations/<stem>.json`` with ``images/<stem>.png`` (or both in one folder).

    Each JSON has ``form``: entities with ``text``, ``box`` ``[x0, y0, x1, y1]`` and ``words`` (``text``, ``box``).
    Entities become lines and their words the words; the entity list is not in reading order, so
    ``ordered=False``.
    """
    folder = Path(folder)
    annotation_folder = folder / "annotations" if (folder / "annotations").is_dir() else folder
    image_folder = folder / "images" if (folder / "images").is_dir() else annotation_folder
    images = {p.stem: p for p in _images_in(image_folder)}
    for annotation in sorted(annotation_folder.glob("*.json")):
        data = json.loads(annotation.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "form" not in data:
            continue
        if annotation.stem not in images:
            raise FileNotFoundError(f"no image for {annotation} in {image_folder}")
        words: list[Region] = []
        lines: list[Region] = []
        for entity in data["form"]:
            for word in entity.get("words", []):
                if str(word.get("text", "")).strip():
                    words.append(Region(str(word["text"]), _box_quad(*map(float, word["box"]))))
            if str(entity.get("text", "")).strip():
                lines.append(Region(str(entity["text"]), _box_quad(*map(float, entity["box"]))))
        yield Sample(
            id=annotation.stem,
            image=images[annotation.stem],
            text="\n".join(line.text for line in lines),
            words=tuple(words),
            lines=tuple(lines),
            ordered=False,
        )


_HOCR_LINES = {"ocr_line", "ocrx_line", "ocr_header", "ocr_caption", "ocr_textfloat"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_BBOX = re.compile(r"\bbbox\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)")
_IMAGE = re.compile(r"""\bimage\s+(?:"([^"]*)"|'([^']*)'|(\S+?))\s*(?:;|$)""")


class _HocrParser(HTMLParser):
    """Collect pages → lines → words (text and bbox) of an hOCR document, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pages: list[dict] = []
        self._stack: list[str | None] = []  # the hOCR role of each open element (None for other elements)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        title = attributes.get("title") or ""
        role: str | None = None
        if "ocr_page" in classes:
            image = _IMAGE.search(title)
            self.pages.append(
                {
                    "title": title,
                    "image": next((g for g in image.groups() if g), None) if image else None,
                    "lines": [],
                    "words": [],
                }
            )
            role = "page"
        elif self.pages and classes & _HOCR_LINES and (box := _BBOX.search(title)):
            self.pages[-1]["lines"].append({"box": tuple(map(float, box.groups())), "words": []})
            role = "line"
        elif self.pages and "ocrx_word" in classes and (box := _BBOX.search(title)):
            word = {"box": tuple(map(float, box.groups())), "text": []}
            self.pages[-1]["words"].append(word)
            if "line" in self._stack:
                self.pages[-1]["lines"][-1]["words"].append(word)
            role = "word"
        if tag not in _VOID_TAGS:
            self._stack.append(role)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID_TAGS and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if "word" in self._stack and self.pages and self.pages[-1]["words"]:
            self.pages[-1]["words"][-1]["text"].append(data)


def _find_image(reference: str | None, document: Path, single_page: bool) -> Path:
    """Resolve the image of a ground-truth file: its recorded name, else an image with the same stem beside it."""
    if reference:
        for candidate in (Path(reference), document.parent / reference, document.parent / Path(reference).name):
            if candidate.is_file():
                return candidate
    if single_page:
        for suffix in IMAGE_SUFFIXES:
            for candidate in (document.with_suffix(suffix), document.with_suffix(suffix.upper())):
                if candidate.is_file():
                    return candidate
    raise FileNotFoundError(f"no image found for {document} (recorded image: {reference!r})")


def _files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(suffixes))


def read_hocr(path: str | os.PathLike[str]) -> Iterator[Sample]:
    """Read hOCR ground truth (a file or a folder of ``.hocr`` / ``.html`` files): one sample per ``ocr_page``.

    Words are ``ocrx_word`` elements and lines ``ocr_line`` (or ``ocr_header``, ``ocr_caption``,
    ``ocr_textfloat``, ``ocrx_line``), with ``bbox`` in their ``title``; document order is reading order. The
    image is the page's ``image "..."`` property (relative to the file), or an image with the file's stem.
    """
    for document in _files(Path(path), (".hocr", ".html", ".xhtml", ".htm")):
        parser = _HocrParser()
        parser.feed(document.read_text(encoding="utf-8"))
        parser.close()
        for number, page in enumerate(parser.pages):
            words = [Region(" ".join("".join(w["text"]).split()), _box_quad(*w["box"])) for w in page["words"]]
            words = [w for w in words if w.text]
            lines = []
            for line in page["lines"]:
                text = " ".join(" ".join("".join(w["text"]).split()) for w in line["words"]).strip()
                if text:
                    lines.append(Region(text, _box_quad(*line["box"])))
            text = "\n".join(line.text for line in lines) if lines else " ".join(w.text for w in words)
            yield Sample(
                id=document.name if len(parser.pages) == 1 else f"{document.name}#{number}",
                image=_find_image(page["image"], document, len(parser.pages) == 1),
                text=text,
                words=tuple(words),
                lines=tuple(lines),
            )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_alto(path: str | os.PathLike[str]) -> Iterator[Sample]:
    """Read ALTO XML ground truth (any version; a file or a folder of ``.xml``), one page per file.

    Words are ``String`` elements (``CONTENT``, ``HPOS``, ``VPOS``, ``WIDTH``, ``HEIGHT``), lines ``TextLine``;
    document order is reading order. Coordinates must be in pixels (``MeasurementUnit`` ``pixel`` or absent).
    The image is ``sourceImageInformation/fileName`` (relative to the file), or an image with the file's stem.
    """
    for document in _files(Path(path), (".xml",)):
        root = ElementTree.parse(document).getroot()
        if _local(root.tag) != "alto":
            continue
        unit = next((e.text for e in root.iter() if _local(e.tag) == "MeasurementUnit"), None)
        if unit and unit.strip() != "pixel":
            raise ValueError(f"{document}: MeasurementUnit {unit.strip()!r} is not supported, only 'pixel'")
        file_name = next((e.text for e in root.iter() if _local(e.tag) == "fileName" and e.text), None)

        def box(element: ElementTree.Element) -> Quad:
            x, y = float(element.get("HPOS", 0)), float(element.get("VPOS", 0))
            return _box_quad(x, y, x + float(element.get("WIDTH", 0)), y + float(element.get("HEIGHT", 0)))

        words: list[Region] = []
        lines: list[Region] = []
        for line in (e for e in root.iter() if _local(e.tag) == "TextLine"):
            strings = [s for s in line if _local(s.tag) == "String" and (s.get("CONTENT") or "").strip()]
            line_words = [Region(s.get("CONTENT", "").strip(), box(s)) for s in strings]
            words.extend(line_words)
            if line_words:
                lines.append(Region(" ".join(w.text for w in line_words), box(line)))
        yield Sample(
            id=document.name,
            image=_find_image(file_name.strip() if file_name else None, document, True),
            text="\n".join(line.text for line in lines),
            words=tuple(words),
            lines=tuple(lines),
        )


def _parse_icdar_line(raw: str, where: str) -> Region | None:
    raw = raw.strip().lstrip("\ufeff")
    if not raw:
        return None
    fields = raw.split(",") if "," in raw else raw.split()
    numbers: list[float] = []
    for value in fields[:8]:
        try:
            numbers.append(float(value))
        except ValueError:
            break
    if len(numbers) >= 8:
        points, rest = np.array(numbers[:8]).reshape(4, 2), fields[8:]
    elif len(numbers) >= 4:
        x0, y0, x1, y1 = numbers[:4]
        points, rest = np.array(_box_quad(x0, y0, x1, y1)), fields[4:]
    else:
        raise ValueError(f"{where}: expected 8 or 4 coordinates then a transcription, got {raw!r}")
    text = ("," if "," in raw else " ").join(rest).strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return Region(text, as_quad(order_quad(points)), ignore=text in ("###", ""))


def read_icdar(folder: str | os.PathLike[str]) -> Iterator[Sample]:
    """Read ICDAR-style word quads: ``gt_<stem>.txt`` per image ``<stem>.<ext>``.

    Lines are ``x1,y1,x2,y2,x3,y3,x4,y4,transcription`` (ICDAR 2015) or ``x0,y0,x1,y1,"transcription"`` (ICDAR
    2013, also space-separated); ``###`` marks a don't-care word. Images are searched anywhere under ``folder``.
    Words are in no reading order (``ordered=False``).
    """
    folder = Path(folder)
    images = {p.stem: p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
    for annotation in sorted(folder.rglob("gt_*.txt")):
        stem = annotation.stem[len("gt_") :]
        if stem not in images:
            raise FileNotFoundError(f"no image {stem}.* for {annotation} under {folder}")
        words = []
        for lineno, raw in enumerate(annotation.read_text(encoding="utf-8-sig").splitlines(), 1):
            region = _parse_icdar_line(raw, f"{annotation}:{lineno}")
            if region is not None:
                words.append(region)
        yield Sample(
            id=images[stem].name,
            image=images[stem],
            text=" ".join(w.text for w in words if not w.ignore),
            words=tuple(words),
            ordered=False,
        )


FORMATS: dict[str, Callable[[Path], Iterable[Sample]]] = {
    "manifest": read_manifest_samples,
    "docbank": read_docbank,
    "folder": read_text_folder,
    "pubtabnet": read_pubtabnet,
    "first-line": read_first_lines,
    "funsd": read_funsd,
    "hocr": read_hocr,
    "alto": read_alto,
    "icdar": read_icdar,
}

# Named datasets of the development data (../shared/data): name -> (folder under the data root, format).
SHORTCUTS: dict[str, tuple[str, str]] = {
    "docbank": ("docbank-samples", "docbank"),
    "tesseract-test": ("tesseract-test", "folder"),
    "pubtabnet": ("pubtabnet-examples", "pubtabnet"),
    "rapidocr-lines": ("rapidocr-lines", "first-line"),
}


def detect_format(path: str | os.PathLike[str]) -> str:
    """Guess the format of a dataset path from the files it holds (see :data:`FORMATS`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    if path.is_file():
        name = path.name.lower()
        if name == "manifest.jsonl":
            return "manifest"
        if name.endswith(".jsonl"):
            return "pubtabnet"
        if name.endswith((".hocr", ".html", ".xhtml", ".htm")):
            return "hocr"
        if name.endswith(".xml"):
            return "alto"
        raise ValueError(f"cannot tell the dataset format of {path}; pass it as FORMAT:PATH ({', '.join(FORMATS)})")
    names = {p.name.lower() for p in path.iterdir()}
    if "manifest.jsonl" in names:
        return "manifest"
    if "expected_first_line.json" in names:
        return "first-line"
    if any(n.endswith("_ori.jpg") for n in names):
        return "docbank"
    if any(n.endswith(".jsonl") for n in names):
        return "pubtabnet"
    if "annotations" in names or any(n.endswith(".json") for n in names):
        return "funsd"
    if any(path.rglob("gt_*.txt")):
        return "icdar"
    if any(n.endswith(".hocr") for n in names):
        return "hocr"
    if any(n.endswith(".xml") for n in names):
        return "alto"
    return "folder"


def open_dataset(
    spec: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    format: str | None = None,
    limit: int | None = None,
) -> Dataset:
    """Open a dataset by path, ``FORMAT:PATH`` or shortcut name, and read all its samples.

    Args:
        spec: a path; ``FORMAT:PATH`` to force a format; or a shortcut of :data:`SHORTCUTS` (``docbank``,
            ``tesseract-test``, ``pubtabnet``, ``rapidocr-lines``) resolved under ``data_root``.
        data_root: folder holding the shortcut datasets (the CLI passes ``../shared/data`` by default).
        format: force a format (overrides detection and a ``FORMAT:`` prefix).
        limit: keep only the first ``limit`` samples (samples are sorted by file name, so the subset is stable).

    Returns:
        The :class:`Dataset`.

    Raises:
        FileNotFoundError: the path (or the shortcut's folder) does not exist.
        ValueError: unknown format, a shortcut without ``data_root``, malformed ground truth.
    """
    text = os.fspath(spec)
    name = Path(text).name or text
    prefix, _, rest = text.partition(":")
    if prefix in FORMATS and rest:
        format, text = format or prefix, rest
        name = Path(rest).name
    path = Path(text)
    if text in SHORTCUTS and not path.exists():
        if data_root is None:
            raise ValueError(f"dataset {text!r} is a shortcut for a folder under a data root; pass data_root")
        folder, shortcut_format = SHORTCUTS[text]
        path, format, name = Path(data_root) / folder, format or shortcut_format, text
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path} (shortcuts: {', '.join(SHORTCUTS)})")
    format = format or detect_format(path)
    if format not in FORMATS:
        raise ValueError(f"unknown dataset format {format!r}; known: {', '.join(FORMATS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be positive, got {limit!r}")
    samples = []
    for sample in FORMATS[format](path):
        samples.append(sample)
        if limit is not None and len(samples) >= limit:
            break
    return Dataset(name=name, format=format, path=path, samples=tuple(samples))

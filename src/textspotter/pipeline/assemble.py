"""Per-region readings + grouped relations → one ``Page`` (spec §6.4, §7.6 step 5, §8.3).

Input per page: each region's text, quad (original-page pixels), detection confidence and text confidence, and the
relational model's grouping (paragraphs → lines → word indices, in graph order; ``ops.group_relations``).

Output: a ``Page`` whose

* words carry ``confidence = f_measure(detection, text)`` (harmonic mean) and ``valid = text != "" and
  confidence > 0.5`` (spec §6.4; ``AssemblyOptions.valid_confidence`` or the model's own threshold);
* paragraphs without any valid word are dropped unless ``include_invalid`` (spec §7.6 step 5); invalid words inside
  kept paragraphs stay, as in the published output;
* lines have the axis-aligned box over their word quads and the mean word confidence; paragraphs the box over their
  line boxes and the mean line confidence (the published "sentence" and "paragraph" items, spec §8.3); on a page
  whose text slants (``AssemblyOptions.deskew``) those boxes are taken in the frame of the text, so they are
  rectangles at its slant;
* words within a line keep the relational graph's order;
* the page is put in a column-aware reading order (``reading_order``), because the graph leaves paragraph order
  undefined (the official code collects paragraphs in a Python ``set``). With ``AssemblyOptions(order="lines")``
  (default; ours) every line is placed by that rule and a paragraph stays whole only where its lines come out
  consecutive and in the graph's order; elsewhere it is split (a link from a title to a line one paragraph further
  down, a "next line" jumping across a column). With ``order="paragraphs"`` the graph's paragraphs are kept whole
  and placed as blocks, lines inside them in graph order (docs/usage.md §1 compares both). With ``order="lines"``,
  lines that form a table (``AssemblyOptions.table_gap``) are read row by row, each row one line, each table one
  paragraph.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..document import Line, Page, Paragraph, Quad, Word, bounding_quad, map_page_quads
from ..geometry import quad_height
from ..models.spec import PUBLISHED_VALID_CONFIDENCE
from ..ops import f_measure
from ..ops.dashes import LONE_DASHES, join_dash_runs, math_minus

__all__ = ["AssemblyOptions", "PageReadings", "assemble_page", "reading_order"]

# Boxes may overlap by this fraction of the page's median word height and still count as separated by a gap:
# axis-aligned boxes of slightly slanted or tall-glyph lines overlap their neighbours by a few pixels.
_GAP_TOLERANCE = 0.25
# A gutter intruder (reading_order, step 2): a box narrower than this fraction of the block's width that crosses a
# column gutter (a photo caption set across two columns); at most this share of the block's boxes.
_INTRUDER_WIDTH = 0.25
_INTRUDER_SHARE = 0.25
# A table cell (reading_order's table rule) holds at most this many lines: more is a paragraph beside a note.
_TABLE_CELL_LINES = 3
# A table's gutter may be as narrow as this share of ``table_gap`` where the column left of it is ragged: the median
# width of its lines at most _RAGGED_WIDTH of the column's (reading_order, step 1; dev pages, session 42).
_RAGGED_GAP = 0.5
_RAGGED_WIDTH = 0.75
# A table with empty cells (_sparse_rows) takes its rows from a first column at most this share of its width.
_ROW_LABEL_WIDTH = 0.25
# A first or last column of at most this share of its neighbour's lines, and at most _NOTE_WIDTH of its width, holds
# notes (margin notes, the terms of a definition list) read beside the neighbour's line they stand at.
_NOTE_SHARE = 0.25
_NOTE_WIDTH = 0.5
_NOTE_GAP = 2.0  # in line heights of the neighbour: margin notes stand close, a figure's labels further off

_ORDERS = ("lines", "paragraphs")


MAX_SKEW_DEGREES = 20.0
"""Largest slant :func:`text_skew` reports: text turned further is the orientation step's business (quarter turns)
or not a slanted page of horizontal lines."""
# text_skew reads lines of at least this many words, and needs this many words on such lines in all.
_SKEW_MIN_LINE_WORDS = 3
_SKEW_MIN_WORDS = 10


def text_skew(quads: np.ndarray, lines: Sequence[Sequence[int]]) -> float:
    """The slant of a page's text lines, in degrees (positive: lines descend to the right, image y pointing down).

    Each line of at least three words gives the slope of the least-squares line through its words' centres (the
    word quads themselves are nearly axis-aligned at small slants: the detector's boxes do not follow a 2-degree
    turn); the result is the median over the words of those lines. 0.0 when fewer than ten words sit on such lines,
    or when the median is steeper than :data:`MAX_SKEW_DEGREES`.

    Args:
        quads: ``[n, 4, 2]`` word quads (pixels, clockwise from top-left).
        lines: each line's word indices into ``quads``, in reading order.

    >>> boxes = [[[x, 0.1 * x], [x + 8, 0.1 * x], [x + 8, 0.1 * x + 5], [x, 0.1 * x + 5]] for x in range(0, 120, 10)]
    >>> round(text_skew(np.array(boxes, dtype=float), [list(range(12))]), 2)
    5.71
    """
    centres = np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2).mean(axis=1)
    angles: list[float] = []
    weights: list[int] = []
    for members in lines:
        if len(members) < _SKEW_MIN_LINE_WORDS:
            continue
        points = centres[list(members)]
        x = points[:, 0] - points[:, 0].mean()
        spread = float(x @ x)
        if spread <= 0:
            continue
        slope = float(x @ (points[:, 1] - points[:, 1].mean())) / spread
        angles.append(math.degrees(math.atan(slope)))
        weights.append(len(members))
    if sum(weights) < _SKEW_MIN_WORDS:
        return 0.0
    order = np.argsort(angles)
    cumulative = np.cumsum(np.asarray(weights)[order])
    median = float(np.asarray(angles)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])
    return median if abs(median) <= MAX_SKEW_DEGREES else 0.0


def _turn(quads: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    """``[..., 2]`` points turned by ``degrees`` about ``centre`` (image axes, y down: positive turns clockwise)."""
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    points = np.asarray(quads, dtype=np.float64) - centre
    turned = np.stack([points[..., 0] * cos - points[..., 1] * sin, points[..., 0] * sin + points[..., 1] * cos], -1)
    return turned + centre


def _turn_page(page: Page, degrees: float, centre: tuple[float, float]) -> Page:
    """The page with every word, line and paragraph quad turned by ``degrees`` about ``centre``."""

    def turn(quad: Quad) -> Quad:
        return _quad_of(_turn(np.asarray(quad), degrees, centre).tolist())

    return map_page_quads(page, turn, turn)


@dataclass(frozen=True)
class AssemblyOptions:
    """How readings become a ``Page``.

    Attributes:
        include_invalid: keep paragraphs in which no word is valid (the published ``include_invalid``).
        order: ``"lines"`` (default): every line is placed by the column-aware rule and the graph's paragraphs are
            split where their lines are not read consecutively; ``"paragraphs"``: the graph's paragraphs are kept
            whole and placed as blocks. ``"lines"`` gives the lower CER on every set we measured, because one wrong
            paragraph link no longer drags a line out of place (docs/usage.md §1).
        table_gap: ours, used by ``order="lines"``. Columns of lines whose cells line up in rows (a cell of up to
            three lines where the other columns have nothing beside its later lines) and whose gutters are at least
            this fraction of the narrower column's width are read as a table, row by row (``reading_order``): each
            row becomes one line (its cells left to right) and the table one paragraph. A key-value block
            ("Address:  14 Mill Street") or a price list with wrapped descriptions then reads as it is meant to;
            the text columns of a page have gutters of a few percent of their width and stay columns. With it, a
            narrow first or last column of a few lines close beside another (margin notes, the numbers of a hanging
            list) is read line by line beside that column. ``None`` reads every column whole.
        join_gap: ours. Two lines of the relational model that sit on one row, at most this many line heights
            apart, with a line directly above or below running across the gap between them, are joined into one
            line before the page is ordered (a missed word or full stop in a justified line leaves a gap the model
            may not bridge, and the right piece would otherwise be read as a column of its own). ``None`` joins
            nothing.
        split_gap: ours. A line of the relational model with a gap between two of its words wider than this many
            line heights, where the row directly above and the row directly below (those that exist) have text on
            both sides of the gap and none across it (a column gutter), is split there before the page is ordered:
            a link from the end of a line in one column to the line beside it in the next would otherwise carry the
            rest of the column into the middle of the other. ``None`` splits nothing.
        number_columns: ours. A line that is only a number (a page number ``28``, ``xii``; a section number ``4``,
            ``4.2``, ``J.1``) and stands in a column of at least three such lines (right edges lined up for page
            numbers, left edges for section numbers) is joined to the line with letters beside it on its row before
            the page is ordered: a table of contents then reads ``4.2 Title 28`` row by row instead of a column of
            titles followed by a column of page numbers (its dot leaders are not read, so nothing bridges the gap).
            A page number joins the nearest line to its left only where it ends its row and the rows above and
            below leave the gap mostly open (a column gutter has text of the next column there); a section number
            the title to its right, at most three line heights away, when that title got a page number
            (:func:`_number_joins`). A line number of a numbered listing (an integer of such a column with its
            neighbour in the count on the page) joins the line to its right on its row, so the listing reads
            ``40 \\expandafter ...`` line by line. Numbers beside numbers (numeric tables) and equation numbers are
            left to the other rules.
        valid_confidence: a word is valid when its text is not empty and its confidence is above this, in
            [0, 1); ``None`` takes the model's (``PostprocessConfig.valid_confidence``: 0.5, the published rule,
            unless the model says otherwise; 0.5 where there is no model).
        fix_dashes: ours. A run of dashes inside a word is written as one dash (``577–-583`` → ``577–583``) and a
            lone en or em dash between two math operands of a line as a minus sign (``n – 1`` → ``n − 1``)
            (:mod:`textspotter.ops.dashes`). True (default).
        deskew: ours. When the page's text runs at a slant of at least this many degrees (a photographed page, a
            scan fed in askew; :func:`text_skew`, at most :data:`MAX_SKEW_DEGREES`), the lines are split, joined,
            grouped into tables and ordered in the frame of the text (the quads turned back by the slant), and the
            quads of the page's words, lines and paragraphs turned forward again after: the axis-aligned boxes of
            slanted lines overlap their neighbours, which the column-aware order reads by top edge, interleaving
            lines of two paragraphs and a line with the one below it. Line and paragraph quads then follow the text
            (rectangles at the slant) instead of the page's axes. ``None`` never turns the frame; pages slanted less
            than this are assembled as they are.
        drop_leaders: ours. On a page where at least eight words were read from dot leaders (words of only ``.``,
            ``·``, ``•``, ``×`` and the like, read unsurely or four or more in a row, or one run of three or more
            such characters, ``ー`` and ``．`` among them: the dots of a scanned table of contents or index that the
            detector found), those words are left out, such a run is cut off the end of a word (a CJK title and
            its leader are one region), and an entry is joined to the page number those leaders led to
            (:func:`_drop_leaders`). The leaders are not text (the corpus
            references leave them out); an ellipsis ``. . .`` or a bullet read with confidence stays. True
            (default); False keeps every word read.
        continue_paragraphs: ours. Two paragraphs of the relational model are made one when the first one's last
            line is left open and the other's first line continues it: that line ends without a sentence's closing
            mark (``. ! ? : ;``, also before a closing quote or bracket), the next starts with a lower-case letter,
            sits directly below it (at most :data:`_CONTINUE_GAP` line heights lower), starts at the paragraph's
            left edge and is no wider to the right than the open line, in text of the same height
            (:func:`_continue_paragraphs`). The model leaves a paragraph's short last line on its own now and then
            ("... the children's corner and the" / "evening classes on local history."). Scripts without letter
            case (Chinese, Japanese) are left as the model grouped them. True (default).
    """

    include_invalid: bool = False
    order: str = "lines"
    table_gap: float | None = 0.15
    join_gap: float | None = 1.5
    split_gap: float | None = 1.2
    number_columns: bool = True
    valid_confidence: float | None = None
    fix_dashes: bool = True
    deskew: float | None = 1.0
    drop_leaders: bool = True
    continue_paragraphs: bool = True

    def __post_init__(self) -> None:
        if self.order not in _ORDERS:
            raise ValueError(f"AssemblyOptions.order must be one of {_ORDERS}, got {self.order!r}")
        if self.table_gap is not None and not self.table_gap >= 0:
            raise ValueError(f"AssemblyOptions.table_gap must be None or >= 0, got {self.table_gap!r}")
        if self.join_gap is not None and not self.join_gap >= 0:
            raise ValueError(f"AssemblyOptions.join_gap must be None or >= 0, got {self.join_gap!r}")
        if self.split_gap is not None and not self.split_gap >= 0:
            raise ValueError(f"AssemblyOptions.split_gap must be None or >= 0, got {self.split_gap!r}")
        if not isinstance(self.number_columns, bool):
            raise TypeError(f"AssemblyOptions.number_columns must be a bool, got {self.number_columns!r}")
        if not isinstance(self.fix_dashes, bool):
            raise TypeError(f"AssemblyOptions.fix_dashes must be a bool, got {self.fix_dashes!r}")
        if not isinstance(self.drop_leaders, bool):
            raise TypeError(f"AssemblyOptions.drop_leaders must be a bool, got {self.drop_leaders!r}")
        if not isinstance(self.continue_paragraphs, bool):
            raise TypeError(f"AssemblyOptions.continue_paragraphs must be a bool, got {self.continue_paragraphs!r}")
        if self.deskew is not None and not 0 < self.deskew <= MAX_SKEW_DEGREES:
            raise ValueError(f"AssemblyOptions.deskew must be None or in (0, {MAX_SKEW_DEGREES}], got {self.deskew!r}")
        valid = self.valid_confidence
        if valid is not None and (isinstance(valid, bool) or not isinstance(valid, (int, float)) or not 0 <= valid < 1):
            raise ValueError(f"AssemblyOptions.valid_confidence must be None or in [0, 1), got {valid!r}")


@dataclass(frozen=True)
class PageReadings:
    """What the stages found on one page, before grouping.

    Attributes:
        texts: decoded text of each of the ``n`` regions.
        quads: ``[n, 4, 2]`` float32 region quads in original-page pixels.
        detection_confidence: ``[n]`` float32 detector confidence in [0, 1] (mean cell probability after NMS).
        text_confidence: ``[n]`` float32 recognizer confidence in [0, 1].
        groups: paragraphs → lines → region indices in graph order (``ops.group_relations``), or None when the
            relational model did not run (then every region is its own line and paragraph).
        width, height: original page size in pixels.
        index: page number within its document.
        timings: seconds per stage spent on this page.
    """

    texts: Sequence[str]
    quads: np.ndarray
    detection_confidence: np.ndarray
    text_confidence: np.ndarray
    groups: list[list[list[int]]] | None
    width: int
    height: int
    index: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.texts)
        shapes = {
            "quads": (tuple(self.quads.shape), (n, 4, 2)),
            "detection_confidence": (tuple(self.detection_confidence.shape), (n,)),
            "text_confidence": (tuple(self.text_confidence.shape), (n,)),
        }
        for name, (got, want) in shapes.items():
            if got != want:
                raise ValueError(f"PageReadings.{name} must have shape {want} for {n} texts, got {got}")


def _complete_groups(groups: list[list[list[int]]] | None, count: int) -> list[list[list[int]]]:
    """Return ``groups`` with every region index in ``range(count)`` present exactly once.

    Indices missing from the grouping (or all of them when it is None) become one-word paragraphs, so that nothing
    the detector found is silently lost; repeated indices keep their first place.
    """
    seen: set[int] = set()
    out: list[list[list[int]]] = []
    for paragraph in groups or []:
        lines = []
        for line in paragraph:
            kept = []
            for index in map(int, line):
                if 0 <= index < count and index not in seen:
                    seen.add(index)
                    kept.append(index)
            if kept:
                lines.append(kept)
        if lines:
            out.append(lines)
    out.extend([[i]] for i in range(count) if i not in seen)
    return out


def _split_on_gaps(spans: tuple[list[float], list[float]], members: list[int], tolerance: float) -> list[list[int]]:
    """Split ``members`` into runs separated by gaps of the boxes' projections on one axis.

    Args:
        spans: (starts, ends) of every box's projection on the axis, as Python floats (``boxes[:, 0].tolist()`` and
            ``boxes[:, 2].tolist()`` for x): the function runs for every cut of the page, hundreds of times, and on
            a few boxes numpy's per-call cost is most of the time.
        members: the box indices to split.
        tolerance: overlap still treated as a gap.

    Returns:
        The runs in increasing coordinate order; inside a run the members keep increasing start order (stable:
        equal starts keep their order in ``members``).
    """
    starts, ends = spans
    runs: list[list[int]] = []
    run_end = -math.inf
    for k in sorted(members, key=starts.__getitem__):
        if not runs or starts[k] >= run_end - tolerance:
            runs.append([])
            run_end = ends[k]
        runs[-1].append(k)
        run_end = max(run_end, ends[k])
    return runs


def _table_rows(boxes: np.ndarray, columns: list[list[int]], min_gap: float) -> list[list[int]] | None:
    """Return the rows of columns that form a table (each row its cells left to right, each cell's lines top to
    bottom; rows top to bottom), or None.

    A box (a line) that lines up (overlaps vertically by at least half the smaller height) with no box of another
    column continues the cell above it in its column: a cell of up to ``_TABLE_CELL_LINES`` lines whose later lines
    follow at most one line height apart (a wrapped description beside a one-line price). A box that lines up with
    the one-line cell just above it in its own column is a second piece of that row's cell (read left to right).
    Columns form a table when every column then holds the same number (at least two) of cells, the first line of the
    k-th cell of each column lines up with that of the k-th cell of the next one, and every gap between neighbouring
    columns is at least ``min_gap`` times the narrower column's width, or ``_RAGGED_GAP`` of that where the column
    left of the gap is ragged (its lines' median width at most ``_RAGGED_WIDTH`` of the column's). Text columns of a
    page fail the last test (their gutter is a few percent of their width, their justified lines fill the column)
    and mostly the first two (paragraphs run longer than a cell); key-value blocks and simple tables pass all three.
    Columns with different numbers of cells may still be a table with empty cells (:func:`_sparse_rows`).
    """
    spans = [(boxes[c, 0].min(), boxes[c, 2].max()) for c in columns]
    for column, (left_start, left_end), (right_start, right_end) in zip(columns, spans, spans[1:]):
        gap, narrower = right_start - left_end, min(left_end - left_start, right_end - right_start)
        if gap >= min_gap * narrower:
            continue
        # A narrower gap still parts the keys of a key-value block from their values when the column left of it is
        # ragged (its lines' median width well short of the column's): the justified lines of a text column fill it.
        ragged = np.median(boxes[column, 2] - boxes[column, 0]) <= _RAGGED_WIDTH * (left_end - left_start)
        if not (ragged and gap >= _RAGGED_GAP * min_gap * narrower):
            return None

    # Python floats: numpy scalars cost ten times more in these loops.
    top, bottom = boxes[:, 1].tolist(), boxes[:, 3].tolist()

    def aligned(a: int, b: int) -> bool:
        overlap = min(bottom[a], bottom[b]) - max(top[a], top[b])
        return overlap >= 0.5 * min(bottom[a] - top[a], bottom[b] - top[b])

    ordered = [sorted(column, key=lambda i: top[i] + bottom[i]) for column in columns]
    cells: list[list[list[int]]] = []  # per column, its cells, each a list of line boxes
    for c, column in enumerate(ordered):
        others = [i for d, other in enumerate(ordered) if d != c for i in other]
        cells.append([])
        for i in column:
            if cells[-1] and len(cells[-1][-1]) == 1 and aligned(i, cells[-1][-1][0]):
                # Two pieces of one row in the same column (a code line the relational model split at a wide
                # space) are one cell, read left to right.
                cells[-1][-1] = sorted([cells[-1][-1][0], i], key=lambda k: boxes[k, 0])
                continue
            if any(aligned(i, j) for j in others):
                cells[-1].append([i])
                continue
            if not cells[-1] or len(cells[-1][-1]) >= _TABLE_CELL_LINES:
                return None
            above = cells[-1][-1][-1]
            if top[i] - bottom[above] > max(bottom[i] - top[i], bottom[above] - top[above]):
                return None
            cells[-1][-1].append(i)
    equal = all(len(column) == len(cells[0]) for column in cells) and len(cells[0]) >= 2
    if equal and all(aligned(a[0], b[0]) for left, right in zip(cells, cells[1:]) for a, b in zip(left, right)):
        return [[i for cell in row for i in cell] for row in zip(*cells)]
    return _sparse_rows(boxes, cells, aligned)


def _sparse_rows(
    boxes: np.ndarray, cells: list[list[list[int]]], aligned: Callable[[int, int], bool]
) -> list[list[int]] | None:
    """The rows of a table some of whose columns leave cells empty (a table of symbols, marks in a few columns):
    the columns with the most cells (at least two of them, at least two cells each, their k-th cells lined up, the
    first column among them and at most a quarter of the table's width: its row labels) give the rows; every cell of
    the other columns lines up with exactly one row and no two with the same one. None otherwise (a text column
    beside a two-column glossary: the text column is no row label)."""
    most = max(len(column) for column in cells)
    full = [column for column in cells if len(column) == most]
    if most < 2 or len(full) < 2 or len(full) == len(cells) or full[0] is not cells[0]:
        return None
    labels = [i for cell in cells[0] for i in cell]
    every = [i for column in cells for cell in column for i in cell]
    width = boxes[every, 2].max() - boxes[every, 0].min()
    if boxes[labels, 2].max() - boxes[labels, 0].min() > _ROW_LABEL_WIDTH * width:
        return None
    spine = [cell[0] for cell in full[0]]
    if not all(aligned(a, cell[0]) for column in full[1:] for a, cell in zip(spine, column)):
        return None
    rows: list[list[int]] = [[] for _ in spine]
    for column in cells:
        taken: set[int] = set()
        for cell in column:
            matches = [r for r, head in enumerate(spine) if aligned(head, cell[0])]
            if len(matches) != 1 or matches[0] in taken:
                return None
            taken.add(matches[0])
            rows[matches[0]].extend(cell)
    return rows


def _outside_columns(
    y_spans: tuple[list[float], list[float]], columns: list[list[int]]
) -> tuple[list[list[int]], list[int], list[int]]:
    """Set apart the boxes of each column that lie wholly above (``before``) or wholly below (``after``) every box
    left in all the other columns, until none does; ``(inner, before, after)``, ``inner`` the columns left with
    boxes, in their order. Repeated because setting a page number apart below one column can leave the closing
    line of another below everything else."""
    tops, bottoms = y_spans
    inner = [list(c) for c in columns]
    before: list[int] = []
    after: list[int] = []
    moved = True
    while moved and len(inner) > 1:
        moved = False
        spans = [(min(tops[i] for i in c), max(bottoms[i] for i in c)) for c in inner]
        kept_columns = []
        for k, column in enumerate(inner):
            others = [span for j, span in enumerate(spans) if j != k]
            first, last = min(top for top, _ in others), max(bottom for _, bottom in others)
            if spans[k][0] >= first and spans[k][1] <= last:
                kept_columns.append(column)  # within the others' rows: nothing to set apart (most columns)
                continue
            kept = []
            for i in column:
                if bottoms[i] <= first:
                    before.append(i)
                elif tops[i] >= last:
                    after.append(i)
                else:
                    kept.append(i)
            moved = moved or len(kept) < len(column)
            if kept:
                kept_columns.append(kept)
        inner = kept_columns
    return inner, before, after


def reading_order(boxes: np.ndarray, *, tolerance: float = 0.0, table_gap: float | None = None) -> list[int]:
    """Order axis-aligned boxes for reading: columns left to right, each read top to bottom; tables by rows.

    The rule is a recursive XY-cut that keeps columns together across rows:

    1. If vertical gaps that no box crosses split the boxes into columns, read the columns left to right,
       each ordered recursively, unless the columns form a table (cells of one to three boxes, each cell's first
       box lined up with the other cells of its row, or with one row of the narrow first column where columns leave
       cells empty, gutters of at least ``table_gap`` times the narrower column's width, half that beside a ragged
       column; ours; :func:`_table_rows`): then read it row by row, each row cell by cell. Lines of a column lying
       wholly above or below every line of the other columns are left out of that test and read before or after
       the table. With ``table_gap`` set, a first or last column of notes (at most a
       quarter as many lines as its neighbour, at most half its width, within its rows and at most two line heights
       from it: margin notes, the numbers or terms of a hanging list) is read beside its neighbour, each note before
       the first line of the neighbour whose middle lies below the note's top.
    2. Otherwise cut the boxes into horizontal bands at the gaps that no box crosses, and join consecutive bands
       as long as their union still splits into columns (so a two-column body stays one block even where both
       columns happen to have a paragraph break at the same height, while a full-width title or footer stays
       a band of its own). A band that would split with the block into columns but for a few narrow boxes
       crossing a gutter (less than a quarter of the block's width each, at most a quarter of its boxes, and not the
       whole band: a photo caption set across two columns) joins the block without them; they are read after the
       block. Read the blocks top to bottom, each ordered recursively.
    3. Boxes that overlap in both directions are read by top edge, then left edge.

    Args:
        boxes: ``[n, 4]`` (x_min, y_min, x_max, y_max) in any pixel space.
        tolerance: overlap in pixels still treated as a gap (absorbs slightly overlapping boxes).
        table_gap: the smallest gutter, relative to the narrower column, of columns read as table rows; None
            (default) reads every column whole (and columns of notes apart). Meant for boxes of single lines:
            side-by-side paragraphs of equal height would pass the test too.

    Returns:
        The box indices in reading order (a permutation of ``range(n)``).

    >>> reading_order(np.array([[0, 0, 10, 5], [20, 0, 30, 5], [0, 10, 10, 15]], dtype=float))
    [0, 2, 1]
    """
    return _order_and_cells(boxes, tolerance, table_gap)[0]


def _order_and_cells(
    boxes: np.ndarray, tolerance: float, table_gap: float | None
) -> tuple[list[int], dict[int, tuple[int, int]]]:
    """``reading_order`` and, for each box read as a table cell, its (table, row) numbers."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cells: dict[int, tuple[int, int]] = {}
    x_spans = (boxes[:, 0].tolist(), boxes[:, 2].tolist())
    y_spans = (boxes[:, 1].tolist(), boxes[:, 3].tolist())

    def has_columns(members: list[int]) -> bool:
        return len(_split_on_gaps(x_spans, members, tolerance)) > 1

    def intruders(block: list[int], band: list[int]) -> list[int]:
        """The narrow boxes of ``band`` that alone keep ``block + band`` from splitting into columns, or []."""
        union = block + band
        extent = boxes[union, 2].max() - boxes[union, 0].min()
        narrow = {i for i in band if boxes[i, 2] - boxes[i, 0] < _INTRUDER_WIDTH * extent}
        if not narrow:
            return []
        columns = _split_on_gaps(x_spans, [i for i in union if i not in narrow], tolerance)
        if len(columns) < 2:
            return []
        spans = sorted((boxes[c, 0].min(), boxes[c, 2].max()) for c in columns)
        gutters = [(left[1], right[0]) for left, right in zip(spans, spans[1:])]
        crossing = [i for i in band if i in narrow and any(boxes[i, 0] < b and boxes[i, 2] > a for a, b in gutters)]
        if not crossing or len(crossing) == len(band) or len(crossing) > _INTRUDER_SHARE * len(union):
            return []
        out = set(crossing)
        return crossing if has_columns([i for i in union if i not in out]) else []

    def is_notes(notes: list[int], beside: list[int], left: bool) -> bool:
        """Whether column ``notes`` (left of ``beside`` or right of it) holds notes to column ``beside``: few narrow
        lines, within its rows, close to it (a figure's labels and equation numbers stand further off)."""
        if len(notes) > _NOTE_SHARE * len(beside):
            return False
        b = boxes[beside]
        width = b[:, 2].max() - b[:, 0].min()
        if boxes[notes, 2].max() - boxes[notes, 0].min() > _NOTE_WIDTH * width:
            return False
        if boxes[notes, 1].min() < b[:, 1].min() or boxes[notes, 3].max() > b[:, 3].max():
            return False
        gap = b[:, 0].min() - boxes[notes, 2].max() if left else boxes[notes, 0].min() - b[:, 2].max()
        return bool(gap <= _NOTE_GAP * np.median(b[:, 3] - b[:, 1]))

    def with_notes(columns: list[list[int]]) -> list[int]:
        """Columns left to right, each read top to bottom, except that a first or last column of notes (margin
        notes, the terms of a definition list) is read beside its neighbour: each note just before the first line
        of the neighbour, in its reading order, whose middle lies below the note's top."""
        notes: dict[int, list[int]] = {}  # column index -> the notes read beside it
        if len(columns) > 1 and is_notes(columns[0], columns[1], True):
            notes[1] = list(columns[0])
        if len(columns) > 1 and is_notes(columns[-1], columns[-2], False):
            notes.setdefault(len(columns) - 2, []).extend(columns[-1])
        noted = {i for column in notes.values() for i in column}
        result: list[int] = []
        for k, column in enumerate(columns):
            if column[0] in noted:
                continue
            ordered = order(column)
            if k not in notes:
                result.extend(ordered)
                continue
            middles = (boxes[ordered, 1] + boxes[ordered, 3]) / 2
            before: dict[int, list[int]] = {}  # position in ``ordered`` -> the notes read just before it
            for note in sorted(notes[k], key=lambda i: (boxes[i, 1], boxes[i, 0])):
                below = np.flatnonzero(middles > boxes[note, 1])
                before.setdefault(int(below[0]) if below.size else len(ordered), []).append(note)
            for position, line in enumerate([*ordered, None]):
                result.extend(before.get(position, []))
                if line is not None:
                    result.append(line)
        return result

    def order(members: list[int]) -> list[int]:
        if len(members) <= 1:
            return list(members)
        columns = _split_on_gaps(x_spans, members, tolerance)
        if len(columns) > 1:
            before: list[int] = []
            after: list[int] = []
            rows = _table_rows(boxes, columns, table_gap) if table_gap is not None else None
            if rows is None and table_gap is not None:
                # Lines above or below everything of the other columns (the closing brace of a key-value block,
                # set left of its keys; the heading after it) are no table cells: the rest may still be a table,
                # read after the lines above it and before those below.
                inner, before, after = _outside_columns(y_spans, columns)
                rows = _table_rows(boxes, inner, table_gap) if len(inner) > 1 and (before or after) else None
            if rows is not None:
                table = 1 + max((cell[0] for cell in cells.values()), default=-1)
                cells.update({i: (table, r) for r, row in enumerate(rows) for i in row})
                return order(before) + [i for row in rows for i in row] + order(after)
            if table_gap is not None:
                return with_notes(columns)
            return [i for column in columns for i in order(column)]
        bands = _split_on_gaps(y_spans, members, tolerance)
        if len(bands) == 1:
            return sorted(members, key=lambda i: (boxes[i, 1], boxes[i, 0]))
        blocks: list[list[int]] = []
        aside: list[list[int]] = []  # per block, the gutter intruders read after it
        for band in bands:
            # The union of all bands has no columns (step 1 failed), so every block stays a strict subset; so do
            # the intruders set aside (never a whole band).
            if blocks and has_columns(blocks[-1] + band):
                blocks[-1] = blocks[-1] + band
                continue
            crossing = intruders(blocks[-1], band) if blocks and has_columns(blocks[-1]) else []
            if crossing:
                out = set(crossing)
                blocks[-1] = blocks[-1] + [i for i in band if i not in out]
                aside[-1] = aside[-1] + crossing
            else:
                blocks.append(band)
                aside.append([])
        return [i for block, out in zip(blocks, aside) for i in order(block) + order(out)]

    return order(list(range(boxes.shape[0]))), cells


def _join_lines(first: Line, second: Line) -> Line:
    """One line holding the words of ``first`` then ``second`` (a table row read across its cells)."""
    return _line_of(first.words + second.words)


def _same_rows(boxes: np.ndarray, min_overlap: float, max_ratio: float) -> np.ndarray:
    """``[n, n]`` bool: boxes ``a`` and ``b`` (``[n, 4]`` x_min, y_min, x_max, y_max) stand on one row, overlapping
    vertically by at least ``min_overlap`` of the smaller height, the larger height at most ``max_ratio`` times the
    smaller; False on the diagonal."""
    y0, y1 = boxes[:, 1], boxes[:, 3]
    height = np.maximum(y1 - y0, 1e-6)
    small = np.minimum(height[:, None], height[None, :])
    overlap = np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :])
    rows = (overlap >= min_overlap * small) & (np.maximum(height[:, None], height[None, :]) / small <= max_ratio)
    np.fill_diagonal(rows, False)
    return rows


def _row_joins(boxes: np.ndarray, max_gap: float) -> list[tuple[int, int]]:
    """Pairs ``(a, b)`` of line boxes that are two pieces of one text line, ``a`` the left piece.

    ``b`` continues ``a`` when both sit on one row (vertical overlap of at least 60 % of the smaller height, heights
    within a factor 1.4), ``b`` starts at most ``max_gap`` heights right of ``a``'s end (and does not start inside
    it), no other box lies in the gap between them, a line of similar height directly above or below the row (at
    most one height away) runs across the whole gap, and no such neighbouring row has text on both sides of the gap
    with the gap open. Those last tests tell a break inside a justified line (a missed word or full stop leaves a
    wide space that the relational model may not bridge) from a column gutter, which the neighbouring rows leave
    open as well (a title may run across it above the first row). Each piece joins at most one piece on either
    side, its nearest.

    Args:
        boxes: ``[n, 4]`` (x_min, y_min, x_max, y_max) line boxes.
        max_gap: widest gap joined, in line heights.

    Returns:
        The pairs, in no particular order; chains (``a``-``b``, ``b``-``c``) are possible.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    n = boxes.shape[0]
    if n < 2:
        return []
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    height = np.maximum(y1 - y0, 1e-6)
    small = np.minimum(height[:, None], height[None, :])
    gap = x0[None, :] - x1[:, None]  # gap[a, b]: from a's right end to b's left start
    candidate = _same_rows(boxes, 0.6, 1.4) & (gap >= -0.25 * small) & (gap <= max_gap * small)
    # Nearest partner on each side, mutually.
    distance = np.where(candidate, gap, np.inf)
    right_of = np.argmin(distance, axis=1)
    left_of = np.argmin(distance, axis=0)
    pairs = []
    for a in range(n):
        b = int(right_of[a])
        if not np.isfinite(distance[a, b]) or int(left_of[b]) != a:
            continue
        gap_start, gap_end = x1[a], x0[b]
        top, bottom = min(y0[a], y0[b]), max(y1[a], y1[b])
        row_height = max(height[a], height[b])
        others = np.ones(n, dtype=bool)
        others[[a, b]] = False
        # Nothing else inside the gap on this row.
        inside = others & (x0 < gap_end) & (x1 > gap_start) & (y0 < bottom) & (y1 > top)
        if inside.any():
            continue
        similar = (height <= 1.4 * row_height) & (height >= row_height / 1.4)
        near = (y1 <= top + 0.25 * row_height) & (y1 >= top - row_height)  # above, at most one height away
        near |= (y0 >= bottom - 0.25 * row_height) & (y0 <= bottom + row_height)  # below
        neighbours = others & similar & near
        crosses = (x0 <= gap_start) & (x1 >= gap_end)
        if not (neighbours & crosses).any():
            continue
        # A neighbouring row with text on both sides of the gap and none across it is a gutter (two columns
        # under a title that runs across them): leave it open.
        if _open_gutter(boxes, neighbours, (x0[a], gap_start, gap_end, x1[b]), row_height):
            continue
        pairs.append((a, b))
    return pairs


def _open_gutter(boxes: np.ndarray, row: np.ndarray, span: tuple[float, float, float, float], height: float) -> bool:
    """Whether the boxes selected by ``row`` leave a gap open: one ends before the gap's end, after the line's
    start, and another starts after the gap's start, before the line's end, overlapping it vertically by more than
    half of ``height``.

    Args:
        boxes: ``[n, 4]`` (x_min, y_min, x_max, y_max).
        row: ``[n]`` bool, the boxes of one neighbouring row.
        span: (line start, gap start, gap end, line end) x coordinates.
        height: the line's height.
    """
    start, gap_start, gap_end, end = span
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    left = np.flatnonzero(row & (x1 <= gap_end) & (x1 > start))
    right = np.flatnonzero(row & (x0 >= gap_start) & (x0 < end))
    return any(min(y1[i], y1[j]) - max(y0[i], y0[j]) > 0.5 * height for i in left for j in right)


def _gutter_cuts(words: np.ndarray, lines: np.ndarray, this: int, min_gap: float) -> list[int]:
    """Where a line crosses a column gutter: indices ``k`` such that the line should break between words ``k - 1``
    and ``k``.

    A break needs a gap of more than ``min_gap`` line heights between consecutive word boxes, no line of similar
    height directly above or below the line (at most one height away) running across the gap, and an open gutter
    in the row above and in the row below, where each exists: a line ending before the gap and one starting after
    it that overlap each other vertically by half a height (the gutter test of :func:`_row_joins`, so a split line
    is not joined again).

    Args:
        words: ``[m, 4]`` (x_min, y_min, x_max, y_max) word boxes of the line, in its reading order.
        lines: ``[n, 4]`` boxes of the page's lines, this one among them.
        this: the row of ``lines`` that is this line (not its own neighbour).
        min_gap: narrowest gap split, in line heights.
    """
    if words.shape[0] < 2:
        return []
    height = _median((words[:, 3] - words[:, 1]).tolist())
    wide = np.flatnonzero(words[1:, 0] - words[:-1, 2] > min_gap * height) + 1
    if height <= 0 or wide.size == 0:  # most lines: no gap to look at
        return []
    top, bottom = float(words[:, 1].min()), float(words[:, 3].max())
    x0, y0, x1, y1 = (lines[:, k] for k in range(4))
    line_height = y1 - y0
    similar = (line_height <= 1.4 * height) & (line_height >= height / 1.4) & (np.arange(len(lines)) != this)
    above = similar & (y1 <= top + 0.25 * height) & (y1 >= top - height)
    below = similar & (y0 >= bottom - 0.25 * height) & (y0 <= bottom + height)
    cuts = []
    for k in wide.tolist():
        gap_start, gap_end = float(words[k - 1, 2]), float(words[k, 0])
        if ((above | below) & (x0 <= gap_start) & (x1 >= gap_end)).any():
            continue
        # The gutter runs on through the row above and the row below (where there is one): a wide space that
        # happens to sit over a gap of one neighbouring row is not split.
        span = (float(words[0, 0]), gap_start, gap_end, float(words[-1, 2]))
        sides = [_open_gutter(lines, row, span, height) for row in (above, below) if row.any()]
        if sides and all(sides):
            cuts.append(k)
    return cuts


def _split_gutter_lines(groups: list[list[Line]], min_gap: float) -> list[list[Line]]:
    """Split the lines that cross a column gutter (:func:`_gutter_cuts`) into one line per piece.

    The first piece keeps the line's place in its paragraph; every further piece becomes a paragraph of its own
    (it belongs to another column, where the ordering places it).
    """
    places, boxes = _line_boxes(groups)
    if len(places) < 3:
        return groups
    out: list[list[Line]] = []
    extra: list[list[Line]] = []
    index = 0
    for lines in groups:
        kept = []
        for line in lines:
            cuts = []
            if len(line.words) > 1:  # a one-word line has no gap: skip its boxes
                words = [_aabb(w.quad) for w in line.words]
                height = _median([b[3] - b[1] for b in words])
                # Most lines have no gap wide enough to look at: tell them in plain Python, before any array.
                if height > 0 and any(b[0] - a[2] > min_gap * height for a, b in zip(words, words[1:])):
                    cuts = _gutter_cuts(np.array(words).reshape(-1, 4), boxes, index, min_gap)
            index += 1
            if not cuts:
                kept.append(line)
                continue
            pieces = [_line_of(line.words[a:b]) for a, b in zip([0, *cuts], [*cuts, len(line.words)])]
            kept.append(pieces[0])
            extra.extend([piece] for piece in pieces[1:])
        out.append(kept)
    return out + extra


# Dot leaders (a table of contents' or an index's dots from entry to page number) read as words: the detector finds
# some of them on scanned pages and the recognizer reads them as ".", "·", "•" or "×", unsure of each.
_LEADER_CHARS = frozenset(".·•×∙⋅…")
_LEADER_CONFIDENCE = 0.9  # a leader word is read less surely than this ...
_LEADER_RUN = 4  # ... or stands in a run of at least this many (an ellipsis ". . ." is three)
_LEADER_PAGE = 8  # leader words a page holds at least before any is taken for one
# Runs of at least three leader characters, the CJK long-vowel mark, full-width stop, katakana middle dot and
# full-width hyphen among them: a word of only such a run is a leader however surely it was read, and such a run at
# the end of a word is a leader read into it (a CJK run is one region: "オプション" and "ーーーー．．" are one word).
_LEADER_RUN_CHARS = re.compile(r"[.·•×∙⋅…ー．・－]{3,}")
_LEADER_TAIL = re.compile(r"(?<=[^.·•×∙⋅…ー．・－])[.·•×∙⋅…ー．・－]{3,}$")
_LEADER_ENDS = frozenset(".·•×∙⋅…ー．・－")


def _leader_words(line: Line) -> list[bool]:
    """Which words of ``line`` are dot leaders: words of only leader characters (``.``, ``·``, ``•``, ``×``, ...)
    read with a text confidence below ``_LEADER_CONFIDENCE`` or standing in a run of at least ``_LEADER_RUN``
    such words, and words that are one run of at least three (``....``, ``ーーーー．``) however surely read."""
    marks = [bool(w.text) and set(w.text) <= _LEADER_CHARS for w in line.words]
    leader = [
        (m and w.text_confidence < _LEADER_CONFIDENCE) or bool(_LEADER_RUN_CHARS.fullmatch(w.text))
        for m, w in zip(marks, line.words)
    ]
    k = 0
    while k < len(marks):
        end = k
        while end < len(marks) and marks[end]:
            end += 1
        if end - k >= _LEADER_RUN:
            leader[k:end] = [True] * (end - k)
        k = max(end, k + 1)
    if not all(leader) and line.words[0].text == "•":
        # A leader follows an entry: a bullet that starts a line before words that are not leaders marks an item.
        leader[0] = False
    return leader


def _drop_leaders(groups: list[list[Line]]) -> list[list[Line]]:
    """Remove the dot leaders read as words (:func:`_leader_words`) from a page that holds at least
    ``_LEADER_PAGE`` of them, and join an entry to its page number across the leaders that linked them.

    A run of at least three leader characters that ends a word (``オプションーーーー．．``: a CJK run is one region) is
    cut off the word and counts as a leader word. A line of leaders only is dropped; leaders inside or at either end
    of a line are taken out of it. A line
    ``a`` then joins the nearest line ``b`` to its right on its row (vertical overlap of at least half the
    smaller height, heights within a factor 2) when ``b`` is a page number or a list of references
    (``_REFERENCES``) and leaders linked them: a leaders-only line stood between them, ``a`` ended with leaders or
    ``b`` began with them. The references of the corpus pages leave leaders out (``corpus.trust``: they are not
    text); DocBank's keep them as ``.`` tokens.
    """
    # Leader words and cut runs end with a leader character; most lines have no such word and are not looked at.
    flags = [
        [
            _leader_words(line)
            if any(w.text and w.text[-1] in _LEADER_ENDS for w in line.words)
            else [False] * len(line.words)
            for line in lines
        ]
        for lines in groups
    ]
    tails = sum(
        1
        for lines, paragraph_flags in zip(groups, flags)
        for line, leader in zip(lines, paragraph_flags)
        for w, f in zip(line.words, leader)
        if not f and w.text and w.text[-1] in _LEADER_ENDS and _LEADER_TAIL.search(w.text)
    )
    if sum(sum(f) for paragraph in flags for f in paragraph) + tails < _LEADER_PAGE:
        return groups
    out: list[list[Line]] = []
    ends: list[tuple[bool, bool]] = []  # per kept line, in _line_boxes order: (ended with leaders, began with them)
    dropped: list[list[float]] = []  # boxes of the leaders-only lines
    for lines, paragraph_flags in zip(groups, flags):
        kept = []
        for line, leader in zip(lines, paragraph_flags):
            if all(leader):
                dropped.append(_box(line.quad))
                continue
            words = [w for w, f in zip(line.words, leader) if not f]
            # The lookbehind of _LEADER_TAIL keeps at least one character of a word it cuts.
            cut = [k for k, w in enumerate(words) if tails and _LEADER_TAIL.search(w.text)]
            for k in cut:
                words[k] = replace(words[k], text=_LEADER_TAIL.sub("", words[k].text))
            kept.append(line if len(words) == len(line.words) and not cut else _line_of(words))
            ends.append((leader[-1] or len(words) - 1 in cut, leader[0]))
        if kept:
            out.append(kept)
    places, boxes = _line_boxes(out)
    if len(places) < 2:
        return out
    texts = [" ".join(w.text for w in out[p][k].words).strip() for p, k in places]
    every = np.concatenate([boxes, np.array(dropped, dtype=np.float64).reshape(-1, 4)])
    x0, y0, x1, y1 = (every[:, k] for k in range(4))
    height = np.maximum(y1 - y0, 1e-6)
    same_row = _same_rows(every, 0.5, 2.0)
    pairs: dict[int, int] = {}
    for a in range(len(places)):
        right = np.flatnonzero(same_row[a] & (x0 >= x1[a] - 0.25 * height[a]))
        linked = ends[a][0]
        for j in right[np.argsort(x0[right], kind="stable")].tolist():
            if j >= len(places):  # a dropped line of leaders
                linked = True
                continue
            if (linked or ends[j][1]) and j not in pairs.values() and _REFERENCES.match(texts[j]):
                pairs[a] = j
            break
    return _apply_joins(out, places, sorted(pairs.items()))


# A line that ends with one of these (before closing quotes and brackets) ends its sentence or clause: a paragraph
# may end there, so it is not continued across a paragraph break of the model.
_CLOSING_MARKS = frozenset(".!?:;…")
_CLOSERS = "\"')]}”’»"
_OPENERS = "\"'([{“‘«"
_CONTINUE_GAP = 0.8  # widest gap between an open line and the line continuing it, in line heights
_CONTINUE_HEIGHT = 1.3  # largest ratio of the two lines' text heights
_CONTINUE_INDENT = 1.0  # how far right of its paragraph's left edge the continuing line may start, in line heights
_CONTINUE_OUTDENT = 3.0  # ... and how far left (a one-line paragraph's line may be its first, indented line)
_CONTINUE_WIDER = 2.0  # how far the continuing line may reach right of the open line, in line heights
_CONTINUE_WORDS = 3  # words an open line holds at least (a line of prose, not a name in a list or a table cell)
# A list item's marker: "a)", "(c)", "ii.", "b." start an item of their own, not the rest of a sentence.
_ITEM_MARKER = re.compile(r"^\(?([a-z]|[ivx]{1,4})[.)]$")


def _is_open(text: str) -> bool:
    """Whether a line ending with ``text`` leaves its sentence open: no closing mark at its end."""
    text = text.rstrip(_CLOSERS)
    return bool(text) and text[-1] not in _CLOSING_MARKS


def _starts_lower(text: str) -> bool:
    """Whether ``text`` (a line's first word) starts with a lower-case letter, after opening quotes or brackets,
    and is not a list item's marker (``a)``, ``(c)``, ``ii.``)."""
    if _ITEM_MARKER.match(text):
        return False
    text = text.lstrip(_OPENERS)
    return bool(text) and text[0].islower()


def _text_height(line: Line) -> float:
    """The median height of ``line``'s words' axis-aligned boxes."""
    return _median([box[3] - box[1] for box in (_box(w.quad) for w in line.words)])


def _continue_paragraphs(groups: list[list[Line]]) -> list[list[Line]]:
    """Append to a paragraph the paragraph that continues its open last line (``AssemblyOptions.continue_paragraphs``).

    Paragraph ``a`` is continued by ``b`` when ``a``'s last line is open (:func:`_is_open`) and holds at least
    :data:`_CONTINUE_WORDS` words, ``b``'s first line
    starts lower-case (:func:`_starts_lower`), the two have text heights within :data:`_CONTINUE_HEIGHT` of each
    other, ``b``'s first line starts at most :data:`_CONTINUE_GAP` line heights below the open line and overlaps
    it across at least half the narrower one's width, starts between :data:`_CONTINUE_OUTDENT` line heights left
    and :data:`_CONTINUE_INDENT` right of ``a``'s left edge, and ends at most :data:`_CONTINUE_WIDER` right of the
    open line. Of several candidates the nearest below is taken, and a paragraph continues at most one other; chains
    are followed, so the joined paragraph keeps the place of its first part.
    """
    if len(groups) < 2:
        return groups
    heads = [
        a
        for a, lines in enumerate(groups)
        if lines and len(lines[-1].words) >= _CONTINUE_WORDS and _is_open(lines[-1].words[-1].text)
    ]
    tails = [b for b, lines in enumerate(groups) if lines and lines[0].words and _starts_lower(lines[0].words[0].text)]
    if not heads or not tails:
        return groups
    last = np.array([_box(groups[a][-1].quad) for a in heads]).reshape(-1, 4)
    left = np.array([min(_box(line.quad)[0] for line in groups[a]) for a in heads])
    first = np.array([_box(groups[b][0].quad) for b in tails]).reshape(-1, 4)
    h_last = np.array([_text_height(groups[a][-1]) for a in heads])
    h_first = np.array([_text_height(groups[b][0]) for b in tails])
    height = np.maximum(h_last[:, None], h_first[None, :])
    ratio = height / np.maximum(np.minimum(h_last[:, None], h_first[None, :]), 1e-6)
    gap = first[None, :, 1] - last[:, None, 3]
    overlap = np.minimum(last[:, None, 2], first[None, :, 2]) - np.maximum(last[:, None, 0], first[None, :, 0])
    narrower = np.minimum(last[:, None, 2] - last[:, None, 0], first[None, :, 2] - first[None, :, 0])
    start = first[None, :, 0] - left[:, None]
    fits = (
        (ratio <= _CONTINUE_HEIGHT)
        & (gap >= -0.25 * height)
        & (gap <= _CONTINUE_GAP * height)
        & (overlap >= 0.5 * narrower)
        & (start >= -_CONTINUE_OUTDENT * height)
        & (start <= _CONTINUE_INDENT * height)
        & (first[None, :, 2] - last[:, None, 2] <= _CONTINUE_WIDER * height)
        & (np.array(heads)[:, None] != np.array(tails)[None, :])
    )
    following: dict[int, int] = {}
    taken: set[int] = set()
    for i, j in sorted(zip(*np.nonzero(fits)), key=lambda ij: float(gap[ij[0], ij[1]])):
        a, b = heads[int(i)], tails[int(j)]
        if a in following or b in taken:
            continue
        following[a] = b
        taken.add(b)
    if not following:
        return groups
    out: list[list[Line]] = []
    for a in range(len(groups)):
        if a in taken:
            continue
        lines, seen = list(groups[a]), {a}
        while a in following and following[a] not in seen:  # a chain; a cycle cannot arise below the open line
            a = following[a]
            seen.add(a)
            lines.extend(groups[a])
        out.append(lines)
    return out


def _line_of(words: Sequence[Word]) -> Line:
    """A line of ``words`` (renumbered from 0), with their bounding box and mean confidence."""
    words = tuple(w if w.order == k else replace(w, order=k) for k, w in enumerate(words))
    return Line(
        words=words,
        quad=bounding_quad([w.quad for w in words]),
        confidence=_mean([w.confidence for w in words]),
    )


def _join_row_pieces(groups: list[list[Line]], max_gap: float) -> list[list[Line]]:
    """Join lines that are pieces of one row (:func:`_row_joins`): the right piece moves into the left one's line.

    The joined line keeps the left piece's place in its paragraph; the right piece leaves its own paragraph, and a
    paragraph left without lines is dropped.
    """
    places, boxes = _line_boxes(groups)
    if len(places) < 2:
        return groups
    return _apply_joins(groups, places, _row_joins(boxes, max_gap))


def _join_number_columns(groups: list[list[Line]]) -> list[list[Line]]:
    """Join number-only lines standing in columns to the line beside them on their row (:func:`_number_joins`),
    as :func:`_join_row_pieces` joins row pieces."""
    places, boxes = _line_boxes(groups)
    texts = [" ".join(w.text for w in groups[p][k].words) for p, k in places]
    return _apply_joins(groups, places, _number_joins(boxes, texts))


def _line_boxes(groups: list[list[Line]]) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Every line's (paragraph, position) and its ``[n, 4]`` axis-aligned box."""
    places = [(p, k) for p, lines in enumerate(groups) for k in range(len(lines))]
    return places, np.array([_box(groups[p][k].quad) for p, k in places]).reshape(-1, 4)


def _apply_joins(
    groups: list[list[Line]], places: list[tuple[int, int]], pairs: list[tuple[int, int]]
) -> list[list[Line]]:
    """Join the lines of ``pairs`` (indices into ``places``; each left piece has at most one right piece and each
    right piece one left piece): chains are followed left to right into the first piece's line."""
    if not pairs:
        return groups
    right = dict(pairs)
    has_left = set(right.values())
    lines = [list(paragraph) for paragraph in groups]
    removed: set[tuple[int, int]] = set()
    for start in range(len(places)):
        if start in has_left or start not in right:
            continue
        p, k = places[start]
        joined, index = lines[p][k], start
        while index in right:  # a chain of pieces, left to right
            index = right[index]
            q, m = places[index]
            joined = _join_lines(joined, groups[q][m])
            removed.add((q, m))
        lines[p][k] = joined
    out = []
    for p, paragraph in enumerate(lines):
        kept = [line for k, line in enumerate(paragraph) if (p, k) not in removed]
        if kept:
            out.append(kept)
    return out


# A page number (arabic or lower-case roman) or an index entry's list of references: page or code-line numbers,
# ranges (``433–435``, ``196–h852``), comma-separated. (Equation numbers "(3)" are left where they are: DocBank's
# references place them apart from their formulas, and joining them raised its error.)
_REFERENCE = r"(\d{1,4}([–-][a-z]?\d{1,5})?|[ivxlc]{1,6})"
_REFERENCES = re.compile(rf"^{_REFERENCE}(,\s*{_REFERENCE})*,?$")
_REFERENCES_WIDTH = 12.0  # widest page number or list of references, in line heights
# A section number: 4, 4.2, 4.2.1, J.1, A.3 (with or without a final full stop); not 0.82, a decimal of a table.
_SECTION_NUMBER = re.compile(r"^([A-Z]\.)?[1-9]\d{0,2}(\.\d{1,3}){0,3}\.?$")
_NUMBER_COLUMN = 3  # lines a column of numbers holds at least
_SECTION_GAP = 3.0  # widest gap from a section number to its title, in line heights
_LISTING_GAP = 6.0  # widest gap from a listing's line number to its line, in line heights
_NUMERIC = re.compile(r"^[-+−]?\d[\d.,]*%?$")  # a value of a numeric table
_OPEN_GAP = 0.5  # share of a page number's gap that the rows above and below may cover


def _number_joins(boxes: np.ndarray, texts: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs ``(a, b)`` of line boxes to join because one of them is a number of a column of numbers.

    A page number (``28``, ``xii``; or an index entry's list of references, ``12, 394``, ``433–435``, ``196–h852``,
    at most ``_REFERENCES_WIDTH`` heights wide) whose right edge lines up (within half the median line height) with
    those of at least two other page numbers, and that ends its row, joins, as ``b``, the nearest line ``a`` to its
    left on its row (vertical overlap of at least half the smaller height, heights within a factor 1.6) if that line
    has a letter (not a number or value of a numeric table, which the table rule reads) and the lines of the rows
    directly above and below (within 1.5 heights) cover at most half of the gap between them and no line within
    three heights lies inside it: a table of contents' dot leaders are not read, so its gaps are open and empty,
    while a column gutter has the next column's lines above and below, or beside it. A section number (``4``,
    ``4.2``, ``J.1``) that starts its row and whose left edge lines up with those of at least two other section
    numbers joins, as ``a``, the nearest line ``b`` to its right on its row, at most three heights away, if
    ``b`` is a title that a page number joined. A line number (an integer of a column of at least three, left or
    right edges lined up, with the integer one less or one more somewhere on the page) that starts its row joins, as
    ``a``, the nearest line ``b`` to its right on its row, at most ``_LISTING_GAP`` heights away, unless ``b`` is a
    number too: a numbered code listing then reads number and line together (benchmarks/RESULTS.md, "Session 42";
    an earlier, looser join of every number column moved more pages away from their references than towards them).

    Args:
        boxes: ``[n, 4]`` (x_min, y_min, x_max, y_max) line boxes.
        texts: each line's text.

    Returns:
        The pairs, each line at most once on either side; chains (section number, title, page number) possible.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    n = boxes.shape[0]
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    height = np.maximum(y1 - y0, 1e-6)
    unit = float(np.median(height)) if n else 1.0
    stripped = [t.strip() for t in texts]
    page = np.array([bool(_REFERENCES.match(t)) for t in stripped], dtype=bool)
    page &= (x1 - x0) <= _REFERENCES_WIDTH * height
    section = np.array([bool(_SECTION_NUMBER.match(t)) for t in stripped], dtype=bool)
    narrow = (x1 - x0) <= 4.0 * height
    wordy = np.array([any(c.isalpha() for c in t) and not page[i] for i, t in enumerate(stripped)], dtype=bool)
    section &= narrow
    if page.sum() < _NUMBER_COLUMN and section.sum() < _NUMBER_COLUMN:
        return []

    def in_column(flags: np.ndarray, edge: np.ndarray) -> np.ndarray:
        near = np.abs(edge[:, None] - edge[None, :]) <= 0.5 * unit
        return flags & ((near & flags[None, :]).sum(1) >= _NUMBER_COLUMN)

    same_row = _same_rows(boxes, 0.5, 1.6)
    right_of: dict[int, int] = {}
    left_of: dict[int, int] = {}

    def link(a: int, b: int) -> None:
        if a not in right_of and b not in left_of:
            right_of[a] = b
            left_of[b] = a

    for b in np.flatnonzero(in_column(page, x1)).tolist():
        if (same_row[b] & (x0 >= x1[b] - 0.25 * height[b])).any():
            continue  # not the end of its row: a number inside a table or a formula
        left = same_row[b] & (x1 <= x0[b] + 0.25 * height[b])
        if not left.any():
            continue
        a = int(np.flatnonzero(left)[np.argmax(x1[left])])
        if not wordy[a]:
            continue  # a number beside a number: a column of a numeric table, read as the table rule reads it
        start, end = x1[a], x0[b]
        if end - start > 0.5 * height[b]:
            top, bottom = min(y0[a], y0[b]), max(y1[a], y1[b])
            rows = (y1 > top - 1.5 * height[b]) & (y0 < bottom + 1.5 * height[b]) & ~same_row[b] & ~same_row[a]
            rows[[a, b]] = False
            covered = _covered_length(x0[rows], x1[rows], start, end)
            if covered > _OPEN_GAP * (end - start):
                continue
            # A line that lies within the gap, on a row near this one, is text of another column (a two-column
            # index whose entry sits a little above its page number); a leader's gap holds none.
            near = (y1 > top - 3 * height[b]) & (y0 < bottom + 3 * height[b])
            near[[a, b]] = False
            if (near & (x0 >= start + 0.5 * height[b]) & (x1 <= end - 0.5 * height[b])).any():
                continue
        link(a, b)
    for a in np.flatnonzero(in_column(section, x0)).tolist():
        if a in left_of or (same_row[a] & (x1 <= x0[a] + 0.25 * height[a])).any():
            continue  # a page number, or not the start of its row (a page number of the column to the left)
        right = same_row[a] & (x0 >= x1[a] - 0.25 * height[a]) & (x0 - x1[a] <= _SECTION_GAP * height[a])
        if right.any():
            b = int(np.flatnonzero(right)[np.argmin(x0[right])])
            if b in right_of and wordy[b]:  # a title that a page number joined: a row of a table of contents
                link(a, b)
    ints = np.array([t.isdigit() and len(t) <= 5 for t in stripped], dtype=bool) & narrow
    if ints.sum() >= _NUMBER_COLUMN:
        values = {int(stripped[i]) for i in np.flatnonzero(ints).tolist()}
        for a in np.flatnonzero(in_column(ints, x1) | in_column(ints, x0)).tolist():
            number = int(stripped[a])
            if number - 1 not in values and number + 1 not in values:
                continue  # no neighbour in the count: not a line number
            if a in right_of or a in left_of or (same_row[a] & (x1 <= x0[a] + 0.25 * height[a])).any():
                continue  # already joined, or not the start of its row
            right = same_row[a] & (x0 >= x1[a] - 0.25 * height[a]) & (x0 - x1[a] <= _LISTING_GAP * height[a])
            if right.any():
                b = int(np.flatnonzero(right)[np.argmin(x0[right])])
                if not _NUMERIC.match(stripped[b]):  # a number beside a number: a numeric table's row
                    link(a, b)
    return sorted(right_of.items())


def _covered_length(starts: np.ndarray, ends: np.ndarray, lo: float, hi: float) -> float:
    """Length of ``[lo, hi]`` covered by the union of the intervals ``[starts[i], ends[i]]``."""
    covered, reach = 0.0, lo
    for start, end in sorted(zip(np.clip(starts, lo, hi).tolist(), np.clip(ends, lo, hi).tolist())):
        if end <= reach:
            continue
        covered += end - max(start, reach)
        reach = end
    return covered


def _box(quad: tuple) -> list[float]:
    """(x_min, y_min, x_max, y_max) of an axis-aligned quad (clockwise from top-left)."""
    return [quad[0][0], quad[0][1], quad[2][0], quad[2][1]]


def _aabb(quad: Quad) -> list[float]:
    """(x_min, y_min, x_max, y_max) of any quad (``_box(bounding_quad([quad]))`` without building the quad)."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = quad
    return [min(ax, bx, cx, dx), min(ay, by, cy, dy), max(ax, bx, cx, dx), max(ay, by, cy, dy)]


def _quad_of(points: list[list[float]]) -> Quad:
    """A quad of Python floats (``points``: ``[4][2]`` floats from ``ndarray.tolist()``; ``as_quad`` checks and
    converts any input, at five times the cost, once per word of every page)."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = points
    return ((ax, ay), (bx, by), (cx, cy), (dx, dy))


def _mean(values: list[float]) -> float:
    """The mean of a non-empty list of floats (``np.mean`` costs ten times more on the few values of a line)."""
    return math.fsum(values) / len(values)


def _median(values: list[float]) -> float:
    """The median of a non-empty list of floats, as ``np.median`` computes it (the mean of the two middle values
    of an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _math_minus_line(line: Line) -> Line:
    """``line`` with its lone dashes between math operands written as minus signs (:func:`ops.dashes.math_minus`),
    neighbours taken among the words with text."""
    if not any(w.text in LONE_DASHES for w in line.words):
        return line
    spoken = [k for k, w in enumerate(line.words) if w.text]
    fixed = math_minus([line.words[k].text for k in spoken])
    words = list(line.words)
    for k, text in zip(spoken, fixed, strict=True):
        if text != words[k].text:
            words[k] = replace(words[k], text=text)
    return replace(line, words=tuple(words))


def assemble_page(readings: PageReadings, *, options: AssemblyOptions | None = None) -> Page:
    """Build the ``Page`` of one image from its readings (see the module docstring for the rules).

    Args:
        readings: texts, quads (original-page pixels), confidences and grouping of the page's regions.
        options: validity pruning; defaults to ``AssemblyOptions()``.

    Returns:
        The page with paragraphs in reading order; an empty page when nothing was detected or kept.
    """
    options = options or AssemblyOptions()
    threshold = PUBLISHED_VALID_CONFIDENCE if options.valid_confidence is None else options.valid_confidence
    count = len(readings.texts)
    detection = np.asarray(readings.detection_confidence, dtype=np.float32)
    text_conf = np.asarray(readings.text_confidence, dtype=np.float32)
    overall = f_measure(torch.from_numpy(detection), torch.from_numpy(text_conf)).numpy() if count else detection
    quads = np.asarray(readings.quads, dtype=np.float32)
    skew, centre = 0.0, (readings.width / 2, readings.height / 2)
    if options.deskew is not None and count and readings.groups is not None:
        skew = text_skew(quads, [line for paragraph in readings.groups for line in paragraph])
        if abs(skew) < options.deskew:
            skew = 0.0
    if skew:
        # Assemble in the frame of the text; the page's quads are turned forward again at the end.
        quads = _turn(quads.reshape(-1, 4, 2), -skew, centre)
    # Python floats converted once for the page (the same values as float() of each float32, a tenth of the cost).
    quad_values: list[list[list[float]]] = quads.reshape(-1, 4, 2).tolist()
    overall_values, detection_values, text_values = overall.tolist(), detection.tolist(), text_conf.tolist()

    def word(i: int, order: int) -> Word:
        text = join_dash_runs(readings.texts[i]) if options.fix_dashes else readings.texts[i]
        confidence = overall_values[i]
        return Word(
            text=text,
            quad=_quad_of(quad_values[i]),
            confidence=confidence,
            detection_confidence=detection_values[i],
            text_confidence=text_values[i],
            order=order,
            valid=len(text) > 0 and confidence > threshold,
        )

    groups: list[list[Line]] = []
    for group in _complete_groups(readings.groups, count):
        lines = []
        for members in group:
            words = tuple(word(i, k) for k, i in enumerate(members))
            lines.append(
                Line(
                    words=words,
                    quad=bounding_quad([w.quad for w in words]),
                    confidence=_mean([w.confidence for w in words]),
                )
            )
        if options.include_invalid or any(w.valid for line in lines for w in line.words):
            groups.append(lines)
    if options.split_gap is not None:
        groups = _split_gutter_lines(groups, options.split_gap)
    if options.join_gap is not None:
        groups = _join_row_pieces(groups, options.join_gap)
    if options.number_columns:
        groups = _join_number_columns(groups)
    if options.drop_leaders:
        # After the joins: the leaders read as words had a say in them when the model was measured, and the
        # lines they connected are joined here.
        groups = _drop_leaders(groups)
    if options.continue_paragraphs:
        groups = _continue_paragraphs(groups)

    tolerance = _GAP_TOLERANCE * float(np.median(quad_height(quads))) if count else 0.0
    paragraphs: list[list[Line]] = []
    if options.order == "paragraphs":
        hulls = [bounding_quad([line.quad for line in lines]) for lines in groups]
        boxes = np.array([_box(quad) for quad in hulls]).reshape(-1, 4)
        paragraphs = [groups[i] for i in reading_order(boxes, tolerance=tolerance)]
    else:
        # (paragraph, position) of every line; a paragraph continues only with the line that follows it in the graph.
        places, boxes = _line_boxes(groups)
        order, cells = _order_and_cells(boxes, tolerance, options.table_gap)
        previous, previous_cell = None, None
        for index in order:
            p, k = places[index]
            line, cell = groups[p][k], cells.get(index)
            if cell is not None and previous_cell is not None and cell[0] == previous_cell[0]:
                if cell == previous_cell:  # the next cell of a table row: one line per row
                    paragraphs[-1][-1] = _join_lines(paragraphs[-1][-1], line)
                else:  # the next row of the same table: one paragraph per table
                    paragraphs[-1].append(line)
            elif cell is None and previous == (p, k - 1):
                paragraphs[-1].append(line)
            else:
                paragraphs.append([line])
            previous, previous_cell = (None, cell) if cell is not None else ((p, k), None)
    if options.fix_dashes:
        paragraphs = [[_math_minus_line(line) for line in lines] for lines in paragraphs]
    # dataclasses.replace costs microseconds a call: only lines whose place changed are rebuilt.
    paragraphs = [
        [line if line.order == k else replace(line, order=k) for k, line in enumerate(lines)] for lines in paragraphs
    ]
    page = Page(
        width=readings.width,
        height=readings.height,
        index=readings.index,
        timings=dict(readings.timings),
        paragraphs=tuple(
            Paragraph(
                lines=tuple(lines),
                quad=bounding_quad([line.quad for line in lines]),
                confidence=_mean([line.confidence for line in lines]),
                order=rank,
            )
            for rank, lines in enumerate(paragraphs)
        ),
    )
    return _turn_page(page, skew, centre) if skew else page

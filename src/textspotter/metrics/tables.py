"""TEDS: tree-edit-distance similarity of HTML tables (Zhong et al., "Image-based table recognition", ECCV 2020).

A table's HTML becomes a tree of ``table`` / ``thead`` / ``tbody`` / ``tfoot`` / ``tr`` / ``td`` nodes (``th`` is
read as ``td``: header-ness is carried by ``thead``); each ``td`` keeps its ``colspan``, ``rowspan`` and content
tokens (characters, and inline tags such as ``<b>`` as single tokens, as in PubTabNet). The distance between two
trees is the Zhang–Shasha tree edit distance (written here) with these costs: inserting or deleting a node costs 1;
renaming costs 1 between different tags or between cells with different spans, otherwise 0, except two ``td``
with the same spans, which cost the normalised Levenshtein distance of their contents (0 in the structure-only
variant TEDS-S). Then ``TEDS = 1 - distance / max(nodes(a), nodes(b))``.

Over a corpus, :class:`TableCounts` sums distances and node counts before dividing (the literature averages
per-table TEDS instead; see ``docs/evaluation.md``).

>>> html = "<table><tr><td>a</td><td>b</td></tr></table>"
>>> teds(html, html), teds(html, "<table><tr><td>a</td></tr></table>")
(1.0, 0.75)
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np

from textspotter.metrics.text import levenshtein

__all__ = [
    "TableNode",
    "TableCounts",
    "parse_table_html",
    "tree_edit_distance",
    "teds",
    "table_counts",
    "table_text",
    "pubtabnet_html",
    "layout_table_html",
]

_STRUCTURE_TAGS = {"table", "thead", "tbody", "tfoot", "tr", "td"}


@dataclass
class TableNode:
    """One node of a parsed table: a structural tag, the spans and content of cells, and the children."""

    tag: str
    colspan: int = 1
    rowspan: int = 1
    content: list[str] = field(default_factory=list)
    children: list[TableNode] = field(default_factory=list)

    def size(self) -> int:
        """Return the number of nodes in this subtree."""
        return 1 + sum(child.size() for child in self.children)


class _TableParser(HTMLParser):
    """Build the tree of the first ``<table>`` of an HTML string; everything outside it is skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: TableNode | None = None
        self._stack: list[TableNode] = []
        self._done = False

    def _cell(self) -> TableNode | None:
        return self._stack[-1] if self._stack and self._stack[-1].tag == "td" else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        tag = "td" if tag == "th" else tag
        cell = self._cell()
        if cell is not None and tag not in ("td", "tr"):
            # Markup inside a cell (<b>, <sup>, nested tables) is content, one token per tag (PubTabNet's rule).
            cell.content.append(f"<{tag}>")
            return
        if tag not in _STRUCTURE_TAGS:
            return
        if self.root is None:
            if tag != "table":
                return
            self.root = TableNode("table")
            self._stack = [self.root]
            return
        if not self._stack:
            return
        if cell is not None:
            # An unclosed <td> followed by the next cell or row: HTML closes it implicitly.
            self._stack.pop()
        if tag in ("td", "tr"):
            while self._stack[-1].tag not in (("tr",) if tag == "td" else ("table", "thead", "tbody", "tfoot")):
                if len(self._stack) == 1:
                    break
                self._stack.pop()
        attributes = dict(attrs)
        node = TableNode(tag, colspan=_span(attributes.get("colspan")), rowspan=_span(attributes.get("rowspan")))
        self._stack[-1].children.append(node)
        self._stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if self._done or not self._stack:
            return
        tag = "td" if tag == "th" else tag
        cell = self._cell()
        if cell is not None and tag != "td" and tag not in ("tr", "table", "thead", "tbody", "tfoot"):
            cell.content.append(f"</{tag}>")
            return
        if tag not in _STRUCTURE_TAGS or all(node.tag != tag for node in self._stack):
            # A stray closing tag (no matching open element) is ignored, as browsers do.
            return
        while self._stack.pop().tag != tag:
            pass
        if not self._stack:
            self._done = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cell = self._cell()
        if cell is not None and not self._done:
            cell.content.append(f"<{tag}>")

    def handle_data(self, data: str) -> None:
        cell = self._cell()
        if cell is not None and not self._done:
            cell.content.extend(data)


def _span(value: str | None) -> int:
    try:
        return max(1, int(value)) if value is not None else 1
    except ValueError:
        return 1


def parse_table_html(html: str) -> TableNode:
    """Parse the first ``<table>`` element of an HTML string into a :class:`TableNode` tree.

    Raises:
        ValueError: the string contains no ``<table>`` element.
    """
    if not isinstance(html, str):
        raise TypeError(f"html must be a str, got {type(html).__name__}")
    parser = _TableParser()
    parser.feed(html)
    parser.close()
    if parser.root is None:
        raise ValueError(f"no <table> element in HTML: {html[:80]!r}")
    return parser.root


def _postorder(root: TableNode) -> tuple[list[TableNode], list[int]]:
    """Return the nodes in post-order and, for each, the post-order index of its leftmost leaf descendant."""
    nodes: list[TableNode] = []
    leftmost: list[int] = []
    # Iterative post-order: (node, next child index, leftmost leaf index of node or -1 until known).
    stack: list[list] = [[root, 0, -1]]
    while stack:
        frame = stack[-1]
        node, child_index = frame[0], frame[1]
        if child_index < len(node.children):
            frame[1] += 1
            stack.append([node.children[child_index], 0, -1])
            continue
        stack.pop()
        index = len(nodes)
        nodes.append(node)
        own_leftmost = frame[2] if frame[2] >= 0 else index
        leftmost.append(own_leftmost)
        if stack and stack[-1][2] < 0:
            # The first child to finish is the leftmost one: its leftmost leaf is its parent's.
            stack[-1][2] = own_leftmost
    return nodes, leftmost


def _keyroots(leftmost: list[int]) -> list[int]:
    """Nodes that are the root or not a leftmost child: for each leftmost leaf, the highest node having it."""
    highest: dict[int, int] = {}
    for index, leaf in enumerate(leftmost):
        highest[leaf] = index
    return sorted(highest.values())


def tree_edit_distance(
    a: TableNode,
    b: TableNode,
    rename_cost: Callable[[TableNode, TableNode], float],
) -> float:
    """Return the Zhang–Shasha tree edit distance between two ordered trees (unit insert and delete costs).

    Reference: K. Zhang and D. Shasha, "Simple fast algorithms for the editing distance between trees and related
    problems", SIAM J. Computing 18 (1989). Time O(|a| |b| min(depth, leaves)(a) min(depth, leaves)(b)).

    Args:
        a, b: tree roots.
        rename_cost: cost of turning a node of ``a`` into a node of ``b`` (0 for equal nodes, at most 2).

    Returns:
        The minimum total cost of node insertions, deletions and renames turning ``a`` into ``b``.
    """
    nodes_a, left_a = _postorder(a)
    nodes_b, left_b = _postorder(b)
    # Every pair of nodes is renamed once in some subtree pair, so the full cost matrix is computed up front.
    # Lists, not numpy arrays, throughout: the inner loop reads single elements, which numpy makes much slower.
    rename = [[rename_cost(node_a, node_b) for node_b in nodes_b] for node_a in nodes_a]
    tree_distance = [[0.0] * len(nodes_b) for _ in nodes_a]
    for j in _keyroots(left_b):
        lj = left_b[j]
        cols = j - lj + 2
        # For each column: whether b-nodes lj..node_b form a whole subtree, else where that subtree's forest starts.
        whole_b = [False] + [left_b[lj + y - 1] == lj for y in range(1, cols)]
        start_b = [0] + [left_b[lj + y - 1] - lj for y in range(1, cols)]
        first_row = [float(y) for y in range(cols)]
        for i in _keyroots(left_a):
            li = left_a[i]
            # forest[x][y]: distance between the forests of a-nodes li..li+x-1 and b-nodes lj..lj+y-1.
            forest = [first_row]
            previous_row = first_row
            for x in range(1, i - li + 2):
                node_a = li + x - 1
                row = [float(x)] + [0.0] * (cols - 1)
                distances_a, renames_a = tree_distance[node_a], rename[node_a]
                if left_a[node_a] == li:
                    for y in range(1, cols):
                        node_b = lj + y - 1
                        best = previous_row[y] + 1
                        left = row[y - 1] + 1
                        if left < best:
                            best = left
                        if whole_b[y]:
                            # Both prefixes are whole subtrees: this cell is also their tree distance.
                            diagonal = previous_row[y - 1] + renames_a[node_b]
                            if diagonal < best:
                                best = diagonal
                            distances_a[node_b] = best
                        else:
                            diagonal = forest[left_a[node_a] - li][start_b[y]] + distances_a[node_b]
                            if diagonal < best:
                                best = diagonal
                        row[y] = best
                else:
                    before = forest[left_a[node_a] - li]
                    for y in range(1, cols):
                        best = previous_row[y] + 1
                        left = row[y - 1] + 1
                        if left < best:
                            best = left
                        diagonal = before[start_b[y]] + distances_a[lj + y - 1]
                        row[y] = diagonal if diagonal < best else best
                forest.append(row)
                previous_row = row
    return float(tree_distance[-1][-1])


def _rename_cost(structure_only: bool) -> Callable[[TableNode, TableNode], float]:
    def cost(a: TableNode, b: TableNode) -> float:
        if a.tag != b.tag:
            return 1.0
        if a.tag != "td":
            return 0.0
        if (a.colspan, a.rowspan) != (b.colspan, b.rowspan):
            return 1.0
        if structure_only:
            return 0.0
        longest = max(len(a.content), len(b.content))
        return levenshtein(a.content, b.content) / longest if longest else 0.0

    return cost


@dataclass(frozen=True)
class TableCounts:
    """Summed tree edit distances and node counts, for one table or a corpus (``a + b``).

    Attributes:
        tables: number of tables.
        nodes: sum over tables of ``max(nodes(reference), nodes(hypothesis))``.
        distance: sum of tree edit distances with content (TEDS).
        structure_distance: sum of tree edit distances ignoring cell content (TEDS-S).
    """

    tables: int = 0
    nodes: int = 0
    distance: float = 0.0
    structure_distance: float = 0.0

    def __add__(self, other: TableCounts) -> TableCounts:
        if not isinstance(other, TableCounts):
            return NotImplemented
        return TableCounts(
            self.tables + other.tables,
            self.nodes + other.nodes,
            self.distance + other.distance,
            self.structure_distance + other.structure_distance,
        )

    def rates(self) -> dict[str, float | None]:
        """Return ``teds`` and ``teds_structure`` in [0, 1], higher is better (``None`` without tables)."""
        if self.nodes == 0:
            return {"teds": None, "teds_structure": None}
        return {"teds": 1 - self.distance / self.nodes, "teds_structure": 1 - self.structure_distance / self.nodes}


def table_counts(reference_html: str, hypothesis_html: str) -> TableCounts:
    """Compare one predicted table with its reference (both HTML strings) and return the counts."""
    reference, hypothesis = parse_table_html(reference_html), parse_table_html(hypothesis_html)
    return TableCounts(
        tables=1,
        nodes=max(reference.size(), hypothesis.size()),
        distance=tree_edit_distance(reference, hypothesis, _rename_cost(structure_only=False)),
        structure_distance=tree_edit_distance(reference, hypothesis, _rename_cost(structure_only=True)),
    )


def teds(reference_html: str, hypothesis_html: str, *, structure_only: bool = False) -> float:
    """Return the TEDS (or TEDS-S) similarity of two HTML tables, in [0, 1] (1 for identical tables)."""
    reference, hypothesis = parse_table_html(reference_html), parse_table_html(hypothesis_html)
    distance = tree_edit_distance(reference, hypothesis, _rename_cost(structure_only))
    return 1 - distance / max(reference.size(), hypothesis.size())


def table_text(html: str) -> str:
    """Return the plain text of a table: one line per row, cells separated by spaces, inline tags dropped."""
    rows: list[str] = []

    def visit(node: TableNode) -> None:
        if node.tag == "tr":
            cells = ["".join(t for t in cell.content if not t.startswith("<")).strip() for cell in node.children]
            rows.append(" ".join(" ".join(c.split()) for c in cells if c.strip()))
            return
        for child in node.children:
            visit(child)

    visit(parse_table_html(html))
    return "\n".join(row for row in rows if row)


def pubtabnet_html(structure_tokens: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """Assemble a PubTabNet annotation (structure tokens + per-cell content tokens) into one HTML table.

    Args:
        structure_tokens: e.g. ``["<thead>", "<tr>", "<td>", "</td>", "<td", ' colspan="2"', ">", "</td>", ...]``.
        cells: content tokens of each cell, in the order of the cells in ``structure_tokens``; one-character
            tokens are text (HTML-escaped here), longer ones inline tags such as ``<b>``.

    Returns:
        ``"<table>...</table>"``.
    """
    tokens = list(structure_tokens)
    # A cell's content goes right after its opening tag: "<td>" or the ">" that closes "<td" + attributes.
    openings = [i for i, token in enumerate(tokens) if token in ("<td>", ">")]
    if len(openings) != len(cells):
        raise ValueError(f"the structure has {len(openings)} cells but {len(cells)} cell contents were given")
    for position, content in zip(reversed(openings), reversed(list(cells))):
        text = "".join(html_lib.escape(t, quote=False) if len(t) == 1 else t for t in content)
        if text:
            tokens.insert(position + 1, text)
    return "<table>" + "".join(tokens) + "</table>"


def layout_table_html(
    words: Sequence[tuple[str, np.ndarray]],
    *,
    gap_factor: float = 1.0,
) -> str:
    """Build a text-only HTML table from OCR words by their positions (for engines with no table output).

    Rows are runs of words that overlap vertically by at least half the smaller height; within a row, a
    horizontal gap wider than ``gap_factor`` times the row's median word height starts a new cell. The first
    row goes into ``<thead>``, the others into ``<tbody>``, as in PubTabNet. No spans are guessed.

    Args:
        words: ``(text, quad [4, 2])`` of each word in image pixels.
        gap_factor: cell-splitting gap, in word heights.

    Returns:
        ``"<table>...</table>"`` (``"<table></table>"`` without words).
    """
    boxes = []
    for text, quad in words:
        if not text.strip():
            continue
        points = np.asarray(quad, dtype=np.float64).reshape(4, 2)
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        boxes.append((text.strip(), float(x0), float(y0), float(x1), max(float(y1), float(y0) + 1e-6)))
    if not boxes:
        return "<table></table>"
    boxes.sort(key=lambda b: (b[2] + b[4]) / 2)
    rows: list[list[tuple[str, float, float, float, float]]] = []
    band_top = band_bottom = 0.0
    for box in boxes:
        _, _, top, _, bottom = box
        if rows:
            overlap = min(bottom, band_bottom) - max(top, band_top)
            if overlap >= 0.5 * min(bottom - top, band_bottom - band_top):
                rows[-1].append(box)
                count = len(rows[-1])
                # The band follows the mean top and bottom of the row so far, so a long row may drift slowly.
                band_top += (top - band_top) / count
                band_bottom += (bottom - band_bottom) / count
                continue
        rows.append([box])
        band_top, band_bottom = top, bottom
    html_rows = []
    for row in rows:
        row.sort(key=lambda b: b[1])
        height = float(np.median([b[4] - b[2] for b in row]))
        cells: list[list[str]] = [[row[0][0]]]
        for previous, box in zip(row, row[1:]):
            if box[1] - previous[3] > gap_factor * height:
                cells.append([])
            cells[-1].append(box[0])
        html_rows.append(
            "<tr>" + "".join(f"<td>{html_lib.escape(' '.join(c), quote=False)}</td>" for c in cells) + "</tr>"
        )
    head = f"<thead>{html_rows[0]}</thead>"
    body = "".join(html_rows[1:])
    return f"<table>{head}<tbody>{body}</tbody></table>" if body else f"<table>{head}</table>"

"""TEDS: Zhang–Shasha against a brute-force tree distance, small tables, HTML parsing, PubTabNet assembly."""

import functools
import random

import pytest

from textspotter.metrics.tables import (
    TableCounts,
    TableNode,
    layout_table_html,
    parse_table_html,
    pubtabnet_html,
    table_counts,
    table_text,
    teds,
    tree_edit_distance,
)


def tree(label, *children):
    return TableNode(label, children=list(children))


def unit_rename(a, b):
    return 0.0 if a.tag == b.tag else 1.0


def brute_force_distance(a, b):
    """Forest edit distance by the textbook recursion on rightmost roots (exponential-free thanks to memoising)."""

    def freeze(node):
        return (node.tag, tuple(freeze(c) for c in node.children))

    def size(forest):
        return sum(1 + size(children) for _, children in forest)

    @functools.cache
    def distance(f, g):
        if not f and not g:
            return 0
        if not f:
            return size(g)
        if not g:
            return size(f)
        (v_label, v_children), (w_label, w_children) = f[-1], g[-1]
        return min(
            distance(f[:-1] + v_children, g) + 1,
            distance(f, g[:-1] + w_children) + 1,
            distance(v_children, w_children) + distance(f[:-1], g[:-1]) + (v_label != w_label),
        )

    return distance((freeze(a),), (freeze(b),))


def random_tree(rng, size):
    nodes = [tree(rng.choice("abc"))]
    for _ in range(size - 1):
        child = tree(rng.choice("abc"))
        rng.choice(nodes).children.append(child)
        nodes.append(child)
    return nodes[0]


def test_zhang_shasha_paper_example():
    # Zhang & Shasha (1989), figure 1: f(d(a c(b)) e) -> f(c(d(a b)) e) costs 2 (delete c, insert c).
    first = tree("f", tree("d", tree("a"), tree("c", tree("b"))), tree("e"))
    second = tree("f", tree("c", tree("d", tree("a"), tree("b"))), tree("e"))
    assert tree_edit_distance(first, second, unit_rename) == 2


def test_zhang_shasha_matches_brute_force_on_random_trees():
    rng = random.Random(0)
    for _ in range(150):
        a, b = random_tree(rng, rng.randint(1, 9)), random_tree(rng, rng.randint(1, 9))
        assert tree_edit_distance(a, b, unit_rename) == brute_force_distance(a, b)


TABLE = "<table><tr><td>ab</td><td>c</td></tr><tr><td>d</td><td>e</td></tr></table>"


def test_identical_tables_score_one():
    assert teds(TABLE, TABLE) == 1.0
    assert teds(TABLE, TABLE, structure_only=True) == 1.0


def test_one_different_cell():
    other = TABLE.replace("<td>c</td>", "<td>x</td>")
    # 7 nodes; renaming the cell costs its normalised content distance, 1/1.
    assert teds(TABLE, other) == pytest.approx(1 - 1 / 7)
    assert teds(TABLE, other, structure_only=True) == 1.0
    # Half the content of a two-character cell wrong: cost 1/2.
    other = TABLE.replace("<td>ab</td>", "<td>ax</td>")
    assert teds(TABLE, other) == pytest.approx(1 - 0.5 / 7)


def test_missing_row_and_spans():
    one_row = "<table><tr><td>ab</td><td>c</td></tr></table>"
    assert teds(TABLE, one_row) == pytest.approx(1 - 3 / 7)
    spanned = "<table><tr><td>ab</td><td>c</td></tr><tr><td colspan='2'>d e</td></tr></table>"
    # Delete one cell, and rename the other (different span, cost 1): 2 of 7 nodes.
    assert teds(TABLE, spanned, structure_only=True) == pytest.approx(1 - 2 / 7)


def test_table_counts_accumulate_over_tables():
    same = table_counts(TABLE, TABLE)
    worse = table_counts(TABLE, "<table></table>")
    assert same == TableCounts(tables=1, nodes=7, distance=0.0, structure_distance=0.0)
    assert worse.distance == 6 and worse.nodes == 7
    assert (same + worse).rates()["teds"] == pytest.approx(1 - 6 / 14)


def test_parser_reads_headers_spans_and_inline_markup():
    root = parse_table_html(
        "<p>before</p><table><thead><tr><th rowspan=2><b>H</b></th></tr></thead>"
        "<tbody><tr><td colspan='3'>x &amp; y</td></tr></tbody></table><table><tr><td>2nd</td></tr></table>"
    )
    assert [c.tag for c in root.children] == ["thead", "tbody"]
    header = root.children[0].children[0].children[0]
    assert (header.tag, header.rowspan, header.content) == ("td", 2, ["<b>", "H", "</b>"])
    cell = root.children[1].children[0].children[0]
    assert cell.colspan == 3 and "".join(cell.content) == "x & y"
    assert root.size() == 7  # table, thead, tr, td, tbody, tr, td: the second table is not read


def test_parser_tolerates_unclosed_cells_and_stray_tags():
    root = parse_table_html("<table><tr><td>a<td>b</tbody><tr><td>c</table>")
    assert [len(row.children) for row in root.children] == [2, 1]
    with pytest.raises(ValueError, match="no <table>"):
        parse_table_html("<div>no table</div>")


def test_table_text_reads_rows():
    assert table_text(TABLE) == "ab c\nd e"


def test_pubtabnet_assembly():
    structure = ["<thead>", "<tr>", "<td>", "</td>", "<td", ' colspan="2"', ">", "</td>", "</tr>", "</thead>"]
    html = pubtabnet_html(structure, [["a", "<"], ["<b>", "x", "</b>"]])
    assert html == '<table><thead><tr><td>a&lt;</td><td colspan="2"><b>x</b></td></tr></thead></table>'
    with pytest.raises(ValueError, match="2 cells"):
        pubtabnet_html(structure, [["a"]])


def test_layout_table_from_word_positions():
    words = [
        ("Name", box(0, 0, 40, 10)),
        ("Value", box(100, 1, 140, 11)),
        ("alpha", box(0, 20, 40, 30)),
        ("one", box(100, 20, 125, 30)),
        ("two", box(128, 21, 150, 31)),  # 3 px after "one": same cell
    ]
    html = layout_table_html(words)
    assert html == (
        "<table><thead><tr><td>Name</td><td>Value</td></tr></thead>"
        "<tbody><tr><td>alpha</td><td>one two</td></tr></tbody></table>"
    )
    assert layout_table_html([]) == "<table></table>"


def box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]

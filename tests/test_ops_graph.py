"""Tests of textspotter.ops.graph (spec §7.6)."""

import pytest
import torch

from textspotter.ops.graph import dense_relations_to_graph, group_relations

NEG_INF = float("-inf")


def _relations(n, links):
    m = torch.zeros(n, n)
    for (f, t), p in links.items():
        m[f, t] = p
    return m


def test_simple_chain():
    assert dense_relations_to_graph(_relations(3, {(0, 1): 0.9, (1, 2): 0.8})) == [[0, 1, 2]]


def test_chain_is_found_from_its_lowest_indexed_target_and_walked_both_ways():
    # 2 → 0 → 3 → 1: the first target with a predecessor is 0; walk back to 2, then forward 3, 1.
    m = _relations(5, {(2, 0): 0.7, (0, 3): 0.9, (3, 1): 0.6})
    assert dense_relations_to_graph(m) == [[2, 0, 3, 1], [4]]


def test_first_column_at_threshold_then_stop():
    # Row 0: first column ≥ 0.5 is 1 (0.6) even though column 2 has 0.9; row 3 claims 1 with 0.8 and wins.
    # Row 0 does not fall back to column 2, so 0 and 2 end up as singletons.
    m = _relations(4, {(0, 1): 0.6, (0, 2): 0.9, (3, 1): 0.8, (1, 0): 0.49})
    assert dense_relations_to_graph(m) == [[3, 1], [0], [2]]


def test_conflict_goes_to_higher_probability_and_ties_to_the_earlier_row():
    higher = _relations(3, {(0, 1): 0.7, (2, 1): 0.9})
    assert dense_relations_to_graph(higher) == [[2, 1], [0]]
    tie = _relations(3, {(0, 1): 0.7, (2, 1): 0.7})
    assert dense_relations_to_graph(tie) == [[0, 1], [2]]


def test_exact_threshold_cycles_self_links_and_emission_order():
    assert dense_relations_to_graph(_relations(2, {(0, 1): 0.5})) == [[0, 1]]  # ≥ 0.5 counts
    assert dense_relations_to_graph(_relations(2, {(0, 1): 0.9, (1, 0): 0.9})) == [[1, 0]]
    assert dense_relations_to_graph(_relations(2, {(1, 1): 0.9})) == [[1], [0]]
    m = _relations(5, {(3, 4): 0.9, (0, 2): 0.9})
    assert dense_relations_to_graph(m) == [[0, 2], [3, 4], [1]]


def test_bool_input_and_empty():
    h = torch.tensor([[False, True], [False, False]])
    assert dense_relations_to_graph(h) == [[0, 1]]
    assert dense_relations_to_graph(torch.zeros(0, 0)) == []
    with pytest.raises(ValueError, match="square"):
        dense_relations_to_graph(torch.zeros(2, 3))


def _logits(n, entries, null):
    m = torch.full((n, n + 1), NEG_INF)
    m[:, 0] = torch.tensor(null, dtype=torch.float32)
    for (i, k), value in entries.items():
        m[i, k] = value
    return m


def test_group_relations_two_lines_one_paragraph():
    # Words 0 → 1 and 2 → 3 (column k = word k−1); line {0, 1} is followed by line {2, 3}.
    words = _logits(4, {(0, 2): 10.0, (2, 4): 10.0, (1, 3): -5.0}, null=[0.0, 5.0, 0.0, 5.0])
    lines = _logits(4, {(0, 3): 5.0, (1, 4): 3.0}, null=[-2.0, -2.0, 2.0, 2.0])
    log_var = torch.zeros(4, 5)
    assert group_relations(words, lines, log_var) == [[[0, 1], [2, 3]]]


def test_group_relations_uncertainty_weighting_decides_the_next_line():
    # A one-entry mean does not depend on its weight, so line 0 gets two words and each target two entries.
    words = _logits(4, {(0, 2): 10.0}, null=[0.0, 5.0, 5.0, 5.0])  # lines: [0, 1], [2], [3]
    # Line {0, 1} → line of word 2: logits 4 (w = 1) and −4 (w = e^−2 ≈ 0.135): A ≈ 3.05.
    # Line {0, 1} → line of word 3: logits 6 (w = e^−3 ≈ 0.05) and 0 (w = 1): A ≈ 0.28.
    # (Unweighted means would be 0 and 3 and pick the other line.)
    lines = _logits(4, {(0, 3): 4.0, (1, 3): -4.0, (0, 4): 6.0, (1, 4): 0.0}, null=[-1.0, -1.0, 3.0, 3.0])
    log_var = torch.zeros(4, 5)
    log_var[1, 3] = 2.0
    log_var[0, 4] = 3.0
    assert group_relations(words, lines, log_var) == [[[0, 1], [2]], [[3]]]
    # Make word 0's vote for word 3 confident and higher: A = (8 + 0)/2 = 4 > 3.05 → line of word 3 wins.
    lines[0, 4] = 8.0
    log_var[0, 4] = 0.0
    assert group_relations(words, lines, log_var) == [[[0, 1], [3]], [[2]]]


def test_group_relations_line_without_valid_links_links_to_first_line_quirk():
    # Line 0 has a negative null logit and no valid line entries: A = (−3, −inf self, 0) → its max is line 1.
    words = _logits(2, {}, null=[5.0, 5.0])
    lines = _logits(2, {}, null=[-3.0, 3.0])
    assert group_relations(words, lines, torch.zeros(2, 3)) == [[[0], [1]]]
    lines = _logits(2, {}, null=[3.0, 3.0])
    assert group_relations(words, lines, torch.zeros(2, 3)) == [[[0]], [[1]]]


def test_group_relations_empty_and_validation():
    assert group_relations(torch.zeros(0, 1), torch.zeros(0, 1), torch.zeros(0, 1)) == []
    with pytest.raises(ValueError, match="line_logits"):
        group_relations(torch.zeros(2, 3), torch.zeros(3, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="word_logits"):
        group_relations(torch.zeros(2, 2), torch.zeros(2, 3), torch.zeros(2, 3))

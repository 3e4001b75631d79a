"""Reading-order agreement: Kendall tau of known permutations, inversion counting, corpus pooling."""

import itertools
import random

import pytest

from textspotter.metrics.order import OrderCounts, count_inversions, order_counts


def test_kendall_tau_of_a_known_permutation():
    # Swapping two adjacent pairs: 2 discordant pairs of 6.
    counts = order_counts([0, 1, 2, 3], [1, 0, 3, 2])
    assert counts == OrderCounts(pairs=6, discordant=2)
    assert counts.kendall_tau() == pytest.approx(1 - 2 * 2 / 6)
    assert counts.distance() == pytest.approx(2 / 6)


def test_identical_and_reversed_orders():
    assert order_counts(range(5), range(5)).kendall_tau() == 1.0
    assert order_counts(range(5), range(4, -1, -1)).kendall_tau() == -1.0


def test_reference_positions_need_not_be_sorted_or_contiguous():
    # Items given in any sequence: only the two orders matter.
    assert order_counts([30, 10, 20], [2, 0, 1]) == OrderCounts(3, 0)
    assert order_counts([30, 10, 20], [1, 2, 0]).discordant == 2


def test_count_inversions_matches_brute_force():
    rng = random.Random(0)
    for length in [0, 1, 2, 7, 64, 200]:
        values = rng.sample(range(1000), length)
        brute = sum(1 for i, j in itertools.combinations(range(length), 2) if values[i] > values[j])
        assert count_inversions(values) == brute


def test_corpus_tau_pools_pairs_instead_of_averaging_pages():
    reversed_pair = order_counts([0, 1], [1, 0])  # tau -1 on 1 pair
    in_order = order_counts([0, 1, 2, 3], [0, 1, 2, 3])  # tau 1 on 6 pairs
    corpus = (reversed_pair + in_order).kendall_tau()
    assert corpus == pytest.approx(1 - 2 * 1 / 7)
    assert corpus != pytest.approx((reversed_pair.kendall_tau() + in_order.kendall_tau()) / 2)


def test_fewer_than_two_items_have_no_pairs():
    assert order_counts([3], [0]).kendall_tau() is None
    assert OrderCounts().distance() is None


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same length"):
        order_counts([0, 1], [0])

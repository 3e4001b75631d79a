"""Tests of textspotter.ops.distances (spec §7.3)."""

import math

import pytest
import torch

from textspotter.ops.distances import nearest_quads, point_segment_distance, quad_distances, ragged_quad_distances


def _box(x0, y0, x1, y1):
    x0, y0, x1, y1 = float(x0), float(y0), float(x1), float(y1)
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _reference_distance(qa, qb):
    """Literal §7.3: min over 4×4 edge pairs of the four point-to-segment distances, in Python floats."""

    def pt_seg(p, a, b):
        dx, dy = b[0] - a[0], b[1] - a[1]
        len2 = dx * dx + dy * dy
        t = 0.0 if len2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2))
        return math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy))

    best = math.inf
    for i in range(4):
        a0, a1 = qa[i], qa[(i + 1) % 4]
        for j in range(4):
            b0, b1 = qb[j], qb[(j + 1) % 4]
            best = min(best, pt_seg(a0, b0, b1), pt_seg(a1, b0, b1), pt_seg(b0, a0, a1), pt_seg(b1, a0, a1))
    return best


def test_point_segment_distance_cases():
    pts = torch.tensor([[1.0, 1.0], [-3.0, 0.0], [5.0, 4.0], [1.0, 1.0]])
    starts = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [2.0, 2.0]])
    ends = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [2.0, 2.0]])  # last one degenerate
    d = point_segment_distance(pts, starts, ends)
    assert d.tolist() == pytest.approx([1.0, 3.0, 5.0, math.sqrt(2.0)])


def test_hand_computed_distances():
    quads = torch.tensor(
        [
            _box(0, 0, 2, 1),  # 0
            _box(5, 0, 7, 1),  # 1: 3 to the right of 0
            _box(3, 4, 4, 5),  # 2: corner (2,1) of 0 to corner (3,4): sqrt(1 + 9)
            _box(1, 0.5, 3, 2),  # 3: overlaps 0; crossing edges are not detected
        ]
    )
    d = quad_distances(quads)
    assert d[0, 1].item() == pytest.approx(3.0)
    assert d[0, 2].item() == pytest.approx(math.sqrt(10.0))
    # Box 3 overlaps box 0; the closest vertex/edge pair is vertex (1, 0.5) of box 3 to the top edge of box 0
    # (0.5), not 0: crossing edges are not detected (§7.3).
    assert d[0, 3].item() == pytest.approx(0.5)
    assert d[0, 3].item() > 0
    assert torch.isinf(d.diagonal()).all()
    assert torch.equal(d, d.T)


def test_matches_literal_reference_on_random_quads():
    gen = torch.Generator().manual_seed(3)
    centers = torch.rand(9, 1, 2, generator=gen) * 20
    quads = centers + torch.randn(9, 4, 2, generator=gen) * 3
    d = quad_distances(quads, row_chunk=4)  # several chunks, one partial
    ql = quads.tolist()
    for i in range(9):
        for j in range(9):
            if i != j:
                assert d[i, j].item() == pytest.approx(_reference_distance(ql[i], ql[j]), rel=1e-5, abs=1e-5)


def test_self_distance_and_empty():
    quads = torch.tensor([_box(0, 0, 1, 1), _box(3, 0, 4, 1)])
    d = quad_distances(quads, allow_self_distance=True)
    assert d.diagonal().tolist() == [0.0, 0.0]
    empty = quad_distances(torch.zeros(0, 4, 2))
    assert empty.shape == (0, 0)


def test_ragged_padding_is_inf():
    quads = torch.zeros(2, 3, 4, 2)
    quads[0, 0] = torch.tensor(_box(0, 0, 1, 1))
    quads[0, 1] = torch.tensor(_box(2, 0, 3, 1))
    quads[1, 0] = torch.tensor(_box(0, 0, 1, 1))
    out = ragged_quad_distances(quads, torch.tensor([2, 1]))
    assert out.shape == (2, 3, 3)
    assert out[0, 0, 1].item() == pytest.approx(1.0)
    assert torch.isinf(out[0, 2]).all() and torch.isinf(out[0, :, 2]).all()
    assert torch.isinf(out[1]).all()  # one region: only its (infinite) diagonal


def test_input_validation():
    with pytest.raises(ValueError, match="quads"):
        quad_distances(torch.zeros(3, 4))
    with pytest.raises(TypeError, match="floating"):
        quad_distances(torch.zeros(2, 4, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="region_counts"):
        ragged_quad_distances(torch.zeros(1, 2, 4, 2), torch.tensor([3]))


def _sorted_rows(dist, k):
    order = dist.argsort(dim=1, stable=True)[:, :k]
    return dist.gather(1, order), order


@pytest.mark.parametrize("count", [1, 2, 12, 17, 120])
def test_nearest_quads_equals_sorting_the_full_matrix(count):
    # Words on a coarse grid: many exact ties and overlapping boxes; half the cases slightly rotated.
    gen = torch.Generator().manual_seed(count)
    x = torch.randint(0, 12, (count,), generator=gen).float() * 20
    y = torch.randint(0, 20, (count,), generator=gen).float() * 12
    w = torch.randint(1, 5, (count,), generator=gen).float() * 10
    quads = torch.stack([torch.tensor(_box(a, b, a + c, b + 10)) for a, b, c in zip(x, y, w)]) if count else None
    for jitter in (0.0, 0.5):
        moved = quads + torch.randn(quads.shape, generator=gen) * jitter
        for k in (1, 8, 15):
            values, indices = nearest_quads(moved, k)
            want_values, want_indices = _sorted_rows(quad_distances(moved), min(k, count - 1))
            assert torch.equal(values, want_values) and torch.equal(indices, want_indices)


def test_nearest_quads_redoes_rows_the_box_bound_cannot_settle():
    # 22 thin diagonal strips x + y ≈ c whose boxes contain the unit square at the origin (box distance 0) although
    # their edges are 27+ away, and three small squares 4-10 away: for the unit square every candidate picked by box
    # distance is a strip, so the row must be redone over all quads to find the squares.
    square = [_box(0, 0, 1, 1)]
    strips = [[[0.0, c], [c, 0.0], [c + 1, 1.0], [1.0, c + 1]] for c in range(40, 62)]
    near = [_box(5, 0, 6, 1), _box(0, 5, 1, 6), _box(7, 7, 8, 8)]
    quads = torch.tensor(square + strips + near)
    values, indices = nearest_quads(quads, 4)
    want_values, want_indices = _sorted_rows(quad_distances(quads), 4)
    assert torch.equal(values, want_values) and torch.equal(indices, want_indices)
    assert indices[0, :3].tolist() == [23, 24, 25] and values[0, 0].item() == pytest.approx(4.0)


def test_nearest_quads_validation():
    with pytest.raises(ValueError, match="quads"):
        nearest_quads(torch.zeros(3, 4), 2)
    with pytest.raises(ValueError, match="k"):
        nearest_quads(torch.zeros(3, 4, 2), -1)
    values, indices = nearest_quads(torch.zeros(0, 4, 2), 5)
    assert values.shape == (0, 0) and indices.dtype == torch.int64

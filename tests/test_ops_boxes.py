"""Tests of textspotter.ops.boxes (spec §4.1, §4.4)."""

import math

import pytest
import torch

from textspotter.ops.boxes import PREFILTER_SUPPRESSED_LOGIT, prefilter_confidence, rrect_to_quads


def test_axis_aligned_rbox_gives_axis_aligned_quad():
    rboxes = torch.zeros(1, 2, 3, 5)
    rboxes[0, 1, 2] = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0])  # t, r, b, l, θ
    quads = rrect_to_quads(rboxes)
    assert quads.shape == (1, 2, 3, 4, 2)
    # Cell (row 1, column 2): prior P = (4·2 + 2, 4·1 + 2) = (10, 6); box (P.x − l, P.y − t) … (P.x + r, P.y + b).
    assert quads[0, 1, 2].tolist() == [[6.0, 5.0], [12.0, 5.0], [12.0, 9.0], [6.0, 9.0]]
    # Zero distances collapse onto the prior point of the cell.
    assert quads[0, 0, 1].tolist() == [[6.0, 2.0]] * 4


def test_rotated_rbox_quarter_turn():
    # θ = π/2: vX = (0, 1), vY = (1, 0). With (t, r, b, l) = (1, 2, 3, 4) and P = (2, 2):
    # q0 = P − 4·vX + 1·vY = (3, −2); q1 = P + 2·vX + 1·vY = (3, 4); q2 = P + 2·vX − 3·vY = (−1, 4);
    # q3 = P − 4·vX − 3·vY = (−1, −2).
    rboxes = torch.tensor([1.0, 2.0, 3.0, 4.0, math.pi / 2]).view(1, 1, 1, 5)
    quad = rrect_to_quads(rboxes)[0, 0, 0]
    expected = torch.tensor([[3.0, -2.0], [3.0, 4.0], [-1.0, 4.0], [-1.0, -2.0]])
    assert torch.allclose(quad, expected, atol=1e-5)


def test_rotated_rbox_general_angle_is_a_rotated_rectangle():
    theta = 0.3
    t, r, b, left = 2.0, 5.0, 3.0, 7.0
    quad = rrect_to_quads(torch.tensor([t, r, b, left, theta]).view(1, 1, 1, 5), cell_size=8)[0, 0, 0].double()
    v_x = torch.tensor([math.cos(theta), math.sin(theta)], dtype=torch.float64)
    v_y = torch.tensor([math.sin(theta), -math.cos(theta)], dtype=torch.float64)
    prior = torch.tensor([4.0, 4.0], dtype=torch.float64)  # cell_size 8 → P = (4, 4)
    assert torch.allclose(quad[1] - quad[0], (left + r) * v_x, atol=1e-5)
    assert torch.allclose(quad[3] - quad[0], -(t + b) * v_y, atol=1e-5)
    assert torch.allclose(quad[0], prior - left * v_x + t * v_y, atol=1e-5)


def test_rrect_to_quads_float32_and_differentiable():
    rboxes = torch.rand(2, 3, 4, 5, dtype=torch.float16)
    assert rrect_to_quads(rboxes).dtype == torch.float32
    leaf = torch.rand(1, 2, 2, 5, requires_grad=True)
    rrect_to_quads(leaf).sum().backward()
    assert leaf.grad is not None and leaf.grad.shape == leaf.shape


def test_rrect_to_quads_rejects_bad_shapes():
    with pytest.raises(ValueError, match="rboxes"):
        rrect_to_quads(torch.zeros(1, 2, 2, 4))
    with pytest.raises(ValueError, match="cell_size"):
        rrect_to_quads(torch.zeros(1, 2, 2, 5), cell_size=0)


def _centred_rboxes(height, width, dist=4.0):
    rboxes = torch.full((1, height, width, 5), dist)
    rboxes[..., 4] = 0.0
    return rboxes


def test_prefilter_keeps_local_peaks_only():
    conf = torch.full((1, 5, 5), -1.0)
    conf[0, 2, 2] = 3.0  # peak
    conf[0, 2, 1] = 2.0  # neighbour of the peak, lower
    conf[0, 0, 4] = 1.0  # isolated local maximum, sigmoid 0.73 > 0.5
    rboxes = _centred_rboxes(5, 5)  # centerness 1 everywhere
    out = prefilter_confidence(conf, rboxes)
    kept = out != PREFILTER_SUPPRESSED_LOGIT
    assert kept.nonzero().tolist() == [[0, 0, 4], [0, 2, 2]]
    assert out[0, 2, 2].item() == 3.0 and out[0, 0, 4].item() == 1.0


def test_prefilter_centerness_and_threshold():
    conf = torch.full((1, 3, 7), -5.0)
    conf[0, 1, 1] = 4.0  # sigmoid 0.982, but off-centre: t=1, b=4 → centerness sqrt(0.25) = 0.5 → 0.491
    conf[0, 1, 5] = 4.0  # centred → kept
    rboxes = _centred_rboxes(3, 7)
    rboxes[0, 1, 1, 0] = 1.0
    out = prefilter_confidence(conf, rboxes)
    assert out[0, 1, 1].item() == PREFILTER_SUPPRESSED_LOGIT
    assert out[0, 1, 5].item() == 4.0
    assert int((out != PREFILTER_SUPPRESSED_LOGIT).sum()) == 1


def test_prefilter_keeps_ties_and_uses_max_one_floor():
    conf = torch.full((1, 3, 4), -5.0)
    conf[0, 1, 1] = conf[0, 1, 2] = 2.0  # plateau: both equal the 3x3 max
    rboxes = _centred_rboxes(3, 4, dist=0.5)  # min/max(max, 1) = 0.5/1 → centerness 0.5: nothing survives
    assert (prefilter_confidence(conf, rboxes) == PREFILTER_SUPPRESSED_LOGIT).all()
    out = prefilter_confidence(conf, _centred_rboxes(3, 4))
    assert (out != PREFILTER_SUPPRESSED_LOGIT).nonzero().tolist() == [[0, 1, 1], [0, 1, 2]]


def test_prefilter_validation():
    with pytest.raises(ValueError, match="confidence"):
        prefilter_confidence(torch.zeros(1, 3, 3), _centred_rboxes(3, 4))
    with pytest.raises(ValueError, match="kernel"):
        prefilter_confidence(torch.zeros(1, 3, 3), _centred_rboxes(3, 3), kernel=2)

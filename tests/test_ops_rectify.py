"""Tests of textspotter.ops.rectify (spec §5)."""

import math

import pytest
import torch
import torch.nn.functional as F

from textspotter.ops.rectify import (
    calc_quad_width,
    indirect_grid_sample,
    quad_rectify_grid,
    rectify_sample,
    region_counts_to_indices,
)


def _box(x0, y0, x1, y1):
    return torch.tensor([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=torch.float32)


def _bilinear_by_hand(feature, gx, gy):
    """Literal §5.2 for one channel map [H, W]: 0 outside [-1, 1], align-corners, clamped neighbours."""
    if gx < -1 or gx > 1 or gy < -1 or gy > 1:
        return 0.0
    height, width = feature.shape
    u, v = (gx + 1) * (width - 1) / 2, (gy + 1) * (height - 1) / 2
    u0, v0 = math.floor(u), math.floor(v)
    du, dv = u - u0, v - v0
    u1, v1 = min(u0 + 1, width - 1), min(v0 + 1, height - 1)
    f = feature.tolist()
    return f[v0][u0] * (1 - du) * (1 - dv) + f[v0][u1] * du * (1 - dv) + f[v1][u0] * (1 - du) * dv + f[v1][u1] * du * dv


def test_calc_quad_width_hand_computed():
    quads = torch.stack([_box(0, 0, 40, 10), _box(0, 0, 41, 10), _box(0, 0, 1, 1), _box(0, 0, 0, 10)])
    # 8/10·40 = 32 → 32; 8/10·41 = 32.8 → 48 (round up to 16); h clamps to 2: 8/2·1 = 4 → 16; width 0 → 16.
    assert calc_quad_width(quads, 8).tolist() == [32, 48, 16, 16]
    assert calc_quad_width(quads, 8, round_factor=1).tolist() == [32, 33, 4, 2]  # never below 2
    assert calc_quad_width(quads, 8, max_width=40).tolist() == [32, 40, 16, 16]
    assert calc_quad_width(quads, 8).dtype == torch.int64


def test_calc_quad_width_uses_top_edge_and_mean_side_height():
    quad = torch.tensor([[[0.0, 0.0], [30.0, 40.0], [30.0, 48.0], [0.0, 4.0]]])  # top edge 50, sides 4 and 8
    assert calc_quad_width(quad, 6, round_factor=1).tolist() == [50]  # 6 / 6 · 50


def test_axis_aligned_grid_is_hand_computed_and_past_width_is_outside():
    quad = _box(8, 4, 24, 8)[None]  # 16 × 4 pixels in a 32 × 32 image
    grid = quad_rectify_grid(quad, 32, 32, 2, 12)
    assert grid.shape == (1, 2, 12, 2) and grid.dtype == torch.float32
    # qw = calc_quad_width(q, 2, 1, 12) = 2/4·16 = 8: P(y, x) = (8 + 16·(x+0.5)/8, 4 + 4·(y+0.5)/2) = (9 + 2x, 5 + 2y)
    for y in range(2):
        for x in range(8):
            assert grid[0, y, x].tolist() == pytest.approx([2 * (9 + 2 * x) / 32 - 1, 2 * (5 + 2 * y) / 32 - 1])
    # Columns 8..11 are past the strip: pixel (−1, −1) → 2·(−1)/32 − 1 < −1.
    assert torch.allclose(grid[0, :, 8:], torch.full((2, 4, 2), -1.0625))


def test_column_scale_samples_the_quad_more_finely_across():
    quad = _box(8, 4, 24, 8)[None]  # 16 × 4 pixels in a 32 × 32 image
    # qw = 1.5 · 2/4 · 16 = 12 columns over the same 16 pixels: P(y, x) = (8 + 16·(x+0.5)/12, 5 + 2y).
    assert calc_quad_width(quad, 2, 1, 0, column_scale=1.5).tolist() == [12]
    assert calc_quad_width(quad, 2, 1, 10, column_scale=1.5).tolist() == [10]  # the cap still holds
    grid = quad_rectify_grid(quad, 32, 32, 2, 14, column_scale=1.5)
    for x in range(12):
        expected = [2 * (8 + 16 * (x + 0.5) / 12) / 32 - 1, 2 * 7 / 32 - 1]
        assert grid[0, 1, x].tolist() == pytest.approx(expected, abs=1e-6)
    assert torch.allclose(grid[0, :, 12:], torch.full((2, 2, 2), -1.0625))
    # Scale 1 is the published grid; the relational model's stretched grid ignores the scale.
    assert torch.equal(quad_rectify_grid(quad, 32, 32, 2, 12, column_scale=1.0), quad_rectify_grid(quad, 32, 32, 2, 12))
    stretched = quad_rectify_grid(quad, 32, 32, 2, 3, isotropic=False, column_scale=1.5)
    assert torch.equal(stretched, quad_rectify_grid(quad, 32, 32, 2, 3, isotropic=False))
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="column_scale"):
            calc_quad_width(quad, 2, column_scale=bad)


def test_non_isotropic_grid_stretches_to_full_width():
    quad = _box(0, 0, 30, 20)[None]
    grid = quad_rectify_grid(quad, 20, 30, 2, 3, isotropic=False)
    # fc = (x + 0.5)/3, fr = (y + 0.5)/2 → P = (10x + 5, 10y + 5); g = 2P/(30, 20) − 1.
    expected = torch.tensor([[[(10 * x + 5) / 15 - 1, (10 * y + 5) / 10 - 1] for x in range(3)] for y in range(2)])
    assert torch.allclose(grid[0], expected, atol=1e-6)


def test_rotated_quad_grid_follows_the_bilinear_patch():
    quad = torch.tensor([[[10.0, 0.0], [20.0, 10.0], [15.0, 15.0], [5.0, 5.0]]])
    grid = quad_rectify_grid(quad, 64, 64, 1, 1, isotropic=False)
    # Single cell: fc = fr = 0.5 → centre of the patch = mean of the four vertices (12.5, 7.5).
    assert grid[0, 0, 0].tolist() == pytest.approx([2 * 12.5 / 64 - 1, 2 * 7.5 / 64 - 1])


def test_dynamic_width_and_empty_input():
    quads = torch.stack([_box(0, 0, 40, 10), _box(0, 0, 80, 10)])
    assert quad_rectify_grid(quads, 64, 64, 8, 0).shape == (2, 8, 64, 2)  # max(32, 64)
    assert quad_rectify_grid(quads, 64, 64, 8, -48).shape == (2, 8, 48, 2)  # capped at 48
    assert quad_rectify_grid(torch.zeros(0, 4, 2), 64, 64, 8, 32).shape == (0, 8, 32, 2)


def test_rectified_sampling_picks_expected_cells_and_zeroes_past_width():
    # Feature map 8 × 8 with f(u, v) = u² + 10 v (not bilinear, so interpolation is visible).
    u = torch.arange(8.0)
    feature = (u[None, :] ** 2 + 10 * u[:, None]).view(1, 1, 8, 8)
    quad = _box(8, 4, 24, 8)[None]
    grid = quad_rectify_grid(quad, 32, 32, 2, 12)
    out = indirect_grid_sample(feature, grid, torch.zeros(1, dtype=torch.int64))
    assert out.shape == (1, 1, 2, 12)
    # Output (0, 0) samples pixel (9, 5): u = 9·7/32 = 1.96875, v = 5·7/32 = 1.09375 (align-corners mapping).
    # Bilinear: u² between columns 1 and 2 → 1 + 3·0.96875 = 3.90625; 10v = 10.9375.
    assert out[0, 0, 0, 0].item() == pytest.approx(14.84375, abs=1e-4)
    for y in range(2):
        for x in range(8):
            gx, gy = grid[0, y, x].tolist()
            assert out[0, 0, y, x].item() == pytest.approx(_bilinear_by_hand(feature[0, 0], gx, gy), abs=1e-4)
    assert (out[0, 0, :, 8:] == 0).all()


def test_indirect_grid_sample_uses_each_regions_own_image():
    features = torch.arange(1.0, 4.0).view(3, 1, 1, 1).expand(3, 2, 5, 6).contiguous()  # image b is b + 1
    grid = torch.rand(4, 3, 2, 2) * 2 - 1
    indices = torch.tensor([2, 0, 2, 1])
    out = indirect_grid_sample(features, grid, indices)
    assert out.shape == (4, 2, 3, 2)
    for n, b in enumerate(indices.tolist()):
        assert torch.allclose(out[n], torch.full((2, 3, 2), b + 1.0))


def test_indirect_grid_sample_matches_gathered_grid_sample_and_zeroes_outside():
    features = torch.randn(3, 4, 7, 9)
    grid = torch.rand(5, 4, 6, 2) * 2.4 - 1.2  # some points outside [-1, 1]
    grid[0, 0, 0] = torch.tensor([1.0, -1.0])  # boundary: inside
    grid[0, 0, 1] = torch.tensor([1.01, 0.0])  # just outside: zero (grid_sample alone would blend with padding)
    indices = torch.tensor([1, 1, 0, 2, 0])
    out = indirect_grid_sample(features, grid, indices)
    reference = F.grid_sample(features[indices], grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    inside = (grid.abs() <= 1).all(-1)[:, None]
    assert torch.allclose(out, reference * inside, atol=1e-6)
    assert out[0, :, 0, 0].tolist() == pytest.approx(features[1, :, 0, 8].tolist())
    assert (out[0, :, 0, 1] == 0).all()
    hand = _bilinear_by_hand(features[2, 3], *grid[3, 2, 4].tolist())
    assert out[3, 3, 2, 4].item() == pytest.approx(hand, abs=1e-5)


def test_indirect_grid_sample_is_differentiable_wrt_features():
    features = torch.randn(2, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    grid = (torch.rand(3, 2, 3, 2, dtype=torch.float64) * 1.8 - 0.9).requires_grad_(False)
    indices = torch.tensor([1, 0, 1])
    assert torch.autograd.gradcheck(lambda f: indirect_grid_sample(f, grid, indices), (features,))


def test_training_path_matches_inference_path_and_reference_gradients():
    # With features requiring a gradient the op samples one tall grid per image instead of an expanded view.
    features = torch.randn(3, 4, 6, 7)
    grid = torch.rand(6, 2, 5, 2) * 2.2 - 1.1
    indices = torch.tensor([2, 0, 2, 1, 0, 0])
    weights = torch.randn(6, 4, 2, 5)
    with torch.no_grad():
        inference = indirect_grid_sample(features, grid, indices)
    leaf = features.clone().requires_grad_(True)
    training = indirect_grid_sample(leaf, grid, indices)
    assert torch.allclose(training, inference, atol=1e-6)
    (training * weights).sum().backward()
    ref_leaf = features.clone().requires_grad_(True)
    reference = F.grid_sample(ref_leaf[indices], grid, align_corners=True) * (grid.abs() <= 1).all(-1)[:, None]
    (reference * weights).sum().backward()
    assert torch.allclose(leaf.grad, ref_leaf.grad, atol=1e-5)


def test_indirect_grid_sample_single_row_map_still_zeroes_outside():
    # With a 1-pixel side every grid value maps onto that pixel (align-corners), so outside points need the mask.
    features = torch.arange(5.0).view(1, 1, 1, 5)
    grid = torch.tensor([[[[0.5, 0.0], [0.5, 1.5], [-1.2, 0.0]]]])  # inside, outside in y, outside in x
    out = indirect_grid_sample(features, grid, torch.tensor([0]))
    assert out[0, 0, 0].tolist() == pytest.approx([3.0, 0.0, 0.0])


def test_indirect_grid_sample_empty_and_validation():
    features = torch.randn(2, 3, 4, 4)
    out = indirect_grid_sample(features, torch.zeros(0, 8, 5, 2), torch.zeros(0, dtype=torch.int64))
    assert out.shape == (0, 3, 8, 5)
    with pytest.raises(ValueError, match="indices"):
        indirect_grid_sample(features, torch.zeros(1, 2, 2, 2), torch.tensor([2]))
    with pytest.raises(TypeError, match="integer"):
        indirect_grid_sample(features, torch.zeros(1, 2, 2, 2), torch.tensor([0.0]))


def _reference_crop(features, quads, indices, size, out, **options):
    grid = quad_rectify_grid(quads, size[0], size[1], out[0], out[1], **options)
    return indirect_grid_sample(features, grid, indices)


@pytest.mark.parametrize(
    ("out", "options"),
    [
        ((8, 24), {"column_scale": 1.5}),
        ((8, 12), {"column_scale": 1.5, "subdivide": 4}),
        ((2, 3), {"isotropic": False}),
    ],
)
def test_rectify_sample_matches_grid_then_sample_inside_across_and_beyond_the_border(out, options):
    generator = torch.Generator().manual_seed(3)
    features = torch.rand(2, 5, 24, 32, generator=generator)
    # Quads well inside, on the border, crossing it (left, right, bottom), wholly outside, slanted and rotated.
    quads = torch.stack(
        [
            _box(10, 10, 60, 22),
            _box(0, 0, 40, 12),
            _box(-15, 30, 25, 44),
            _box(100, 50, 140, 62),
            _box(20, 85, 70, 100),
            _box(200, 200, 240, 212),
            torch.tensor([[30.0, 40.0], [90.0, 52.0], [88.0, 64.0], [28.0, 52.0]]),
            torch.tensor([[50.0, 20.0], [60.0, 30.0], [40.0, 50.0], [30.0, 40.0]]),
        ]
    )
    indices = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    size = (96, 128)
    expected = _reference_crop(features, quads, indices, size, out, **options)
    got = rectify_sample(features, quads, indices, input_size=size, output_size=out, **options)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)
    assert got[5].abs().max() == 0  # wholly outside the image: nothing sampled
    assert expected[2].abs().sum() > 0 and (expected[2] == 0).any()  # the crossing quad is partly zero


def test_rectify_sample_gradient_matches_and_small_maps_fall_back():
    features = torch.rand(1, 3, 12, 16, requires_grad=True)
    quads = torch.stack([_box(4, 4, 40, 14), _box(-8, 20, 30, 32)])
    indices = torch.zeros(2, dtype=torch.int64)
    options = {"input_size": (48, 64), "output_size": (8, 16), "column_scale": 1.5}
    rectify_sample(features, quads, indices, **options).square().sum().backward()
    ours = features.grad.clone()
    features.grad = None
    _reference_crop(features, quads, indices, (48, 64), (8, 16), column_scale=1.5).square().sum().backward()
    assert torch.allclose(ours, features.grad, atol=1e-5)
    # A one-row map cannot push outside points off the map: the reference masking path is used.
    thin = torch.rand(1, 2, 1, 16)
    expected = _reference_crop(thin, quads, indices, (4, 64), (8, 16), column_scale=1.5)
    got = rectify_sample(thin, quads, indices, input_size=(4, 64), output_size=(8, 16), column_scale=1.5)
    assert torch.allclose(got, expected, atol=1e-6)


def test_rectify_sample_empty_and_validation():
    features = torch.rand(1, 2, 8, 8)
    empty = rectify_sample(
        features, torch.zeros(0, 4, 2), torch.zeros(0, dtype=torch.int64), input_size=(32, 32), output_size=(8, 4)
    )
    assert empty.shape == (0, 2, 8, 4)
    quads = _box(0, 0, 8, 4)[None]
    with pytest.raises(ValueError, match="indices must lie"):
        rectify_sample(features, quads, torch.tensor([1]), input_size=(32, 32), output_size=(8, 4))
    with pytest.raises(ValueError, match="sizes must be positive"):
        rectify_sample(features, quads, torch.tensor([0]), input_size=(32, 32), output_size=(8, 0))
    with pytest.raises(ValueError, match="subdivide"):
        rectify_sample(features, quads, torch.tensor([0]), input_size=(32, 32), output_size=(8, 4), subdivide=0)
    with pytest.raises(TypeError, match="integer"):
        rectify_sample(features, quads, torch.tensor([0.0]), input_size=(32, 32), output_size=(8, 4))


def test_region_counts_to_indices():
    assert region_counts_to_indices(torch.tensor([2, 0, 1]), 3).tolist() == [0, 0, 2]
    single = region_counts_to_indices(torch.tensor([4]), 4)
    assert single.tolist() == [0, 0, 0, 0] and single.dtype == torch.int64
    assert region_counts_to_indices(torch.tensor([0, 0]), 0).shape == (0,)
    with pytest.raises(ValueError, match="num_outputs"):
        region_counts_to_indices(torch.tensor([1, 2]), 4)
    with pytest.raises(ValueError, match="non-negative"):
        region_counts_to_indices(torch.tensor([-1, 2]), 1)

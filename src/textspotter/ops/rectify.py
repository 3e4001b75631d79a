"""Quad rectification grids and per-region bilinear sampling of the feature map (spec §5).

The recognizer and the relational model read the detector feature map ``F [B, C, Hf, Wf]`` along each detected
quad. :func:`quad_rectify_grid` builds, for every quad, a sampling grid in normalised ``[-1, 1]`` image coordinates
(``QuadRectify`` of the reference); :func:`indirect_grid_sample` samples each region's grid from its own image's
feature map (``IndirectGridSample``); :func:`region_counts_to_indices` says which image each region belongs to.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "calc_quad_width",
    "natural_quad_width",
    "quad_rectify_grid",
    "indirect_grid_sample",
    "rectify_sample",
    "region_counts_to_indices",
]

# Grid value substituted for points outside [-1, 1] before sampling: with align_corners=True it maps to pixel
# -2·(size − 1) ≤ -2 for any map side ≥ 2, so both bilinear taps are off the map and zero padding yields exactly 0.
_FAR_OUTSIDE = -5.0

_GRID_SAMPLE_OPTIONS = {"mode": "bilinear", "padding_mode": "zeros", "align_corners": True}


def _check_quads_n(quads: torch.Tensor) -> None:
    if not isinstance(quads, torch.Tensor) or quads.ndim != 3 or tuple(quads.shape[1:]) != (4, 2):
        raise ValueError(f"quads must be a [N, 4, 2] tensor, got {getattr(quads, 'shape', type(quads))}")


def calc_quad_width(
    quads: torch.Tensor, output_height: int, round_factor: int = 16, max_width: int = 0, column_scale: float = 1.0
) -> torch.Tensor:
    """Return the width of each quad's strip when rescaled to ``output_height`` rows (spec §5.1).

    ``w = |q1 − q0|`` (top edge), ``h = max((|q3 − q0| + |q2 − q1|)/2, 2)``, ``w' = s·(output_height / h)·w``
    with ``s = column_scale`` (1 in the published models), rounded **up** to a multiple of ``round_factor`` (at
    least ``round_factor``), capped at ``max_width`` when that is positive, then ``max(2, floor(w'))``. Computed in
    float32 like the reference kernel.

    Args:
        quads: ``[N, 4, 2]`` quads (any pixel frame; only lengths matter).
        output_height: strip height in rows (≥ 1).
        round_factor: rounding step of the width (≥ 1).
        max_width: cap on the width; ``0`` (or negative) means no cap.
        column_scale: strip columns per row of height (> 0); above 1 the text is sampled more finely across
            than down (``RecognizerConfig.column_scale``).

    Returns:
        ``[N]`` int64 widths, each ≥ 2.

    Raises:
        ValueError: on a bad ``quads`` shape, ``output_height < 1`` or ``round_factor < 1``.

    >>> calc_quad_width(torch.tensor([[[0.0, 0.0], [40.0, 0.0], [40.0, 10.0], [0.0, 10.0]]]), 8, 1, 32)
    tensor([32])
    """
    _check_quads_n(quads)
    if output_height < 1:
        raise ValueError(f"output_height must be >= 1, got {output_height}")
    if round_factor < 1:
        raise ValueError(f"round_factor must be >= 1, got {round_factor}")
    if not (math.isfinite(column_scale) and column_scale > 0):
        raise ValueError(f"column_scale must be a finite number > 0, got {column_scale!r}")
    scaled = natural_quad_width(quads, output_height, column_scale)
    scaled = (torch.ceil(scaled / round_factor) * round_factor).clamp(min=float(round_factor))
    if max_width > 0:
        scaled = scaled.clamp(max=float(max_width))
    return torch.floor(scaled).clamp(min=2.0).to(torch.int64)


def natural_quad_width(quads: torch.Tensor, output_height: int, column_scale: float = 1.0) -> torch.Tensor:
    """Return each quad's strip width at ``output_height`` rows before :func:`calc_quad_width` rounds and caps it.

    ``s·(output_height / h)·w`` with ``w = |q1 − q0|`` (top edge), ``h = max((|q3 − q0| + |q2 − q1|)/2, 2)`` and
    ``s = column_scale``, in float32 (no argument checks: :func:`calc_quad_width` makes them).

    Args:
        quads: ``[N, 4, 2]`` quads (any pixel frame; only lengths matter).
        output_height: strip height in rows.
        column_scale: strip columns per row of height.

    Returns:
        ``[N]`` float32 widths in columns.
    """
    q = quads.float()
    width = (q[:, 1] - q[:, 0]).norm(dim=-1)
    height = ((q[:, 3] - q[:, 0]).norm(dim=-1) + (q[:, 2] - q[:, 1]).norm(dim=-1)) / 2
    height = height.clamp(min=2.0)  # thin or degenerate quads: avoid huge widths / division by zero
    return (output_height / height) * width * column_scale  # × 1.0 is exact: published widths unchanged


def quad_rectify_grid(
    quads: torch.Tensor,
    image_height: int,
    image_width: int,
    output_height: int,
    output_width: int,
    *,
    isotropic: bool = True,
    round_factor: int = 16,
    column_scale: float = 1.0,
    subdivide: int = 1,
) -> torch.Tensor:
    """Build each quad's bilinear-patch sampling grid in normalised image coordinates (spec §5.1).

    For output row ``y`` and column ``x``: ``fr = (y + 0.5)/output_height``, ``fc = (x + 0.5)/qw`` and
    ``P = q0 + fc·(q1 − q0) + fr·(q3 − q0) + fc·fr·((q2 − q1) − (q3 − q0))``; the grid value is
    ``2·P/(image_width, image_height) − 1``. With ``isotropic=True``, ``qw = calc_quad_width(q, output_height, 1,
    output_width, column_scale)``: the strip keeps the quad's aspect ratio (times ``column_scale`` across), is
    left-aligned, and columns ``x ≥ qw`` get the pixel ``(−1, −1)``, i.e. a grid value below −1 that
    :func:`indirect_grid_sample` reads as 0. Quads wider than ``output_width`` are squeezed into it. With
    ``isotropic=False``, ``qw = output_width`` (the quad is stretched).

    Args:
        quads: ``[N, 4, 2]`` quads in pixels of an ``image_height × image_width`` image (detector-input space in
            the pipeline), clockwise from top-left.
        image_height: height of that image in pixels.
        image_width: width of that image in pixels.
        output_height: grid rows (recognizer: 8; relational: 2).
        output_width: grid columns (recognizer: T; relational: 3). If ``≤ 0``, the width is the largest
            ``calc_quad_width(q, output_height, round_factor, -output_width)`` over the quads (reference
            behaviour; ``round_factor`` capped by ``-output_width`` when there are no quads).
        isotropic: keep the aspect ratio (recognizer) or stretch to the full width (relational).
        round_factor: rounding step used only when ``output_width ≤ 0``.
        column_scale: with ``isotropic``, strip columns per row of height (``calc_quad_width``): 1 keeps the
            quad's aspect ratio, 1.5 samples the text 1.5× as finely across as down.
        subdivide: ``s ≥ 1``: the same strip sampled ``s`` times as finely in both directions (``s·output_height``
            rows, ``s·W`` columns, the text over ``s·qw`` columns with ``qw`` computed at ``output_height``), so the
            finer grid covers exactly what the strip's grid covers (the recognizer's pixel strips).

    Returns:
        ``[N, s·output_height, s·W, 2]`` float32 (x, y) grid in ``[-1, 1]`` inside the image, ``W = output_width``.

    Raises:
        ValueError: on a bad ``quads`` shape or non-positive sizes.
    """
    _check_grid_args(quads, image_height, image_width, output_height, subdivide)
    q = quads.float()
    num = q.shape[0]
    if output_width <= 0:
        if num:
            output_width = int(calc_quad_width(q, output_height, round_factor, -output_width, column_scale).max())
        else:
            output_width = max(2, min(round_factor, -output_width) if output_width < 0 else round_factor)
    grid, outside = _patch_grid(
        q, image_height, image_width, output_height, output_width, isotropic, column_scale, subdivide
    )
    # Columns past the text get the pixel (-1, -1), just outside the image in both directions.
    corner = torch.tensor(
        [-2.0 / image_width - 1.0, -2.0 / image_height - 1.0], dtype=torch.float32, device=grid.device
    )
    return torch.where(outside, corner, grid)


def _check_grid_args(
    quads: torch.Tensor, image_height: int, image_width: int, output_height: int, subdivide: int
) -> None:
    """The argument checks shared by :func:`quad_rectify_grid` and :func:`rectify_sample`."""
    _check_quads_n(quads)
    if isinstance(subdivide, bool) or not isinstance(subdivide, int) or subdivide < 1:
        raise ValueError(f"subdivide must be an integer >= 1, got {subdivide!r}")
    if image_height < 1 or image_width < 1 or output_height < 1:
        raise ValueError(
            f"image and output sizes must be positive, got image {image_height}x{image_width}, "
            f"output height {output_height}"
        )


def _patch_grid(
    q: torch.Tensor,
    image_height: int,
    image_width: int,
    output_height: int,
    output_width: int,
    isotropic: bool,
    column_scale: float,
    subdivide: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the bilinear-patch grid of :func:`quad_rectify_grid` without its outside columns filled in.

    Built in normalised coordinates as ``(A + fr·C) + fc·(B + fr·D)``: the two bracketed terms are per quad and
    row, so the ``[N, Ho, Wo, 2]`` grid is written by one fused multiply-add (the strips of the recognizer's pixel
    stem hold millions of points a page; a pass per term cost more than sampling them).

    Args:
        q: ``[N, 4, 2]`` float32 quads; the other arguments as :func:`quad_rectify_grid` (``output_width > 0``).

    Returns:
        ``(grid, outside)``: ``[N, s·Ho, s·W, 2]`` float32 grid (columns past the text extrapolate the patch) and the
        ``[N, 1, s·W, 1]`` bool mask of those columns.
    """
    num = q.shape[0]
    device = q.device
    if isotropic:
        strip_width = calc_quad_width(q, output_height, 1, output_width, column_scale).float()
    else:
        strip_width = torch.full((num,), float(output_width), device=device)
    if subdivide > 1:
        output_height, output_width, strip_width = (
            output_height * subdivide,
            output_width * subdivide,
            strip_width * subdivide,
        )
    rows = torch.arange(output_height, device=device, dtype=torch.float32)
    cols = torch.arange(output_width, device=device, dtype=torch.float32)
    frac_row = ((rows + 0.5) / output_height).view(1, output_height, 1, 1)
    frac_col = ((cols[None, :] + 0.5) / strip_width[:, None]).view(num, 1, output_width, 1)
    # Bilinear patch through the four vertices: (fc, fr) = (0, 0) at q0, (1, 0) at q1, (1, 1) at q2, (0, 1) at q3,
    # P = q0 + fc·(q1 − q0) + fr·(q3 − q0) + fc·fr·((q2 − q1) − (q3 − q0)), mapped by 2·P/size − 1.
    size = torch.tensor([image_width, image_height], dtype=torch.float32, device=device)
    q0, q1, q2, q3 = (q[:, i].view(num, 1, 1, 2) for i in range(4))
    offset = 2 * q0 / size - 1
    across = 2 * (q1 - q0) / size
    down = 2 * (q3 - q0) / size
    twist = 2 * ((q2 - q1) - (q3 - q0)) / size
    row_start = offset + frac_row * down  # (N, Ho, 1, 2)
    row_step = across + frac_row * twist  # (N, Ho, 1, 2)
    grid = torch.addcmul(row_start, frac_col, row_step)  # (N, Ho, Wo, 2)
    outside = (cols[None, :] >= strip_width[:, None]).view(num, 1, output_width, 1)
    return grid, outside


def rectify_sample(
    features: torch.Tensor,
    quads: torch.Tensor,
    indices: torch.Tensor,
    *,
    input_size: tuple[int, int],
    output_size: tuple[int, int],
    isotropic: bool = True,
    column_scale: float = 1.0,
    subdivide: int = 1,
) -> torch.Tensor:
    """Sample each quad's rectified strip from its image's feature map: :func:`quad_rectify_grid` followed by
    :func:`indirect_grid_sample`, with the same values (to float rounding) for less work.

    The point-by-point test for grid values outside ``[-1, 1]`` runs only on the quads that reach the image's
    border: every other quad's patch points are convex combinations of its vertices, so they lie inside. Columns past
    the text are sent far off the map, where sampling itself returns 0.

    Args:
        features: ``[B, C, Hf, Wf]`` floating-point feature maps.
        quads: ``[N, 4, 2]`` quads in pixels of the ``input_size`` image, clockwise from top-left.
        indices: ``[N]`` integer image index of each quad, in ``[0, B)``.
        input_size: ``(H, W)`` of the image the quads' pixels refer to (the detector input).
        output_size: ``(rows, cols)`` of the strip (``cols > 0``).
        isotropic, column_scale, subdivide: as :func:`quad_rectify_grid`.

    Returns:
        ``[N, C, s·rows, s·cols]`` samples in the dtype of ``features``.

    Raises:
        ValueError / TypeError: as :func:`quad_rectify_grid` and :func:`indirect_grid_sample`.
    """
    height, width = input_size
    rows, cols = output_size
    _check_grid_args(quads, height, width, rows, subdivide)
    if cols < 1:
        raise ValueError(f"output sizes must be positive, got output width {cols}")
    _check_sample_inputs(features, quads.shape[:1], indices)
    if features.shape[-2] < 2 or features.shape[-1] < 2:
        grid = quad_rectify_grid(
            quads, height, width, rows, cols, isotropic=isotropic, column_scale=column_scale, subdivide=subdivide
        )
        return indirect_grid_sample(features, grid, indices)
    q = quads.to(device=features.device, dtype=torch.float32)
    grid, outside = _patch_grid(q, height, width, rows, cols, isotropic, column_scale, subdivide)
    # One coordinate far off the map is enough for both bilinear taps to miss it (and a quarter of the work).
    grid[..., 0].masked_fill_(outside[..., 0], _FAR_OUTSIDE)
    size = torch.tensor([width, height], dtype=torch.float32, device=q.device)
    # A margin keeps quads whose vertices sit on the border (rounding could carry a point just past it) on the
    # tested path.
    reaches_border = ((2 * q / size - 1).abs() > 1 - 1e-4).flatten(1).any(1)
    if bool(reaches_border.any()):
        border = reaches_border.nonzero().squeeze(1)
        part = grid[border]
        grid[border] = part.masked_fill_((part.abs() > 1).any(-1, keepdim=True), _FAR_OUTSIDE)
    return _sample_by_image(features, grid.to(features.dtype), indices.to(device=features.device, dtype=torch.int64))


def indirect_grid_sample(features: torch.Tensor, grid: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Sample each region's grid bilinearly from the feature map of its own image (spec §5.2).

    Equivalent to ``grid_sample(features[indices], grid, mode="bilinear", padding_mode="zeros",
    align_corners=True)`` followed by zeroing every location with ``|gx| > 1`` or ``|gy| > 1``, but without
    materialising ``features[indices]``: regions are grouped by image and each image's grids are sampled in one
    ``grid_sample`` call on that image alone (an expanded view in inference; one tall grid when ``features``
    requires a gradient, so that the backward pass allocates one map-sized gradient, not one per region). Passing
    channels-last ``features`` makes CPU sampling faster; the output may then be channels-last too. Inside
    ``[-1, 1]`` PyTorch's zero padding and the reference's neighbour clamping agree (the out-of-map neighbour always
    has weight 0 with ``align_corners=True``).
    Differentiable with respect to ``features`` (and ``grid``), as training needs.

    Args:
        features: ``[B, C, H, W]`` feature maps (the reference samples in float32; pass float32 to match it).
        grid: ``[N, Ho, Wo, 2]`` (x, y) normalised grids, e.g. from :func:`quad_rectify_grid`.
        indices: ``[N]`` int64 image index of each region, in ``[0, B)``.

    Returns:
        ``[N, C, Ho, Wo]`` samples, dtype of ``features``; ``[0, C, Ho, Wo]`` when ``N = 0``.

    Raises:
        ValueError: on shape mismatches or indices outside ``[0, B)``.
        TypeError: if ``indices`` is not an integer tensor or ``features`` is not floating point.
    """
    if not isinstance(features, torch.Tensor) or features.ndim != 4:
        raise ValueError(f"features must be a [B, C, H, W] tensor, got {getattr(features, 'shape', type(features))}")
    if not features.is_floating_point():
        raise TypeError(f"features must be floating point, got {features.dtype}")
    if not isinstance(grid, torch.Tensor) or grid.ndim != 4 or grid.shape[-1] != 2:
        raise ValueError(f"grid must be a [N, Ho, Wo, 2] tensor, got {getattr(grid, 'shape', type(grid))}")
    _check_sample_inputs(features, grid.shape[:1], indices)
    channels = features.shape[1]
    num, out_h, out_w = grid.shape[:3]
    if num == 0:
        return features.new_zeros((0, channels, out_h, out_w))
    indices = indices.to(device=features.device, dtype=torch.int64)
    grid = grid.to(device=features.device, dtype=features.dtype)
    height, width = features.shape[-2:]
    inside = (grid.abs() <= 1).all(-1, keepdim=True)  # (N, Ho, Wo, 1); the reference returns 0 outside [-1, 1]
    # Moving outside points far away makes grid_sample itself return exactly 0 there (both bilinear taps fall off
    # the map), which saves a masking pass over the [N, C, Ho, Wo] output. With a 1-pixel dimension every grid
    # value maps onto that pixel (align_corners=True), so those maps are masked after sampling instead.
    far_outside_works = height >= 2 and width >= 2
    if far_outside_works:
        grid = grid.masked_fill(~inside, _FAR_OUTSIDE)
    out = _sample_by_image(features, grid, indices)
    if not far_outside_works:
        out = out * inside.squeeze(-1)[:, None].to(out.dtype)
    return out


def _check_sample_inputs(features: torch.Tensor, count: torch.Size, indices: torch.Tensor) -> None:
    """Check the feature maps and the ``[N]`` image indices of :func:`indirect_grid_sample` / :func:`rectify_sample`."""
    if not isinstance(features, torch.Tensor) or features.ndim != 4:
        raise ValueError(f"features must be a [B, C, H, W] tensor, got {getattr(features, 'shape', type(features))}")
    if not features.is_floating_point():
        raise TypeError(f"features must be floating point, got {features.dtype}")
    if not isinstance(indices, torch.Tensor) or indices.shape != count:
        raise ValueError(f"indices must be a [{count[0]}] tensor, got {getattr(indices, 'shape', type(indices))}")
    if indices.dtype.is_floating_point or indices.dtype == torch.bool:
        raise TypeError(f"indices must be an integer tensor, got {indices.dtype}")
    batch = features.shape[0]
    if indices.numel() and (bool((indices < 0).any()) or bool((indices >= batch).any())):
        raise ValueError(f"indices must lie in [0, {batch}), got range [{int(indices.min())}, {int(indices.max())}]")


def _sample_by_image(features: torch.Tensor, grid: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``grid_sample`` of each region's ``[Ho, Wo, 2]`` grid on its own image's map → ``[N, C, Ho, Wo]``.

    ``grid`` has the dtype and device of ``features``; ``indices`` is int64 on that device.
    """
    num, out_h, out_w = grid.shape[:3]
    channels = features.shape[1]
    if num == 0:
        return features.new_zeros((0, channels, out_h, out_w))
    # grid_sample's backward allocates an input gradient the size of its input; with an expanded input that would
    # be one full map per region. When features need a gradient (training), sample each image's regions as one tall
    # grid on the single map instead (then one transposing copy); in inference the expanded view is faster.
    needs_feature_grad = torch.is_grad_enabled() and features.requires_grad

    def sample_image(b: int, image_grid: torch.Tensor) -> torch.Tensor:
        """Sample ``image_grid [n, Ho, Wo, 2]`` from image ``b`` → ``[n, C, Ho, Wo]``."""
        count = image_grid.shape[0]
        image = features[b : b + 1]
        if needs_feature_grad:
            tall = F.grid_sample(
                image, image_grid.reshape(1, count * out_h, out_w, 2), **_GRID_SAMPLE_OPTIONS
            )  # (1, C, n·Ho, Wo)
            return tall[0].unflatten(1, (count, out_h)).transpose(0, 1).contiguous()  # -> (n, C, Ho, Wo)
        # expand() is a view: every region of image b reads the same map, nothing is copied per region.
        return F.grid_sample(image.expand(count, -1, -1, -1), image_grid, **_GRID_SAMPLE_OPTIONS)

    groups = torch.unique(indices).tolist()
    if len(groups) == 1:
        return sample_image(groups[0], grid)
    out = features.new_zeros((num, channels, out_h, out_w))
    for b in groups:
        members = (indices == b).nonzero().squeeze(1)
        out[members] = sample_image(b, grid[members])  # differentiable scatter into place
    return out


def region_counts_to_indices(region_counts: torch.Tensor, num_outputs: int) -> torch.Tensor:
    """Return the image index of every region: ``repeat_interleave(arange(B), region_counts)`` (spec §1.3).

    Args:
        region_counts: ``[B]`` non-negative integer region counts per image.
        num_outputs: total number of regions ``N``; must equal ``region_counts.sum()``.

    Returns:
        ``[N]`` int64 on the device of ``region_counts`` (all zeros when ``B = 1``).

    Raises:
        ValueError: on a bad shape, negative counts, or ``num_outputs`` not equal to the sum of counts.

    >>> region_counts_to_indices(torch.tensor([2, 0, 1]), 3)
    tensor([0, 0, 2])
    """
    counts = torch.as_tensor(region_counts)
    if counts.ndim != 1 or counts.dtype.is_floating_point:
        raise ValueError(f"region_counts must be a [B] integer tensor, got {counts.dtype} {tuple(counts.shape)}")
    counts = counts.to(torch.int64)
    if bool((counts < 0).any()):
        raise ValueError(f"region_counts must be non-negative, got {counts.tolist()}")
    total = int(counts.sum())
    if total != num_outputs:
        raise ValueError(f"num_outputs ({num_outputs}) must equal the sum of region_counts ({total})")
    batch_index = torch.arange(counts.shape[0], device=counts.device)
    return torch.repeat_interleave(batch_index, counts, output_size=num_outputs)

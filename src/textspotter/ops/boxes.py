"""Dense detector outputs → quads, and the v2 confidence pre-filter (spec §4.1, §4.4).

The detector predicts, for every cell of its ``[Hf, Wf]`` feature map, a rotated box as distances from the cell's
prior point to the four sides plus an angle: ``(top, right, bottom, left, θ)`` in detector pixels, θ in radians.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["rrect_to_quads", "prefilter_confidence", "PREFILTER_SUPPRESSED_LOGIT"]

PREFILTER_SUPPRESSED_LOGIT = -100.0
"""Logit written into non-peak cells by :func:`prefilter_confidence` (sigmoid ≈ 3.7e-44), spec §4.4."""


def _check_dense_rboxes(rboxes: torch.Tensor) -> None:
    if not isinstance(rboxes, torch.Tensor) or rboxes.ndim != 4 or rboxes.shape[-1] != 5:
        raise ValueError(f"rboxes must be a [B, H, W, 5] tensor, got {getattr(rboxes, 'shape', type(rboxes))}")


def rrect_to_quads(rboxes: torch.Tensor, cell_size: int = 4) -> torch.Tensor:
    """Turn per-cell rotated boxes into quads in detector space (spec §4.1).

    Cell (row y, column x) has the prior point ``P = (cell_size·x + cell_size/2, cell_size·y + cell_size/2)``
    (``(4x + 2, 4y + 2)`` for the published stride 4). With ``vX = (cos θ, sin θ)`` and
    ``vY = (sin θ, −cos θ)``: ``q0 = P − l·vX + t·vY``, ``q1 = P + r·vX + t·vY``, ``q2 = P + r·vX − b·vY``,
    ``q3 = P − l·vX − b·vY``; for θ = 0 this is the axis-aligned box ``(Px − l, Py − t) … (Px + r, Py + b)``.

    Computed in float32 whatever the input dtype (the reference calls ``rboxes.float()``); differentiable with
    respect to ``rboxes``.

    Args:
        rboxes: ``[B, H, W, 5]`` (top, right, bottom, left distances in detector pixels, angle θ in radians).
        cell_size: detector stride in pixels (4 for the published models).

    Returns:
        ``[B, H, W, 4, 2]`` float32 quads (x, y), clockwise from top-left, in detector-input pixels.

    Raises:
        ValueError: if ``rboxes`` is not ``[B, H, W, 5]`` or ``cell_size < 1``.

    >>> rrect_to_quads(torch.tensor([[[[1.0, 2.0, 3.0, 4.0, 0.0]]]]))[0, 0, 0]
    tensor([[-2.,  1.],
            [ 4.,  1.],
            [ 4.,  5.],
            [-2.,  5.]])
    """
    _check_dense_rboxes(rboxes)
    if not isinstance(cell_size, int) or cell_size < 1:
        raise ValueError(f"cell_size must be a positive int, got {cell_size!r}")
    rb = rboxes.float()
    _, height, width, _ = rb.shape
    top, right, bottom, left, theta = rb.unbind(-1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    ys = torch.arange(height, device=rb.device, dtype=torch.float32) * cell_size + cell_size / 2
    xs = torch.arange(width, device=rb.device, dtype=torch.float32) * cell_size + cell_size / 2
    px, py = xs.view(1, 1, width), ys.view(1, height, 1)
    # vX = (cos, sin), vY = (sin, -cos): the quad's "right" and "up" directions (y down on screen).
    x0 = px - left * cos + top * sin
    y0 = py - left * sin - top * cos
    x1 = px + right * cos + top * sin
    y1 = py + right * sin - top * cos
    x2 = px + right * cos - bottom * sin
    y2 = py + right * sin + bottom * cos
    x3 = px - left * cos - bottom * sin
    y3 = py - left * sin + bottom * cos
    xs_out = torch.stack([x0, x1, x2, x3], dim=-1)
    ys_out = torch.stack([y0, y1, y2, y3], dim=-1)
    return torch.stack([xs_out, ys_out], dim=-1)  # (B, H, W, 4) x2 -> (B, H, W, 4, 2)


def prefilter_confidence(confidence: torch.Tensor, rboxes: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """Keep only centred local peaks of the confidence map; others get logit −100 (v2 pre-filter, spec §4.4).

    ``centerness = sqrt(min(l, r)/max(l, r, 1) · min(t, b)/max(t, b, 1))`` and
    ``adjusted = sigmoid(confidence) · centerness``; a cell is a peak when ``adjusted`` equals the max over its
    ``kernel × kernel`` neighbourhood (stride 1, same padding) and ``adjusted > 0.5``. Plateaus of equal values
    keep every tied cell, as the reference does.

    Args:
        confidence: ``[B, H, W]`` detector confidence **logits**.
        rboxes: ``[B, H, W, 5]`` (top, right, bottom, left, θ); only the four distances are read.
        kernel: odd neighbourhood size (published: 3).

    Returns:
        ``[B, H, W]`` logits, same dtype as ``confidence``: unchanged at peaks, ``-100`` elsewhere.

    Raises:
        ValueError: on shape mismatches or an even / non-positive ``kernel``.
    """
    _check_dense_rboxes(rboxes)
    if not isinstance(confidence, torch.Tensor) or confidence.shape != rboxes.shape[:-1]:
        raise ValueError(
            f"confidence must be a [B, H, W] tensor matching rboxes {tuple(rboxes.shape[:-1])}, "
            f"got {getattr(confidence, 'shape', type(confidence))}"
        )
    if not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be a positive odd int, got {kernel!r}")
    rb = rboxes.float()
    top, right, bottom, left = rb[..., 0], rb[..., 1], rb[..., 2], rb[..., 3]
    # max(·, 1) in the denominators keeps tiny boxes from dividing by ~0 (spec §4.4).
    horizontal = torch.minimum(left, right) / torch.maximum(torch.maximum(left, right), torch.ones_like(left))
    vertical = torch.minimum(top, bottom) / torch.maximum(torch.maximum(top, bottom), torch.ones_like(top))
    centerness = torch.sqrt(horizontal * vertical)
    adjusted = torch.sigmoid(confidence.float()) * centerness
    pooled = F.max_pool2d(adjusted.unsqueeze(1), kernel, stride=1, padding=kernel // 2).squeeze(1)
    peak = (adjusted == pooled) & (adjusted > 0.5)
    return torch.where(peak, confidence, torch.full_like(confidence, PREFILTER_SUPPRESSED_LOGIT))

"""Quad geometry shared by every part of textspotter.

One convention everywhere: a quad is a ``[..., 4, 2]`` float tensor or array of (x, y) vertices in pixels of the
image it refers to, clockwise on screen (y points down) starting at the top-left vertex: q0 top-left, q1 top-right,
q2 bottom-right, q3 bottom-left. Each docstring says which image (original, or detector input) its quads live in.

The helpers accept numpy arrays or torch tensors and return the same kind they were given.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

ArrayLike = TypeVar("ArrayLike", np.ndarray, torch.Tensor)

__all__ = [
    "quad_area",
    "quad_aabb",
    "aabb_to_quad",
    "aabb_iou",
    "quad_iou",
    "extend_quads",
    "order_quad",
    "quad_height",
    "quad_width",
]


def _check_quads(quads: np.ndarray | torch.Tensor, name: str = "quads") -> None:
    if quads.ndim < 2 or tuple(quads.shape[-2:]) != (4, 2):
        raise ValueError(f"{name} must have shape [..., 4, 2], got {tuple(quads.shape)}")


def quad_area(quads: ArrayLike) -> ArrayLike:
    """Return the unsigned shoelace area of each quad.

    Args:
        quads: ``[..., 4, 2]`` vertices.

    Returns:
        ``[...]`` areas in squared pixels (same kind and float dtype as the input).
    """
    _check_quads(quads)
    x, y = quads[..., 0], quads[..., 1]
    if isinstance(quads, torch.Tensor):
        x_next, y_next = torch.roll(x, -1, dims=-1), torch.roll(y, -1, dims=-1)
        return (x * y_next - x_next * y).sum(-1).abs() / 2
    x_next, y_next = np.roll(x, -1, axis=-1), np.roll(y, -1, axis=-1)
    return np.abs((x * y_next - x_next * y).sum(-1)) / 2


def quad_aabb(quads: ArrayLike) -> ArrayLike:
    """Return the axis-aligned bounding box ``[..., 4]`` = (x_min, y_min, x_max, y_max) of each quad."""
    _check_quads(quads)
    if isinstance(quads, torch.Tensor):
        return torch.cat([quads.amin(-2), quads.amax(-2)], dim=-1)
    return np.concatenate([quads.min(-2), quads.max(-2)], axis=-1)


def aabb_to_quad(boxes: ArrayLike) -> ArrayLike:
    """Turn ``[..., 4]`` boxes (x_min, y_min, x_max, y_max) into ``[..., 4, 2]`` clockwise quads from top-left."""
    if boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape [..., 4], got {tuple(boxes.shape)}")
    x0, y0, x1, y1 = (boxes[..., i] for i in range(4))
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    if isinstance(boxes, torch.Tensor):
        return torch.stack([torch.stack(c, dim=-1) for c in corners], dim=-2)
    return np.stack([np.stack(c, axis=-1) for c in corners], axis=-2)


def aabb_iou(a: ArrayLike, b: ArrayLike) -> ArrayLike:
    """Return the pairwise IoU ``[Na, Nb]`` of boxes ``a [Na, 4]`` and ``b [Nb, 4]`` (x_min, y_min, x_max, y_max)."""
    if isinstance(a, torch.Tensor):
        lt = torch.maximum(a[:, None, :2], b[None, :, :2])
        rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
        wh = (rb - lt).clamp(min=0)
        area_a = ((a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0))[:, None]
        area_b = ((b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0))[None, :]
        inter = wh[..., 0] * wh[..., 1]
        union = area_a + area_b - inter
        return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    area_a = (np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None))[:, None]
    area_b = (np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))[None, :]
    inter = wh[..., 0] * wh[..., 1]
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _clip_polygon(subject: list[tuple[float, float]], clip: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sutherland–Hodgman clipping of a polygon by a convex, clockwise-on-screen polygon."""

    def inside(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> bool:
        # Clockwise on screen (y down) is counter-clockwise in a y-up frame: inside is on the left of a→b
        # in y-up terms, i.e. cross >= 0 with y down flipped sign.
        return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0

    def intersection(
        p1: tuple[float, float], p2: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
    ) -> tuple[float, float]:
        dx1, dy1 = p2[0] - p1[0], p2[1] - p1[1]
        dx2, dy2 = b[0] - a[0], b[1] - a[1]
        denom = dx1 * dy2 - dy1 * dx2
        if abs(denom) < 1e-12:
            return p2
        t = ((a[0] - p1[0]) * dy2 - (a[1] - p1[1]) * dx2) / denom
        return (p1[0] + t * dx1, p1[1] + t * dy1)

    output = subject
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        current, output = output, []
        if not current:
            break
        for j in range(len(current)):
            p, q = current[j], current[(j + 1) % len(current)]
            if inside(q, a, b):
                if not inside(p, a, b):
                    output.append(intersection(p, q, a, b))
                output.append(q)
            elif inside(p, a, b):
                output.append(intersection(p, q, a, b))
    return output


def _polygon_area(poly: list[tuple[float, float]]) -> float:
    if len(poly) < 3:
        return 0.0
    s = 0.0
    for i in range(len(poly)):
        x0, y0 = poly[i]
        x1, y1 = poly[(i + 1) % len(poly)]
        s += x0 * y1 - x1 * y0
    return abs(s) / 2


def quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Return the exact polygon IoU of two convex quads ``[4, 2]`` (any vertex order, clockwise preferred).

    Used by evaluation (detection F1), not on the inference hot path.
    """
    qa = order_quad(np.asarray(a, dtype=np.float64))
    qb = order_quad(np.asarray(b, dtype=np.float64))
    area_a, area_b = float(quad_area(qa)), float(quad_area(qb))
    if area_a <= 0 or area_b <= 0:
        return 0.0
    inter = _polygon_area(_clip_polygon([tuple(p) for p in qa], [tuple(p) for p in qb]))
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def order_quad(quad: ArrayLike) -> ArrayLike:
    """Reorder the 4 vertices of each quad clockwise on screen, starting at the top-left vertex.

    Vertices are sorted by angle around the centroid (clockwise with y down); the start is the vertex with the
    smallest ``x + y``. Works for convex quads; ``[..., 4, 2]`` in, same shape out.
    """
    _check_quads(quad)
    q = quad.detach().cpu().numpy() if isinstance(quad, torch.Tensor) else np.asarray(quad)
    flat = q.reshape(-1, 4, 2)
    center = flat.mean(axis=1, keepdims=True)
    angles = np.arctan2(flat[..., 1] - center[..., 1], flat[..., 0] - center[..., 0])
    order = np.argsort(angles, axis=1, kind="stable")  # increasing angle = clockwise on screen (y down)
    ordered = np.take_along_axis(flat, order[..., None], axis=1)
    start = np.argmin(ordered.sum(-1), axis=1)
    idx = (start[:, None] + np.arange(4)[None, :]) % 4
    ordered = np.take_along_axis(ordered, idx[..., None], axis=1).reshape(q.shape)
    if isinstance(quad, torch.Tensor):
        return torch.as_tensor(ordered, dtype=quad.dtype, device=quad.device)
    return ordered


def quad_width(quads: ArrayLike) -> ArrayLike:
    """Return the mean length of the top and bottom edges ``[...]`` of each quad."""
    _check_quads(quads)
    top = quads[..., 1, :] - quads[..., 0, :]
    bottom = quads[..., 2, :] - quads[..., 3, :]
    if isinstance(quads, torch.Tensor):
        return (top.norm(dim=-1) + bottom.norm(dim=-1)) / 2
    return (np.linalg.norm(top, axis=-1) + np.linalg.norm(bottom, axis=-1)) / 2


def quad_height(quads: ArrayLike) -> ArrayLike:
    """Return the mean length of the left and right edges ``[...]`` of each quad."""
    _check_quads(quads)
    left = quads[..., 3, :] - quads[..., 0, :]
    right = quads[..., 2, :] - quads[..., 1, :]
    if isinstance(quads, torch.Tensor):
        return (left.norm(dim=-1) + right.norm(dim=-1)) / 2
    return (np.linalg.norm(left, axis=-1) + np.linalg.norm(right, axis=-1)) / 2


def extend_quads(
    quads: torch.Tensor, margin: float | torch.Tensor, *, start: bool = True, end: bool = True
) -> torch.Tensor:
    """Lengthen quads along their text direction by ``margin`` times their height at each end (torch only).

    Args:
        quads: ``[N, 4, 2]`` quads (clockwise from top-left, so the text runs from edge 0-3 to edge 1-2).
        margin: fraction of each quad's height (``quad_height``) added before its left edge and after its right
            edge; a float or an ``[N]`` tensor. 0 returns the quads unchanged.
        start, end: lengthen before the text's start (edge 0-3) and after its end (edge 1-2).

    Returns:
        ``[N, 4, 2]`` quads in the input's dtype; degenerate quads (no length) are left as they are.
    """
    _check_quads(quads)
    if isinstance(margin, (int, float)) and margin == 0:
        return quads
    q = quads.float()
    along = (q[:, 1] - q[:, 0] + q[:, 2] - q[:, 3]) / 2
    length = along.norm(dim=-1, keepdim=True)
    direction = torch.where(length > 0, along / length.clamp(min=1e-12), torch.zeros_like(along))
    margin = torch.as_tensor(margin, dtype=q.dtype, device=q.device)
    shift = (margin * quad_height(q))[..., None] * direction
    before, after = -float(start), float(end)
    sign = torch.tensor([before, after, after, before], dtype=q.dtype, device=q.device)[:, None]
    return (q + sign * shift[:, None, :]).to(quads.dtype)

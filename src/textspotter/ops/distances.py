"""Edge-to-edge distances between quads (replacement of ``ragged_quad_all_2_all_distance_v2``, spec §7.3).

The relational model picks each region's neighbours by these distances. For quads A ≠ B the distance is the
minimum, over the 4×4 pairs (edge a of A, edge b of B), of the shortest of four point-to-segment distances:
a.start→b, a.end→b, b.start→a, b.end→a. Crossing edges are *not* detected, so two overlapping quads still have a
positive distance (spec §7.3); we reproduce that rather than return 0.

Because every vertex is the start of one edge and the end of another, the minimum over the 16 edge pairs equals
``min(vertices of A → edges of B, vertices of B → edges of A)``; that is what is computed here, as one batched
point-to-segment evaluation of shape ``[Q, Q, 4, 4]`` per row chunk.
"""

from __future__ import annotations

import torch

__all__ = ["quad_distances", "ragged_quad_distances", "point_segment_distance"]

# Rows of the [Q, Q, 4, 4] point-to-segment tensor evaluated at once: bounds peak memory to about
# chunk·Q·16·4 bytes per temporary (~100 MB at Q = 4096) while keeping the work vectorised.
_DEFAULT_ROW_CHUNK = 256


def point_segment_distance(points: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Return the Euclidean distance from each point to the closest point of a segment.

    The closest point is the orthogonal projection clamped to the segment; a degenerate (zero-length) segment
    behaves as its start point.

    Args:
        points: ``[..., 2]`` (x, y) points.
        starts: ``[..., 2]`` segment start points (broadcast against ``points``).
        ends: ``[..., 2]`` segment end points (broadcast against ``points``).

    Returns:
        ``[...]`` non-negative distances, same float dtype as the inputs.
    """
    seg = ends - starts
    rel = points - starts
    seg_len2 = (seg * seg).sum(-1)
    # Zero-length segments: t = 0 (nearest point is the start), without dividing by zero.
    t = torch.where(seg_len2 > 0, (rel * seg).sum(-1) / seg_len2.clamp(min=torch.finfo(seg.dtype).tiny), 0.0)
    t = t.clamp(0.0, 1.0)
    diff = rel - t.unsqueeze(-1) * seg
    return diff.norm(dim=-1)


def _vertex_to_edge_min(quads_a: torch.Tensor, quads_b: torch.Tensor) -> torch.Tensor:
    """Return ``[Qa, Qb]``: min over vertices of each quad of ``a`` and edges of each quad of ``b``."""
    starts = quads_b  # [Qb, 4, 2], edge k runs from vertex k to vertex k+1 (mod 4)
    ends = torch.roll(quads_b, -1, dims=-2)
    # (Qa, 1, 4 vertices, 1, 2) against (1, Qb, 1, 4 edges, 2) -> (Qa, Qb, 4, 4)
    d = point_segment_distance(quads_a[:, None, :, None, :], starts[None, :, None, :, :], ends[None, :, None, :, :])
    return d.flatten(2).amin(-1)


def quad_distances(
    quads: torch.Tensor, *, allow_self_distance: bool = False, row_chunk: int = _DEFAULT_ROW_CHUNK
) -> torch.Tensor:
    """Return the all-to-all edge-to-edge distance matrix of one image's quads (spec §7.3).

    Args:
        quads: ``[Q, 4, 2]`` float quads (any consistent coordinate frame; the relational model passes
            detector-space quads divided by 1024). Computed in the input dtype (float32 expected, like the
            reference kernel).
        allow_self_distance: if False (how the pipeline calls the reference op) the diagonal is ``+inf`` so a
            region is never its own neighbour; if True the diagonal holds the quad's distance to itself (0).
        row_chunk: rows evaluated per vectorised step; only bounds memory, does not change the result.

    Returns:
        ``[Q, Q]`` symmetric distances, same dtype and device as ``quads``; ``[0, 0]`` when ``Q = 0``.

    Raises:
        ValueError: if ``quads`` is not ``[Q, 4, 2]`` or ``row_chunk < 1``.
        TypeError: if ``quads`` is not a floating-point tensor.

    >>> a = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]]])
    >>> quad_distances(torch.cat([a, a + torch.tensor([5.0, 0.0])]))
    tensor([[inf, 3.],
            [3., inf]])
    """
    if not isinstance(quads, torch.Tensor) or quads.ndim != 3 or tuple(quads.shape[1:]) != (4, 2):
        raise ValueError(f"quads must be a [Q, 4, 2] tensor, got {getattr(quads, 'shape', type(quads))}")
    if not quads.is_floating_point():
        raise TypeError(f"quads must be a floating-point tensor, got {quads.dtype}")
    if row_chunk < 1:
        raise ValueError(f"row_chunk must be >= 1, got {row_chunk}")
    num = quads.shape[0]
    one_way = torch.empty((num, num), dtype=quads.dtype, device=quads.device)
    for start in range(0, num, row_chunk):
        one_way[start : start + row_chunk] = _vertex_to_edge_min(quads[start : start + row_chunk], quads)
    # Vertices of A → edges of B, and vertices of B → edges of A: the second is the transpose of the first.
    dist = torch.minimum(one_way, one_way.T)
    if not allow_self_distance:
        dist.fill_diagonal_(float("inf"))
    return dist


def ragged_quad_distances(
    quads: torch.Tensor, region_counts: torch.Tensor, *, allow_self_distance: bool = False
) -> torch.Tensor:
    """Return per-image distance matrices for a padded batch of quads (the reference op's ragged form, §7.3).

    Args:
        quads: ``[B, Q, 4, 2]`` float quads, image b's regions in rows ``0 .. region_counts[b]-1`` (the rest is
            padding and is ignored).
        region_counts: ``[B]`` integer number of valid regions per image, each in ``[0, Q]``.
        allow_self_distance: as in :func:`quad_distances`.

    Returns:
        ``[B, Q, Q]`` distances; entries involving a padding row or column are ``+inf``.

    Raises:
        ValueError: on shape mismatches or counts outside ``[0, Q]``.
    """
    if not isinstance(quads, torch.Tensor) or quads.ndim != 4 or tuple(quads.shape[2:]) != (4, 2):
        raise ValueError(f"quads must be a [B, Q, 4, 2] tensor, got {getattr(quads, 'shape', type(quads))}")
    counts = torch.as_tensor(region_counts).to("cpu", torch.int64)
    if counts.shape != (quads.shape[0],):
        raise ValueError(f"region_counts must have shape [{quads.shape[0]}], got {tuple(counts.shape)}")
    if bool((counts < 0).any()) or bool((counts > quads.shape[1]).any()):
        raise ValueError(f"region_counts must lie in [0, {quads.shape[1]}], got {counts.tolist()}")
    batch, max_q = quads.shape[:2]
    out = torch.full((batch, max_q, max_q), float("inf"), dtype=quads.dtype, device=quads.device)
    for b, count in enumerate(counts.tolist()):
        if count:
            out[b, :count, :count] = quad_distances(quads[b, :count], allow_self_distance=allow_self_distance)
    return out

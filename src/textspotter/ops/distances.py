"""Edge-to-edge distances between quads (replacement of ``ragged_quad_all_2_all_distance_v2``, spec §7.3).

The relational model picks each region's neighbours by these distances. For quads A ≠ B the distance is the
minimum, over the 4×4 pairs (edge a of A, edge b of B), of the shortest of four point-to-segment distances:
a.start→b, a.end→b, b.start→a, b.end→a. Crossing edges are *not* detected, so two overlapping quads still have a
positive distance (spec §7.3); we reproduce that rather than return 0.

Because every vertex is the start of one edge and the end of another, the minimum over the 16 edge pairs equals
``min(vertices of A → edges of B, vertices of B → edges of A)``; that is what is computed here, as one batched
point-to-segment evaluation of shape ``[Q, Q, 4, 4]`` per row chunk.

The relational model only needs each region's ``k`` nearest regions. :func:`nearest_quads` finds them exactly
without the full matrix: the distance between the axis-aligned boxes of two quads is a lower bound of their edge
distance (every vertex and edge lies inside its quad's box), so exact distances are computed only for the regions
whose box distance could place them among the ``k`` nearest. On a dense page (1,000 words) that is about 20 times
less work than the ``[Q, Q, 4, 4]`` evaluation.
"""

from __future__ import annotations

import torch

__all__ = ["nearest_quads", "quad_distances", "ragged_quad_distances", "point_segment_distance"]

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


def _check_quads(quads: torch.Tensor) -> None:
    """Raise ValueError unless ``quads`` is a ``[Q, 4, 2]`` tensor, TypeError unless it is floating point."""
    if not isinstance(quads, torch.Tensor) or quads.ndim != 3 or tuple(quads.shape[1:]) != (4, 2):
        raise ValueError(f"quads must be a [Q, 4, 2] tensor, got {getattr(quads, 'shape', type(quads))}")
    if not quads.is_floating_point():
        raise TypeError(f"quads must be a floating-point tensor, got {quads.dtype}")


def _vertex_to_edge_min(points: torch.Tensor, polygons: torch.Tensor) -> torch.Tensor:
    """Return ``[...]``: min over the 4 vertices of ``points`` and the 4 edges of ``polygons`` (both ``[..., 4, 2]``,
    broadcast against each other)."""
    starts = polygons  # edge k runs from vertex k to vertex k+1 (mod 4)
    ends = torch.roll(polygons, -1, dims=-2)
    # (..., 4 vertices, 1, 2) against (..., 1, 4 edges, 2) -> (..., 4, 4)
    d = point_segment_distance(points[..., :, None, :], starts[..., None, :, :], ends[..., None, :, :])
    return d.flatten(-2).amin(-1)


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
    _check_quads(quads)
    if row_chunk < 1:
        raise ValueError(f"row_chunk must be >= 1, got {row_chunk}")
    num = quads.shape[0]
    one_way = torch.empty((num, num), dtype=quads.dtype, device=quads.device)
    for start in range(0, num, row_chunk):
        one_way[start : start + row_chunk] = _vertex_to_edge_min(quads[start : start + row_chunk, None], quads[None])
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


# Candidates per row in nearest_quads: the k nearest by box distance plus this many, so that a row rarely needs the
# exact distances to all regions (only when the box distance of its first excluded region is not above the k-th
# exact distance).
_EXTRA_CANDIDATES = 16
# Relative slack on the box-distance bound: the exact distances are computed with float rounding, the bound too.
_BOUND_SLACK = 1e-5


def _box_distances(quads: torch.Tensor) -> torch.Tensor:
    """Return ``[Q, Q]`` Euclidean distances between the axis-aligned boxes of the quads (0 where they overlap)."""
    low, high = quads.amin(1), quads.amax(1)  # [Q, 2]
    gap = (torch.maximum(low[:, None] - high[None], low[None] - high[:, None])).clamp(min=0)  # [Q, Q, 2]
    return gap.norm(dim=-1)


def _pair_distances(quads: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Return the edge distances (as in :func:`quad_distances`) of ``rows[r]`` to each ``columns[r, c]``: ``[R, C]``."""
    a = quads[rows][:, None]  # [R, 1, 4, 2]
    b = quads[columns]  # [R, C, 4, 2]
    return torch.minimum(_vertex_to_edge_min(a, b), _vertex_to_edge_min(b, a))


def _sort_rows(values: torch.Tensor, indices: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort each row by (value, index) and keep the first ``k``."""
    by_index = indices.argsort(dim=1)
    values, indices = values.gather(1, by_index), indices.gather(1, by_index)
    order = values.argsort(dim=1, stable=True)[:, :k]
    return values.gather(1, order), indices.gather(1, order)


def nearest_quads(quads: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return each quad's ``k`` nearest other quads by the edge distance of :func:`quad_distances`, exactly.

    Equal to sorting each row of ``quad_distances(quads)`` by (distance, index) and keeping ``k`` columns, but
    exact distances are evaluated only for candidates that the box-distance lower bound cannot rule out (module
    docstring).

    Args:
        quads: ``[Q, 4, 2]`` float quads of one image.
        k: neighbours per quad; at most ``Q - 1`` are returned.

    Returns:
        ``(distances, indices)``, each ``[Q, min(k, Q - 1)]``: float distances (the dtype of ``quads``) in
        increasing order, and the int64 indices of those quads (ties broken by lower index).

    Raises:
        ValueError: if ``quads`` is not ``[Q, 4, 2]`` or ``k < 0``.
        TypeError: if ``quads`` is not a floating-point tensor.
    """
    _check_quads(quads)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    num = quads.shape[0]
    k = min(k, max(num - 1, 0))
    device = quads.device
    if k == 0:
        return torch.zeros((num, 0), dtype=quads.dtype, device=device), torch.zeros(
            (num, 0), dtype=torch.int64, device=device
        )
    width = k + _EXTRA_CANDIDATES
    if width >= num - 1:
        # Few regions: every other region is a candidate.
        dist = quad_distances(quads)
        columns = torch.arange(num, device=device).expand(num, -1)
        return _sort_rows(dist, columns.clone(), k)
    bound = _box_distances(quads)
    bound.fill_diagonal_(float("inf"))
    bound_values, candidates = torch.topk(bound, width + 1, dim=1, largest=False, sorted=True)
    rows = torch.arange(num, device=device)
    exact = _pair_distances(quads, rows, candidates[:, :width])
    values, indices = _sort_rows(exact, candidates[:, :width], k)
    # A region outside the candidates has a box distance of at least bound_values[:, width]; if that bound does not
    # exceed the k-th distance found, it could still be nearer (or tie): redo that row over all regions.
    unsure = torch.nonzero(bound_values[:, width] * (1 - _BOUND_SLACK) <= values[:, -1]).flatten()
    if unsure.numel():
        others = torch.arange(num, device=device).expand(unsure.numel(), -1)
        full = _pair_distances(quads, unsure, others)
        full[torch.arange(unsure.numel(), device=device), unsure] = float("inf")
        values[unsure], indices[unsure] = _sort_rows(full, others.clone(), k)
    return values, indices

"""Long unspaced lines after the quad NMS: pieces merged, gaps filled from the confidence map (ours).

The quad NMS turns each cell's rotated box into a region. On long unspaced lines (a Chinese or Japanese line is one
region) a cell far from the line's ends cannot see them, so the cells disagree about where the line starts and ends:
the NMS then leaves the line as pieces that overlap (each read apart, the overlap is read twice), pieces with gaps
between them, or nothing where the pre-filter's peaks missed it. The confidence map itself still covers that text.
:func:`merge_line_overlaps` merges the pieces that overlap along one line; :func:`fill_map_gaps` finds the cells
above the threshold that no region covers and, where they form a run at least about a character long, adds a region
for the run: its direction and height from the run's own cells' boxes, its ends from the run's extent, reaching past
the run's last cells by the map's end shrink but never into a neighbouring region of the same line. The pipeline
runs them in that order (``PostprocessConfig.merge_lines``, ``PostprocessConfig.fill_gaps``; docs/ops.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["fill_map_gaps", "merge_line_overlaps"]


def fill_map_gaps(
    quads: torch.Tensor,
    confidence: torch.Tensor,
    counts: torch.Tensor,
    cell_quads: torch.Tensor,
    probs: torch.Tensor,
    *,
    prob_threshold: float = 0.5,
    cell_size: int = 4,
    min_cells: int = 3,
    min_length: float = 0.6,
    reach: float = 0.3,
    cover_margin: float = 0.25,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Add a region for every run of confident cells that no region covers.

    A cell is covered when its prior point (``cell_size · (x + ½, y + ½)``) lies inside a region's quad, widened
    across its line by ``cover_margin`` heights on both sides (the cells just above or below a region are its own). The
    uncovered cells above ``prob_threshold`` are split into 8-connected runs; a run of at least ``min_cells`` cells
    becomes a region when it is at least ``min_length`` times its height long. The region's direction is the mean
    direction of its cells' top edges; its top and bottom are the probability-weighted means of where its cells put
    them; its ends lie half a cell beyond the run's first and last prior points, then reach ``reach`` heights further
    (the confidence map stops short of a line's ends) unless a region of the same line (overlapping it by half the
    smaller height across the line) is nearer. Its confidence is the mean probability of its cells.

    Args:
        quads: ``[N, 4, 2]`` float region quads of a batch, image-major, in the cells' pixel frame.
        confidence: ``[N]`` region confidences.
        counts: ``[B]`` int64 regions per image.
        cell_quads: ``[B, H, W, 4, 2]`` per-cell quads (:func:`~textspotter.ops.boxes.rrect_to_quads`).
        probs: ``[B, H, W]`` cell probabilities in [0, 1].
        prob_threshold: the lowest probability of a cell that counts as text.
        cell_size: pixels per cell.
        min_cells: the fewest cells of a run that may become a region.
        min_length: the shortest run, in its heights, that becomes a region (a character is about one height).
        reach: how far past the run's last cells the region's ends go, in heights.
        cover_margin: how far across its line, in its heights, a region covers cells beyond its quad.

    Returns:
        ``(quads [N', 4, 2] float32, confidence [N'] float32, counts [B] int64)``, image-major: each image's regions
        first, then the ones added for it. The given regions are unchanged.

    >>> probs = torch.zeros(1, 3, 12)
    >>> probs[0, 1, :] = 0.9  # a line of 12 cells (48 px), its right half covered by a region
    >>> cells = torch.zeros(1, 3, 12, 4, 2)
    >>> for x in range(12):
    ...     px = 4 * x + 2
    ...     cells[0, :, x] = torch.tensor([[px - 3.0, 2.0], [px + 3.0, 2.0], [px + 3.0, 10.0], [px - 3.0, 10.0]])
    >>> region = torch.tensor([[[24.0, 2.0], [48.0, 2.0], [48.0, 10.0], [24.0, 10.0]]])
    >>> out, conf, n = fill_map_gaps(region, torch.tensor([0.9]), torch.tensor([1]), cells, probs)
    >>> n.tolist(), [round(v) for v in out[1].flatten().tolist()]
    ([2], [-2, 2, 24, 2, 24, 10, -2, 10])
    """
    import cv2

    if quads.ndim != 3 or tuple(quads.shape[1:]) != (4, 2):
        raise ValueError(f"quads must be [N, 4, 2], got {tuple(quads.shape)}")
    if cell_quads.ndim != 5 or tuple(cell_quads.shape[:3]) != tuple(probs.shape) or probs.ndim != 3:
        raise ValueError(f"cell_quads {tuple(cell_quads.shape)} and probs {tuple(probs.shape)} do not match")
    if int(counts.sum()) != quads.shape[0] or counts.shape[0] != probs.shape[0]:
        raise ValueError(f"counts {counts.tolist()} do not match {quads.shape[0]} quads and {probs.shape[0]} maps")
    prob_maps = probs.detach().float().cpu().numpy()

    def fill(b: int, image_quads: np.ndarray, image_conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = prob_maps[b] > prob_threshold
        if not mask.any():
            return image_quads, image_conf
        covered = np.zeros(mask.shape, dtype=np.uint8)
        # Quads in cell units (prior point of cell x at x + ½ cells), 4 fractional bits. One call per quad:
        # fillPoly fills overlapping polygons by the even-odd rule, which would uncover their overlap.
        for points in np.round((_widen(image_quads, cover_margin) / cell_size - 0.5) * 16).astype(np.int32):
            cv2.fillConvexPoly(covered, points, 1, lineType=cv2.LINE_8, shift=4)
        free = (mask & (covered == 0)).astype(np.uint8)
        runs, labels, stats, _ = cv2.connectedComponentsWithStats(free, connectivity=8)
        big = [j for j in range(1, runs) if stats[j, cv2.CC_STAT_AREA] >= min_cells]
        if not big:
            return image_quads, image_conf
        ys, xs = np.nonzero(np.isin(labels, big))
        run_of = labels[ys, xs]
        order = np.argsort(run_of, kind="stable")
        bounds = np.searchsorted(run_of[order], big + [runs])
        cells = cell_quads[b].detach().float().cpu().numpy()
        added: list[np.ndarray] = []
        added_conf: list[float] = []
        for k in range(len(big)):
            pick = order[bounds[k] : bounds[k + 1]]
            weights = prob_maps[b][ys[pick], xs[pick]]
            region = _run_region(
                cells[ys[pick], xs[pick]],
                weights,
                (xs[pick] + 0.5) * cell_size,
                (ys[pick] + 0.5) * cell_size,
                image_quads,
                cell_size=cell_size,
                min_length=min_length,
                reach=reach,
            )
            if region is not None:
                added.append(region)
                added_conf.append(float(weights.mean()))
        if not added:
            return image_quads, image_conf
        return np.concatenate([image_quads, np.stack(added)]), np.concatenate([image_conf, added_conf])

    return _per_image(quads, confidence, counts, fill)


def _per_image(
    quads: torch.Tensor,
    confidence: torch.Tensor,
    counts: torch.Tensor,
    step: Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Apply ``step(b, quads [n, 4, 2], confidence [n])`` to each image's regions of an image-major batch (float32
    numpy) and gather its results back into ``(quads, confidence, counts)`` tensors on the inputs' devices."""
    all_quads = quads.detach().float().cpu().numpy()
    all_conf = confidence.detach().float().cpu().numpy()
    out_quads, out_conf, out_counts = [], [], []
    start = 0
    for b, count in enumerate(counts.tolist()):
        image_quads, image_conf = step(b, all_quads[start : start + count], all_conf[start : start + count])
        start += count
        out_quads.append(image_quads.reshape(-1, 4, 2))
        out_conf.append(image_conf)
        out_counts.append(image_quads.shape[0])
    return (
        torch.from_numpy(np.concatenate(out_quads).astype(np.float32)).to(quads.device),
        torch.from_numpy(np.concatenate(out_conf).astype(np.float32)).to(quads.device),
        torch.tensor(out_counts, dtype=torch.int64, device=counts.device),
    )


def _run_region(
    cells: np.ndarray,
    weights: np.ndarray,
    prior_x: np.ndarray,
    prior_y: np.ndarray,
    others: np.ndarray,
    *,
    cell_size: int,
    min_length: float,
    reach: float,
) -> np.ndarray | None:
    """The ``[4, 2]`` quad of one run of uncovered cells (``cells`` their ``[m, 4, 2]`` boxes), or None when the
    run is shorter than ``min_length`` heights or its boxes are degenerate."""
    edge = (cells[:, 1] - cells[:, 0]).mean(0)
    norm = float(np.hypot(edge[0], edge[1]))
    if norm < 1e-6:
        return None
    along = edge / norm
    down = np.array([-along[1], along[0]])
    w = weights / weights.sum()
    top = float((((cells[:, 0] + cells[:, 1]) / 2) @ down) @ w)
    bottom = float((((cells[:, 2] + cells[:, 3]) / 2) @ down) @ w)
    height = bottom - top
    if height <= 0:
        return None
    s = prior_x * along[0] + prior_y * along[1]
    first, last = float(s.min()) - cell_size / 2, float(s.max()) + cell_size / 2
    if last - first < min_length * height:
        return None
    low, high = first - reach * height, last + reach * height
    middle = (first + last) / 2
    for quad in others:
        across = quad @ down
        overlap = min(bottom, float(across.max())) - max(top, float(across.min()))
        if overlap < 0.5 * min(height, float(across.max() - across.min())):
            continue
        span = quad @ along
        a, b = float(span.min()), float(span.max())
        if b <= middle:
            low = max(low, min(b, first))
        elif a >= middle:
            high = min(high, max(a, last))
    corners = [(low, top), (high, top), (high, bottom), (low, bottom)]
    return np.array([u * along + v * down for u, v in corners], dtype=np.float32)


def _widen(quads: np.ndarray, margin: float) -> np.ndarray:
    """``[n, 4, 2]`` quads (clockwise from top-left) moved apart across their line by ``margin`` heights on each side:
    the top vertices away from the bottom ones."""
    if quads.shape[0] == 0 or margin == 0:
        return quads
    left = (quads[:, 0] - quads[:, 3]) * margin  # from bottom-left to top-left
    right = (quads[:, 1] - quads[:, 2]) * margin
    return np.stack([quads[:, 0] + left, quads[:, 1] + right, quads[:, 2] - right, quads[:, 3] - left], axis=1)


def merge_line_overlaps(
    quads: torch.Tensor,
    confidence: torch.Tensor,
    counts: torch.Tensor,
    *,
    min_overlap: float = 0.1,
    max_angle: float = 0.17,
    min_share: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge the regions that overlap along one line into one region each.

    Two regions are pieces of one line when their directions differ by at most ``max_angle`` radians, their heights
    by at most 1.5 times, they overlap across the line by at least 60 % of the smaller height and along it by more
    than ``min_overlap`` times the smaller height (pieces that merely touch stay apart; so do words, which a space
    keeps apart). Pieces join transitively. A group becomes the region spanning its pieces along the direction of
    its longest piece, its top and bottom the length-weighted means of theirs; its confidence is the group's
    highest. Each group takes the place of its first piece; other regions are unchanged.

    Args:
        quads: ``[N, 4, 2]`` float region quads of a batch, image-major (clockwise from top-left).
        confidence: ``[N]`` region confidences.
        counts: ``[B]`` int64 regions per image.
        min_overlap: the overlap along the line, in heights, above which two pieces merge.
        max_angle: the largest difference of direction, in radians, of two pieces of one line.
        min_share: the overlap along the line, as a share of the shorter piece's length, that two pieces must also
            exceed (0: any overlap above ``min_overlap`` heights).

    Returns:
        ``(quads [N', 4, 2] float32, confidence [N'] float32, counts [B] int64)``, ``N' <= N``, image-major.

    >>> a = torch.tensor([[0.0, 0.0], [50.0, 0.0], [50.0, 10.0], [0.0, 10.0]])
    >>> merged, conf, n = merge_line_overlaps(torch.stack([a, a + torch.tensor([40.0, 1.0])]), torch.tensor([0.6, 0.9]),
    ...                                       torch.tensor([2]))
    >>> n.tolist(), merged[0].tolist(), round(float(conf[0]), 2)
    ([1], [[0.0, 0.5], [90.0, 0.5], [90.0, 10.5], [0.0, 10.5]], 0.9)
    """
    if quads.ndim != 3 or tuple(quads.shape[1:]) != (4, 2):
        raise ValueError(f"quads must be [N, 4, 2], got {tuple(quads.shape)}")
    if int(counts.sum()) != quads.shape[0] or confidence.shape[0] != quads.shape[0]:
        raise ValueError(
            f"counts {counts.tolist()} and {confidence.shape[0]} confidences do not match {quads.shape[0]} quads"
        )
    return _per_image(quads, confidence, counts, lambda b, q, c: _merge_image(q, c, min_overlap, max_angle, min_share))


def _merge_image(
    quads: np.ndarray, confidence: np.ndarray, min_overlap: float, max_angle: float, min_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`merge_line_overlaps` on one image's ``[n, 4, 2]`` quads and ``[n]`` confidences."""
    count = quads.shape[0]
    if count < 2:
        return quads, confidence
    edge = quads[:, 1] - quads[:, 0]
    length = np.hypot(edge[:, 0], edge[:, 1])
    along = edge / np.maximum(length, 1e-6)[:, None]
    down = np.stack([-along[:, 1], along[:, 0]], axis=1)
    height = np.hypot(*(quads[:, 3] - quads[:, 0]).T)
    low, high = quads.min(1), quads.max(1)
    first, second = _touching_pairs(low, high)
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(first.tolist(), second.tolist()):
        if abs(float(along[i] @ down[j])) > np.sin(max_angle):
            continue
        small, big = sorted((float(height[i]), float(height[j])))
        if small <= 0 or big > 1.5 * small:
            continue
        across_i, across_j = quads[i] @ down[i], quads[j] @ down[i]
        if min(across_i.max(), across_j.max()) - max(across_i.min(), across_j.min()) < 0.6 * small:
            continue
        span_i, span_j = quads[i] @ along[i], quads[j] @ along[i]
        overlap = min(span_i.max(), span_j.max()) - max(span_i.min(), span_j.min())
        if overlap <= min_overlap * small or overlap <= min_share * min(float(length[i]), float(length[j])):
            continue
        parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(count):
        groups.setdefault(root(i), []).append(i)
    if len(groups) == count:
        return quads, confidence
    out_quads, out_conf = [], []
    for members in sorted(groups.values()):
        if len(members) == 1:
            out_quads.append(quads[members[0]])
            out_conf.append(confidence[members[0]])
            continue
        lead = max(members, key=lambda i: float(length[i]))
        u, v = along[lead], down[lead]
        corners = quads[members].reshape(-1, 2)
        start, end = float((corners @ u).min()), float((corners @ u).max())
        weights = length[members] / max(float(length[members].sum()), 1e-6)
        top = float(np.array([(quads[i] @ v)[:2].mean() for i in members]) @ weights)
        bottom = float(np.array([(quads[i] @ v)[2:].mean() for i in members]) @ weights)
        out_quads.append(
            np.array([s * u + t * v for s, t in ((start, top), (end, top), (end, bottom), (start, bottom))])
        )
        out_conf.append(float(confidence[members].max()))
    return np.stack(out_quads).astype(np.float32), np.asarray(out_conf, dtype=np.float32)


def _touching_pairs(low: np.ndarray, high: np.ndarray, block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``i < j`` of boxes (``[n, 2]`` corners ``low``, ``high``) that overlap, found ``block`` rows at a
    time: memory stays ``block × n`` however many regions a page has."""
    firsts, seconds = [], []
    for start in range(0, low.shape[0], block):
        rows = slice(start, start + block)
        overlap = (low[rows, None, 0] < high[None, :, 0]) & (low[None, :, 0] < high[rows, None, 0])
        overlap &= (low[rows, None, 1] < high[None, :, 1]) & (low[None, :, 1] < high[rows, None, 1])
        i, j = np.nonzero(overlap)
        keep = j > i + start
        firsts.append(i[keep] + start)
        seconds.append(j[keep])
    return np.concatenate(firsts), np.concatenate(seconds)

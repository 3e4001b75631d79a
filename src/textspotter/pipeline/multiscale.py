"""Merging the detections of several views of one page (the single view and the tiles of ``ScaleOptions``).

A word can be found in several views: in two overlapping tiles (whole in one, possibly cut by the edge of the
other) and in the single view. Each view's quad NMS has already settled its own
duplicates, so only detections of *different* views are compared. Two of them are the same word when their
axis-aligned boxes (in original-page pixels) overlap by at least ``ScaleOptions.duplicate_overlap`` of the smaller
box; intersection over the smaller box, not IoU, because a word cut by a tile edge is a small piece of the whole
word.

Which one is kept, in priority order: a detection that does not touch a tile edge cutting through the page beats
one that does (it may be truncated there); then a tile detection beats a single-view one (more detector pixels
per character); then the higher detection confidence wins. A word larger than a tile is therefore read from the
single view, and small words from the tile that holds them whole.
"""

from __future__ import annotations

import torch

from ..geometry import quad_aabb

__all__ = ["select_view_detections"]


def _overlap_of_smaller(boxes: torch.Tensor) -> torch.Tensor:
    """``[M, M]`` intersection area / smaller box area of ``[M, 4]`` (x_min, y_min, x_max, y_max) boxes."""
    lt = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(-1)
    smaller = torch.minimum(area[:, None], area[None, :])
    return torch.where(smaller > 0, inter / smaller.clamp(min=1e-12), torch.zeros_like(inter))


def select_view_detections(
    quads: torch.Tensor,
    confidence: torch.Tensor,
    view_ids: torch.Tensor,
    *,
    tiled: torch.Tensor,
    cut: torch.Tensor,
    duplicate_overlap: float,
) -> torch.Tensor:
    """Return the indices of the detections to keep, one per word, in increasing order.

    Args:
        quads: ``[M, 4, 2]`` detections of all views of one page, in original-page pixels.
        confidence: ``[M]`` detection confidence in [0, 1].
        view_ids: ``[M]`` int64 view of each detection (detections of one view never suppress each other).
        tiled: ``[M]`` bool, whether the detection comes from a tile (else from the single view).
        cut: ``[M]`` bool, whether it touches a tile edge that cuts through the page.
        duplicate_overlap: intersection over the smaller box at which two detections are the same word.

    Returns:
        ``[K]`` int64 indices into the ``M`` detections.

    >>> q = torch.tensor([[[0.0, 0], [10, 0], [10, 4], [0, 4]], [[0.0, 0], [6, 0], [6, 4], [0, 4]]])
    >>> select_view_detections(q, torch.tensor([0.9, 0.95]), torch.tensor([0, 1]),
    ...     tiled=torch.tensor([True, True]), cut=torch.tensor([False, True]), duplicate_overlap=0.5)
    tensor([0])
    """
    count = quads.shape[0]
    if count == 0:
        return torch.zeros(0, dtype=torch.int64, device=quads.device)
    boxes = quad_aabb(quads.float()).cpu()
    overlap = _overlap_of_smaller(boxes)
    views = view_ids.cpu()
    duplicate = (overlap >= duplicate_overlap) & (views[:, None] != views[None, :])
    # Stable lexicographic priority: sort by the least significant key first.
    order = torch.argsort(confidence.float().cpu(), descending=True, stable=True)
    order = order[torch.argsort((~tiled.cpu())[order].to(torch.int8), stable=True)]
    order = order[torch.argsort(cut.cpu()[order].to(torch.int8), stable=True)]
    removed = torch.zeros(count, dtype=torch.bool)
    kept: list[int] = []
    for index in order.tolist():
        if removed[index]:
            continue
        kept.append(index)
        removed |= duplicate[index]
    return torch.tensor(sorted(kept), dtype=torch.int64, device=quads.device)

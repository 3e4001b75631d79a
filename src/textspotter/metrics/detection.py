"""Detection precision, recall and F1 of quads at an IoU threshold, as corpus accumulators.

Matching is one-to-one: candidate (reference, hypothesis) pairs are taken in decreasing IoU and a pair is kept when
neither side is matched yet and its IoU reaches the threshold (0.5 by default, as in ICDAR 2015). Reference
regions marked ``ignore`` (illegible or clipped text) take part in the matching, but a hypothesis matched to one
counts neither as a true nor as a false positive. The IoU is the exact polygon IoU of the quads
(:func:`textspotter.geometry.quad_iou`); axis-aligned pairs take the cheaper box IoU, which is the same number.

>>> import numpy as np
>>> reference = np.array([[[0, 0], [10, 0], [10, 10], [0, 10]]], dtype=np.float32)
>>> hypothesis = np.array([[[1, 0], [11, 0], [11, 10], [1, 10]], [[50, 50], [60, 50], [60, 60], [50, 60]]])
>>> match_quads(reference, hypothesis).counts.rates()["f1"]
0.6666666666666666
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textspotter.geometry import quad_aabb, quad_iou

__all__ = ["DetectionCounts", "Matching", "pairwise_iou", "match_quads"]


@dataclass(frozen=True)
class DetectionCounts:
    """True positives, false positives and false negatives, for one page or a corpus (``a + b``)."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        if not isinstance(other, DetectionCounts):
            return NotImplemented
        return DetectionCounts(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
        )

    def rates(self) -> dict[str, float | None]:
        """Return ``precision``, ``recall`` and ``f1`` from the totals (``None`` where undefined)."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = tp / (tp + fp) if tp + fp > 0 else None
        recall = tp / (tp + fn) if tp + fn > 0 else None
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else None
        return {"precision": precision, "recall": recall, "f1": f1}


@dataclass(frozen=True)
class Matching:
    """The outcome of matching one page's hypotheses to its references.

    Attributes:
        pairs: ``(reference_index, hypothesis_index)`` of every true positive, in decreasing IoU.
        counts: the page's :class:`DetectionCounts`.
        on_ignored: indices of the hypotheses matched to an ignored reference (neither TP nor FP).
    """

    pairs: tuple[tuple[int, int], ...]
    counts: DetectionCounts
    on_ignored: tuple[int, ...] = ()


def _as_quads(quads: np.ndarray | list, name: str) -> np.ndarray:
    array = np.asarray(quads, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 4, 2)
    if array.ndim != 3 or array.shape[1:] != (4, 2):
        raise ValueError(f"{name} must have shape [N, 4, 2], got {array.shape}")
    return array


def _axis_aligned(quads: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Whether each quad ``[N, 4, 2]`` coincides with its bounding box ``[N, 4]`` (same corners, any order)."""
    xs, ys = quads[..., 0], quads[..., 1]
    on_x = np.isclose(xs, boxes[:, None, 0]) | np.isclose(xs, boxes[:, None, 2])
    on_y = np.isclose(ys, boxes[:, None, 1]) | np.isclose(ys, boxes[:, None, 3])
    return (on_x & on_y).all(axis=1)


def pairwise_iou(references: np.ndarray, hypotheses: np.ndarray) -> np.ndarray:
    """Return the IoU matrix ``[N, M]`` of quads ``[N, 4, 2]`` and ``[M, 4, 2]`` (same image, any pixel frame).

    The exact polygon IoU is computed only for pairs whose bounding boxes overlap and of which one quad is not
    axis-aligned; every other pair takes the box IoU, which is then exact.
    """
    refs, hyps = _as_quads(references, "references"), _as_quads(hypotheses, "hypotheses")
    if len(refs) == 0 or len(hyps) == 0:
        return np.zeros((len(refs), len(hyps)))
    ref_boxes, hyp_boxes = quad_aabb(refs), quad_aabb(hyps)
    # Intersections as [N, M] widths and heights first; a word overlaps few others, so areas and unions are then
    # computed for the overlapping pairs only (a dense IoU of 1000 x 1000 words costs ten times more).
    x0 = np.maximum(ref_boxes[:, None, 0], hyp_boxes[None, :, 0])
    x1 = np.minimum(ref_boxes[:, None, 2], hyp_boxes[None, :, 2])
    y0 = np.maximum(ref_boxes[:, None, 1], hyp_boxes[None, :, 1])
    y1 = np.minimum(ref_boxes[:, None, 3], hyp_boxes[None, :, 3])
    rows, cols = np.nonzero((x1 > x0) & (y1 > y0))
    iou = np.zeros((len(refs), len(hyps)))
    intersection = (x1[rows, cols] - x0[rows, cols]) * (y1[rows, cols] - y0[rows, cols])
    ref_area = (ref_boxes[:, 2] - ref_boxes[:, 0]) * (ref_boxes[:, 3] - ref_boxes[:, 1])
    hyp_area = (hyp_boxes[:, 2] - hyp_boxes[:, 0]) * (hyp_boxes[:, 3] - hyp_boxes[:, 1])
    iou[rows, cols] = intersection / (ref_area[rows] + hyp_area[cols] - intersection)
    ref_aligned, hyp_aligned = _axis_aligned(refs, ref_boxes), _axis_aligned(hyps, hyp_boxes)
    for i, j in zip(rows, cols):
        if not (ref_aligned[i] and hyp_aligned[j]):
            iou[i, j] = quad_iou(refs[i], hyps[j])
    return iou


def match_quads(
    references: np.ndarray,
    hypotheses: np.ndarray,
    *,
    ignore: np.ndarray | list[bool] | None = None,
    iou_threshold: float = 0.5,
) -> Matching:
    """Match hypothesis quads to reference quads one-to-one and count TP, FP and FN.

    Args:
        references: ``[N, 4, 2]`` ground-truth quads in pixels of the page image.
        hypotheses: ``[M, 4, 2]`` predicted quads in pixels of the same image.
        ignore: ``[N]`` booleans; ``True`` marks a "don't care" reference (neither missed nor matchable for
            credit; a hypothesis on it is not a false positive).
        iou_threshold: smallest IoU of a match, in (0, 1].

    Returns:
        The :class:`Matching` (true-positive pairs and counts).
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    iou = pairwise_iou(references, hypotheses)
    n_refs, n_hyps = iou.shape
    ignored = np.zeros(n_refs, dtype=bool) if ignore is None else np.asarray(ignore, dtype=bool)
    if ignored.shape != (n_refs,):
        raise ValueError(f"ignore must have one flag per reference ({n_refs}), got shape {ignored.shape}")
    ref_index, hyp_index = np.nonzero(iou >= iou_threshold)
    # Stable sort on -IoU: ties keep reference order, so the result does not depend on the sort implementation.
    order = np.argsort(-iou[ref_index, hyp_index], kind="stable")
    ref_used, hyp_used = np.zeros(n_refs, dtype=bool), np.zeros(n_hyps, dtype=bool)
    pairs: list[tuple[int, int]] = []
    on_ignored: list[int] = []
    for k in order:
        i, j = int(ref_index[k]), int(hyp_index[k])
        if ref_used[i] or hyp_used[j]:
            continue
        ref_used[i] = hyp_used[j] = True
        if ignored[i]:
            on_ignored.append(j)
        else:
            pairs.append((i, j))
    tp = len(pairs)
    counts = DetectionCounts(
        true_positives=tp,
        false_positives=n_hyps - tp - len(on_ignored),
        false_negatives=int((~ignored).sum()) - tp,
    )
    return Matching(pairs=tuple(pairs), counts=counts, on_ignored=tuple(sorted(on_ignored)))

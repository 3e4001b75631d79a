"""Quad non-maximal suppression of the dense detector output (CUDA reference semantics, spec §4.3).

The reference op has a CUDA and a CPU implementation that differ; official runs use CUDA, so this module follows the
CUDA algorithm (the choices are listed in ``docs/ops.md``). Four steps:

1. **Row-span collapse.** Each feature-map row is cut into 32-cell segments. A cell is valid when its probability is
   ``≥ prob_threshold`` and its quad's shoelace area is ``> 8``. A valid cell continues the span of its left
   neighbour when that neighbour lies in the same segment, is valid, and their AABB IoU is ``≥ iou_threshold``;
   otherwise it starts a new span. A span becomes one quad: the probability-weighted mean of its cells' vertices,
   with confidence = mean cell probability and ``NumQuads`` = cell count. Spans are ordered by the flat index of
   their first cell.
2. **Adjacency** between the spans of one image, on AABBs: a pair with IoU ``≥ iou_threshold`` is adjacent (and
   the higher index is "not a start"); otherwise, if one box has more than 80 % of its area inside the other and
   their heights are within 10 % (ratio ``> 0.9``), the contained one is marked "not a start" (suppressed, not
   merged).
3. **Transitive closure** of the adjacency.
4. **Collapse** of each surviving component into one quad, weighted by ``NumQuads · Confidence``.

Everything is vectorised: step 1 runs on the cells above the probability threshold of the whole batch at once,
steps 2–4 on pairwise span matrices per image (row-chunked to bound memory) with the closure computed by min-label
propagation to convergence.
"""

from __future__ import annotations

import torch

from ..geometry import quad_aabb, quad_area

__all__ = [
    "quad_nms",
    "drop_duplicate_regions",
    "refine_quads",
    "refine_quad_ends",
    "SEGMENT_CELLS",
    "MIN_CELL_AREA",
    "CONTAINMENT_THRESHOLD",
    "HEIGHT_RATIO_THRESHOLD",
]

SEGMENT_CELLS = 32
"""Row segment length of the CUDA kernel: spans never cross a multiple of 32 columns (spec §4.3 step 1)."""

MIN_CELL_AREA = 8.0
"""A cell's quad must have a shoelace area strictly greater than this, in squared detector pixels (step 1)."""

CONTAINMENT_THRESHOLD = 0.8
"""Fraction of a span box inside another above which it may be suppressed as contained (step 2)."""

HEIGHT_RATIO_THRESHOLD = 0.9
"""Containment only suppresses when min/max of the two AABB heights exceeds this (step 2)."""

# Spans compared at once with the spans that overlap them (step 2): a band of a few text lines on a page, so the
# pairs evaluated stay a few percent of all [m, m]; also bounds memory to a few MB per temporary.
_PAIR_ROW_CHUNK = 128
# Kept regions matched at once by refine_quads ([chunk, M] IoU matrices, a few MB on a dense page).
_REFINE_CHUNK = 512


def _pairwise_aabb_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return the elementwise IoU of boxes ``a`` and ``b`` (``[..., 4]`` x0, y0, x1, y1) → ``[...]``."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]).clamp(min=0) * (a[..., 3] - a[..., 1]).clamp(min=0)
    area_b = (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    union = area_a + area_b - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(inter))


def _collapse_row_spans(
    quads: torch.Tensor, probs: torch.Tensor, prob_threshold: float, iou_threshold: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Step 1 over the whole batch.

    Args:
        quads: ``[B, H, W, 4, 2]`` float32 cell quads.
        probs: ``[B, H, W]`` float32 cell probabilities.
        prob_threshold: minimum probability of a valid cell.
        iou_threshold: minimum AABB IoU with the left neighbour to continue its span.

    Returns:
        ``(vertices [S, 4, 2], confidence [S], num_quads [S], spans_per_image [B] int64)`` for all ``S`` spans of
        the batch, image-major and, within an image, by flat index of the span's first cell.
    """
    batch, height, width = probs.shape
    # Only cells above the probability threshold can be valid: gather them first (flat, row-major, image-major)
    # so that all further work scales with the number of candidate cells, not with the map size.
    candidates = (probs >= prob_threshold).reshape(-1).nonzero().squeeze(1)
    candidate_quads = quads.reshape(-1, 4, 2)[candidates]
    keep = quad_area(candidate_quads) > MIN_CELL_AREA
    cells = candidates[keep]
    cell_quads = candidate_quads[keep]
    cell_probs = probs.reshape(-1)[cells]
    boxes = quad_aabb(cell_quads)  # (n_cells, 4)

    # A cell's left neighbour, if valid, is the previous valid cell in flat order: flat indices differ by exactly 1.
    # Column 0 and every multiple of 32 start a segment (and, at column 0, a new row or image): never a continuation.
    column = cells % width
    continues = torch.zeros(cells.shape[0], dtype=torch.bool, device=probs.device)
    continues[1:] = (
        (cells[1:] - cells[:-1] == 1)
        & (column[1:] % SEGMENT_CELLS != 0)
        & (_pairwise_aabb_iou(boxes[:-1], boxes[1:]) >= iou_threshold)
    )
    starts = ~continues
    # Flat order puts every continuing cell right after its left neighbour, so its span is the last span start
    # at or before it; numbering starts by cumulative count orders spans by first cell.
    span_ids = torch.cumsum(starts, 0) - 1
    num_spans = int(starts.sum())
    weighted = torch.zeros((num_spans, 4, 2), dtype=torch.float32, device=probs.device)
    weighted.index_add_(0, span_ids, cell_probs[:, None, None] * cell_quads)
    prob_sum = torch.zeros(num_spans, dtype=torch.float32, device=probs.device).index_add_(0, span_ids, cell_probs)
    counts = torch.zeros(num_spans, dtype=torch.float32, device=probs.device).index_add_(
        0, span_ids, torch.ones_like(cell_probs)
    )
    vertices = weighted / prob_sum[:, None, None]
    confidence = prob_sum / counts
    span_image = cells[starts] // (height * width)
    spans_per_image = torch.bincount(span_image, minlength=batch)
    return vertices, confidence, counts, spans_per_image


def _span_relations(boxes: torch.Tensor, iou_threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 2 for one image.

    Both tests of a pair (IoU at or above ``iou_threshold`` > 0, containment) need the two boxes to intersect, so
    each chunk of spans (taken in order of their top edge) is compared only with the spans that overlap the chunk's
    bounding box; the decisions are those of the all-pairs kernel. (Without the v2 pre-filter a page has a few
    thousand spans, and the all-pairs matrices cost about 70 ms per page on one CPU core; the overlapping pairs
    are a few percent of them.) The adjacency comes back as an edge list: a dense ``[m, m]`` matrix of a 2,500-span
    page cost about 30 ms to fill, mirror and scan (benchmarks/RESULTS.md, "Session 31").

    Args:
        boxes: ``[m, 4]`` float32 AABBs of the span quads.
        iou_threshold: IoU at or above which two spans are adjacent.

    Returns:
        ``(edges [2, E] int64, is_start [m] bool)``: each adjacent pair once as ``(r, c)`` with ``r < c`` (every span
        is also adjacent to itself, which is left implicit), and which spans are still starts.
    """
    num = boxes.shape[0]
    device = boxes.device
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    height = boxes[:, 3] - boxes[:, 1]
    tiny = torch.finfo(torch.float32).tiny
    not_start = torch.zeros(num, dtype=torch.bool, device=device)
    every = torch.arange(num, device=device)
    pairs: list[torch.Tensor] = []
    # With a zero threshold every pair is IoU-adjacent, intersecting or not: compare all pairs.
    by_top = torch.argsort(boxes[:, 1], stable=True) if iou_threshold > 0 else every
    for start in range(0, num, _PAIR_ROW_CHUNK):
        row_index = by_top[start : start + _PAIR_ROW_CHUNK]
        r_boxes = boxes[row_index]
        if iou_threshold > 0:
            x0, y0 = r_boxes[:, 0].min(), r_boxes[:, 1].min()
            x1, y1 = r_boxes[:, 2].max(), r_boxes[:, 3].max()
            near = (boxes[:, 0] < x1) & (boxes[:, 2] > x0) & (boxes[:, 1] < y1) & (boxes[:, 3] > y0)
            col_index = near.nonzero().squeeze(1)
        else:
            col_index = every
        r_box, c_box = r_boxes[:, None, :], boxes[col_index][None, :, :]
        lt = torch.maximum(r_box[..., :2], c_box[..., :2])
        rb = torch.minimum(r_box[..., 2:], c_box[..., 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[..., 0] * wh[..., 1]  # (rows, cols)
        area_r, area_c = area[row_index, None], area[None, col_index]
        union = area_r + area_c - inter
        iou = torch.where(union > 0, inter / union.clamp(min=tiny), torch.zeros_like(inter))
        pct_r = torch.where(area_r > 0, inter / area_r.clamp(min=tiny), torch.zeros_like(inter))
        pct_c = torch.where(area_c > 0, inter / area_c.clamp(min=tiny), torch.zeros_like(inter))
        h_r, h_c = height[row_index, None], height[None, col_index]
        h_max = torch.maximum(h_r, h_c)
        ratio = torch.where(h_max > 0, torch.minimum(h_r, h_c) / h_max.clamp(min=tiny), torch.zeros_like(h_max))

        upper = col_index[None, :] > row_index[:, None]  # the kernel visits pairs c > r (c = r is self-adjacent)
        block_adjacent = (iou >= iou_threshold) | (col_index[None, :] == row_index[:, None])
        # The kernel decides each pair once, at (r, c > r): the edges are those upper pairs.
        rows, cols = (block_adjacent & upper).nonzero(as_tuple=True)
        pairs.append(torch.stack([row_index[rows], col_index[cols]]))
        # IoU branch: the higher index of an adjacent pair is not a start.
        not_start[col_index] |= (block_adjacent & upper).any(0)
        # Containment branch (only when not IoU-adjacent): suppress the mostly-contained box of similar height.
        contained = upper & ~block_adjacent & (ratio > HEIGHT_RATIO_THRESHOLD)
        r_inside = pct_r > CONTAINMENT_THRESHOLD
        c_inside = pct_c > CONTAINMENT_THRESHOLD
        not_start[row_index] |= (contained & r_inside).any(1)
        not_start[col_index] |= (contained & ~r_inside & c_inside).any(0)
    edges = torch.cat(pairs, dim=1) if pairs else torch.zeros((2, 0), dtype=torch.int64, device=device)
    return edges, ~not_start


def _component_min_labels(num: int, edges: torch.Tensor) -> torch.Tensor:
    """Return ``[num]`` int64: for each node the lowest node index of its connected component (step 3).

    ``edges`` ``[2, E]`` int64 are undirected pairs (either order; self-loops are implicit). Min-label propagation
    along them in both directions, iterated until no label changes; each iteration is one vectorised
    ``scatter_reduce``, and pointer jumping (``label ← label[label]``) shortens the walk along long chains. Unlike
    the CUDA kernel's depth-9 DFS stack, this never truncates.
    """
    labels = torch.arange(num, device=edges.device)
    src = torch.cat([edges[0], edges[1]])
    dst = torch.cat([edges[1], edges[0]])
    while True:
        new = labels.scatter_reduce(0, src, labels[dst], reduce="amin", include_self=True)
        new = new[new]
        if torch.equal(new, labels):
            return labels
        labels = new


def quad_nms(
    quads: torch.Tensor,
    probs: torch.Tensor,
    *,
    prob_threshold: float = 0.5,
    iou_threshold: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge the dense per-cell quads of a batch into text regions (CUDA semantics of spec §4.3).

    Choices where the spec is ambiguous (also in ``docs/ops.md``):

    * ``iou_threshold`` is used both for span chaining (step 1) and span adjacency (step 2); the spec writes
      "≥ 0.5" for both and the pipeline passes 0.5.
    * Adjacency is undirected (IoU is symmetric), so step 3 yields connected components.
    * A component's representative is its lowest index that is still a start after step 2 (no lower-index
      IoU-adjacent span and not suppressed as contained). This is what the sequential reading of steps 2–3
      gives: the lowest surviving start reaches the whole component and un-starts everything above it. A
      component without any such index (e.g. a lone suppressed span, or a chain whose lowest span was suppressed
      and whose other spans all have a lower adjacent neighbour) produces **no** output.
    * The "adjacency set" merged in step 4 is the whole connected component reached in step 3 (including
      suppressed members and members below the representative), not just the representative's direct
      neighbours. A contained span that is adjacent to nothing is dropped rather than merged.
    * Outputs are ordered by representative index per image, images in batch order. The CUDA extra
      condition for batches > 1 ("non-empty adjacency list") always holds since every span is adjacent to
      itself, so batch size does not change the result (the v1 per-image and v2 batched calls agree).
    * The feature-map width need not be a multiple of 32: the last segment of a row is then shorter.

    Args:
        quads: ``[B, H, W, 4, 2]`` cell quads in detector-input pixels (from :func:`rrect_to_quads`).
        probs: ``[B, H, W]`` cell probabilities in [0, 1] (``sigmoid`` of the confidence logits).
        prob_threshold: minimum probability of a cell, in (0, 1].
        iou_threshold: AABB IoU threshold of steps 1 and 2, in [0, 1].

    Returns:
        ``(quads [N, 4, 2] float32, confidence [N] float32, region_counts [B] int64)``: merged quads in
        detector-input pixels (clockwise from top-left as their cells), each region's mean cell probability,
        and the number of regions of each image (regions are image-major). On the device of the inputs.

    Raises:
        ValueError: on shape mismatches or thresholds out of range.

    >>> q = torch.tensor([[0.0, 0.0], [8.0, 0.0], [8.0, 4.0], [0.0, 4.0]]).expand(1, 1, 2, 4, 2)
    >>> out_quads, conf, counts = quad_nms(q, torch.tensor([[[0.9, 0.7]]]))
    >>> out_quads.shape, conf, counts
    (torch.Size([1, 4, 2]), tensor([0.8000]), tensor([1]))
    """
    if not isinstance(quads, torch.Tensor) or quads.ndim != 5 or tuple(quads.shape[-2:]) != (4, 2):
        raise ValueError(f"quads must be a [B, H, W, 4, 2] tensor, got {getattr(quads, 'shape', type(quads))}")
    if not isinstance(probs, torch.Tensor) or probs.shape != quads.shape[:3]:
        raise ValueError(
            f"probs must be a [B, H, W] tensor matching quads {tuple(quads.shape[:3])}, "
            f"got {getattr(probs, 'shape', type(probs))}"
        )
    if not 0.0 < prob_threshold <= 1.0:
        raise ValueError(f"prob_threshold must be in (0, 1], got {prob_threshold}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    device = quads.device
    batch = quads.shape[0]
    vertices, confidence, num_quads, spans_per_image = _collapse_row_spans(
        quads.float(), probs.float(), prob_threshold, iou_threshold
    )
    out_quads: list[torch.Tensor] = []
    out_conf: list[torch.Tensor] = []
    region_counts = torch.zeros(batch, dtype=torch.int64, device=device)
    offset = 0
    for b, num in enumerate(spans_per_image.tolist()):
        if num == 0:
            continue
        span_vertices = vertices[offset : offset + num]
        # Step 4 weight of a span: NumQuads · Confidence (= its total cell probability).
        span_weight = num_quads[offset : offset + num] * confidence[offset : offset + num]
        span_count = num_quads[offset : offset + num]
        offset += num

        edges, is_start = _span_relations(quad_aabb(span_vertices), iou_threshold)
        labels = _component_min_labels(num, edges)
        index = torch.arange(num, device=device)
        sentinel = torch.full((num,), num, dtype=torch.int64, device=device)
        rep_of_label = sentinel.scatter_reduce(0, labels, torch.where(is_start, index, sentinel), reduce="amin")
        rep_of_span = rep_of_label[labels]
        kept = rep_of_span < num
        reps, output_of_span = torch.unique(rep_of_span[kept], sorted=True, return_inverse=True)
        num_out = reps.numel()
        weight = torch.zeros(num_out, dtype=torch.float32, device=device).index_add_(
            0, output_of_span, span_weight[kept]
        )
        weighted_vertices = torch.zeros((num_out, 4, 2), dtype=torch.float32, device=device).index_add_(
            0, output_of_span, span_weight[kept, None, None] * span_vertices[kept]
        )
        count = torch.zeros(num_out, dtype=torch.float32, device=device).index_add_(0, output_of_span, span_count[kept])
        out_quads.append(weighted_vertices / weight[:, None, None])
        out_conf.append(weight / count)
        region_counts[b] = num_out
    if not out_quads:
        return (
            torch.zeros((0, 4, 2), dtype=torch.float32, device=device),
            torch.zeros(0, dtype=torch.float32, device=device),
            region_counts,
        )
    return torch.cat(out_quads), torch.cat(out_conf), region_counts


def refine_quads(
    kept_quads: torch.Tensor,
    kept_counts: torch.Tensor,
    full_quads: torch.Tensor,
    full_counts: torch.Tensor,
    *,
    min_iou: float = 0.5,
) -> torch.Tensor:
    """Give each region the pre-filter kept the quad of its counterpart merged from every cell (ours).

    The v2 pre-filter (spec §4.4) decides well which regions exist, but merges each from its few peak cells, so its
    quads are noisier than those merged from all cells above the threshold, which read better; without the
    pre-filter, on the other hand, specks on a scanned page become regions. Each kept region and the full-cell region
    that is its mutual best match by axis-aligned IoU (at least ``min_iou``) are paired, and the kept region takes the
    paired quad; unpaired regions keep their own. Count, order and confidences are unchanged.

    Args:
        kept_quads: ``[N, 4, 2]`` quads of :func:`quad_nms` on the pre-filtered map, image-major.
        kept_counts: ``[B]`` int64 regions per image of ``kept_quads``.
        full_quads: ``[M, 4, 2]`` quads of :func:`quad_nms` on the unfiltered map, image-major.
        full_counts: ``[B]`` int64 regions per image of ``full_quads``.
        min_iou: the lowest IoU of a pair, in (0, 1].

    Returns:
        ``[N, 4, 2]`` float32 quads, on the device of ``kept_quads``.

    >>> kept = torch.tensor([[[0.0, 0.0], [10.0, 0.0], [10.0, 4.0], [0.0, 4.0]]])
    >>> full = torch.tensor([[[0.0, 0.0], [11.0, 0.0], [11.0, 5.0], [0.0, 5.0]], [[30, 0], [40, 0], [40, 4], [30, 4]]])
    >>> refine_quads(kept, torch.tensor([1]), full, torch.tensor([2]))[0, 2].tolist()
    [11.0, 5.0]
    """
    if kept_counts.shape != full_counts.shape:
        raise ValueError(f"region counts of {tuple(kept_counts.shape)} and {tuple(full_counts.shape)} images differ")
    if not 0.0 < min_iou <= 1.0:
        raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
    out = kept_quads.float().clone()
    kept_start, full_start = 0, 0
    for kept_num, full_num in zip(kept_counts.tolist(), full_counts.tolist()):
        if kept_num and full_num:
            kept_boxes = quad_aabb(out[kept_start : kept_start + kept_num])
            full = full_quads[full_start : full_start + full_num].float()
            full_boxes = quad_aabb(full)[None, :, :]
            # Best partners both ways, a chunk of kept regions at a time.
            best_full = torch.empty(kept_num, dtype=torch.int64, device=out.device)
            best_full_iou = torch.empty(kept_num, device=out.device)
            best_kept = torch.zeros(full_num, dtype=torch.int64, device=out.device)
            best_kept_iou = torch.full((full_num,), -1.0, device=out.device)
            for start in range(0, kept_num, _REFINE_CHUNK):
                stop = min(start + _REFINE_CHUNK, kept_num)
                iou = _pairwise_aabb_iou(kept_boxes[start:stop, None, :], full_boxes)
                best_full_iou[start:stop], best_full[start:stop] = iou.max(1)
                column_iou, column_kept = iou.max(0)
                better = column_iou > best_kept_iou  # strictly: the first kept region wins a tie, as argmax does
                best_kept_iou = torch.where(better, column_iou, best_kept_iou)
                best_kept = torch.where(better, column_kept + start, best_kept)
            rows = torch.arange(kept_num, device=out.device)
            index = rows[(best_kept[best_full] == rows) & (best_full_iou >= min_iou)]
            out[kept_start + index] = full[best_full[index]]
        kept_start += kept_num
        full_start += full_num
    return out


def _group_mean(groups: int, index: torch.Tensor, weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``[groups]`` weighted mean of ``values`` by group ``index`` (0 for an empty group)."""
    total = torch.zeros(groups, device=values.device).index_add_(0, index, weights).clamp_min(1e-12)
    return torch.zeros(groups, device=values.device).index_add_(0, index, weights * values) / total


def refine_quad_ends(
    quads: torch.Tensor,
    counts: torch.Tensor,
    cell_quads: torch.Tensor,
    probs: torch.Tensor,
    *,
    prob_threshold: float = 0.5,
    cell_size: int = 4,
    reach: float = 0.5,
    softness: float = 0.5,
    max_shift: float = 1.5,
    min_cells: int = 3,
    passes: int = 1,
) -> torch.Tensor:
    """Place each region's two ends where the cells nearest to them put them (ours).

    The NMS merges a region's quad as the probability-weighted mean of all its cells' predictions, and a cell far
    from a word's end predicts that end too near (the regression shrinks long distances): on DocBank the detected
    right end of words 5–8 heights long lies a median 0.10 heights inside the word, cutting off final letters and
    punctuation (``population,`` read ``population``). Here each end is re-estimated from the cells whose prior
    points lie nearest to it: in the region's frame (``u`` along its top edge, ``v`` across), every cell above the
    threshold whose prior point falls inside the region (lengthened by ``reach`` heights at both ends, the cells of
    another region's own box excluded) predicts the right end ``(q1 + q2)/2 · u`` and the left end
    ``(q0 + q3)/2 · u`` of its quad; the new right end is their mean weighted by ``p · exp((s − s_max) / (softness
    · h))``, with ``s`` the cell's position along ``u`` and ``s_max`` the region's last cell, and the left end
    likewise from the first cells. The right vertices (q1, q2) and the left ones (q0, q3) move along ``u`` only;
    heights, angles, count and order stay. An end that would move outwards to a point inside another region's own
    axis-aligned box keeps its place, unless that region's facing end moves into this one's box too (one word the
    NMS split in two).

    Only cells within ``reach`` heights of the current ends vote, so an end the merged quad left several cells short
    (a long monospace word: ``\\documentclass{artic`` for ``\\documentclass{article}``, its confident cells running
    on past the quad) moves out by at most about ``reach`` heights a pass; the placement is repeated ``passes``
    times, each from the ends the previous pass found, which reaches such an end in two or three
    (``PostprocessConfig.refine_end_passes``; the shipped English model uses 3).

    Args:
        quads: ``[N, 4, 2]`` region quads of a batch, image-major, in the cells' pixel frame.
        counts: ``[B]`` int64 regions per image.
        cell_quads: ``[B, H, W, 4, 2]`` per-cell quads (:func:`~textspotter.ops.boxes.rrect_to_quads`).
        probs: ``[B, H, W]`` cell probabilities in [0, 1].
        prob_threshold: the lowest probability of a cell that votes.
        cell_size: pixels per cell (the prior point of cell (y, x) is ``cell_size · (x + ½, y + ½)``).
        reach: how far past a region's ends, in region heights, its voting cells may lie.
        softness: the width of the weighting towards each end, in region heights.
        max_shift: the largest move of an end, in region heights (a guard against stray cells).
        min_cells: regions with fewer voting cells keep their quad.
        passes: how many times the ends are placed, each pass from the previous one's (at least 1).

    Returns:
        ``[N, 4, 2]`` float32 quads.

    >>> cells = torch.zeros(1, 1, 8, 4, 2)
    >>> for x in range(8):  # cells further from the right end predict it nearer, as a regression does
    ...     px = 4 * x + 2
    ...     right = px + 0.8 * (32 - px)
    ...     cells[0, 0, x] = torch.tensor([[0.0, 0.0], [right, 0.0], [right, 4.0], [0.0, 4.0]])
    >>> merged = cells[0, 0].mean(0, keepdim=True)  # what a weighted mean over all cells gives
    >>> round(float(merged[0, 1, 0]), 1)  # the word ends at 32
    28.8
    >>> refined = refine_quad_ends(merged, torch.tensor([1]), cells, torch.ones(1, 1, 8), min_cells=1)
    >>> round(float(refined[0, 1, 0]), 1)
    31.5
    """
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
        raise ValueError(f"passes must be an int >= 1, got {passes!r}")
    out = quads
    for _ in range(passes):
        out = _place_ends(
            out, counts, cell_quads, probs, prob_threshold, cell_size, reach, softness, max_shift, min_cells
        )
    return out


def _place_ends(
    quads: torch.Tensor,
    counts: torch.Tensor,
    cell_quads: torch.Tensor,
    probs: torch.Tensor,
    prob_threshold: float,
    cell_size: int,
    reach: float,
    softness: float,
    max_shift: float,
    min_cells: int,
) -> torch.Tensor:
    """One pass of :func:`refine_quad_ends` (same arguments): ``[N, 4, 2]`` float32 quads with their ends placed."""
    import numpy as np

    if quads.ndim != 3 or tuple(quads.shape[1:]) != (4, 2):
        raise ValueError(f"quads must be [N, 4, 2], got {tuple(quads.shape)}")
    if cell_quads.ndim != 5 or tuple(cell_quads.shape[:3]) != tuple(probs.shape) or probs.ndim != 3:
        raise ValueError(f"cell_quads {tuple(cell_quads.shape)} and probs {tuple(probs.shape)} do not match")
    if int(counts.sum()) != quads.shape[0] or counts.shape[0] != probs.shape[0]:
        raise ValueError(
            f"region counts {counts.tolist()} do not match {quads.shape[0]} quads of {probs.shape[0]} maps"
        )
    out = quads.float().clone()
    height, width = int(probs.shape[1]), int(probs.shape[2])
    start = 0
    for image, num in enumerate(counts.tolist()):
        if num == 0:
            continue
        q = out[start : start + num]
        origin = q[:, 0]
        top = q[:, 1] - q[:, 0]
        length = top.norm(dim=-1).clamp_min(1e-6)
        u = top / length[:, None]
        v = torch.stack([-u[:, 1], u[:, 0]], dim=-1)  # "down" on screen for a left-to-right region
        side = ((q[:, 3] - q[:, 0]) * v).sum(-1)
        h = side.abs().clamp_min(1e-6)
        # Region of each cell: a map painted with every region's box lengthened by `reach` first, then with every
        # region's own box, so that a cell in a neighbour's own box never votes for this region's end.
        boxes = quad_aabb(q)
        grow = (reach * h)[:, None] * torch.stack([u[:, 0].abs(), u[:, 1].abs()], dim=-1)
        owner = np.full((height, width), -1, dtype=np.int64)
        for lo, hi in ((boxes[:, :2] - grow, boxes[:, 2:] + grow), (boxes[:, :2], boxes[:, 2:])):
            cells_lo = torch.floor(lo / cell_size).clamp_min(0).to(torch.int64).tolist()
            cells_hi = torch.ceil(hi / cell_size).to(torch.int64).tolist()
            for index, ((x0, y0), (x1, y1)) in enumerate(zip(cells_lo, cells_hi)):
                owner[y0 : min(y1, height), x0 : min(x1, width)] = index
        rows, cols = torch.nonzero(probs[image] >= prob_threshold, as_tuple=True)
        label = torch.from_numpy(owner)[rows, cols].to(out.device)
        keep = label >= 0
        rows, cols, label = rows[keep], cols[keep], label[keep]
        if label.numel() == 0:
            start += num
            continue
        prior = torch.stack([cols.float(), rows.float()], dim=-1) * cell_size + cell_size / 2
        rel = prior - origin[label]
        s = (rel * u[label]).sum(-1)
        t = (rel * v[label]).sum(-1) * torch.sign(side[label])
        hl = h[label]
        inside = (t >= 0) & (t <= hl) & (s >= -reach * hl) & (s <= length[label] + reach * hl)
        rows, cols, label, s, hl = rows[inside], cols[inside], label[inside], s[inside], hl[inside]
        if label.numel() == 0:
            start += num
            continue
        cell = cell_quads[image, rows, cols].float()
        p = probs[image, rows, cols].float()
        o, uu = origin[label], u[label]
        right = (((cell[:, 1] + cell[:, 2]) / 2 - o) * uu).sum(-1)
        left = (((cell[:, 0] + cell[:, 3]) / 2 - o) * uu).sum(-1)
        s_max = torch.full((num,), -float("inf"), device=out.device).scatter_reduce(0, label, s, reduce="amax")
        s_min = torch.full((num,), float("inf"), device=out.device).scatter_reduce(0, label, s, reduce="amin")
        votes = torch.zeros(num, device=out.device).index_add_(0, label, torch.ones_like(s))
        w_right = p * torch.exp((s - s_max[label]) / (softness * hl))
        w_left = p * torch.exp((s_min[label] - s) / (softness * hl))

        old_right = (((q[:, 1] + q[:, 2]) / 2 - origin) * u).sum(-1)
        old_left = (((q[:, 0] + q[:, 3]) / 2 - origin) * u).sum(-1)
        limit = max_shift * h
        move_right = torch.clamp(_group_mean(num, label, w_right, right) - old_right, -limit, limit)
        move_left = torch.clamp(_group_mean(num, label, w_left, left) - old_left, -limit, limit)
        # Ends must stay ordered with at least a height between them; too few votes keep the quad.
        ok = (votes >= min_cells) & (old_right + move_right - old_left - move_left >= torch.minimum(h, length))
        move_right = torch.where(ok, move_right, torch.zeros_like(move_right))
        move_left = torch.where(ok, move_left, torch.zeros_like(move_left))
        # An end pushed out into another region's box keeps its place: the cells of a tight gap between two bold
        # words vote the right word's start into the left word's last letter ("Riverside Library" read "eLibrary").
        # Unless that region's facing end reaches back into this one: then both are one word the NMS split in two,
        # whose pieces get the word's ends and drop_duplicate_regions keeps one ("loan" and "an:").
        owner_map = torch.from_numpy(owner).to(out.device)
        regions = torch.arange(num, device=out.device)
        targets = []
        for move, mid, sign in ((move_right, (q[:, 1] + q[:, 2]) / 2, 1.0), (move_left, (q[:, 0] + q[:, 3]) / 2, -1.0)):
            point = mid + move[:, None] * u
            col = torch.floor(point[:, 0] / cell_size).to(torch.int64)
            row = torch.floor(point[:, 1] / cell_size).to(torch.int64)
            on_map = (col >= 0) & (col < width) & (row >= 0) & (row < height)
            other = torch.where(on_map, owner_map[row.clamp(0, height - 1), col.clamp(0, width - 1)], -1)
            box = boxes[other.clamp_min(0)]
            inside = (
                (point[:, 0] > box[:, 0])
                & (point[:, 0] < box[:, 2])
                & (point[:, 1] > box[:, 1])
                & (point[:, 1] < box[:, 3])
            )
            hit = (move * sign > 0) & (other >= 0) & (other != regions) & inside
            targets.append(torch.where(hit, other, -1))
        into_right, into_left = targets
        mutual_right = (into_right >= 0) & (into_left[into_right.clamp_min(0)] == regions)
        mutual_left = (into_left >= 0) & (into_right[into_left.clamp_min(0)] == regions)
        move_right.masked_fill_((into_right >= 0) & ~mutual_right, 0.0)
        move_left.masked_fill_((into_left >= 0) & ~mutual_left, 0.0)
        q[:, 1] += move_right[:, None] * u
        q[:, 2] += move_right[:, None] * u
        q[:, 0] += move_left[:, None] * u
        q[:, 3] += move_left[:, None] * u
        start += num
    return out


def _overlapping_pairs(boxes: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """``[P, 2]`` int64 pairs ``(i, j)``, ``i < j``, of ``[m, 4]`` AABBs overlapping at IoU ≥ ``iou_threshold`` > 0.

    As in :func:`_span_relations`, chunks of boxes in order of their top edge are compared only with the boxes that
    intersect the chunk's bounding box.
    """
    found = []
    by_top = torch.argsort(boxes[:, 1], stable=True)
    for chunk in range(0, boxes.shape[0], _PAIR_ROW_CHUNK):
        rows = by_top[chunk : chunk + _PAIR_ROW_CHUNK]
        r_boxes = boxes[rows]
        x0, y0 = r_boxes[:, 0].min(), r_boxes[:, 1].min()
        x1, y1 = r_boxes[:, 2].max(), r_boxes[:, 3].max()
        cols = ((boxes[:, 0] < x1) & (boxes[:, 2] > x0) & (boxes[:, 1] < y1) & (boxes[:, 3] > y0)).nonzero().squeeze(1)
        iou = _pairwise_aabb_iou(r_boxes[:, None, :], boxes[cols][None, :, :])
        r, c = torch.nonzero(iou >= iou_threshold, as_tuple=True)
        a, b = rows[r], cols[c]
        found.append(torch.stack([a, b], dim=1)[a < b])
    return torch.cat(found) if found else torch.zeros((0, 2), dtype=torch.int64, device=boxes.device)


def drop_duplicate_regions(
    quads: torch.Tensor,
    confidence: torch.Tensor,
    counts: torch.Tensor,
    *,
    iou_threshold: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep one region of each group whose boxes overlap at ``iou_threshold`` or more (ours).

    The NMS sometimes splits a word into two overlapping regions (``loan`` and ``an:``); once
    :func:`refine_quad_ends` has given both the word's ends they nearly coincide and would read the word twice.
    Greedily, largest box first, a region is kept and every other region of its image whose axis-aligned box
    overlaps it at the threshold or more is dropped. The kept regions keep their order.

    Args:
        quads: ``[N, 4, 2]`` region quads, image-major.
        confidence: ``[N]`` their confidences.
        counts: ``[B]`` int64 regions per image.
        iou_threshold: the overlap (AABB IoU) at which two regions are one, in (0, 1].

    Returns:
        ``(quads, confidence, counts)`` of the kept regions.

    >>> word = torch.tensor([[0.0, 0.0], [40.0, 0.0], [40.0, 10.0], [0.0, 10.0]])
    >>> quads = torch.stack([word, word + torch.tensor([2.0, 0.0]), word + torch.tensor([60.0, 0.0])])
    >>> kept, conf, counts = drop_duplicate_regions(quads, torch.tensor([0.9, 0.8, 0.7]), torch.tensor([3]))
    >>> kept[:, 0, 0].tolist(), counts.tolist()
    ([0.0, 60.0], [2])
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if int(counts.sum()) != quads.shape[0] or confidence.shape[0] != quads.shape[0]:
        raise ValueError(f"region counts {counts.tolist()} do not match {quads.shape[0]} quads / confidences")
    boxes = quad_aabb(quads.float())
    area = (boxes[:, 2] - boxes[:, 0]).clamp_min(0) * (boxes[:, 3] - boxes[:, 1]).clamp_min(0)
    keep = torch.ones(quads.shape[0], dtype=torch.bool, device=quads.device)
    new_counts = counts.clone()
    start = 0
    for image, num in enumerate(counts.tolist()):
        pairs = _overlapping_pairs(boxes[start : start + num], iou_threshold) + start
        if pairs.numel():
            partners: dict[int, list[int]] = {}
            for a, b in pairs.tolist():
                partners.setdefault(a, []).append(b)
                partners.setdefault(b, []).append(a)
            # Largest first; ties by index.
            for region in sorted(partners, key=lambda r: (-float(area[r]), r)):
                if keep[region]:
                    keep[partners[region]] = False
            new_counts[image] = int(keep[start : start + num].sum())
        start += num
    return quads[keep], confidence[keep], new_counts

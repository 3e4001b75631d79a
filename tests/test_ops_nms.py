"""Tests of textspotter.ops.nms (CUDA semantics of spec §4.3)."""

import pytest
import torch

from textspotter.ops.nms import (
    CONTAINMENT_THRESHOLD,
    HEIGHT_RATIO_THRESHOLD,
    _collapse_row_spans,
    _component_min_labels,
    _span_relations,
    drop_duplicate_regions,
    quad_nms,
    refine_quad_ends,
    refine_quads,
)


def _box(x0, y0, x1, y1):
    return torch.tensor([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=torch.float32)


def _empty_map(height, width, batch=1):
    # Degenerate (zero-area) quads with probability 0: never valid.
    return torch.zeros(batch, height, width, 4, 2), torch.zeros(batch, height, width)


def _put(quads, probs, b, y, x, box, p):
    quads[b, y, x] = _box(*box)
    probs[b, y, x] = p


# --- a literal, loop-based reading of §4.3 (sequential DFS), used as an independent reference ----------------------


def _aabb(q):
    xs, ys = [v[0] for v in q], [v[1] for v in q]
    return min(xs), min(ys), max(xs), max(ys)


def _inter_areas(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return w * h, area_a, area_b


def _iou(a, b):
    inter, area_a, area_b = _inter_areas(a, b)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def _shoelace(q):
    return abs(sum(q[i][0] * q[(i + 1) % 4][1] - q[(i + 1) % 4][0] * q[i][1] for i in range(4))) / 2


def _reference_nms_image(quads, probs, prob_threshold=0.5, iou_threshold=0.5):
    height, width = len(probs), len(probs[0])
    spans = []  # [sum p·vertices (4x2), sum p, n]
    for y in range(height):
        current, prev_quad = None, None
        for x in range(width):
            q, p = quads[y][x], probs[y][x]
            if not (p >= prob_threshold and _shoelace(q) > 8):
                current = None
                continue
            if current is not None and x % 32 != 0 and _iou(_aabb(prev_quad), _aabb(q)) >= iou_threshold:
                span = current
            else:
                span = [[[0.0, 0.0] for _ in range(4)], 0.0, 0]
                spans.append(span)
                current = span
            for k in range(4):
                for d in range(2):
                    span[0][k][d] += p * q[k][d]
            span[1] += p
            span[2] += 1
            prev_quad = q
    embeds = [([[v / s[1] for v in vert] for vert in s[0]], s[1] / s[2], s[2]) for s in spans]
    m = len(embeds)
    boxes = [_aabb(e[0]) for e in embeds]
    adjacency = [[r] for r in range(m)]
    start = [True] * m
    for r in range(m):
        for c in range(r + 1, m):
            inter, area_r, area_c = _inter_areas(boxes[r], boxes[c])
            union = area_r + area_c - inter
            iou = inter / union if union > 0 else 0.0
            if iou >= iou_threshold:
                adjacency[r].append(c)
                adjacency[c].append(r)
                start[c] = False
            else:
                pct_r, pct_c = inter / area_r, inter / area_c
                if pct_r > 0.8 or pct_c > 0.8:
                    h_r, h_c = boxes[r][3] - boxes[r][1], boxes[c][3] - boxes[c][1]
                    if min(h_r, h_c) / max(h_r, h_c) > 0.9:
                        if pct_r > 0.8:
                            start[r] = False
                        else:
                            start[c] = False
    out = []
    for a in range(m):
        if not start[a]:
            continue
        seen, stack = {a}, [a]
        while stack:
            node = stack.pop()
            for nxt in adjacency[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        for node in seen:
            if node > a:
                start[node] = False
        weight = sum(embeds[k][2] * embeds[k][1] for k in seen)
        verts = [
            [sum(embeds[k][2] * embeds[k][1] * embeds[k][0][i][d] for k in seen) / weight for d in range(2)]
            for i in range(4)
        ]
        out.append((verts, weight / sum(embeds[k][2] for k in seen)))
    return out


def _text_like_map(gen, height, width, num_words, noise_cells=20):
    """Rows of word-like blobs whose cells predict jittered versions of the word's box, plus random noise."""
    quads = torch.zeros(height, width, 4, 2)
    probs = torch.rand(height, width, generator=gen) * 0.4
    for _ in range(num_words):
        y0 = int(torch.randint(0, height - 3, (1,), generator=gen))
        x0 = int(torch.randint(0, width - 6, (1,), generator=gen))
        rows = int(torch.randint(1, 4, (1,), generator=gen))
        cols = int(torch.randint(2, 12, (1,), generator=gen))
        box = torch.tensor([4.0 * x0, 4.0 * y0, 4.0 * (x0 + cols), 4.0 * (y0 + rows)])
        for y in range(y0, min(height, y0 + rows)):
            for x in range(x0, min(width, x0 + cols)):
                jitter = (torch.rand(4, generator=gen) - 0.5) * 3.0
                quads[y, x] = _box(*(box + jitter).tolist())
                probs[y, x] = 0.5 + 0.5 * float(torch.rand(1, generator=gen))
    for _ in range(noise_cells):
        y = int(torch.randint(0, height, (1,), generator=gen))
        x = int(torch.randint(0, width, (1,), generator=gen))
        cx, cy = 4.0 * x + 2, 4.0 * y + 2
        size = torch.rand(2, generator=gen) * 20 + 1
        quads[y, x] = _box(cx - size[0].item(), cy - size[1].item(), cx + size[0].item(), cy + size[1].item())
        probs[y, x] = float(torch.rand(1, generator=gen))
    return quads, probs


# --- hand-computed cases --------------------------------------------------------------------------------------------


def test_two_overlapping_adjacent_cells_merge_into_one_span():
    quads, probs = _empty_map(2, 8)
    _put(quads, probs, 0, 0, 0, (0, 0, 16, 8), 0.9)
    _put(quads, probs, 0, 0, 1, (2, 0, 18, 8), 0.6)  # AABB IoU 112 / 144 = 0.78 ≥ 0.5
    vertices, confidence, counts, per_image = _collapse_row_spans(quads, probs, 0.5, 0.5)
    assert per_image.tolist() == [1] and counts.tolist() == [2.0]
    out_quads, out_conf, region_counts = quad_nms(quads, probs)
    expected = (0.9 * _box(0, 0, 16, 8) + 0.6 * _box(2, 0, 18, 8)) / 1.5  # probability-weighted mean
    assert region_counts.tolist() == [1]
    assert torch.allclose(out_quads[0], expected, atol=1e-5)
    assert out_conf.tolist() == pytest.approx([0.75])
    assert torch.allclose(vertices[0], expected, atol=1e-5) and confidence.tolist() == pytest.approx([0.75])


def test_low_iou_neighbours_stay_separate_and_are_ordered_by_first_cell():
    quads, probs = _empty_map(3, 8)
    _put(quads, probs, 0, 2, 1, (0, 0, 8, 8), 0.8)
    _put(quads, probs, 0, 2, 2, (20, 0, 28, 8), 0.7)
    _put(quads, probs, 0, 0, 5, (40, 0, 48, 8), 0.6)  # first in flat order
    out_quads, out_conf, counts = quad_nms(quads, probs)
    assert counts.tolist() == [3]
    assert out_conf.tolist() == pytest.approx([0.6, 0.8, 0.7])
    assert out_quads[1].tolist() == _box(0, 0, 8, 8).tolist()


def test_spans_in_different_segments_merge_in_steps_2_to_4():
    # W = 40 is not a multiple of 32: segments are columns 0–31 and 32–39.
    quads, probs = _empty_map(1, 40)
    for x, p in ((30, 0.9), (31, 0.8), (32, 0.7), (33, 0.6), (38, 0.9), (39, 0.9)):
        _put(quads, probs, 0, 0, x, (100, 0, 140, 10) if x < 38 else (200, 0, 240, 10), p)
    _, _, counts, per_image = _collapse_row_spans(quads, probs, 0.5, 0.5)
    assert per_image.tolist() == [3] and counts.tolist() == [2.0, 2.0, 2.0]  # the boundary at 32 splits the run
    out_quads, out_conf, region_counts = quad_nms(quads, probs)
    assert region_counts.tolist() == [2]
    assert out_conf.tolist() == pytest.approx([0.75, 0.9])
    assert torch.allclose(out_quads[0], _box(100, 0, 140, 10))


def test_transitive_closure_merges_a_chain():
    quads, probs = _empty_map(3, 4)
    _put(quads, probs, 0, 0, 0, (0, 0, 20, 10), 0.9)
    _put(quads, probs, 0, 1, 0, (4, 0, 24, 10), 0.8)  # IoU 0.67 with both neighbours
    _put(quads, probs, 0, 2, 0, (8, 0, 28, 10), 0.7)  # IoU 0.43 with the first: linked only through the middle
    out_quads, out_conf, counts = quad_nms(quads, probs)
    assert counts.tolist() == [1]
    expected = (0.9 * _box(0, 0, 20, 10) + 0.8 * _box(4, 0, 24, 10) + 0.7 * _box(8, 0, 28, 10)) / 2.4
    assert torch.allclose(out_quads[0], expected, atol=1e-5)
    assert out_conf.item() == pytest.approx(0.8)


@pytest.mark.parametrize("small_first", [True, False])
def test_mostly_contained_box_of_similar_height_is_suppressed_not_merged(small_first):
    quads, probs = _empty_map(2, 4)
    small_row, big_row = (0, 1) if small_first else (1, 0)
    _put(quads, probs, 0, big_row, 0, (0, 0, 40, 10), 0.6)
    _put(quads, probs, 0, small_row, 0, (5, 0.25, 15, 9.75), 0.95)  # inside, IoU 0.24, height ratio 0.95
    out_quads, out_conf, counts = quad_nms(quads, probs)
    assert counts.tolist() == [1]
    assert out_quads[0].tolist() == _box(0, 0, 40, 10).tolist()  # untouched by the small box
    assert out_conf.tolist() == pytest.approx([0.6])


def test_contained_box_of_different_height_is_kept():
    quads, probs = _empty_map(2, 4)
    _put(quads, probs, 0, 0, 0, (0, 0, 40, 10), 0.6)
    _put(quads, probs, 0, 1, 0, (5, 2, 15, 7), 0.95)  # inside but height ratio 0.5
    _, out_conf, counts = quad_nms(quads, probs)
    assert counts.tolist() == [2]
    assert out_conf.tolist() == pytest.approx([0.6, 0.95])


def test_component_with_suppressed_lowest_index_keeps_its_lowest_start_and_merges_everything():
    # Spans by index: s0 (suppressed: inside B), B, a, c; edges s0–c and a–c (IoU ≥ 0.5), a–s0 not adjacent.
    # Component {s0, a, c}: s0 is suppressed, c has the lower neighbour s0, so a (no lower neighbour) represents
    # it, and the merge covers the whole component including s0 (documented choice).
    quads, probs = _empty_map(4, 2)
    boxes = [(10, 0, 20, 10), (0, 0, 100, 10), (10, 5, 20, 25), (10, 0, 20, 20)]
    ps = [0.9, 0.6, 0.8, 0.7]
    for row, (box, p) in enumerate(zip(boxes, ps)):
        _put(quads, probs, 0, row, 0, box, p)
    out_quads, out_conf, counts = quad_nms(quads, probs)
    assert counts.tolist() == [2]
    assert out_quads[0].tolist() == _box(*boxes[1]).tolist()  # B (representative 1) comes first
    expected = (0.9 * _box(*boxes[0]) + 0.8 * _box(*boxes[2]) + 0.7 * _box(*boxes[3])) / 2.4
    assert torch.allclose(out_quads[1], expected, atol=1e-5)
    assert out_conf.tolist() == pytest.approx([0.6, 0.8])


def test_component_without_any_start_is_dropped():
    # s0 is inside B (suppressed); s2 overlaps s0 (IoU 0.91) so it is not a start either, and is itself inside B.
    quads, probs = _empty_map(3, 2)
    _put(quads, probs, 0, 0, 0, (10, 0, 20, 10), 0.9)
    _put(quads, probs, 0, 1, 0, (0, 0, 44, 10.5), 0.6)
    _put(quads, probs, 0, 2, 0, (10, 0, 21, 10), 0.9)
    out_quads, _, counts = quad_nms(quads, probs)
    assert counts.tolist() == [1]
    assert out_quads[0].tolist() == _box(0, 0, 44, 10.5).tolist()


def test_component_labels_match_a_breadth_first_search():
    gen = torch.Generator().manual_seed(5)
    num = 60
    order = torch.randperm(num, generator=gen)
    adjacent = torch.eye(num, dtype=torch.bool)
    for a, b in zip(order[:-1].tolist(), order[1:].tolist()):  # one long path visiting nodes in random order...
        if a % 7:  # ...cut into several components
            adjacent[a, b] = adjacent[b, a] = True
    labels = _component_min_labels(num, torch.triu(adjacent, diagonal=1).nonzero().T).tolist()
    for node in range(num):
        seen, frontier = {node}, [node]
        while frontier:
            frontier = [j for i in frontier for j in adjacent[i].nonzero().squeeze(1).tolist() if j not in seen]
            seen.update(frontier)
        assert labels[node] == min(seen)


def test_validity_thresholds():
    quads, probs = _empty_map(1, 8)
    _put(quads, probs, 0, 0, 0, (0, 0, 4, 2), 0.9)  # area 8: not > 8
    _put(quads, probs, 0, 0, 2, (10, 0, 20, 10), 0.49)  # below the probability threshold
    _put(quads, probs, 0, 0, 4, (30, 0, 40, 10), 0.5)  # exactly at it: valid
    _, out_conf, counts = quad_nms(quads, probs)
    assert counts.tolist() == [1] and out_conf.tolist() == [0.5]
    _, _, counts = quad_nms(quads, probs, prob_threshold=0.6)
    assert counts.tolist() == [0]


def test_empty_results_have_the_documented_shapes():
    quads, probs = _empty_map(4, 4, batch=3)
    out_quads, out_conf, counts = quad_nms(quads, probs)
    assert out_quads.shape == (0, 4, 2) and out_quads.dtype == torch.float32
    assert out_conf.shape == (0,) and out_conf.dtype == torch.float32
    assert counts.tolist() == [0, 0, 0] and counts.dtype == torch.int64


def test_batch_equals_per_image_calls():
    gen = torch.Generator().manual_seed(1)
    maps = [_text_like_map(gen, 12, 40, 6) for _ in range(3)]
    quads = torch.stack([m[0] for m in maps])
    probs = torch.stack([m[1] for m in maps])
    probs[1] = 0.0  # an empty image in the middle
    batch_quads, batch_conf, counts = quad_nms(quads, probs)
    singles = [quad_nms(quads[b : b + 1], probs[b : b + 1]) for b in range(3)]
    assert counts.tolist() == [int(s[2]) for s in singles] and counts[1] == 0
    assert torch.equal(batch_quads, torch.cat([s[0] for s in singles]))
    assert torch.equal(batch_conf, torch.cat([s[1] for s in singles]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_literal_loop_reference_on_text_like_maps(seed):
    gen = torch.Generator().manual_seed(seed)
    quads, probs = _text_like_map(gen, 14, 70, num_words=12)  # W = 70: three segments, the last one short
    out_quads, out_conf, counts = quad_nms(quads[None], probs[None])
    reference = _reference_nms_image(quads.tolist(), probs.tolist())
    assert counts.tolist() == [len(reference)]
    assert len(reference) > 5
    for k, (verts, conf) in enumerate(reference):
        assert torch.allclose(out_quads[k].double(), torch.tensor(verts, dtype=torch.float64), atol=1e-3)
        assert out_conf[k].item() == pytest.approx(conf, abs=1e-5)


def test_input_validation():
    quads, probs = _empty_map(2, 2)
    with pytest.raises(ValueError, match="probs"):
        quad_nms(quads, probs[:, :1])
    with pytest.raises(ValueError, match="quads"):
        quad_nms(quads[0], probs)
    with pytest.raises(ValueError, match="prob_threshold"):
        quad_nms(quads, probs, prob_threshold=0.0)
    with pytest.raises(ValueError, match="iou_threshold"):
        quad_nms(quads, probs, iou_threshold=1.5)


def _all_pairs_span_relations(boxes: torch.Tensor, iou_threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 2 decided pair by pair over all [m, m] pairs (the CUDA kernel's visit order), for comparison."""
    num = boxes.shape[0]
    adjacent = torch.eye(num, dtype=torch.bool)
    not_start = torch.zeros(num, dtype=torch.bool)
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    height = boxes[:, 3] - boxes[:, 1]
    for r in range(num):
        for c in range(r + 1, num):
            w = (torch.minimum(boxes[r, 2], boxes[c, 2]) - torch.maximum(boxes[r, 0], boxes[c, 0])).clamp(min=0)
            h = (torch.minimum(boxes[r, 3], boxes[c, 3]) - torch.maximum(boxes[r, 1], boxes[c, 1])).clamp(min=0)
            inter = w * h
            union = area[r] + area[c] - inter
            iou = inter / union if union > 0 else 0.0
            if iou >= iou_threshold:
                adjacent[r, c] = adjacent[c, r] = True
                not_start[c] = True
                continue
            h_max = max(height[r], height[c])
            if h_max <= 0 or min(height[r], height[c]) / h_max <= HEIGHT_RATIO_THRESHOLD:
                continue
            r_inside = area[r] > 0 and inter / area[r] > CONTAINMENT_THRESHOLD
            c_inside = area[c] > 0 and inter / area[c] > CONTAINMENT_THRESHOLD
            if r_inside:
                not_start[r] = True
            elif c_inside:
                not_start[c] = True
    return adjacent, ~not_start


@pytest.mark.parametrize("iou_threshold", [0.5, 0.2, 0.0])
def test_span_relations_compare_only_overlapping_spans_with_the_same_result(iou_threshold):
    # Boxes on a coarse grid (equal edges, containment, zero-size boxes) spread over more than one chunk of spans.
    g = torch.Generator().manual_seed(3)
    corners = torch.randint(0, 30, (150, 2), generator=g).float() * 10
    sizes = torch.randint(0, 8, (150, 2), generator=g).float() * torch.tensor([20.0, 5.0])
    boxes = torch.cat([corners, corners + sizes], dim=1)
    edges, is_start = _span_relations(boxes, iou_threshold)
    expected_adjacent, expected_start = _all_pairs_span_relations(boxes, iou_threshold)
    assert bool((edges[0] < edges[1]).all())  # each pair once, lower index first
    assert edges.shape[1] == len({tuple(pair) for pair in edges.T.tolist()})
    adjacent = torch.eye(boxes.shape[0], dtype=torch.bool)
    adjacent[edges[0], edges[1]] = True
    adjacent[edges[1], edges[0]] = True
    assert torch.equal(adjacent, expected_adjacent)
    assert torch.equal(is_start, expected_start)


def test_refine_quads_takes_the_mutual_best_full_cell_quad():
    # Image 0: a word whose full-cell quad is a little larger (paired), a word without a full-cell counterpart
    # (kept as is), and two words that one full-cell region covers (it pairs with the one it overlaps most only).
    kept = torch.stack([_box(0, 0, 40, 10), _box(100, 0, 140, 10), _box(200, 0, 230, 10), _box(232, 0, 250, 10)])
    full = torch.stack([_box(0, 0, 42, 11), _box(199, 0, 240, 10), _box(500, 0, 540, 10)])
    # Image 1: one word, paired although its full-cell quad is image 1's only region.
    kept = torch.cat([kept, _box(0, 0, 20, 10)[None]])
    full = torch.cat([full, _box(1, 0, 21, 10)[None]])
    out = refine_quads(kept, torch.tensor([4, 1]), full, torch.tensor([3, 1]))
    assert out.shape == kept.shape and out.dtype == torch.float32
    assert torch.equal(out[0], full[0])
    assert torch.equal(out[1], kept[1])
    assert torch.equal(out[2], full[1]) and torch.equal(out[3], kept[3])
    assert torch.equal(out[4], full[3])
    # Below min_iou nothing is paired; an image without regions on either side is skipped.
    assert torch.equal(refine_quads(kept, torch.tensor([4, 1]), full, torch.tensor([3, 1]), min_iou=0.99), kept)
    assert torch.equal(refine_quads(kept[:4], torch.tensor([4, 0]), full[:3], torch.tensor([3, 0]))[0], full[0])
    with pytest.raises(ValueError, match="region counts"):
        refine_quads(kept, torch.tensor([5]), full, torch.tensor([3, 1]))
    with pytest.raises(ValueError, match="min_iou"):
        refine_quads(kept, torch.tensor([4, 1]), full, torch.tensor([3, 1]), min_iou=0.0)


# ------------------------------------------------------------------------------------------------ refine_quad_ends
def _word_cells(height: int, width: int, words: list[tuple[float, float, float, float]], shrink: float = 0.8):
    """Cell maps of horizontal words (x0, y0, x1, y1) in 4-pixel cells: every cell inside a word predicts the
    word's box with its right and left distances scaled by ``shrink``, as a regression towards short distances."""
    quads = torch.zeros(1, height, width, 4, 2)
    probs = torch.zeros(1, height, width)
    for x0, y0, x1, y1 in words:
        for row in range(height):
            for col in range(width):
                px, py = 4 * col + 2, 4 * row + 2
                if x0 <= px <= x1 and y0 <= py <= y1:
                    right, left = px + shrink * (x1 - px), px - shrink * (px - x0)
                    quads[0, row, col] = torch.tensor([[left, y0], [right, y0], [right, y1], [left, y1]])
                    probs[0, row, col] = 0.9
    return quads, probs


def _merged(quads, probs, box):
    x0, y0, x1, y1 = box
    cols = slice(int(x0 // 4), int(x1 // 4) + 1)
    rows = slice(int(y0 // 4), int(y1 // 4) + 1)
    weights = probs[0, rows, cols].reshape(-1)
    cells = quads[0, rows, cols].reshape(-1, 4, 2)
    return (weights[:, None, None] * cells).sum(0) / weights.sum()


def test_refine_quad_ends_moves_the_ends_of_long_words_out_to_where_the_end_cells_put_them():
    words = [(4.0, 4.0, 120.0, 20.0), (136.0, 4.0, 196.0, 20.0)]  # a long word and its neighbour 16 px away
    cell_quads, probs = _word_cells(8, 52, words)
    merged = torch.stack([_merged(cell_quads, probs, w) for w in words])
    assert merged[0, 1, 0] < 110  # the plain mean stops well short of 120
    out = refine_quad_ends(merged, torch.tensor([2]), cell_quads, probs)
    for (x0, _, x1, _), quad in zip(words, out):
        assert abs(float(quad[1, 0]) - x1) < 3 and abs(float(quad[2, 0]) - x1) < 3
        assert abs(float(quad[0, 0]) - x0) < 3 and abs(float(quad[3, 0]) - x0) < 3
    assert torch.equal(out[:, :, 1], merged[:, :, 1])  # only along the text direction
    assert out[0, 1, 0] < words[1][0]  # the neighbour's cells did not pull the first word's end into it


def test_refine_quad_ends_reaches_ends_beyond_one_pass_in_a_few():
    # A long word whose cells shrink their distances by half: the merged quad stops 50 px short of each end, and one
    # pass moves an end at most 1.5 heights (the cells past its reach cannot vote).
    words = [(4.0, 4.0, 200.0, 20.0)]
    cell_quads, probs = _word_cells(8, 56, words, shrink=0.5)
    merged = _merged(cell_quads, probs, words[0])[None]
    assert float(merged[0, 1, 0]) < 152
    once = refine_quad_ends(merged, torch.tensor([1]), cell_quads, probs, passes=1)
    thrice = refine_quad_ends(merged, torch.tensor([1]), cell_quads, probs, passes=3)
    assert torch.equal(refine_quad_ends(merged, torch.tensor([1]), cell_quads, probs), once)  # the default: one
    assert float(once[0, 1, 0]) < 180 and float(once[0, 0, 0]) > 25
    assert float(thrice[0, 1, 0]) > 190 and float(thrice[0, 0, 0]) < 15
    assert torch.equal(refine_quad_ends(once, torch.tensor([1]), cell_quads, probs, passes=2), thrice)
    with pytest.raises(ValueError, match="passes"):
        refine_quad_ends(merged, torch.tensor([1]), cell_quads, probs, passes=0)


def test_refine_quad_ends_does_not_push_an_end_into_another_region():
    # Two bold words with a tight gap: the cells at the second word's start vote its left end into the first word.
    words = [(4.0, 4.0, 100.0, 20.0), (108.0, 4.0, 200.0, 20.0)]
    cell_quads, probs = _word_cells(8, 52, words, shrink=1.0)
    cell_quads[0, :, 27:30, 0, 0] = 90.0  # prior points x = 110, 114, 118: left ends at 90, inside the first word
    cell_quads[0, :, 27:30, 3, 0] = 90.0
    merged = torch.stack([_merged(cell_quads, probs, w) for w in words])
    merged[1, [0, 3], 0] = 108.0  # the merged quad had the start right
    alone = refine_quad_ends(merged[1:], torch.tensor([1]), cell_quads, probs)
    assert float(alone[0, 0, 0]) < 100  # with no region there, the end moves where its cells put it
    both = refine_quad_ends(merged, torch.tensor([2]), cell_quads, probs)
    assert float(both[1, 0, 0]) == 108.0 and float(both[1, 3, 0]) == 108.0
    assert torch.allclose(both[0], refine_quad_ends(merged[:1], torch.tensor([1]), cell_quads, probs)[0])


def test_refine_quad_ends_follows_a_rotated_region():
    words = [(4.0, 4.0, 120.0, 20.0)]
    cell_quads, probs = _word_cells(8, 34, words)
    merged = _merged(cell_quads, probs, words[0])[None]
    straight = refine_quad_ends(merged, torch.tensor([1]), cell_quads, probs)

    # The same word turned a quarter (text running down the page): x -> y, y -> -x, shifted back onto the map.
    def turn(points):
        return torch.stack([-points[..., 1] + 40, points[..., 0]], dim=-1)

    # The cells' grid turns with the page: a 8 x 34 map becomes 34 x 8, whose column c is the old row 7 - c.
    t_quads = torch.zeros(1, 34, 8, 4, 2)
    t_probs = torch.zeros(1, 34, 8)
    for row in range(8):
        for col in range(34):
            t_quads[0, col, 7 - row] = turn(cell_quads[0, row, col]) + torch.tensor([-8.0, 0.0])
            t_probs[0, col, 7 - row] = probs[0, row, col]
    t_merged = turn(merged) + torch.tensor([-8.0, 0.0])
    turned = refine_quad_ends(t_merged, torch.tensor([1]), t_quads, t_probs)
    assert torch.allclose(turned, turn(straight) + torch.tensor([-8.0, 0.0]), atol=1e-3)


def test_refine_quad_ends_keeps_quads_without_enough_votes_and_checks_shapes():
    words = [(4.0, 4.0, 40.0, 20.0)]
    cell_quads, probs = _word_cells(8, 16, words)
    merged = _merged(cell_quads, probs, words[0])[None]
    lonely = torch.tensor([[[60.0, 4.0], [62.0, 4.0], [62.0, 20.0], [60.0, 20.0]]])  # a region no cell votes for
    both = torch.cat([merged, lonely])
    out = refine_quad_ends(both, torch.tensor([2]), cell_quads, probs)
    assert torch.equal(out[1], lonely[0])
    assert torch.equal(refine_quad_ends(merged, torch.tensor([1]), cell_quads, probs, min_cells=10_000), merged)
    assert refine_quad_ends(both[:0], torch.tensor([0]), cell_quads, probs).shape == (0, 4, 2)
    with pytest.raises(ValueError, match="region counts"):
        refine_quad_ends(both, torch.tensor([1]), cell_quads, probs)
    with pytest.raises(ValueError, match="do not match"):
        refine_quad_ends(both, torch.tensor([2]), cell_quads, probs[:, :4])


def test_drop_duplicate_regions_keeps_the_largest_of_each_overlapping_group_in_order():
    def box(x0, y0, x1, y1):
        return torch.tensor([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=torch.float32)

    quads = torch.stack(
        [
            box(0, 0, 38, 10),  # "loan" ...
            box(100, 0, 140, 10),  # another word
            box(1, 0, 40, 10),  # ... and "loan:", the larger: kept
            box(0, 20, 40, 30),  # next image: alone
            box(50, 20, 60, 30),
        ]
    )
    conf = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5])
    kept, kept_conf, counts = drop_duplicate_regions(quads, conf, torch.tensor([3, 2]))
    assert counts.tolist() == [2, 2]
    assert torch.equal(kept, quads[[1, 2, 3, 4]]) and torch.equal(kept_conf, conf[[1, 2, 3, 4]])
    # Below the threshold both stay; an empty batch passes through.
    assert drop_duplicate_regions(quads, conf, torch.tensor([3, 2]), iou_threshold=0.99)[2].tolist() == [3, 2]
    empty = drop_duplicate_regions(quads[:0], conf[:0], torch.tensor([0]))
    assert empty[0].shape == (0, 4, 2) and empty[2].tolist() == [0]
    with pytest.raises(ValueError, match="iou_threshold"):
        drop_duplicate_regions(quads, conf, torch.tensor([3, 2]), iou_threshold=0.0)
    with pytest.raises(ValueError, match="region counts"):
        drop_duplicate_regions(quads, conf, torch.tensor([3]))

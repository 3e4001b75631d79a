"""Tests of textspotter.ops.gaps: regions for confident text that no merged quad covers."""

import math

import pytest
import torch

from textspotter.ops.gaps import fill_map_gaps, merge_line_overlaps


def _box(x0, y0, x1, y1):
    return torch.tensor([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=torch.float32)


def _line_map(width=40, height=8, row=3, columns=range(40), top=8.0, bottom=20.0, batch=1):
    """Cells of one text line on ``row`` (4-px cells): each predicts the line's top and bottom and its own 6 px."""
    probs = torch.zeros(batch, height, width)
    cells = torch.zeros(batch, height, width, 4, 2)
    for b in range(batch):
        for x in columns:
            px = 4 * x + 2
            probs[b, row, x] = 0.9
            cells[b, row, x] = _box(px - 3.0, top, px + 3.0, bottom)
    return cells, probs


def _spans(quads):
    return [(round(float(q[:, 0].min()), 1), round(float(q[:, 0].max()), 1)) for q in quads]


def test_a_gap_between_two_regions_of_a_line_gets_its_own_region_up_to_its_neighbours():
    cells, probs = _line_map()
    regions = torch.stack([_box(0, 8, 40, 20), _box(100, 8, 160, 20)])
    quads, conf, counts = fill_map_gaps(regions, torch.tensor([0.8, 0.7]), torch.tensor([2]), cells, probs)
    assert counts.tolist() == [3]
    assert torch.equal(quads[:2], regions) and conf[:2].tolist() == pytest.approx([0.8, 0.7])
    # The gap's cells are 10..24 (prior points 42..98): the region spans them up to its neighbours' ends, never
    # into them (OpenCV's fill also takes the cells that a quad's edge passes through: one cell of play).
    ((start, end),) = _spans(quads[2:])
    assert 40.0 <= start <= 44.0 and 96.0 <= end <= 100.0
    assert quads[2, :, 1].tolist() == pytest.approx([8.0, 8.0, 20.0, 20.0])  # top and bottom from the cells
    assert conf[2].item() == pytest.approx(0.9)


def test_a_line_end_reaches_past_the_map_by_the_reach_in_heights():
    cells, probs = _line_map(columns=range(10, 20))
    quads, _, counts = fill_map_gaps(torch.zeros(0, 4, 2), torch.zeros(0), torch.tensor([0]), cells, probs, reach=0.5)
    assert counts.tolist() == [1]
    # cells 10..19: prior points 42..78, half a cell beyond: 40..80, then 0.5 heights (6 px) further.
    assert _spans(quads) == [(34.0, 86.0)]


def test_covered_maps_and_overlapping_regions_add_nothing():
    cells, probs = _line_map()
    # Two overlapping regions over the whole line: an even-odd fill would uncover their overlap.
    regions = torch.stack([_box(0, 8, 100, 20), _box(60, 8, 160, 20)])
    quads, conf, counts = fill_map_gaps(regions, torch.ones(2), torch.tensor([2]), cells, probs)
    assert counts.tolist() == [2] and torch.equal(quads, regions) and conf.tolist() == [1.0, 1.0]


def test_cells_just_above_or_below_a_region_are_its_own():
    # The map's line (prior points at y = 14) lies 3 px above a region of 12 px: within a quarter of its height.
    cells, probs = _line_map()
    regions = _box(0, 17, 160, 29)[None]
    _, _, counts = fill_map_gaps(regions, torch.ones(1), torch.tensor([1]), cells, probs)
    assert counts.tolist() == [1]
    _, _, counts = fill_map_gaps(regions, torch.ones(1), torch.tensor([1]), cells, probs, cover_margin=0.0)
    assert counts.tolist() == [2]


def test_runs_shorter_than_a_character_are_dropped():
    cells, probs = _line_map(columns=range(10, 13))  # 12 px of map under a 12-px-high line: one height
    assert fill_map_gaps(torch.zeros(0, 4, 2), torch.zeros(0), torch.tensor([0]), cells, probs)[2].tolist() == [1]
    short, _, counts = fill_map_gaps(
        torch.zeros(0, 4, 2), torch.zeros(0), torch.tensor([0]), cells, probs, min_length=1.5
    )
    assert counts.tolist() == [0] and short.shape == (0, 4, 2)
    _, _, counts = fill_map_gaps(torch.zeros(0, 4, 2), torch.zeros(0), torch.tensor([0]), cells, probs, min_cells=4)
    assert counts.tolist() == [0]


def test_regions_stay_image_major_in_a_batch():
    cells, probs = _line_map(batch=3)
    probs[1] = 0.0  # nothing to add on the second image
    regions = torch.stack([_box(0, 8, 80, 20), _box(0, 8, 40, 20), _box(0, 8, 160, 20)])
    quads, _, counts = fill_map_gaps(regions, torch.ones(3), torch.tensor([1, 1, 1]), cells, probs)
    assert counts.tolist() == [2, 1, 1]
    assert torch.equal(quads[0], regions[0]) and torch.equal(quads[2], regions[1]) and torch.equal(quads[3], regions[2])
    ((start, end),) = _spans(quads[1:2])
    assert 80.0 <= start <= 84.0 and end == pytest.approx(163.6)  # past the map's end by 0.3 heights


def test_a_slanted_line_gets_a_slanted_region():
    angle = math.radians(10)
    cos, sin = math.cos(angle), math.sin(angle)
    probs = torch.zeros(1, 40, 60)
    cells = torch.zeros(1, 40, 60, 4, 2)
    for x in range(5, 45):
        y = int((20 + (4 * x + 2) * math.tan(angle)) // 4)
        px, py = 4 * x + 2, 4 * y + 2
        probs[0, y, x] = 0.9
        along, down = torch.tensor([cos, sin]), torch.tensor([-sin, cos])
        centre = torch.tensor([px, py], dtype=torch.float32)
        cells[0, y, x] = torch.stack([centre + a * along + d * down for a, d in ((-3, -6), (3, -6), (3, 6), (-3, 6))])
    quads, _, counts = fill_map_gaps(torch.zeros(0, 4, 2), torch.zeros(0), torch.tensor([0]), cells, probs)
    assert counts.tolist() == [1]
    top = quads[0, 1] - quads[0, 0]
    assert math.degrees(math.atan2(float(top[1]), float(top[0]))) == pytest.approx(10.0, abs=0.5)
    assert float(torch.linalg.norm(quads[0, 3] - quads[0, 0])) == pytest.approx(12.0, abs=0.5)


def test_bad_shapes_are_named():
    cells, probs = _line_map()
    with pytest.raises(ValueError, match="quads must be"):
        fill_map_gaps(torch.zeros(2, 4), torch.zeros(2), torch.tensor([2]), cells, probs)
    with pytest.raises(ValueError, match="do not match"):
        fill_map_gaps(torch.zeros(0, 4, 2), torch.zeros(0), torch.tensor([0]), cells, probs[:, :4])
    with pytest.raises(ValueError, match="counts"):
        fill_map_gaps(torch.zeros(1, 4, 2), torch.zeros(1), torch.tensor([2]), cells, probs)


def _merge(*boxes, counts=None, confidence=None):
    quads = torch.stack([_box(*b) for b in boxes])
    conf = torch.tensor(confidence if confidence is not None else [0.5] * len(boxes))
    return merge_line_overlaps(quads, conf, torch.tensor(counts or [len(boxes)]))


def test_overlapping_pieces_of_a_line_become_one_region_in_the_first_ones_place():
    quads, conf, counts = _merge((0, 0, 10, 10), (100, 0, 160, 20), (150, 1, 230, 21), confidence=[0.3, 0.6, 0.8])
    assert counts.tolist() == [2]
    assert torch.equal(quads[0], _box(0, 0, 10, 10))
    # Spans both pieces; top and bottom the length-weighted means (60 and 80 long).
    assert torch.allclose(quads[1], _box(100, 4 / 7, 230, 20 + 4 / 7))
    assert conf.tolist() == pytest.approx([0.3, 0.8])


def test_pieces_chain_transitively_but_touching_words_stay_apart():
    quads, _, counts = _merge((0, 0, 50, 20), (45, 0, 95, 20), (90, 0, 140, 20))
    assert counts.tolist() == [1] and _spans(quads) == [(0.0, 140.0)]
    # Touching, or overlapping by no more than a tenth of a height: two words.
    _, _, counts = _merge((0, 0, 50, 20), (50, 0, 90, 20), (88, 0, 120, 20))
    assert counts.tolist() == [3]


def test_a_share_of_the_shorter_piece_can_be_asked_too():
    pieces = torch.stack([_box(0, 0, 200, 20), _box(190, 0, 390, 20)])  # overlap 10 px: half a height, 5 % of each
    assert merge_line_overlaps(pieces, torch.ones(2), torch.tensor([2]))[2].tolist() == [1]
    assert merge_line_overlaps(pieces, torch.ones(2), torch.tensor([2]), min_share=0.25)[2].tolist() == [2]


def test_other_lines_sizes_and_directions_are_not_merged():
    assert _merge((0, 0, 50, 20), (40, 9, 90, 29))[2].tolist() == [2]  # overlap across the line under 60 %
    assert _merge((0, 0, 50, 20), (40, 0, 90, 32))[2].tolist() == [2]  # heights 20 and 32
    slanted = torch.tensor([[40.0, 0.0], [90.0, 20.0], [82.0, 40.0], [32.0, 20.0]])
    quads = torch.stack([_box(0, 0, 50, 20), slanted])
    assert merge_line_overlaps(quads, torch.ones(2), torch.tensor([2]))[2].tolist() == [2]


def test_merging_keeps_images_apart():
    quads, conf, counts = _merge((0, 0, 50, 20), (40, 0, 90, 20), (40, 0, 90, 20), counts=[2, 1])
    assert counts.tolist() == [1, 1] and quads.shape == (2, 4, 2) and conf.shape == (2,)
    empty = merge_line_overlaps(torch.zeros(0, 4, 2), torch.zeros(0), torch.tensor([0, 0]))
    assert empty[0].shape == (0, 4, 2) and empty[2].tolist() == [0, 0]
    with pytest.raises(ValueError, match="do not match"):
        merge_line_overlaps(torch.zeros(2, 4, 2), torch.zeros(2), torch.tensor([1]))


def test_overlapping_boxes_are_found_block_by_block_as_all_at_once():
    from textspotter.ops.gaps import _touching_pairs

    generator = torch.Generator().manual_seed(0)
    low = torch.rand(40, 2, generator=generator).numpy() * 100
    high = low + torch.rand(40, 2, generator=generator).numpy() * 20
    pairs = set()
    for i in range(40):
        for j in range(i + 1, 40):
            if (low[i] < high[j]).all() and (low[j] < high[i]).all():
                pairs.add((i, j))
    first, second = _touching_pairs(low, high, block=7)
    assert set(zip(first.tolist(), second.tolist())) == pairs and len(first) == len(pairs) > 0

"""Detection metrics: one-to-one matching at IoU 0.5 with known boxes, ignore regions, exact quad IoU."""

import numpy as np
import pytest

from textspotter.metrics.detection import DetectionCounts, match_quads, pairwise_iou


def box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_detection_f1_with_known_boxes():
    references = np.array([box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10)], dtype=np.float32)
    hypotheses = np.array(
        [
            box(0, 0, 10, 10),  # exact: IoU 1
            box(22, 0, 32, 10),  # IoU 80/120 = 0.667: a match
            box(46, 0, 56, 10),  # IoU 40/160 = 0.25: no match
            box(100, 100, 110, 110),  # nothing there
        ],
        dtype=np.float32,
    )
    matching = match_quads(references, hypotheses)
    assert matching.pairs == ((0, 0), (1, 1))
    assert matching.counts == DetectionCounts(true_positives=2, false_positives=2, false_negatives=1)
    rates = matching.counts.rates()
    assert rates["precision"] == pytest.approx(2 / 4)
    assert rates["recall"] == pytest.approx(2 / 3)
    assert rates["f1"] == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))


def test_matching_is_one_to_one_and_prefers_higher_iou():
    references = np.array([box(0, 0, 10, 10)])
    hypotheses = np.array([box(1, 0, 11, 10), box(0, 0, 10, 10)])
    matching = match_quads(references, hypotheses)
    assert matching.pairs == ((0, 1),)
    assert matching.counts == DetectionCounts(1, 1, 0)


def test_iou_threshold_is_inclusive():
    # A square and its 45-degree diamond inscribed in it: the diamond is half the area, IoU exactly 0.5.
    square = np.array([box(0, 0, 10, 10)], dtype=np.float64)
    diamond = np.array([[[5, 0], [10, 5], [5, 10], [0, 5]]], dtype=np.float64)
    assert pairwise_iou(square, diamond)[0, 0] == pytest.approx(0.5)
    assert match_quads(square, diamond).counts.true_positives == 1
    assert match_quads(square, diamond, iou_threshold=0.51).counts.true_positives == 0


def test_rotated_quads_use_polygon_iou_not_boxes():
    # Two thin diagonal bars crossing in an X: their bounding boxes coincide (box IoU 1), the bars barely touch.
    bar = np.array([[[0, 1], [1, 0], [10, 9], [9, 10]]], dtype=np.float64)
    crossing = np.array([[[9, 0], [10, 1], [1, 10], [0, 9]]], dtype=np.float64)
    iou = pairwise_iou(bar, crossing)[0, 0]
    assert 0 < iou < 0.2


def test_ignored_references_are_neither_missed_nor_false_positives():
    references = np.array([box(0, 0, 10, 10), box(20, 0, 30, 10)])
    hypotheses = np.array([box(0, 0, 10, 10), box(20, 0, 30, 10)])
    matching = match_quads(references, hypotheses, ignore=[False, True])
    assert matching.counts == DetectionCounts(true_positives=1, false_positives=0, false_negatives=0)
    assert matching.pairs == ((0, 0),) and matching.on_ignored == (1,)
    # An ignored reference nobody found is not a miss either.
    matching = match_quads(references, hypotheses[:1], ignore=[False, True])
    assert matching.counts == DetectionCounts(1, 0, 0)


def test_empty_pages():
    empty = np.zeros((0, 4, 2))
    assert match_quads(empty, empty).counts.rates() == {"precision": None, "recall": None, "f1": None}
    counts = match_quads(np.array([box(0, 0, 1, 1)]), empty).counts
    assert counts == DetectionCounts(0, 0, 1)
    assert counts.rates()["recall"] == 0.0 and counts.rates()["f1"] == 0.0


def test_counts_add_up_over_pages():
    total = DetectionCounts(2, 1, 0) + DetectionCounts(0, 0, 3)
    assert total == DetectionCounts(2, 1, 3)
    assert total.rates()["f1"] == pytest.approx(4 / 8)


def test_bad_inputs_are_reported():
    with pytest.raises(ValueError, match=r"\[N, 4, 2\]"):
        match_quads(np.zeros((2, 3, 2)), np.zeros((0, 4, 2)))
    with pytest.raises(ValueError, match="ignore"):
        match_quads(np.array([box(0, 0, 1, 1)]), np.array([box(0, 0, 1, 1)]), ignore=[True, False])
    with pytest.raises(ValueError, match="iou_threshold"):
        match_quads(np.array([box(0, 0, 1, 1)]), np.array([box(0, 0, 1, 1)]), iou_threshold=0)

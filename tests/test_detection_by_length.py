"""benchmarks/detection_by_length.py: words by length; a reference box matched, inside a larger box, or missed."""

from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "detection_by_length.py"


@pytest.fixture(scope="module")
def probe(load_script):
    return load_script(SCRIPT, "detection_by_length")


def test_length_classes(probe):
    texts = ("a", "−", "of", "the", "word", "2024")
    assert [probe.length_class(t) for t in texts] == ["1", "1", "2-3", "2-3", "4+", "4+"]


def test_a_reference_box_is_matched_inside_a_larger_box_or_missed(probe):
    box = np.array([10.0, 10.0, 20.0, 30.0])
    assert probe.outcome(box, np.zeros((0, 4))) == "missed"
    assert probe.outcome(box, np.array([[11.0, 10.0, 21.0, 30.0]])) == "matched"  # IoU 0.82
    assert probe.outcome(box, np.array([[0.0, 10.0, 80.0, 30.0]])) == "inside"  # merged with its neighbours
    assert probe.outcome(box, np.array([[16.0, 10.0, 60.0, 30.0]])) == "missed"  # covers 40 % of it
    assert probe.outcome(box, np.array([[40.0, 40.0, 50.0, 50.0], [11.0, 10.0, 21.0, 30.0]])) == "matched"


def test_manifest_pages_skip_ignored_words(probe, tmp_path):
    from textspotter.data.manifest import read_manifest
    from textspotter.data.toy import write_toy_dataset

    folder = write_toy_dataset(tmp_path / "toy", pages=2, seed=3)
    pages = list(probe.pages(str(folder), tmp_path, limit=1))
    assert len(pages) == 1
    path, words = pages[0]
    first = next(iter(read_manifest(folder)))
    kept = [w for w in first.words if not w.ignore]
    assert path == folder / first.image and [t for t, _ in words] == [w.text for w in kept]
    x0, y0, x1, y1 = words[0][1]
    quad = np.asarray(kept[0].quad)
    assert (x0, y0, x1, y1) == (quad[:, 0].min(), quad[:, 1].min(), quad[:, 0].max(), quad[:, 1].max())

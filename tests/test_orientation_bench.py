"""benchmarks/orientation.py: the decisions of recorded scores replayed at other floors."""

from pathlib import Path

import pytest

from textspotter.pipeline.orientation import OrientationOptions

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "orientation.py"


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script(SCRIPT, "orientation_bench")


def _record(turned, scores, shares=None):
    return {
        "turned": turned,
        "right": (360 - turned) % 360,
        "scores": {str(k): v for k, v in scores.items()},
        "word_shares": {str(k): v for k, v in (shares or dict.fromkeys(scores, 1.0)).items()},
    }


def test_replay_counts_right_missed_and_wrong_decisions_per_floor(bench):
    records = [
        _record(0, {0: 0.80, 180: 0.39, 90: 0.30, 270: 0.25}),  # upright, clear
        _record(180, {0: 0.39, 180: 0.63, 90: 0.47, 270: 0.22}),  # upside down: the half turn reads 0.63
        _record(90, {0: 0.26, 180: 0.20, 90: 0.45, 270: 0.68}),  # sideways: 270 reads 0.68
        _record(0, {0: 0.58, 180: 0.30, 90: 0.71, 270: 0.20}, {0: 0.9, 180: 0.9, 90: 0.0, 270: 0.0}),  # no words at 90
        {"image": "skipped: no regions", "turned": 0, "right": 0, "scores": None},
    ]
    options = OrientationOptions()
    english = bench.replay(records, 0.7, options)
    assert english == {"right": 2, "pages": 4, "wrong_turns": 0, "missed": 2, "quarter_turn_passes": 3}
    lower = bench.replay(records, 0.6, options)
    assert lower == {"right": 4, "pages": 4, "wrong_turns": 0, "missed": 0, "quarter_turn_passes": 3}
    # Below the upright page's 0.58 its quarter turns are not tried (the 90-degree read has no words anyway).
    assert bench.replay(records, 0.5, options)["quarter_turn_passes"] == 2

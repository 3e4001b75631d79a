"""benchmarks/assembly_speed.py: cached pages become readings that assemble into the same words again."""

import json
from pathlib import Path

import numpy as np
import pytest

from textspotter.pipeline.assemble import PageReadings, assemble_page

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "assembly_speed.py"


@pytest.fixture(scope="module")
def speed(load_script):
    return load_script(SCRIPT, "assembly_speed")


def _page_dict():
    quads, texts = [], []
    for row in range(3):
        for col in range(4):
            x, y = 20 + 60 * col, 20 + 30 * row
            quads.append([[x, y], [x + 50, y], [x + 50, y + 20], [x, y + 20]])
            texts.append(f"w{row}{col}")
    readings = PageReadings(
        texts=texts,
        quads=np.array(quads, dtype=np.float32),
        detection_confidence=np.full(12, 0.9, dtype=np.float32),
        text_confidence=np.full(12, 0.95, dtype=np.float32),
        groups=[[[0, 1, 2, 3]], [[4, 5, 6, 7], [8, 9, 10, 11]]],
        width=300,
        height=120,
    )
    return assemble_page(readings).to_dict()


def test_a_cached_page_assembles_into_the_same_text(speed, tmp_path):
    page = _page_dict()
    folder = tmp_path / "cache" / "textspotter" / "ab"
    folder.mkdir(parents=True)
    (folder / "abcd.json").write_text(json.dumps({"page": page}), encoding="utf-8")
    (readings,) = speed.cached_readings([tmp_path / "cache"], limit=10)
    assert len(readings.texts) == 12 and sum(len(line) for p in readings.groups for line in p) == 12
    again = assemble_page(readings).to_dict()
    words = [[w["text"] for line in p["lines"] for w in line["words"]] for p in again["paragraphs"]]
    assert words == [[w["text"] for line in p["lines"] for w in line["words"]] for p in page["paragraphs"]]
    assert speed.cpu_ms_per_page([readings], speed.OPTION_SETS["default"], repeats=2) > 0


def test_the_script_prints_a_row_per_option_set(speed, tmp_path, capsys):
    folder = tmp_path / "cache" / "textspotter" / "ab"
    folder.mkdir(parents=True)
    (folder / "abcd.json").write_text(json.dumps({"page": _page_dict()}), encoding="utf-8")
    assert speed.main([str(tmp_path / "cache"), "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "pages: 1, 12 words each" in out and "| default |" in out and "| paragraphs |" in out
    with pytest.raises(SystemExit):
        speed.main([str(tmp_path / "empty")])

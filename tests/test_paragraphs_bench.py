"""benchmarks/paragraphs.py: paragraph breaks of the assembly against the text layer's paragraphs."""

import json
from pathlib import Path

import numpy as np
import pytest

from textspotter.pipeline.assemble import PageReadings

SCRIPTS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def probe(load_script):
    return load_script(SCRIPTS / "paragraphs.py", "paragraphs_bench")


@pytest.fixture(scope="module")
def assembly_ab(load_script):
    return load_script(SCRIPTS / "assembly_ab.py", "assembly_ab")


def _box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_decisions_between_consecutive_lines_are_counted_against_the_reference(probe):
    # (paragraph read, reference paragraph, text) per line in reading order.
    lines = [(0, 0, "a"), (0, 0, "b"), (1, 0, "c"), (2, 1, "d"), (2, 2, "e"), (2, -1, "f")]
    counts, decisions = probe.score_page(lines)
    assert (counts.kept_together, counts.false_break, counts.true_break, counts.false_join) == (1, 1, 1, 1)
    assert counts.unmatched == 1 and decisions == {0: True, 1: False, 2: False, 3: True}
    assert counts.row("x") == "| x | 1 | 1 | 1 | 1 | 50.00 | 50.00 | 50.00 |"


def test_a_paragraph_continued_by_the_assembly_is_scored_as_a_right_join(probe, assembly_ab, tmp_path, capsys):
    # Reference: one paragraph of three lines. Readings: the relational model left the last line on its own.
    boxes = [(0, 0, 40, 10), (45, 0, 100, 10), (105, 0, 190, 10), (0, 14, 40, 24), (45, 14, 100, 24)]
    boxes += [(105, 14, 190, 24), (0, 28, 50, 38), (55, 28, 100, 38)]
    texts = ["The", "library", "welcomed", "Most", "came", "the", "evening", "classes."]
    record = {
        "id": "page-1",
        "words": [{"text": t, "quad": _box(*b)} for t, b in zip(texts, boxes)],
        "lines": [{"words": [0, 1, 2]}, {"words": [3, 4, 5]}, {"words": [6, 7]}],
        "paragraphs": [{"lines": [0, 1, 2]}],
    }
    folder = tmp_path / "bench" / "en" / "dev"
    folder.mkdir(parents=True)
    (folder / "manifest.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    readings = PageReadings(
        texts=texts,
        quads=np.array([_box(*b) for b in boxes], dtype=np.float32),
        detection_confidence=np.full(8, 0.9, dtype=np.float32),
        text_confidence=np.full(8, 0.95, dtype=np.float32),
        groups=[[[0, 1, 2], [3, 4, 5]], [[6, 7]]],
        width=200,
        height=100,
    )
    keep = tmp_path / "keep"
    assembly_ab.save_readings(keep / assembly_ab.kept_name("page-1"), readings, "default", "page-1")
    argv = ["--root", str(tmp_path / "bench"), "--dataset", "en", "--keep", str(keep)]
    assert probe.main([*argv, "--set", "continue_paragraphs=false"]) == 0
    out = capsys.readouterr().out
    assert "| continue_paragraphs=False | 1 | 0 | 1 | 0 |" in out
    assert "| defaults | 2 | 0 | 0 | 0 |" in out
    assert "page-1: joined (right)" in out

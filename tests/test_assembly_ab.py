"""benchmarks/assembly_ab.py: two assembly settings compared on readings of one read per page."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from test_corpus_pages import _pages
from textspotter.models import create_model, save_model

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "assembly_ab.py"


@pytest.fixture(scope="module")
def probe(load_script):
    return load_script(SCRIPT, "assembly_ab")


def test_settings_are_parsed_as_assembly_options_fields(probe):
    assert probe.parse_setting("number_columns=false") == ("number_columns", False)
    assert probe.parse_setting("join_gap=none") == ("join_gap", None)
    assert probe.parse_setting("split_gap=1.5") == ("split_gap", 1.5)
    assert probe.parse_setting("order=paragraphs") == ("order", "paragraphs")
    with pytest.raises(argparse.ArgumentTypeError, match="AssemblyOptions"):
        probe.parse_setting("no_such_field=1")


def test_each_page_is_read_once_and_scored_under_both_settings(probe, tmp_path, capsys):
    _pages(tmp_path / "bench" / "xx" / "dev", 3)
    model = save_model(create_model("tiny-test"), tmp_path / "tiny")
    argv = ["--root", str(tmp_path / "bench"), "--dataset", "xx", "--pages", "2", "--model", str(model)]
    assert probe.main([*argv, "--set", "number_columns=false"]) == 0
    out = capsys.readouterr().out
    assert "xx baseline (number_columns=False): NED" in out and "xx default (defaults): NED" in out
    assert "pages 2, changed 0" in out


def test_kept_readings_of_pages_with_dots_in_their_ids_do_not_share_a_file(probe, tmp_path):
    assert probe.kept_name("python3.11-doc-2c6c19203b-p0002") == "python3.11-doc-2c6c19203b-p0002.npz"
    assert probe.kept_name("python3.11-doc-77aa-p0001") != probe.kept_name("python3.11-doc-2c6c19203b-p0002")
    assert probe.kept_name("scans/8087_054.3B.tif") == "8087_054.3B.npz"
    assert probe.kept_name("1_ori.JPG") == "1_ori.npz"
    readings = probe.PageReadings(
        texts=["a"],
        quads=np.array([[[0, 0], [4, 0], [4, 4], [0, 4]]], dtype=np.float32),
        detection_confidence=np.array([0.9], dtype=np.float32),
        text_confidence=np.array([0.9], dtype=np.float32),
        groups=[[[0]]],
        width=8,
        height=8,
        index=0,
    )
    path = tmp_path / "p.npz"
    probe.save_readings(path, readings, "m", "page-1")
    assert probe.load_readings(path, "m", "page-1").texts == ["a"]
    with pytest.raises(SystemExit, match="readings of page 'page-1', not 'page-2'"):
        probe.load_readings(path, "m", "page-2")


def test_kept_readings_are_assembled_again_without_reading(probe, tmp_path, capsys, monkeypatch):
    _pages(tmp_path / "bench" / "xx" / "dev", 2)
    model = save_model(create_model("tiny-test"), tmp_path / "tiny")
    keep = tmp_path / "kept"
    argv = ["--root", str(tmp_path / "bench"), "--dataset", "xx", "--pages", "2", "--model", str(model)]
    argv += ["--keep", str(keep), "--set", "join_gap=none"]
    assert probe.main(argv) == 0
    first = capsys.readouterr().out
    assert len(list(keep.glob("*.npz"))) == 2

    def no_reading(*args, **kwargs):
        raise AssertionError("a kept page was read again")

    monkeypatch.setattr(probe, "OCR", no_reading)
    assert probe.main(argv) == 0
    assert capsys.readouterr().out == first
    with pytest.raises(SystemExit, match="readings of model"):
        probe.main([*argv[:-4], "--model", "another", *argv[-4:]])


def test_scores_of_one_code_are_compared_with_another_page_by_page(probe, tmp_path, capsys):
    _pages(tmp_path / "bench" / "xx" / "dev", 2)
    model = save_model(create_model("tiny-test"), tmp_path / "tiny")
    argv = ["--root", str(tmp_path / "bench"), "--dataset", "xx", "--pages", "2", "--model", str(model)]
    argv += ["--keep", str(tmp_path / "kept"), "--set", "join_gap=none"]
    scores = tmp_path / "old.json"
    assert probe.main([*argv, "--scores", str(scores)]) == 0
    assert len(json.loads(scores.read_text(encoding="utf-8"))) == 2
    capsys.readouterr()
    assert probe.main([*argv, "--against", str(scores)]) == 0
    out = capsys.readouterr().out
    assert "| ned | 2 |" in out and "+0.00 | [+0.00, +0.00] | 0 / 0 |" in out

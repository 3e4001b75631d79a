"""benchmarks/corpus_pages.py: per-page scores of a model on corpus bench pages, detection steps switchable."""

import json
from pathlib import Path

import pytest
from PIL import Image

from textspotter.data.manifest import (
    LineAnnotation,
    PageAnnotation,
    ParagraphAnnotation,
    WordAnnotation,
    write_manifest,
)
from textspotter.models import create_model, save_model

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus_pages.py"


@pytest.fixture(scope="module")
def probe(load_script):
    return load_script(SCRIPT, "corpus_pages")


def _pages(folder, count):
    pages = []
    for k in range(count):
        (folder / "images").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (96, 64), "white").save(folder / "images" / f"p{k}.png")
        word = WordAnnotation("word", [[10, 10], [50, 10], [50, 20], [10, 20]])
        pages.append(
            PageAnnotation(
                id=f"p{k}",
                image=f"images/p{k}.png",
                width=96,
                height=64,
                words=[word],
                lines=[LineAnnotation([0])],
                paragraphs=[ParagraphAnnotation([0])],
                language="xx",
            )
        )
    write_manifest(folder, pages)


def test_pages_are_scored_and_their_texts_written(probe, tmp_path, capsys):
    _pages(tmp_path / "bench" / "xx" / "dev", 3)
    model = save_model(create_model("tiny-test"), tmp_path / "tiny")
    texts = tmp_path / "texts.jsonl"
    argv = ["--root", str(tmp_path / "bench"), "--language", "xx", "--pages", "2", "--model", str(model)]
    assert probe.main([*argv, "--fill-gaps", "on", "--merge-lines", "off", "--texts", str(texts)]) == 0
    rows = [json.loads(line) for line in texts.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["p0", "p1"]  # the first two pages only
    assert all(row["ref"] == "word" and 0.0 <= row["ned"] <= 1.0 for row in rows)
    assert "mean over 2 pages" in capsys.readouterr().out


def test_a_missing_split_is_named(probe, tmp_path, capsys):
    with pytest.raises(SystemExit):
        probe.main(["--root", str(tmp_path), "--language", "xx"])
    assert "corpus_bench.py --build-only" in capsys.readouterr().err

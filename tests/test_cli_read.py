"""Tests of ``textspotter read`` through ``textspotter.cli.main.main``, with a saved tiny-test model folder."""

import json

import numpy as np
import pytest
from PIL import Image

import textspotter.models.checkpoints as checkpoints
from test_pipeline_fakes import DarkBoxDetector, page_with_boxes, read_always
from textspotter.cli.main import main
from textspotter.models import create_model, save_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_model(create_model("tiny-test"), tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture
def boxes_model(monkeypatch):
    """Make loaded models see the dark rectangles of a page as text (the random tiny detector finds none)."""
    load = checkpoints.load_model

    def load_with_fake_detector(path, **kwargs):
        model = load(path, **kwargs)
        model.detector = DarkBoxDetector(model.detector)
        read_always(model, "ok")
        return model

    monkeypatch.setattr(checkpoints, "load_model", load_with_fake_detector)


@pytest.fixture
def pages(tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    Image.fromarray(page_with_boxes(300, 400, [(20, 20, 200, 60), (20, 100, 300, 140)])).save(folder / "a.png")
    Image.fromarray(page_with_boxes(300, 300, [(50, 50, 250, 90)])).save(folder / "b.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _stdout_json_lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_json_prints_the_published_dicts_per_page(model_dir, boxes_model, pages, capsys):
    status = main(["read", str(pages / "a.png"), "--model", str(model_dir), "--level", "word", "--device", "cpu"])
    assert status == 0
    (record,) = _stdout_json_lines(capsys)
    assert record["source"] == str(pages / "a.png") and record["page"] == 0
    assert [item["text"] for item in record["results"]] == ["ok", "ok"]
    assert all(set(item) == {"text", "confidence", "left", "upper", "right", "lower"} for item in record["results"])


def test_directories_and_globs_expand(model_dir, pages, capsys):
    assert main(["read", str(pages), "--model", str(model_dir)]) == 0
    sources = [record["source"] for record in _stdout_json_lines(capsys)]
    assert sources == [str(pages / "a.png"), str(pages / "b.jpg")]  # notes.txt is skipped
    assert main(["read", str(pages / "*.jpg"), "--model", str(model_dir)]) == 0
    assert [record["source"] for record in _stdout_json_lines(capsys)] == [str(pages / "b.jpg")]
    assert main(["read", str(pages / "*.gif"), "--model", str(model_dir)]) == 1
    assert "no file matches" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("text", ".txt"), ("markdown", ".md"), ("hocr", ".hocr"), ("alto", ".xml")]
)
def test_formats_written_to_a_folder(model_dir, boxes_model, pages, tmp_path, fmt, suffix):
    out = tmp_path / "out"
    assert main(["read", str(pages), "--model", str(model_dir), "--format", fmt, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"a{suffix}", f"b{suffix}"]
    assert all("ok" in p.read_text(encoding="utf-8") for p in out.iterdir())


def test_document_format_and_overlay(model_dir, boxes_model, pages, tmp_path):
    out = tmp_path / "out"
    args = ["read", str(pages / "a.png"), "--model", str(model_dir), "--format", "document", "--out", str(out)]
    assert main([*args, "--overlay", "--level", "sentence"]) == 0
    document = json.loads((out / "a.json").read_text(encoding="utf-8"))
    assert document["source"] == str(pages / "a.png") and document["pages"][0]["width"] == 400
    overlay = Image.open(out / "a.overlay.png")
    assert overlay.size == (400, 300)
    original = np.asarray(Image.open(pages / "a.png").convert("RGB"))
    assert (np.asarray(overlay.convert("RGB")) != original).any()  # something was drawn


def test_bad_input_is_reported_and_the_others_still_run(model_dir, pages, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    missing = tmp_path / "missing.png"
    status = main(["read", str(pages / "a.png"), str(broken), str(missing), "--model", str(model_dir)])
    captured = capsys.readouterr()
    assert status == 1
    assert [json.loads(line)["source"] for line in captured.out.splitlines()] == [str(pages / "a.png")]
    assert "broken.png" in captured.err and "missing.png" in captured.err


def test_several_pages_show_a_progress_bar(model_dir, pages, tmp_path, capsys):
    pdf = tmp_path / "two.pdf"
    first, second = Image.open(pages / "a.png"), Image.open(pages / "b.jpg")
    first.save(pdf, save_all=True, append_images=[second], resolution=72)
    assert main(["read", str(pdf), "--model", str(model_dir), "--dpi", "72", "--batch-size", "1"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["page"] for line in captured.out.splitlines()] == [0, 1]
    assert "page" in captured.err  # tqdm's counter on stderr


def test_startup_errors_exit_with_2(tmp_path, pages, capsys):
    assert main(["read", str(pages / "a.png"), "--model", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["read", str(pages / "a.png"), "--model", str(tmp_path), "--batch-size", "0"]) == 2
    assert "batch_size" in capsys.readouterr().err
    assert main(["read", str(pages / "a.png"), "--model", str(tmp_path), "--infer-length", "100"]) == 2
    assert "infer_length" in capsys.readouterr().err


def test_infer_length_flag_reads_at_another_size(model_dir, boxes_model, pages, capsys):
    args = ["read", str(pages / "a.png"), "--model", str(model_dir), "--level", "word", "--device", "cpu"]
    assert main([*args, "--infer-length", "384"]) == 0
    (record,) = _stdout_json_lines(capsys)
    assert [item["text"] for item in record["results"]] == ["ok", "ok"]


def test_reading_order_flag_reaches_the_pipeline(pages, monkeypatch, capsys):
    import textspotter.pipeline

    seen = {}

    def fake_ocr(**kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(textspotter.pipeline, "OCR", fake_ocr)
    assert main(["read", str(pages / "a.png"), "--reading-order", "paragraphs"]) == 2
    assert seen["assembly"].order == "paragraphs" and "stop here" in capsys.readouterr().err
    assert main(["read", str(pages / "a.png")]) == 2
    assert seen["assembly"].order == "lines"
    assert seen["scale"].fit_text is True
    assert main(["read", str(pages / "a.png"), "--no-fit-text"]) == 2
    assert seen["scale"].fit_text is False
    assert seen["detection"].precision == "model"
    assert main(["read", str(pages / "a.png"), "--precision", "bf16"]) == 2
    assert seen["detection"].precision == seen["recognition"].precision == "bf16"

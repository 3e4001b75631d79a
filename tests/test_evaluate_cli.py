"""``textspotter eval`` and ``textspotter bench`` end to end on a one-image dataset (Tesseract; skipped if missing)."""

import json
import os
import shutil

import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from textspotter.cli.main import main

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    # The commands pin thread counts process-wide; give the other tests their settings back afterwards.
    for variable in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(variable, os.environ.get(variable, "2"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_page(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    image = Image.new("RGB", (520, 90), "white")
    font = ImageFont.truetype(FONT, 40) if os.path.exists(FONT) else ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((20, 20), "Hello world 2024", fill="black", font=font)
    image.save(folder / "hello.png")
    (folder / "hello.txt").write_text("Hello world 2024\n", encoding="utf-8")
    return folder


def needs_tesseract():
    try:
        import tesserocr  # noqa: F401
    except ImportError:
        if shutil.which("tesseract") is None:
            pytest.skip("Tesseract is not installed")


def test_eval_prints_a_table_and_writes_json(one_page, tmp_path, capsys):
    needs_tesseract()
    out = tmp_path / "result.json"
    code = main(
        [
            "eval",
            "--dataset",
            str(one_page),
            "--engine",
            "tesseract",
            "--cache",
            str(tmp_path / "c"),
            "--json",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "| data | tesseract | 1 | 0.00 | 0.00 |" in captured.out
    assert "[tesseract / data] 1/1 hello.png" in captured.err
    assert json.loads(out.read_text())["results"][0]["metrics"]["cer"] == 0.0
    # Second run: from the cache.
    assert main(["eval", "--dataset", str(one_page), "--engine", "tesseract", "--cache", str(tmp_path / "c")]) == 0
    assert "(cached)" in capsys.readouterr().err


def test_bench_writes_report_json_and_charts(one_page, tmp_path, capsys):
    needs_tesseract()
    output = tmp_path / "bench"
    code = main(
        [
            "bench",
            "--datasets",
            f"folder:{one_page}",
            "--engines",
            "tesseract",
            "--no-cache",
            "--quiet",
            "--output",
            str(output),
            "--note",
            "test run",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    report = (output / "bench.md").read_text(encoding="utf-8")
    assert report == captured.out
    assert "- **threads:** 1 per engine" in report and "- **note:** test run" in report
    assert json.loads((output / "bench.json").read_text())["results"][0]["engine"] == "tesseract"
    if "matplotlib" in captured.err:
        pytest.skip("matplotlib is not installed: no charts")
    assert (output / "charts" / "cer.png").is_file()


def test_bench_folds_quotes_when_asked(one_page, tmp_path, capsys):
    # The option reaches the scoring and the report says so (the folding itself: tests/test_metrics_text.py).
    needs_tesseract()
    args = ["bench", "--datasets", f"folder:{one_page}", "--engines", "tesseract", "--quiet", "--no-charts"]
    assert main([*args, "--no-cache", "--output", str(tmp_path / "b"), "--fold-quotes"]) == 0
    report = capsys.readouterr().out
    assert "typographic quotes and apostrophes scored as ASCII ones" in report
    assert main([*args, "--no-cache", "--output", str(tmp_path / "c")]) == 0
    assert "typographic quotes" not in capsys.readouterr().out


def test_user_errors_exit_with_code_2(tmp_path, capsys):
    assert main(["eval", "--dataset", str(tmp_path / "missing"), "--engine", "tesseract"]) == 2
    assert "dataset not found" in capsys.readouterr().err
    assert main(["bench", "--datasets", str(tmp_path), "--engines", "nonesuch", "--no-cache"]) == 2
    assert "unknown engine 'nonesuch'" in capsys.readouterr().err
    assert main(["eval", "--dataset", str(tmp_path), "--engine", "tesseract", "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err


def test_unavailable_engine_is_skipped_by_bench(one_page, tmp_path, capsys):
    code = main(
        [
            "bench",
            "--datasets",
            str(one_page),
            "--engines",
            "textspotter",
            "--model",
            str(tmp_path / "no-model"),
            "--no-cache",
            "--quiet",
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert code == 3
    assert "skipping textspotter" in capsys.readouterr().err


def test_scale_flags_reach_the_textspotter_engine():
    import argparse

    from textspotter.cli.eval import add_arguments, engine_options

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--dataset", "docbank", "--engine", "textspotter"]
    options = engine_options("textspotter", parser.parse_args(base))
    assert options.fit_text is True and options.infer_length is None
    options = engine_options("textspotter", parser.parse_args([*base, "--no-fit-text", "--infer-length", "1024"]))
    assert options.fit_text is False and options.infer_length == 1024
    assert options.precision == "auto"
    assert engine_options("textspotter", parser.parse_args([*base, "--precision", "bf16"])).precision == "bf16"

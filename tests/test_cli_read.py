"""Tests of ``textspotter read`` through ``textspotter.cli.main.main``, with a saved tiny-test model folder."""

import json
import os

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
    document = json.loads((out / "a.document.json").read_text(encoding="utf-8"))
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
    assert seen["assembly"].order == "lines" and seen["assembly"].valid_confidence is None  # the model's
    assert main(["read", str(pages / "a.png"), "--valid-confidence", "0.3"]) == 2
    assert seen["assembly"].valid_confidence == 0.3
    for bad in ("1", "-0.1", "half"):
        with pytest.raises(SystemExit):
            main(["read", str(pages / "a.png"), "--valid-confidence", bad])
    assert seen["scale"].fit_text is True
    assert main(["read", str(pages / "a.png"), "--no-fit-text"]) == 2
    assert seen["scale"].fit_text is False
    assert seen["detection"].precision == "auto"
    assert main(["read", str(pages / "a.png"), "--precision", "bf16"]) == 2
    assert seen["detection"].precision == seen["recognition"].precision == seen["relation"].precision == "bf16"


# ----------------------------------------------------------------------------------------------------------------
# Output folders, write failures, streaming, option hints, encrypted PDFs (issue #17)


def test_an_output_folder_that_cannot_be_made_stops_before_any_work(pages, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a regular file, so nothing can be created under it (also as root)")
    # The model folder does not exist either: the output is checked first, before any model is loaded.
    args = ["read", str(pages / "a.png"), "--model", str(tmp_path / "nowhere"), "--out", str(blocker / "sub")]
    assert main(args) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"textspotter read: error: --out {blocker / 'sub'}: cannot create this folder")


def test_overlays_beside_an_unwritable_input_folder_stop_before_any_work(pages, tmp_path, monkeypatch, capsys):
    import errno

    import textspotter.cli.outputs as outputs

    def read_only(**kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(outputs.tempfile, "mkstemp", read_only)
    assert main(["read", str(pages / "a.png"), "--model", str(tmp_path / "nowhere"), "--overlay"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"--overlay: {pages}: cannot write in this folder (Read-only file system)" in line and "--out DIR" in line


@pytest.fixture
def full_disk_for(monkeypatch):
    """Make every file whose name starts with one of the given prefixes fail like a full disk, half written."""
    import errno

    import textspotter.cli.outputs as outputs

    prefixes: list[str] = []

    class HalfWritten:
        def __init__(self, handle):
            self._handle = handle

        def write(self, data):
            self._handle.write(data[: len(data) // 2])
            self._handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self._handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._handle.close()

    def open_on_a_full_disk(path, mode="r", **kwargs):
        handle = open(path, mode, **kwargs)  # noqa: SIM115 - returned to the code under test
        return HalfWritten(handle) if os.path.basename(path).startswith(tuple(prefixes)) else handle

    monkeypatch.setattr(outputs, "open", open_on_a_full_disk, raising=False)
    return prefixes


@pytest.mark.parametrize("fmt", ["json", "text", "document", "hocr", "pdf"])
def test_a_full_disk_is_reported_by_name_and_the_other_inputs_are_written(
    model_dir, boxes_model, pages, tmp_path, full_disk_for, fmt, capsys
):
    full_disk_for.append("a.")
    out = tmp_path / "out"
    args = ["read", str(pages), "--model", str(model_dir), "--format", fmt, "--out", str(out), "--overlay"]
    assert main(args) == 1
    err = capsys.readouterr().err
    suffix = {"json": ".json", "text": ".txt", "document": ".document.json", "hocr": ".hocr", "pdf": ".pdf"}[fmt]
    assert f"cannot write {out / ('a' + suffix)}: No space left on device" in err
    assert f"cannot write {out / 'a.overlay.png'}: No space left on device" in err
    assert "Traceback" not in err
    # No truncated file: neither under the final name nor as a leftover .partial.
    assert sorted(p.name for p in out.iterdir()) == sorted([f"b{suffix}", "b.overlay.png"])
    if fmt == "pdf":
        assert _pdf_lines(out / "b.pdf") == [["ok"]]
    else:
        assert "ok" in (out / f"b{suffix}").read_text(encoding="utf-8")


def _three_page_pdf(pages, path):
    first, second = Image.open(pages / "a.png"), Image.open(pages / "b.jpg")
    first.save(path, save_all=True, append_images=[second, first], resolution=72)
    return path


def _interrupt_on_page(monkeypatch, index):
    """Make the pipeline stop, as a kill would, when it reaches the page ``index``."""
    from textspotter.pipeline.ocr import OCR

    read_pages = OCR._read_pages

    def read_until(self, pages, load_times):
        if any(page.index == index for page in pages):
            raise KeyboardInterrupt
        return read_pages(self, pages, load_times)

    monkeypatch.setattr(OCR, "_read_pages", read_until)


def test_pages_are_written_as_they_are_read(model_dir, boxes_model, pages, tmp_path, monkeypatch, capsys):
    pdf = _three_page_pdf(pages, tmp_path / "long.pdf")
    _interrupt_on_page(monkeypatch, 2)
    out = tmp_path / "out"
    common = [str(pdf), "--model", str(model_dir), "--dpi", "72", "--batch-size", "1"]
    assert main(["read", *common, "--out", str(out)]) == 130
    # The first two pages are on disk, in a file whose name says that it is incomplete.
    assert sorted(p.name for p in out.iterdir()) == ["long.json.partial"]
    lines = (out / "long.json.partial").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["page"] for line in lines] == [0, 1]
    capsys.readouterr()
    assert main(["read", *common]) == 130
    assert [record["page"] for record in _stdout_json_lines(capsys)] == [0, 1]


def test_streamed_files_equal_the_whole_document_views(model_dir, boxes_model, pages, tmp_path):
    from textspotter.export import to_markdown, to_text
    from textspotter.imageio import ImageOptions
    from textspotter.pipeline import OCR

    pdf = _three_page_pdf(pages, tmp_path / "long.pdf")
    out = tmp_path / "out"
    for fmt in ("text", "markdown"):
        args = ["read", str(pdf), "--model", str(model_dir), "--dpi", "72", "--batch-size", "2", "--format", fmt]
        assert main([*args, "--out", str(out)]) == 0
    (doc,) = OCR(model=str(model_dir), device="cpu", image_options=ImageOptions(dpi=72)).read([str(pdf)])
    assert (out / "long.txt").read_text(encoding="utf-8") == to_text(doc) + "\n"
    assert (out / "long.md").read_text(encoding="utf-8") == to_markdown(doc) + "\n"


def test_pages_that_only_stream_out_are_not_kept(model_dir, boxes_model, pages, tmp_path, monkeypatch):
    from textspotter.pipeline.ocr import OCR

    read_iter, kept = OCR.read_iter, []

    def spy(self, images, **kwargs):
        documents = list(read_iter(self, images, **kwargs))
        kept.append((kwargs.get("keep_pages", True), [len(doc.pages) for doc in documents]))
        return iter(documents)

    monkeypatch.setattr(OCR, "read_iter", spy)
    pdf = _three_page_pdf(pages, tmp_path / "long.pdf")
    common = ["read", str(pdf), "--model", str(model_dir), "--dpi", "72", "--batch-size", "2", "--workers", "1"]
    assert main([*common, "--format", "json", "--out", str(tmp_path / "a")]) == 0
    # A whole-document format (markdown streams, the PDF does not) needs the pages at the end.
    assert main([*common, "--format", "json,pdf", "--out", str(tmp_path / "b")]) == 0
    assert kept == [(False, [0]), (True, [3])]
    streamed = (tmp_path / "a" / "long.json").read_text(encoding="utf-8")
    assert streamed == (tmp_path / "b" / "long.json").read_text(encoding="utf-8")
    assert [json.loads(line)["page"] for line in streamed.splitlines()] == [0, 1, 2]


def test_an_input_that_fails_midway_keeps_its_pages_in_a_partial_file(
    model_dir, boxes_model, pages, tmp_path, monkeypatch, capsys
):
    import textspotter.pipeline.ocr as ocr_module
    from textspotter.imageio import ImageError

    iter_pages = ocr_module.iter_pages

    def broken_after_two(source, **kwargs):
        for page in iter_pages(source, **kwargs):
            if page.index == 2:
                raise ImageError(str(source), "page 2 cannot be decoded")
            yield page

    monkeypatch.setattr(ocr_module, "iter_pages", broken_after_two)
    pdf = _three_page_pdf(pages, tmp_path / "long.pdf")
    out = tmp_path / "out"
    args = ["read", str(pdf), str(pages / "b.jpg"), "--model", str(model_dir), "--dpi", "72", "--batch-size", "1"]
    assert main([*args, "--out", str(out)]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["b.json", "long.json.partial"]
    assert f"(the pages read before this are in {out / 'long.json.partial'})" in capsys.readouterr().err


def test_option_errors_name_the_option_they_come_from(pages, tmp_path, monkeypatch, capsys):
    import textspotter.pipeline.ocr as ocr_module

    assert main(["read", str(pages / "a.png"), "--batch-size", "0"]) == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith("(option --batch-size)") and "--model" not in err
    assert main(["read", str(pages / "a.png"), "--dpi", "0"]) == 2
    assert capsys.readouterr().err.rstrip().endswith("(option --dpi)")
    monkeypatch.setattr(ocr_module, "default_model_dir", lambda: tmp_path / "no-weights")
    assert main(["read", str(pages / "a.png")]) == 2
    err = capsys.readouterr().err
    assert "no default weights are installed" in err and err.rstrip().endswith("(option --model PATH)")


def test_pdf_password_opens_encrypted_pdfs(model_dir, tmp_path, capsys):
    from test_imageio import _encrypted_pdf

    pdf = tmp_path / "locked.pdf"
    pdf.write_bytes(_encrypted_pdf("secret", "owner"))
    assert main(["read", str(pdf), "--model", str(model_dir), "--dpi", "72"]) == 1
    assert "--pdf-password" in capsys.readouterr().err
    assert main(["read", str(pdf), "--model", str(model_dir), "--dpi", "72", "--pdf-password", "secret"]) == 0
    (record,) = _stdout_json_lines(capsys)
    assert record["source"] == str(pdf) and record["page"] == 0


def test_a_closed_stdout_stops_quietly(model_dir, pages, monkeypatch, capsys):
    import io
    import sys

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["read", str(pages / "a.png"), "--model", str(model_dir)]) == 141
    assert "Traceback" not in capsys.readouterr().err


def test_stdout_on_a_full_disk_is_reported_without_a_traceback(model_dir, pages, monkeypatch, capsys):
    import errno
    import io
    import sys

    class FullDisk(io.StringIO):
        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert main(["read", str(pages), "--model", str(model_dir)]) == 1
    err = capsys.readouterr().err
    assert "textspotter read: error: cannot write to stdout: No space left on device" in err and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_streamed_stdout_equals_the_whole_views_also_for_empty_pages(model_dir, pages, tmp_path, fmt, capsys):
    from textspotter.export import to_markdown, to_text
    from textspotter.imageio import ImageOptions
    from textspotter.pipeline import OCR

    paths = [str(pages / "a.png"), str(_three_page_pdf(pages, tmp_path / "long.pdf"))]
    # The random tiny model reads nothing: every page is empty, the edge case of the separators.
    args = ["read", *paths, "--model", str(model_dir), "--dpi", "72", "--batch-size", "2", "--format", fmt]
    assert main(args) == 0
    view = {"text": to_text, "markdown": to_markdown}[fmt]
    docs = OCR(model=str(model_dir), device="cpu", image_options=ImageOptions(dpi=72)).read(paths)
    assert capsys.readouterr().out == "".join(f"==> {doc.source} <==\n{view(doc)}\n" for doc in docs)


def test_the_folder_check_sees_a_disk_that_is_already_full(tmp_path, monkeypatch):
    import errno

    import textspotter.cli.outputs as outputs

    assert outputs.check_folder(tmp_path / "new", create=True) is None and list((tmp_path / "new").iterdir()) == []

    def full(handle):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "fsync", full)
    problem = outputs.check_folder(tmp_path / "new", create=True)
    assert problem == f"{tmp_path / 'new'}: cannot write in this folder (No space left on device)"
    assert list((tmp_path / "new").iterdir()) == []  # the probe is removed either way


# ----------------------------------------------------------------------------------------------------------------
# Several formats in one run, searchable PDF, stdin, the line level, the progress total (issue #21 items 2 and 4)


def _pdf_lines(path_or_bytes):
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path_or_bytes)
    try:
        return [page.get_textpage().get_text_range().replace("\r\n", "\n").split("\n") for page in document]
    finally:
        document.close()


def test_several_formats_come_from_one_reading(model_dir, boxes_model, pages, tmp_path, monkeypatch):
    from textspotter.pipeline.ocr import OCR

    read_pages = OCR._read_pages
    pages_read = []

    def counting(self, images, load_times):
        pages_read.extend(images)
        return read_pages(self, images, load_times)

    monkeypatch.setattr(OCR, "_read_pages", counting)
    out = tmp_path / "out"
    formats = "text,hocr,json,document,pdf,markdown,alto"
    assert main(["read", str(pages), "--model", str(model_dir), "--format", formats, "--out", str(out)]) == 0
    assert len(pages_read) == 2  # a.png and b.jpg, each read once for all seven formats
    suffixes = [".txt", ".hocr", ".json", ".document.json", ".pdf", ".md", ".xml"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{stem}{s}" for stem in "ab" for s in suffixes)
    assert json.loads((out / "a.json").read_text(encoding="utf-8"))["page"] == 0  # the published lines
    assert json.loads((out / "a.document.json").read_text(encoding="utf-8"))["pages"][0]["width"] == 400
    text = (out / "a.txt").read_text(encoding="utf-8")
    assert text.split() == ["ok", "ok"]
    assert " ".join(_pdf_lines(out / "a.pdf")[0]).split() == ["ok", "ok"]


def test_format_errors_stop_before_any_work(pages, tmp_path, monkeypatch, capsys):
    nowhere = ["--model", str(tmp_path / "nowhere")]
    with pytest.raises(SystemExit):
        main(["read", str(pages / "a.png"), *nowhere, "--format", "text,pfd"])
    assert "unknown format 'pfd'" in capsys.readouterr().err
    assert main(["read", str(pages / "a.png"), *nowhere, "--format", "text,hocr"]) == 2
    assert "several formats need --out DIR" in capsys.readouterr().err
    assert main(["read", str(pages), *nowhere, "--format", "pdf"]) == 2
    assert "several inputs need --out DIR" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["read", str(pages / "a.png"), *nowhere, "--format", "pdf"]) == 2
    assert "give --out DIR or redirect stdout" in capsys.readouterr().err


def test_a_pdf_output_never_replaces_its_input(model_dir, pages, tmp_path, capsys):
    pdf = _three_page_pdf(pages, tmp_path / "long.pdf")
    before = pdf.read_bytes()
    assert main(["read", str(pdf), "--model", str(model_dir), "--format", "pdf", "--out", str(tmp_path)]) == 2
    assert f"the pdf output {pdf} would replace that input" in capsys.readouterr().err
    assert pdf.read_bytes() == before


def test_pdf_pages_keep_the_size_of_the_input(model_dir, boxes_model, pages, tmp_path, capsysbinary):
    import pypdfium2 as pdfium

    pdf = _three_page_pdf(pages, tmp_path / "long.pdf")  # pages of 400x300 and 300x300 points
    out = tmp_path / "out"
    assert (
        main(["read", str(pdf), "--model", str(model_dir), "--dpi", "144", "--format", "pdf", "--out", str(out)]) == 0
    )
    document = pdfium.PdfDocument(out / "long.pdf")
    assert [tuple(round(v, 2) for v in page.get_size()) for page in document] == [(400, 300), (300, 300), (400, 300)]
    document.close()
    # One input to a stdout that is not a terminal: the PDF goes there. An image without dpi metadata is 300 dpi.
    assert main(["read", str(pages / "a.png"), "--model", str(model_dir), "--format", "pdf"]) == 0
    data = capsysbinary.readouterr().out
    document = pdfium.PdfDocument(data)
    assert document[0].get_size() == (pytest.approx(400 * 72 / 300), pytest.approx(300 * 72 / 300))
    document.close()
    assert sum((line.split() for line in _pdf_lines(data)[0]), []) == ["ok", "ok"]


class _Stdin:
    def __init__(self, data):
        import io

        self.buffer = io.BytesIO(data)


def test_dash_reads_standard_input(model_dir, boxes_model, pages, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", _Stdin((pages / "a.png").read_bytes()))
    assert main(["read", "-", "--model", str(model_dir), "--level", "word"]) == 0
    (record,) = _stdout_json_lines(capsys)
    assert record["source"] == "<stdin>" and [item["text"] for item in record["results"]] == ["ok", "ok"]
    # A PDF on stdin, its format sniffed; with --out the files are named stdin.<ext>.
    pdf = _three_page_pdf(pages, tmp_path / "long.pdf")
    monkeypatch.setattr("sys.stdin", _Stdin(pdf.read_bytes()))
    out = tmp_path / "out"
    args = [
        "read",
        "-",
        "--model",
        str(model_dir),
        "--dpi",
        "72",
        "--format",
        "text,pdf",
        "--out",
        str(out),
        "--overlay",
    ]
    assert main(args) == 0
    names = ["stdin.p1.overlay.png", "stdin.p2.overlay.png", "stdin.p3.overlay.png", "stdin.pdf", "stdin.txt"]
    assert sorted(p.name for p in out.iterdir()) == names
    assert len(_pdf_lines(out / "stdin.pdf")) == 3
    monkeypatch.setattr("sys.stdin", _Stdin(b""))
    assert main(["read", "-", "--model", str(model_dir)]) == 1
    assert "<stdin>: is empty" in capsys.readouterr().err


def test_line_level_is_the_sentence_level(model_dir, boxes_model, pages, capsys):
    common = ["read", str(pages / "b.jpg"), "--model", str(model_dir)]
    assert main([*common, "--level", "sentence"]) == 0
    sentence = _stdout_json_lines(capsys)
    assert main([*common, "--level", "line"]) == 0
    assert _stdout_json_lines(capsys) == sentence


def test_the_progress_bar_knows_the_page_count(model_dir, pages, tmp_path, capsys):
    from textspotter.cli.read import count_pages

    pdf = _three_page_pdf(pages, tmp_path / "long.pdf")
    tiff = tmp_path / "two.tif"
    Image.open(pages / "a.png").save(tiff, save_all=True, append_images=[Image.open(pages / "a.png")])
    assert [count_pages(str(p)) for p in (pdf, tiff, pages / "a.png", pages / "notes.txt")] == [3, 2, 1, 1]
    assert count_pages(pdf.read_bytes()) == 3 and count_pages(str(tmp_path / "missing.pdf")) == 1
    assert main(["read", str(pdf), str(pages / "b.jpg"), "--model", str(model_dir), "--dpi", "72"]) == 0
    assert "/4" in capsys.readouterr().err  # tqdm's "n/total" counter: 3 PDF pages and one image


def test_worker_processes_give_the_same_output_in_input_order(model_dir, pages, tmp_path, capsys):
    inputs = []
    for i in range(4):
        target = tmp_path / f"p{i}.png"
        target.write_bytes((pages / ("a.png" if i % 2 else "b.jpg")).read_bytes())
        inputs.append(str(target))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    inputs.insert(2, str(broken))
    common = ["--model", str(model_dir), "--device", "cpu", "--level", "word"]
    assert main(["read", *inputs, *common, "--workers", "1"]) == 1
    alone = capsys.readouterr()
    # Two spawned reader processes (the test's monkeypatches would not reach them: a plain saved model here).
    assert main(["read", *inputs, *common, "--workers", "2"]) == 1
    shared = capsys.readouterr()
    assert shared.out == alone.out
    assert [json.loads(line)["source"] for line in shared.out.splitlines()] == [p for p in inputs if p != str(broken)]
    assert "broken.png" in shared.err


def test_workers_option_is_checked_and_auto_needs_several_inputs():
    from textspotter.pipeline.parallel import auto_workers

    assert auto_workers(4, "cpu", cores=2) == 2 and auto_workers(3, "cpu", cores=2) == 1
    assert auto_workers(100, "cpu", cores=1) == 1 and auto_workers(100, "cuda", cores=8) == 1
    with pytest.raises(SystemExit):
        main(["read", "x.png", "--workers", "0"])

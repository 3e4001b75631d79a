"""Tests of ``textspotter.scale`` without Ray: job options, input listing, page rendering, OCR rows, part files,
the resume index and reading results back. The Ray runs are in ``test_batch_ray.py``."""

import io
import json
import os

import numpy as np
import pytest
from PIL import Image

pa = pytest.importorskip("pyarrow")
fsspec = pytest.importorskip("fsspec")

from textspotter.imageio import ImageOptions  # noqa: E402
from textspotter.scale import BatchJob, expand_inputs, load_index, output_schema, read_results  # noqa: E402
from textspotter.scale.inputs import canonical_source  # noqa: E402
from textspotter.scale.results import TIMING_FIELDS, list_parts, part_name, write_part  # noqa: E402
from textspotter.scale.workers import OCRWorker, count_pages, read_pages  # noqa: E402


def _png(width: int = 64, height: int = 48, value: int = 255) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (value, value, value)).save(buffer, format="PNG")
    return buffer.getvalue()


def _pdf(sizes: list[tuple[int, int]]) -> bytes:
    """A PDF of blank pages, one per (width, height) in pixels at 100 dpi."""
    images = [Image.new("RGB", size, "white") for size in sizes]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=100)
    return buffer.getvalue()


@pytest.fixture
def memory_fs():
    """An empty in-memory filesystem (memory:// is shared by the process: clean it before and after)."""
    fs = fsspec.filesystem("memory")
    fs.store.clear()
    fs.pseudo_dirs[:] = [""]
    yield fs
    fs.store.clear()
    fs.pseudo_dirs[:] = [""]


def result_row(source, page, count=1, *, error=None, text="t"):
    """A result row as ``OCRWorker`` makes them, with made-up text and timings."""
    timings = dict.fromkeys(TIMING_FIELDS, 0.5)
    return {
        "source": source,
        "page": page,
        "page_count": count,
        "text": None if error else text,
        "document": None if error else "{}",
        "error": error,
        "timings": timings,
    }


def _write(output, rows, name, fmt="parquet"):
    table = pa.Table.from_pylist(rows, schema=output_schema())
    write_part(table, output, name, fmt)


# ----------------------------------------------------------------------------------------------------------------
# Job options


def test_job_defaults_and_derived_resources():
    job = BatchJob(inputs=["a/"], output="out/")
    assert job.inputs == ("a/",) and job.format == "parquet" and job.device == "cpu" and job.threads_per_actor == 1
    gpu = BatchJob(inputs=("a/",), output="out/", gpus_per_actor=0.5, cpus_per_actor=2.5)
    assert gpu.device == "cuda" and gpu.threads_per_actor == 3


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"inputs": ()}, ValueError, "at least one input"),
        ({"inputs": "scans/"}, TypeError, "BatchJob.inputs"),
        ({"output": ""}, ValueError, "BatchJob.output"),
        ({"format": "csv"}, ValueError, "parquet, jsonl"),
        ({"actors": 0}, ValueError, "BatchJob.actors"),
        ({"batch_size": 2.0}, TypeError, "BatchJob.batch_size"),
        ({"gpus_per_actor": -1}, ValueError, "BatchJob.gpus_per_actor"),
        ({"reader_cpus": float("nan")}, TypeError, "BatchJob.reader_cpus"),
        ({"image_options": {"dpi": 100}}, TypeError, "ImageOptions"),
        ({"detection": {"precision": "bf16"}}, TypeError, "BatchJob.detection"),
        ({"recognition": {"precision": "bf16"}}, TypeError, "BatchJob.recognition"),
        ({"relation": {"precision": "bf16"}}, TypeError, "BatchJob.relation"),
    ],
)
def test_job_rejects_bad_options(changes, error, message):
    options = {"inputs": ("a/",), "output": "out/", **changes}
    with pytest.raises(error, match=message):
        BatchJob(**options)


# ----------------------------------------------------------------------------------------------------------------
# Inputs


def test_folders_globs_and_list_files_expand_in_order(memory_fs, tmp_path):
    memory_fs.pipe(
        {
            "/corpus/b.pdf": b"%PDF",
            "/corpus/a.png": b"png",
            "/corpus/sub/c.JPG": b"jpg",
            "/corpus/notes.txt": b"text",
            "/other/d.png": b"png",
        }
    )
    memory_fs.pipe("/lists/inputs.txt", b"# scans to redo\nmemory://other/d.png\n\nrelative/e.png\n")
    sources, problems = expand_inputs(
        ["memory://corpus", "memory://other/*.png", "memory://corpus/a.png", "memory://nothing/*.png"],
        list_files=["memory://lists/inputs.txt"],
    )
    assert sources == [
        "memory:///corpus/a.png",
        "memory:///corpus/b.pdf",
        "memory:///corpus/sub/c.JPG",
        "memory:///other/d.png",
        os.path.abspath("relative/e.png"),
    ]
    assert problems == ["memory://nothing/*.png: no file matches this pattern"]
    (tmp_path / "empty").mkdir()
    assert expand_inputs([str(tmp_path / "empty")]) == (
        [],
        [f"{tmp_path / 'empty'}: folder contains no images or PDFs"],
    )


def test_local_inputs_are_named_by_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "scan.png").write_bytes(_png())
    monkeypatch.chdir(tmp_path)
    expected = str(tmp_path / "scan.png")
    assert expand_inputs(["scan.png"])[0] == [expected]
    assert expand_inputs([f"file://{tmp_path}/*.png"])[0] == [expected]
    assert canonical_source(f"file://{expected}") == expected == canonical_source("scan.png")
    # A missing file is listed: the run records it as a failed input.
    assert expand_inputs(["gone.png"]) == ([str(tmp_path / "gone.png")], [])


def test_missing_list_file_and_unknown_protocol_name_the_input():
    with pytest.raises(FileNotFoundError, match="nowhere.txt: list file not found"):
        expand_inputs([], list_files=["/nowhere.txt"])
    with pytest.raises(ValueError, match="nope://x: cannot open this location"):
        expand_inputs(["nope://x"])


# ----------------------------------------------------------------------------------------------------------------
# Reading and rendering pages


def test_images_and_pdfs_become_one_row_per_page(memory_fs):
    memory_fs.pipe({"/in/a.png": _png(64, 48, 200), "/in/b.pdf": _pdf([(100, 50), (50, 100)])})
    options = ImageOptions(dpi=100)
    rows = list(read_pages({"source": "memory:///in/a.png", "skip_pages": []}, image_options=options))
    assert len(rows) == 1 and rows[0]["page"] == 0 and rows[0]["page_count"] == 1 and rows[0]["error"] == ""
    assert rows[0]["image"].shape == (48, 64, 3) and (rows[0]["image"] == 200).all()
    rows = list(read_pages({"source": "memory:///in/b.pdf", "skip_pages": []}, image_options=options))
    assert [(r["page"], r["page_count"], r["image"].shape) for r in rows] == [
        (0, 2, (50, 100, 3)),
        (1, 2, (100, 50, 3)),
    ]
    assert all(r["read_seconds"] >= 0 for r in rows)
    # Pages done by an earlier run are not yielded again.
    rows = list(read_pages({"source": "memory:///in/b.pdf", "skip_pages": [0]}, image_options=options))
    assert [r["page"] for r in rows] == [1]


def test_unreadable_inputs_give_error_rows(memory_fs):
    memory_fs.pipe({"/in/bad.png": b"\x89PNG\r\n\x1a\n" + b"garbage" * 8, "/in/bad.pdf": b"%PDF-1.4\nnot really"})
    options = ImageOptions()
    (png,) = read_pages({"source": "memory:///in/bad.png", "skip_pages": []}, image_options=options)
    assert (png["page"], png["page_count"], png["image"].shape) == (0, 1, (0, 0, 3))
    assert png["error"].startswith("memory:///in/bad.png: ")
    (pdf,) = read_pages({"source": "memory:///in/bad.pdf", "skip_pages": []}, image_options=options)
    assert (pdf["page"], pdf["page_count"]) == (-1, -1) and "not a readable PDF" in pdf["error"]
    (missing,) = read_pages({"source": "memory:///in/gone.png", "skip_pages": []}, image_options=options)
    assert (missing["page"], missing["error"]) == (-1, "memory:///in/gone.png: no such file")


def test_a_page_that_fails_mid_pdf_fails_the_rest_with_a_row_each(memory_fs):
    # The middle page is over the pixel limit: decoding stops there, and each page from it on gets an error row.
    memory_fs.pipe("/in/doc.pdf", _pdf([(100, 100), (1000, 1000), (100, 100)]))
    options = ImageOptions(dpi=100, max_pixels=50_000)
    rows = list(read_pages({"source": "memory:///in/doc.pdf", "skip_pages": []}, image_options=options))
    assert [(r["page"], r["page_count"], bool(r["error"])) for r in rows] == [(0, 3, False), (1, 3, True), (2, 3, True)]
    assert "page 1" in rows[1]["error"] and "page 2 comes after it and was not read" in rows[2]["error"]


def test_count_pages():
    assert count_pages(_pdf([(10, 10)] * 3), ImageOptions()) == 3
    assert count_pages(_png(), ImageOptions()) == 1
    assert count_pages(b"%PDF-1.4 broken", ImageOptions()) is None
    frames = [Image.new("L", (8, 8), v) for v in (0, 128)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    assert count_pages(buffer.getvalue(), ImageOptions()) == 2


# ----------------------------------------------------------------------------------------------------------------
# The OCR actor


def _page_rows(images, errors):
    return {
        "source": np.array([f"/in/{i}.png" for i in range(len(images))]),
        "page": np.array([0, 3, -1][: len(images)]),
        "page_count": np.array([1, 5, -1][: len(images)]),
        "image": np.array(images + [None], dtype=object)[:-1],
        "error": np.array(errors, dtype=object),
        "read_seconds": np.full(len(images), 0.25),
    }


def reading_model(folder):
    """Save a tiny-test model that finds and reads (arbitrary) text on rendered pages into ``folder``.

    Random weights find nothing: the detector's confidence and box sizes are near 0 and the recognizer is unsure.
    Scaling those output weights up makes the (still random, still deterministic) model detect regions and read
    them with high confidence, so that pages give different, non-empty texts to compare.
    """
    import torch

    from textspotter.models import create_model
    from textspotter.models.checkpoints import save_model

    torch.manual_seed(0)
    model = create_model("tiny-test").eval()
    with torch.no_grad():
        head = model.detector.output.preds[-1].weight  # (6, C, 1, 1): confidence, 4 distances, angle
        head[0] *= 5000
        head[1:5] *= 60
        model.recognizer.classifier.weight *= 300
    return save_model(model, folder)


def test_ocr_worker_writes_result_rows(tmp_path):
    from test_pipeline_fakes import page_with_boxes
    from textspotter.pipeline import DetectionOptions, RecognitionOptions, RelationOptions

    worker = OCRWorker(
        model=str(reading_model(tmp_path / "model")),
        device="cpu",
        batch_size=2,
        image_options=ImageOptions(),
        scale=None,
        threads=1,
        detection=DetectionOptions(precision="bf16"),
        recognition=RecognitionOptions(precision="bf16"),
        relation=RelationOptions(precision="bf16"),
    )
    assert worker._ocr.detection.precision == worker._ocr.recognition.precision == "bf16"
    assert worker._ocr.relation.precision == "bf16"
    page = page_with_boxes(200, 300, [(20, 20, 120, 44), (20, 80, 200, 104)])
    blank = np.full((64, 64, 3), 255, dtype=np.uint8)
    bad = np.zeros((0, 0, 3), dtype=np.uint8)
    table = worker(_page_rows([page, blank, bad], ["", "", "/in/2.png: no such file"]))
    assert table.schema == output_schema()
    first, second, third = table.to_pylist()
    assert first["error"] is None and second["error"] is None
    document = json.loads(first["document"])
    assert document["source"] == "/in/0.png" and document["pages"][0]["index"] == 0
    assert json.loads(second["document"])["pages"][0]["index"] == 3  # the page keeps its number in its input
    assert first["text"] and (second["page"], second["page_count"]) == (3, 5)
    assert (first["text_source"], first["text_layer_reason"]) == ("ocr", None)  # an image: always OCRed
    assert set(first["timings"]) == set(TIMING_FIELDS) and first["timings"]["read"] == 0.25
    assert first["timings"]["ocr"] > 0 and first["timings"]["detect"] > 0
    assert third == {
        "source": "/in/2.png",
        "page": None,
        "page_count": None,
        "text": None,
        "document": None,
        "text_source": None,
        "text_layer_reason": None,
        "error": "/in/2.png: no such file",
        "timings": {**dict.fromkeys(TIMING_FIELDS), "read": 0.25},
    }


# ----------------------------------------------------------------------------------------------------------------
# Part files, the resume index and reading results back


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_parts_round_trip_and_index_what_is_done(tmp_path, fmt):
    output = str(tmp_path / "out")
    assert load_index(output, format=fmt).rows == 0  # no folder yet: nothing done
    _write(
        output,
        [
            result_row("/in/a.png", 0, text="héllo\nwörld"),
            result_row("/in/doc.pdf", 0, 3),
            result_row("/in/doc.pdf", 2, 3, error="/in/doc.pdf: page 2: broken"),
            result_row("/in/bad.pdf", None, None, error="/in/bad.pdf: not a readable PDF"),
        ],
        part_name("run1", 0, "." + fmt),
        fmt,
    )
    (tmp_path / "out" / f".part-run2-00000-x.{fmt}.tmp").write_bytes(b"half a file")  # a killed write: ignored
    index = load_index(output, format=fmt)
    assert index.complete == {"/in/a.png", "/in/bad.pdf"}
    assert index.done_pages == {"/in/doc.pdf": {0, 2}}
    assert (index.files, index.rows) == (1, 4)
    retry = load_index(output, format=fmt, retry_errors=True)
    assert retry.complete == {"/in/a.png"} and retry.done_pages == {"/in/doc.pdf": {0}}
    results = read_results(output, format=fmt).to_pylist()
    assert [(r["source"], r["page"]) for r in results] == [
        ("/in/a.png", 0),
        ("/in/bad.pdf", None),
        ("/in/doc.pdf", 0),
        ("/in/doc.pdf", 2),
    ]
    assert results[0]["text"] == "héllo\nwörld" and results[0]["timings"]["read"] == 0.5


def test_read_results_prefers_later_rows_without_error(tmp_path):
    output = str(tmp_path / "out")
    _write(
        output,
        [
            result_row("/in/doc.pdf", 0, 2, error="e1"),
            result_row("/in/doc.pdf", 1, 2, text="old"),
            result_row("/in/x.pdf", None, None, error="e"),
        ],
        "part-1-00000-a.parquet",
    )
    _write(
        output,
        [result_row("/in/doc.pdf", 0, 2, text="fixed"), result_row("/in/doc.pdf", 1, 2, text="new")],
        "part-2-00000-a.parquet",
    )
    _write(
        output,
        [result_row("/in/doc.pdf", 0, 2, error="e2"), result_row("/in/x.pdf", 0, 1, text="x")],
        "part-3-00000-a.parquet",
    )
    rows = read_results(output).to_pylist()
    assert [(r["source"], r["page"], r["text"], r["error"]) for r in rows] == [
        ("/in/doc.pdf", 0, "fixed", None),
        ("/in/doc.pdf", 1, "new", None),
        ("/in/x.pdf", 0, "x", None),
    ]
    assert load_index(output, format="parquet").complete == {"/in/doc.pdf", "/in/x.pdf"}


def test_output_problems_name_the_file(tmp_path):
    output = tmp_path / "out"
    _write(str(output), [result_row("/in/a.png", 0)], "part-1-00000-a.parquet")
    with pytest.raises(ValueError, match="holds parquet results"):
        load_index(str(output), format="jsonl")
    (output / "part-2-00000-b.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(ValueError, match="part-2-00000-b.parquet: unreadable result file"):
        load_index(str(output), format="parquet")
    assert [os.path.basename(p) for p in list_parts(str(output), "parquet")] == [
        "part-1-00000-a.parquet",
        "part-2-00000-b.parquet",
    ]
    jsonl = tmp_path / "jsonl"
    jsonl.mkdir()
    (jsonl / "part-1-00000-a.jsonl").write_text('{"source": "/in/a.png", "page": 0, "colour": "red"}\n')
    with pytest.raises(ValueError, match="part-1-00000-a.jsonl: unreadable result file"):
        read_results(str(jsonl), format="jsonl")


def test_parts_on_an_fsspec_url(memory_fs):
    _write("memory://results", [result_row("memory:///in/a.png", 0)], "part-1-00000-a.jsonl", "jsonl")
    assert memory_fs.cat("/results/part-1-00000-a.jsonl").decode().count("\n") == 1
    assert load_index("memory://results", format="jsonl").complete == {"memory:///in/a.png"}


# ----------------------------------------------------------------------------------------------------------------
# The command line, before anything starts


def test_cli_problems_stop_before_ray_starts(tmp_path, capsys):
    from textspotter.cli.main import main

    (tmp_path / "a.png").write_bytes(_png())
    out = str(tmp_path / "out")
    model = reading_model(tmp_path / "model")
    assert main(["batch", str(tmp_path / "a.png"), "--output", out, "--model", str(tmp_path / "nope")]) == 2
    assert f"{tmp_path / 'nope'}: model folder not found" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "a.png"), "--output", out, "--model", str(model), "--actors", "0"]) == 2
    assert "BatchJob.actors must be >= 1" in capsys.readouterr().err
    assert main(["batch", "--list", str(tmp_path / "inputs.txt"), "--output", out, "--model", str(model)]) == 2
    assert "inputs.txt: list file not found" in capsys.readouterr().err
    assert main(["batch", "--output", out, "--model", str(model)]) == 2
    assert "at least one input" in capsys.readouterr().err
    assert not os.path.exists(out)


def test_an_output_that_cannot_be_written_stops_before_ray_starts(tmp_path, monkeypatch, capsys):
    import textspotter.scale.batch as batch_module
    from textspotter.cli.main import main

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray must not start")

    monkeypatch.setattr(batch_module, "_execute", no_ray)
    (tmp_path / "a.png").write_bytes(_png())
    blocker = tmp_path / "file"
    blocker.write_text("a regular file: nothing can be created under it, also as root")
    model = reading_model(tmp_path / "model")
    args = ["batch", str(tmp_path / "a.png"), "--output", str(blocker / "out"), "--model", str(model)]
    assert main(args) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"textspotter batch: error: {blocker / 'out'}: the output folder cannot be written (")


def test_check_output_creates_the_folder_and_leaves_nothing(tmp_path, memory_fs, monkeypatch):
    import errno

    from textspotter.scale.results import check_output

    check_output(str(tmp_path / "new" / "out"))
    assert list((tmp_path / "new" / "out").iterdir()) == []
    check_output("memory://results")
    assert memory_fs.ls("/results", detail=False) == []

    def read_only(self, path, value, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(type(fsspec.filesystem("file")), "pipe_file", read_only)
    with pytest.raises(ValueError, match=r"out: the output folder cannot be written \(Read-only file system\)"):
        check_output(str(tmp_path / "out"))

    def no_credentials(self, path, value, **kwargs):
        raise RuntimeError("Unable to locate credentials")  # an object-store driver's own exception type

    monkeypatch.setattr(type(fsspec.filesystem("file")), "pipe_file", no_credentials)
    with pytest.raises(ValueError, match=r"cannot be written \(RuntimeError: Unable to locate credentials\)"):
        check_output(str(tmp_path / "out"))


def _full_disk_after(monkeypatch, good_files):
    """Let ``good_files`` part files be written, then fail like a full disk, leaving a half-written file."""
    import errno

    local = type(fsspec.filesystem("file"))
    pipe_file = local.pipe_file
    written = []

    def pipe_until_full(self, path, value, **kwargs):
        if len(written) < good_files:
            written.append(path)
            return pipe_file(self, path, value, **kwargs)
        pipe_file(self, path, value[: len(value) // 2], **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local, "pipe_file", pipe_until_full)


def test_a_part_file_that_cannot_be_written_leaves_nothing_behind(tmp_path, monkeypatch):
    output = tmp_path / "out"
    _write(str(output), [result_row("/in/a.png", 0)], "part-1-00000-a.parquet")
    _full_disk_after(monkeypatch, 0)
    with pytest.raises(OSError, match=r"part-1-00001-b.parquet: cannot be written \(No space left on device\)"):
        _write(str(output), [result_row("/in/b.png", 0)], "part-1-00001-b.parquet")
    assert sorted(os.listdir(output)) == ["part-1-00000-a.parquet"]  # no temporary file, the earlier part kept
    assert load_index(str(output), format="parquet").complete == {"/in/a.png"}


def test_the_sink_reports_a_write_failure_and_the_cli_names_it(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    pytest.importorskip("ray.data")
    import textspotter.scale.batch as batch_module
    from textspotter.cli.main import main
    from textspotter.scale.sink import PageSink

    output = tmp_path / "out"
    sink = PageSink(str(output), format="jsonl", run_id="run", rows_per_file=2)
    rows = pa.Table.from_pylist([result_row("/in/a.png", 0), result_row("/in/b.png", 0)], schema=output_schema())
    written = sink.write([rows], SimpleNamespace(task_idx=0))
    assert written["write_error"] is None and written["rows"] == 2
    with pytest.MonkeyPatch.context() as full_disk:
        _full_disk_after(full_disk, 0)
        report = sink.write([rows], SimpleNamespace(task_idx=1))
    assert report["file"] is None and report["unwritten"] == 2
    assert report["write_error"].startswith(str(output / "part-run-00001-"))
    assert report["write_error"].endswith(": cannot be written (No space left on device)")
    assert [p.name for p in output.iterdir()] == [written["file"]]

    # The driver's side: the summary and the command line name the file; the exit status is 1.
    monkeypatch.setattr(batch_module, "_execute", lambda *args, **kwargs: [written, report])
    (tmp_path / "c.png").write_bytes(_png())
    model = reading_model(tmp_path / "model")
    args = ["batch", str(tmp_path / "c.png"), "--output", str(output), "--format", "jsonl", "--model", str(model)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"textspotter batch: error: {report['write_error']}" in err
    assert "2 pages were read but not written" in err and "Traceback" not in err
    assert "wrote 2 pages (0 failed) in 1 files" in err


def test_pdf_password_reaches_the_job_and_the_page_reader(tmp_path, monkeypatch, capsys):
    import textspotter.scale
    from test_imageio import _encrypted_pdf
    from textspotter.cli.main import main

    data = _encrypted_pdf("secret", "owner")
    jobs = []

    def capture(job, **kwargs):
        jobs.append(job)
        raise ValueError("stop here")

    monkeypatch.setattr(textspotter.scale, "run_batch", capture)
    args = ["batch", str(tmp_path / "locked.pdf"), "--output", str(tmp_path / "out"), "--pdf-password", "secret"]
    assert main(args) == 2
    assert jobs[0].image_options.pdf_password == "secret"
    pdf = tmp_path / "locked.pdf"
    pdf.write_bytes(data)
    locked = list(read_pages({"source": str(pdf), "skip_pages": []}, image_options=ImageOptions(dpi=72)))
    assert [r["page"] for r in locked] == [-1] and "--pdf-password" in locked[0]["error"]
    from textspotter.pipeline import TextLayerOptions

    options = ImageOptions(dpi=72, pdf_password="secret")
    # (Mode "ocr" keeps the rendered page in the row: in "auto" this blank page is done from its text layer.)
    ocr = TextLayerOptions(mode="ocr")
    (page,) = read_pages({"source": str(pdf), "skip_pages": []}, image_options=options, text_layer=ocr)
    assert (page["page"], page["page_count"], page["error"]) == (0, 1, "") and page["image"].shape == (36, 72, 3)


def test_importing_the_package_imports_neither_ray_nor_torch():
    import subprocess
    import sys

    modules = "{'ray', 'pyarrow', 'fsspec', 'torch'}"
    code = f"import sys, textspotter.scale, textspotter.cli.batch; print(sorted({modules} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ----------------------------------------------------------------------------------------------------------------
# Born-digital PDFs: pages read from their text layer go past the model


def _born_digital(folder):
    """A 3-page PDF: page 0 and 2 typed (text layer trusted), page 1 invisible text only (OCRed, "unreliable")."""
    from test_text_layer_passthrough import KNOWN
    from textspotter.corpus.pdfwrite import TextRun, write_pdf

    hidden = [TextRun(20, 150, 12, "hidden words only", render_mode=3)]
    return write_pdf(folder / "typed.pdf", [KNOWN, hidden, [TextRun(20, 150, 12, "Third")]])


def _batch_of(rows):
    """Page rows as Ray Data hands them to an actor (numpy columns)."""
    columns = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        if key == "image":
            columns[key] = np.array(values + [None], dtype=object)[:-1]
        else:
            columns[key] = np.array(values)
    return columns


@pytest.fixture(scope="module")
def tiny_worker_model(tmp_path_factory):
    return str(reading_model(tmp_path_factory.mktemp("model") / "tiny"))


def _worker(model, mode="auto"):
    from textspotter.pipeline import TextLayerOptions

    options = TextLayerOptions(mode=mode)
    return OCRWorker(
        model=model, device="cpu", batch_size=4, image_options=ImageOptions(), scale=None, threads=1, text_layer=options
    )


def _counting(worker, monkeypatch):
    """Record the pages each model batch of ``worker`` reads (their sizes)."""
    batches = []
    read_pages_ = worker._ocr._read_pages
    monkeypatch.setattr(
        worker._ocr,
        "_read_pages",
        # A page found turned is read again upright with orient=False (the random tiny model may find one turned):
        # not a batch of its own.
        lambda pages, loads, **kwargs: (
            (batches.append(len(pages)) if kwargs.get("orient", True) else None) or read_pages_(pages, loads, **kwargs)
        ),
    )
    return batches


def test_text_layer_pages_are_finished_by_the_reader_and_pass_the_model(tmp_path, tiny_worker_model, monkeypatch):
    from textspotter.pipeline import TextLayerOptions

    source = str(_born_digital(tmp_path))
    options = ImageOptions(dpi=144)
    rows = list(read_pages({"source": source, "skip_pages": []}, image_options=options))
    # Pages 0 and 2 are done: no image travels on; page 1 carries its image and its plan (the reason to OCR it).
    assert [(r["page"], r["image"].shape[0] > 0, r["text_source"], bool(r["plan"])) for r in rows] == [
        (0, False, "text-layer", False),
        (1, True, "", True),
        (2, False, "text-layer", False),
    ]
    assert rows[0]["text"] == "Hello world, again.\nsecond line\n\nFar" and rows[2]["text"] == "Third"
    assert json.loads(rows[0]["document"])["pages"][0]["index"] == 0 and rows[1]["document"] == ""

    worker = _worker(tiny_worker_model)
    batches = _counting(worker, monkeypatch)
    table = worker(_batch_of(rows))
    assert batches == [1]  # only the page that needs OCR is in a model batch
    assert table.schema == output_schema()
    first, second, third = table.to_pylist()
    assert (first["text_source"], first["text_layer_reason"], first["text"]) == ("text-layer", None, rows[0]["text"])
    assert first["document"] == rows[0]["document"] and first["timings"]["read"] > 0
    assert first["timings"]["detect"] is None and first["timings"]["ocr"] is None  # the model did not run
    assert (second["text_source"], second["text_layer_reason"], second["error"]) == ("ocr", "unreliable", None)
    page = json.loads(second["document"])["pages"][0]
    assert (page["index"], page["text_source"], page["text_layer_reason"]) == (1, "ocr", "unreliable")
    assert second["timings"]["detect"] > 0 and third["text"] == "Third"

    # Pages done by an earlier run are neither yielded nor judged.
    assert [r["page"] for r in read_pages({"source": source, "skip_pages": [0, 1]}, image_options=options)] == [2]

    # "ocr": no text layer is read, every page is OCRed; "only": nothing is OCRed, page 1 stays empty.
    ocr = TextLayerOptions(mode="ocr")
    ocr_rows = list(read_pages({"source": source, "skip_pages": []}, image_options=options, text_layer=ocr))
    assert [(r["image"].shape[0] > 0, r["text_source"], r["plan"]) for r in ocr_rows] == [(True, "", b"")] * 3
    worker = _worker(tiny_worker_model, "ocr")
    batches = _counting(worker, monkeypatch)
    assert [r["text_source"] for r in worker(_batch_of(ocr_rows)).to_pylist()] == ["ocr"] * 3
    assert batches == [3]
    only = TextLayerOptions(mode="only")
    only_rows = list(read_pages({"source": source, "skip_pages": []}, image_options=options, text_layer=only))
    assert [(r["image"].shape[0], r["text_source"], r["text_layer_reason"]) for r in only_rows] == [
        (0, "text-layer", ""),
        (0, "none", "unreliable"),
        (0, "text-layer", ""),
    ]
    worker = _worker(tiny_worker_model, "only")
    batches = _counting(worker, monkeypatch)
    none = worker(_batch_of(only_rows)).to_pylist()[1]
    assert batches == [] and (none["text"], none["text_source"], none["text_layer_reason"]) == (
        "",
        "none",
        "unreliable",
    )


def test_a_mixed_page_is_ocred_in_the_actor_and_merged_with_its_text_layer(tmp_path, tiny_worker_model):
    from test_text_layer_passthrough import _image_pdf

    source = str(_image_pdf(tmp_path / "mixed.pdf"))
    (row,) = read_pages({"source": source, "skip_pages": []}, image_options=ImageOptions(dpi=144))
    assert row["image"].shape == (400, 600, 3) and row["plan"] and row["document"] == ""
    (result,) = _worker(tiny_worker_model)(_batch_of([row])).to_pylist()
    assert (result["text_source"], result["text_layer_reason"], result["error"]) == ("mixed", "images", None)
    assert result["text"].startswith("Header text here")  # the text layer's line, whatever OCR adds in the image
    assert json.loads(result["document"])["pages"][0]["text_source"] == "mixed"


def test_part_files_without_the_text_source_columns_are_still_read(tmp_path):
    import pyarrow.parquet as pq

    output = tmp_path / "out"
    output.mkdir()
    old_schema = pa.schema([f for f in output_schema() if not f.name.startswith("text_")])
    rows = [result_row("/in/a.pdf", 0, 2)]
    pq.write_table(pa.Table.from_pylist(rows, schema=old_schema), output / "part-1-00000-a.parquet")
    assert load_index(str(output), format="parquet").done_pages == {"/in/a.pdf": {0}}
    (row,) = read_results(str(output)).to_pylist()
    assert (row["text"], row["text_source"], row["text_layer_reason"]) == ("t", None, None)
    jsonl = tmp_path / "jsonl"
    jsonl.mkdir()
    (jsonl / "part-1-00000-a.jsonl").write_text(json.dumps(result_row("/in/a.png", 0)) + "\n", encoding="utf-8")
    (row,) = read_results(str(jsonl), format="jsonl").to_pylist()
    assert (row["text"], row["text_source"]) == ("t", None)


def test_text_layer_option_reaches_the_job(tmp_path, monkeypatch):
    import textspotter.scale
    from textspotter.cli.main import main

    jobs = []

    def capture(job, **kwargs):
        jobs.append(job)
        raise ValueError("stop here")

    monkeypatch.setattr(textspotter.scale, "run_batch", capture)
    args = ["batch", str(tmp_path / "a.pdf"), "--output", str(tmp_path / "out")]
    assert main(args) == 2 and main([*args, "--text-layer", "only"]) == 2
    assert [job.text_layer.mode for job in jobs] == ["auto", "only"]
    with pytest.raises(TypeError, match="BatchJob.text_layer must be a TextLayerOptions"):
        BatchJob(inputs=("a/",), output="out/", text_layer="only")

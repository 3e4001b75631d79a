"""A local Ray Data run of ``textspotter batch`` over 20 generated pages, checked against ``textspotter read``.

One small Ray instance (2 CPUs, 200 MB object store, no dashboard, no usage stats) serves the module.
"""

import os

import pytest
from PIL import Image, ImageDraw, ImageFont

pa = pytest.importorskip("pyarrow")
pytest.importorskip("fsspec")
ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from test_batch import reading_model, result_row  # noqa: E402
from textspotter.cli.main import main  # noqa: E402
from textspotter.imageio import ImageOptions  # noqa: E402
from textspotter.scale import BatchJob, output_schema, read_results, run_batch  # noqa: E402
from textspotter.scale.results import write_part  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(r"ignore::DeprecationWarning:ray\.data\.context")]

DPI = 100  # PDF pages are made at 100 dpi: rendering them at 100 dpi gives back the images' size


@pytest.fixture(scope="module")
def local_ray():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False, log_to_driver=False)
        try:
            yield
        finally:
            ray.shutdown()


def _page(number: int, size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=22)
    for line in range(3):
        draw.text((12, 12 + 48 * line), f"Page {number} line {line}: {number * 7 + line}", font=font, fill="black")
    return image


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """17 PNG pages (three sizes), a 2-page PDF and a corrupt PNG: 20 pages, one of which fails."""
    folder = tmp_path_factory.mktemp("corpus")
    sizes = [(320, 200), (360, 240), (300, 260)]
    for number in range(17):
        _page(number, sizes[number % 3]).save(folder / f"page{number:02d}.png")
    first, second = _page(100, (400, 200)), _page(101, (400, 200))
    first.save(folder / "report.pdf", save_all=True, append_images=[second], resolution=DPI)
    (folder / "scan-corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00 not an image " * 16)
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(reading_model(tmp_path_factory.mktemp("model") / "tiny"))


def _read_texts(corpus, model, tmp_path, capsys):
    """Texts ``textspotter read --format text`` gives, as {(source, page): text}."""
    out = tmp_path / "read"
    paths = sorted(str(p) for p in corpus.iterdir())
    status = main(["read", *paths, "--format", "text", "--out", str(out), "--model", model, "--dpi", str(DPI)])
    assert status == 1  # the corrupt file
    assert "scan-corrupt.png" in capsys.readouterr().err
    texts = {}
    for path in paths:
        written = out / (os.path.splitext(os.path.basename(path))[0] + ".txt")
        if written.exists():
            for page, text in enumerate(written.read_text(encoding="utf-8")[:-1].split("\f")):
                texts[(path, page)] = text
    return texts


def test_batch_matches_read_page_for_page_and_resumes(local_ray, corpus, model, tmp_path, capsys):
    output = str(tmp_path / "results")
    # First run: part of the corpus, through the library.
    first = run_batch(
        BatchJob(
            inputs=(str(corpus / "page0*.png"),),
            output=output,
            model=model,
            batch_size=4,
            reader_cpus=0.5,
            rows_per_file=6,
            image_options=ImageOptions(dpi=DPI),
        )
    )
    assert (first.inputs, first.pages_written, first.pages_failed) == (10, 10, 0)
    assert len(first.files) >= 2  # rows_per_file=6 splits the 10 rows

    # A row for the PDF's first page, as an interrupted run could have left: only its second page remains to do.
    seeded = dict(result_row(str(corpus / "report.pdf"), 0, 2), text="seeded")
    write_part(pa.Table.from_pylist([seeded], schema=output_schema()), output, "part-0-seeded.parquet", "parquet")

    # Second run: the whole folder through the CLI; only what is not written yet is done.
    command = ["batch", str(corpus), "--output", output, "--model", model, "--dpi", str(DPI), "--no-progress"]
    command += ["--batch-size", "4", "--reader-cpus", "0.5", "--rows-per-file", "6"]
    assert main(command) == 1  # a page failed
    err = capsys.readouterr().err
    assert "19 inputs, 10 already done; wrote 9 pages (1 failed)" in err
    assert "failed: " + str(corpus / "scan-corrupt.png") in err

    rows = read_results(output).to_pylist()
    assert len(rows) == 20
    failed = [r for r in rows if r["error"] is not None]
    assert [(r["source"], r["page"], r["page_count"]) for r in failed] == [(str(corpus / "scan-corrupt.png"), 0, 1)]
    assert failed[0]["error"].startswith(str(corpus / "scan-corrupt.png") + ": ")
    pdf = [r for r in rows if r["source"].endswith("report.pdf")]
    assert [(r["page"], r["page_count"]) for r in pdf] == [(0, 2), (1, 2)]

    assert pdf[0]["text"] == "seeded" and pdf[1]["text"] != "seeded"

    expected = _read_texts(corpus, model, tmp_path, capsys)
    assert len(expected) == 19 and all(expected.values())  # the texts compared are not all empty
    del expected[(str(corpus / "report.pdf"), 0)]
    produced = {(r["source"], r["page"]): r["text"] for r in rows if r["error"] is None and r["text"] != "seeded"}
    assert produced == expected

    # Third run: everything is done; nothing is written and Ray does no work.
    files = sorted(os.listdir(output))
    assert main(command) == 0
    assert "19 inputs, 19 already done; wrote 0 pages (0 failed) in 0 files" in capsys.readouterr().err
    assert sorted(os.listdir(output)) == files


def test_batch_reads_born_digital_pages_from_their_text_layer(local_ray, model, tmp_path, capsys):
    from test_batch import _born_digital
    from textspotter import OCR
    from textspotter.pipeline import TextLayerOptions

    folder = tmp_path / "in"
    folder.mkdir()
    pdf = str(_born_digital(folder))
    _page(7, (320, 200)).save(folder / "scan.png")
    output = str(tmp_path / "results")
    command = ["batch", str(folder), "--output", output, "--model", model, "--dpi", "144", "--no-progress"]
    command += ["--batch-size", "4", "--reader-cpus", "0.5", "--format", "jsonl"]
    assert main(command) == 0
    assert "2 inputs, 0 already done; wrote 4 pages (0 failed)" in capsys.readouterr().err
    rows = read_results(output, format="jsonl").to_pylist()
    assert [(r["source"], r["page"], r["text_source"], r["text_layer_reason"]) for r in rows] == [
        (str(folder / "scan.png"), 0, "ocr", None),
        (pdf, 0, "text-layer", None),
        (pdf, 1, "ocr", "unreliable"),
        (pdf, 2, "text-layer", None),
    ]
    # The text-layer pages never reached an actor's model: no stage time, no share of an OCR call.
    assert [r["timings"]["ocr"] is None for r in rows] == [False, True, False, True]
    # Page for page what `read` (the same default, --text-layer auto) gives.
    ocr = OCR(model=model, device="cpu", image_options=ImageOptions(dpi=144), text_layer=TextLayerOptions())
    expected = [
        (page.text(), page.text_source) for doc in ocr.read([str(folder / "scan.png"), pdf]) for page in doc.pages
    ]
    assert [(r["text"], r["text_source"]) for r in rows] == expected
    assert rows[1]["text"] == "Hello world, again.\nsecond line\n\nFar"

    # A rerun finds everything done; "--text-layer ocr" into another folder OCRs every page.
    assert main(command) == 0
    assert "2 inputs, 2 already done; wrote 0 pages" in capsys.readouterr().err
    other = str(tmp_path / "ocr")
    assert main([*command[:3], other, *command[4:], "--text-layer", "ocr"]) == 0
    capsys.readouterr()
    assert [r["text_source"] for r in read_results(other, format="jsonl").to_pylist()] == ["ocr"] * 4

"""Memory bounded by the detector input, not by the input's size; ranges of the detector side (issue #17)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from textspotter import OCR
from textspotter.cli.main import main
from textspotter.imageio import ImageError
from textspotter.models import create_model, load_model, save_model
from textspotter.models.spec import MAX_INFER_LENGTH, PreprocessConfig
from textspotter.pipeline.preprocess import (
    ScaleOptions,
    check_page_shape,
    render_page,
    render_square,
    render_views,
    render_window,
    tile_views,
    tiled_side,
)

_PEAK_RSS = textwrap.dedent(
    """
    def peak_rss_kib():
        # VmHWM: the peak of this process's own memory. ru_maxrss would also count the parent's memory at the
        # moment of the spawn (Linux carries it over exec), i.e. the size of the pytest process.
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    """
)

# The child reads a batch of PNGs with the tiny-test model at the shipped model's detector side (1536), then prints
# one JSON line: each Document's error (or page count) and its own peak RSS. Before the fix, rendering the
# 100,000 x 1 strip alone took 5.7 GB (``textspotter read`` at L = 1536), and the 60,000 x 300 page (aspect 200:1,
# readable) would build three 1536 x 60,000 x 3 float arrays, 1.1 GB each.
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from PIL import Image
    from textspotter import OCR
    from textspotter.models import create_model
    from textspotter.pipeline.preprocess import ScaleOptions

    folder = sys.argv[1]
    paths = []
    for name, (height, width) in {
        "strip": (1, 100_000), "long_strip": (1, 1_000_000), "wide": (300, 60_000), "receipt": (20_000, 600)
    }.items():
        page = np.full((height, width, 3), 255, dtype=np.uint8)
        page[height // 3 : height // 3 + max(1, height // 10), : width // 2] = 0  # some ink
        paths.append(f"{folder}/{name}.png")
        Image.fromarray(page).save(paths[-1])
        del page
    import torch
    # Seeded: how many regions a random-weight model finds varies with its initialisation, and a draw that finds
    # thousands on these pages measures the regions' memory (issue #20), not the page-size bound tested here.
    torch.manual_seed(0)
    ocr = OCR(model=create_model("tiny-test"), device="cpu", scale=ScaleOptions(infer_length=1536))
    # Should the bug come back, fail with an allocation error instead of taking the machine's memory (the old code
    # asked for tens of GB on the 1,000,000 x 1 strip).
    with open("/proc/self/status") as status:
        mapped = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (mapped + (3 << 30), resource.RLIM_INFINITY))
    documents = ocr.read(paths)
    print(json.dumps({
        "documents": [{"error": d.error, "pages": len(d.pages)} for d in documents],
        "max_rss_mib": peak_rss_kib() / 1024,
    }))
    """
)


# The children read their own peak memory from /proc (Linux).
needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc/self/status")


@needs_proc
def test_extreme_pages_stay_under_1_gib_and_end_in_a_clear_error_or_a_result(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS + _CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    strip, long_strip, wide, receipt = report["documents"]
    assert strip["error"].startswith(f"{tmp_path}/strip.png: page of 100000x1 pixels is too elongated")
    assert "infer_length 1536" in strip["error"] and "1536:1" in strip["error"]
    assert long_strip["error"].startswith(f"{tmp_path}/long_strip.png: page of 1000000x1 pixels is too elongated")
    # The others of the batch are still read.
    assert wide == {"error": None, "pages": 1} and receipt == {"error": None, "pages": 1}
    assert report["max_rss_mib"] < 1024, report
    print(f"peak RSS of the child: {report['max_rss_mib']:.0f} MiB")


_CONVERSION_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from textspotter.imageio import load_pages

    if sys.argv[1] == "rgba":
        source = np.full((4000, 4000, 4), 200, dtype=np.uint8)
        source[::7] = 0  # touch every page of memory, so that the peak counts what is really used
    elif sys.argv[1] == "float":
        source = np.full((4000, 4000, 3), 0.5, dtype=np.float32)
        source[::7] = 0
    else:
        source = sys.argv[2]  # a PNG file written by the test
    before = peak_rss_kib()
    image = load_pages(source)[0].image
    growth = peak_rss_kib() - before
    print(json.dumps({"growth_mib": growth / 1024, "output_mib": image.nbytes / 2**20}))
    """
)


@needs_proc
@pytest.mark.parametrize(("kind", "most"), [("rgba", 2.5), ("float", 2.5), ("L", 2.5), ("RGB", 3.5), ("I;16", 3.0)])
def test_decoding_needs_little_more_than_its_result(tmp_path, kind, most):
    # Peak growth while decoding a 4000 x 4000 page, in units of the 46 MiB result. Before: alpha compositing 7.3,
    # float -> uint8 8.0 (whole-page temporaries), grey PNG 4.0, RGB PNG 6.0, 16-bit PNG 7.0 (a copy for the EXIF
    # check, a PIL conversion, a bytes copy). Now by row chunks: 1.4, 1.5, 1.4, 2.7 and 2.1 (PIL's own decoded image
    # for files, 4 bytes per RGB pixel, plus the result).
    from PIL import Image

    path = tmp_path / "page.png"
    if kind in ("L", "RGB", "I;16"):
        values = np.zeros((4000, 4000), dtype=np.uint16 if kind == "I;16" else np.uint8)
        values[::7] = 200
        Image.fromarray(values if kind != "RGB" else np.repeat(values[..., None], 3, axis=2)).save(
            path, compress_level=1
        )
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS + _CONVERSION_CHILD, kind, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["growth_mib"] < most * report["output_mib"], report


@pytest.mark.parametrize("pad_how", ["bottom_right", "center"])
def test_render_window_of_a_landscape_page_is_the_crop_bit_for_bit(pad_how):
    # Landscape pages resample columns first: a window must still equal the crop of the whole input exactly.
    config = PreprocessConfig(infer_length=160, pad_color=(1.0, 0.5, 0.25), pad_how=pad_how)
    image = np.random.default_rng(2).integers(0, 256, (130, 310, 3), dtype=np.uint8)
    whole, _ = render_page(image, config)
    for x0, y0, size in [(0, 0, 64), (40, 24, 96), (100, 60, 60)]:
        assert torch.equal(render_window(image, config, x0, y0, size), whole[:, y0 : y0 + size, x0 : x0 + size])


@pytest.mark.parametrize("shape", [(300, 200), (150, 420)])
def test_tiles_are_crops_of_the_whole_zoomed_rendering(shape):
    # Tiles are rendered window by window; they must equal the crops of the one R x R rendering they replace.
    config = PreprocessConfig(infer_length=128, pad_color=(1.0, 0.5, 0.25))
    options = ScaleOptions(mode="tiled", zoom=3.0, max_upscale=4.0)
    image = np.random.default_rng(3).integers(0, 256, (*shape, 3), dtype=np.uint8)
    inputs, views = render_views(image, config, options)
    side = tiled_side(*shape, config, options)
    rendered = render_square(image, side, config, pad_how="bottom_right")
    assert views[1:] == tile_views(*shape, config, options) and len(inputs) > 2
    for tile, view in zip(inputs[1:], views[1:]):
        x0, y0 = round(view.offset_x / view.scale), round(view.offset_y / view.scale)
        crop = rendered[:, y0 : y0 + 128, x0 : x0 + 128]
        assert torch.equal(tile[:, : crop.shape[1], : crop.shape[2]], crop)


def test_check_page_shape_allows_aspect_ratios_up_to_the_detector_side():
    config = PreprocessConfig(infer_length=1024)
    assert check_page_shape(20_000, 600, config) is None  # a long receipt
    assert check_page_shape(1, 1024, config) is None  # its 1-pixel side stays one detector pixel
    problem = check_page_shape(1, 1025, config)
    assert problem is not None and "1025x1" in problem and "1024:1" in problem


def test_elongated_page_errors_name_the_input_and_do_not_stop_a_batch():
    ocr = OCR(model=create_model("tiny-test"), device="cpu")  # L = 256
    strip = np.full((1, 300, 3), 255, dtype=np.uint8)
    page = np.full((64, 96, 3), 255, dtype=np.uint8)
    with pytest.raises(ImageError, match=r"^<array>: page of 300x1 pixels is too elongated"):
        ocr(strip)
    with pytest.raises(ImageError, match="too elongated"):
        ocr.detect(strip)
    documents = ocr.read([page, strip, page])
    assert [d.error is None for d in documents] == [True, False, True]
    assert documents[1].error.startswith("<array #1>: page of 300x1 pixels")
    # A sparse tensor raised a bare TypeError from .numpy() that did not name the input.
    with pytest.raises(ImageError, match=r"^<tensor>: torch\.sparse_coo tensor; pass a dense one"):
        ocr(torch.rand(3, 64, 96).to_sparse())


# ----------------------------------------------------------------------------------------------------------------
# Range of the detector side L


@pytest.mark.parametrize("value", [100_000, 8192, 4128, 32, 100, 1024.0, True, "1024"])
def test_infer_length_out_of_range_is_refused_with_its_origin(value):
    with pytest.raises(
        ValueError, match=r"ScaleOptions\.infer_length must be (an int|a multiple of 32 in \[64, 4096\]), got"
    ):
        ScaleOptions(infer_length=value)
    with pytest.raises(ValueError, match=r"PreprocessConfig\.infer_length must be"):
        PreprocessConfig(infer_length=value)


def test_infer_length_limits_are_accepted():
    assert ScaleOptions(infer_length=MAX_INFER_LENGTH).infer_length == 4096
    assert PreprocessConfig(infer_length=64).infer_length == 64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pad_color": (1.0, 2.0, 0.0)}, "pad_color"),
        ({"pad_color": (1.0, 1.0)}, "pad_color"),
        ({"std": (0.2, 0.0, 0.2)}, "std"),
        ({"mean": (0.4, float("nan"), 0.4)}, "mean"),
    ],
)
def test_preprocess_config_rejects_bad_colours_and_normalisation(kwargs, match):
    with pytest.raises(ValueError, match=f"PreprocessConfig.{match}"):
        PreprocessConfig(**kwargs)


@pytest.mark.parametrize(("kwargs", "match"), [({"zoom": 5.0}, "zoom"), ({"overlap": 0.6}, "overlap")])
def test_scale_options_bound_the_number_of_tiles(kwargs, match):
    with pytest.raises(ValueError, match=f"ScaleOptions.{match}"):
        ScaleOptions(**kwargs)
    # At the limits a page has at most 7 x 7 tiles, whatever its size.
    views = tile_views(
        10_000, 10_000, PreprocessConfig(infer_length=128), ScaleOptions(mode="tiled", zoom=4.0, overlap=0.5)
    )
    assert len(views) == 49


def test_model_json_with_a_huge_infer_length_names_the_file_and_the_value(tmp_path):
    folder = save_model(create_model("tiny-test"), tmp_path / "m")
    spec = json.loads((folder / "model.json").read_text())
    spec["preprocess"]["infer_length"] = 200_000
    (folder / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"model\.json.*infer_length.*200000"):
        load_model(folder)


def test_cli_blames_the_model_folder_not_the_option_for_a_bad_model_json(tmp_path, capsys):
    folder = save_model(create_model("tiny-test"), tmp_path / "m")
    spec = json.loads((folder / "model.json").read_text())
    spec["preprocess"]["infer_length"] = 200_000
    (folder / "model.json").write_text(json.dumps(spec))
    page = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.full((40, 60, 3), 255, dtype=np.uint8)).save(page)
    assert main(["read", str(page), "--model", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "model.json" in err and "200000" in err and "--infer-length" not in err


def test_cli_infer_length_out_of_range_is_a_usage_error(tmp_path, capsys):
    page = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.full((40, 60, 3), 255, dtype=np.uint8)).save(page)
    assert main(["read", str(page), "--model", str(tmp_path), "--infer-length", "100000"]) == 2
    err = capsys.readouterr().err
    assert "infer_length" in err and "100000" in err and "(option --infer-length)" in err and "Traceback" not in err


_TRIM = textwrap.dedent(
    """
    import numpy as np
    from textspotter.pipeline.memory import release_freed_memory

    def rss_mb():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) // 1024

    # 3,000 blocks of 64 kB (under glibc's mmap threshold, so they live in its heap); the last one stays, which
    # keeps the heap from shrinking by itself when the others are freed.
    blocks = [np.ones(8192) for _ in range(3000)]
    kept = blocks[-1]
    del blocks
    before = rss_mb()
    print(release_freed_memory(), before - rss_mb())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_is_given_back():
    result = subprocess.run([sys.executable, "-c", _TRIM], capture_output=True, text=True, check=True)
    could, released_mb = result.stdout.split()
    assert could == "True" and int(released_mb) > 100  # about 190 MB were held free


def test_reading_does_not_trim_the_allocator_between_batches(monkeypatch):
    # A trim after each batch made the next batch fault its memory in again (8 % of a page's CPU time) for ~50 MB
    # that the next batch takes back anyway; memory over a long PDF is flat without it (benchmarks/RESULTS.md,
    # "Session 41"). release_freed_memory stays for applications that go idle.
    import textspotter.pipeline.memory as memory_module

    calls = []
    monkeypatch.setattr(memory_module, "_malloc_trim", lambda: lambda pad: calls.append(pad) or 1)
    ocr = OCR(model=create_model("tiny-test"), device="cpu", batch_size=2, scale=ScaleOptions(mode="single"))
    documents = ocr.read([np.full((64, 96, 3), 255, dtype=np.uint8)] * 5)
    assert len(documents) == 5 and all(len(d.pages) == 1 for d in documents)
    assert calls == []
    assert memory_module.release_freed_memory() and calls == [0]  # the helper itself still trims

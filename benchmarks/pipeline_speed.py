"""Pages per second of the whole ``OCR.read`` path on CPU or GPU, with per-stage timings.

Random weights are enough for speed, but a random detector finds a random number of regions (none, or thousands of
junk cells), which makes every later stage meaningless to time. So the real detector runs (its full forward cost is
measured) but its confidence and box maps are replaced by scripted maps that reproduce the word boxes of the
rendered page: every page then yields its ~150 words through NMS, the recognizer, the relational model and
assembly, exactly like a trained model on that page would.

Pages: a fixed set of US-letter pages at 200 dpi (1700 × 2200), rendered with DejaVu Sans (PIL's default font if
absent): a title and two columns of seeded pseudo-words, ~150 words per page.

Usage::

    python benchmarks/pipeline_speed.py --models small v1 --batch-sizes 1 8 --pages 8 --threads 2
    python benchmarks/pipeline_speed.py --device cuda --precision bf16 --batch-sizes 8 32 --pages 64   # on a GPU

Prints a Markdown table (pages/s of wall time, CPU seconds per page, regions/page, wall seconds per page for each
stage) and the command, machine, date, thread count and load average, ready for ``benchmarks/RESULTS.md``.
On a shared machine wall time depends on the other processes; CPU time (all threads together) much less so. On a GPU
the stage timings of the detector are those of the host (CUDA runs asynchronously); pages/s is end to end, results on
the host. A first, untimed run warms up the device (kernel selection, allocator).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from textspotter.charset import Charset
from textspotter.models import DetectorOutput, create_model
from textspotter.pipeline import (
    OCR,
    AssemblyOptions,
    DetectionOptions,
    DetectorView,
    OrientationOptions,
    RecognitionOptions,
    ScaleOptions,
)
from textspotter.pipeline.preprocess import render_views

PAGE_SIZE = (1700, 2200)  # US letter at 200 dpi, (width, height)
STAGES = ("load", "preprocess", "detect", "recognize", "relate", "assemble")
_SYLLABLES = ("ka", "lo", "mi", "ne", "ra", "tu", "sen", "dor", "vel", "qua", "ex", "im", "pro", "tal", "on", "es")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def render_page(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Render one page; return ``([H, W, 3] uint8, [n, 4] word boxes (x0, y0, x1, y1) in page pixels)``."""
    rng = np.random.default_rng(seed)
    width, height = PAGE_SIZE
    image = Image.new("RGB", PAGE_SIZE, "white")
    draw = ImageDraw.Draw(image)
    boxes: list[tuple[float, float, float, float]] = []

    def word() -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(int(rng.integers(1, 4))))

    def write_line(x: float, y: float, x_end: float, font: ImageFont.ImageFont) -> None:
        space = draw.textlength(" ", font=font)
        while True:
            text = word()
            length = draw.textlength(text, font=font)
            if x + length > x_end:
                return
            draw.text((x, y), text, fill="black", font=font)
            left, top, right, bottom = draw.textbbox((x, y), text, font=font)
            boxes.append((left, top, right, bottom))
            x += length + space

    write_line(150, 150, width - 150, _font(56))
    body = _font(30)
    column_width, gutter = (width - 300 - 80) / 2, 80
    for column in range(2):
        x0 = 150 + column * (column_width + gutter)
        for row in range(13):
            write_line(x0, 320 + row * 48 + (row // 5) * 40, x0 + column_width, body)
    return np.asarray(image), np.asarray(boxes, dtype=np.float32)


def scripted_maps(view: DetectorView, boxes: np.ndarray, cell: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Confidence logits ``[Hf, Wf]`` and rboxes ``[Hf, Wf, 5]`` that make the NMS find ``boxes`` in ``view``."""
    rows, cols = view.height // cell, view.width // cell
    logits = torch.full((rows, cols), -10.0)
    rboxes = torch.zeros(rows, cols, 5)
    local = (boxes.reshape(-1, 2, 2) - np.array([view.offset_x, view.offset_y])) / view.scale
    for (x0, y0), (x1, y1) in local.tolist():
        # Cells whose centre (cell·i + cell/2) lies inside the box.
        c0, c1 = max(0, int(np.ceil(x0 / cell - 0.5))), min(cols, int(np.ceil(x1 / cell - 0.5)))
        r0, r1 = max(0, int(np.ceil(y0 / cell - 0.5))), min(rows, int(np.ceil(y1 / cell - 0.5)))
        if c0 >= c1 or r0 >= r1:
            continue
        cy = (torch.arange(r0, r1, dtype=torch.float32)[:, None] * cell + cell / 2).expand(r1 - r0, c1 - c0)
        cx = (torch.arange(c0, c1, dtype=torch.float32)[None, :] * cell + cell / 2).expand(r1 - r0, c1 - c0)
        logits[r0:r1, c0:c1] = 10.0
        rboxes[r0:r1, c0:c1] = torch.stack([cy - y0, x1 - cx, y1 - cy, cx - x0, torch.zeros_like(cx)], dim=-1)
    return logits, rboxes


class ScriptedDetector(nn.Module):
    """Run the real detector (for its cost and its features) and return queued scripted maps instead of its own."""

    def __init__(self, real: nn.Module) -> None:
        super().__init__()
        self.real = real
        self.queue: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, images: torch.Tensor) -> DetectorOutput:
        out = self.real(images)
        maps = [self.queue.pop(0) for _ in range(images.shape[0])]
        # The input may be cropped to the page (DetectionOptions.crop_to_page: from the top-left, bottom-right padding).
        rows, cols = out.confidence.shape[-2:]
        logits = torch.stack([m[0][:rows, :cols] for m in maps]).to(out.confidence)
        rboxes = torch.stack([m[1][:rows, :cols] for m in maps]).to(out.rboxes)
        return DetectorOutput(logits, rboxes, out.features)


def build_model(name: str) -> nn.Module:
    model = create_model(name)
    if model.spec.charset is None:  # the published architectures carry no charset of their own
        characters = tuple(chr(0x100 + i) for i in range(model.spec.recognizer.num_tokens - 3))
        model = create_model(name, charset=Charset(characters))
    model.eval()
    model.detector = ScriptedDetector(model.detector)
    return model


def run_case(
    model: nn.Module,
    pages: list,
    boxes: list,
    batch_size: int,
    scale: ScaleOptions,
    *,
    device: str = "cpu",
    precision: str = "model",
) -> dict[str, float]:
    """Read all pages once; return pages/s, regions per page and seconds per page per stage."""
    # Random recognizer weights make every word invalid; keep them so that assembly has the real amount of work.
    assembly = AssemblyOptions(include_invalid=True)
    ocr = OCR(
        model=model,
        device=device,
        batch_size=batch_size,
        scale=scale,
        assembly=assembly,
        detection=DetectionOptions(precision=precision),
        recognition=RecognitionOptions(precision=precision),
        # Random recognizer weights read every page badly, which would send each one through the quarter-turn
        # detections of the orientation check (timed on its own in benchmarks/orientation.py).
        orientation=OrientationOptions(mode="off"),
    )
    model.detector.queue = [
        scripted_maps(view, page_boxes)
        for page, page_boxes in zip(pages, boxes)
        for view in render_views(page, model.spec.preprocess, scale)[1]
    ]
    start, start_cpu = time.perf_counter(), time.process_time()
    documents = ocr.read(pages)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    result_pages = [page for doc in documents for page in doc.pages]
    row = {"pages_per_s": len(pages) / elapsed, "cpu_per_page": cpu / len(pages)}
    row["regions"] = statistics.fmean(len(page.words) for page in result_pages)
    for stage in STAGES:
        row[stage] = statistics.fmean(page.timings.get(stage, 0.0) for page in result_pages)
    return row


def time_detection_parts(model: nn.Module, page: np.ndarray, boxes: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median seconds of one detector forward pass and of the NMS (with pre-filter if the model uses it) on a page."""
    from textspotter.ops import prefilter_confidence, quad_nms, rrect_to_quads

    inputs, views = render_views(page, model.spec.preprocess, ScaleOptions())
    logits, rboxes = scripted_maps(views[0], boxes)
    post = model.spec.postprocess
    forward, nms = [], []
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            model.detector.real(inputs[0][None])
            forward.append(time.perf_counter() - start)
            start = time.perf_counter()
            conf = logits[None]
            if post.use_prefilter:
                conf = prefilter_confidence(conf, rboxes[None], kernel=post.prefilter_peak_kernel)
            quad_nms(rrect_to_quads(rboxes[None]), torch.sigmoid(conf), prob_threshold=0.5, iou_threshold=0.5)
            nms.append(time.perf_counter() - start)
    return statistics.median(forward), statistics.median(nms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["small", "v1"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--pages", type=int, default=8, help="pages per run (a multiple of the largest batch)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case; the median is reported")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tiled", action="store_true", help="also time ScaleOptions(mode='tiled') (zoom 2)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", choices=("model", "bf16"), default="model", help="network precision (both)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rendered = [render_page(seed) for seed in range(args.pages)]
    pages, boxes = [p for p, _ in rendered], [b for _, b in rendered]
    scales = [("single", ScaleOptions())] + ([("tiled", ScaleOptions(mode="tiled"))] if args.tiled else [])

    print(f"command: python benchmarks/pipeline_speed.py {' '.join(os.sys.argv[1:])}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='minutes')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    if args.device.startswith("cuda"):
        print(f"device: {torch.cuda.get_device_name(torch.device(args.device))}, precision {args.precision}")
    print(f"pages: {args.pages} × {PAGE_SIZE[0]}×{PAGE_SIZE[1]}, {statistics.fmean(map(len, boxes)):.0f} words each\n")
    print(
        "| model | scale | batch | pages/s | CPU s/page | regions/page | "
        + " | ".join(f"{s} s/page" for s in STAGES)
        + " |"
    )
    print("|---|---|---|---|---|---|" + "---|" * len(STAGES))
    for name in args.models:
        model = build_model(name)
        for scale_name, scale in scales:
            for batch_size in args.batch_sizes:
                case = {"device": args.device, "precision": args.precision}
                if args.device != "cpu":
                    run_case(model, pages[:batch_size], boxes[:batch_size], batch_size, scale, **case)  # warm-up
                runs = [run_case(model, pages, boxes, batch_size, scale, **case) for _ in range(args.repeats)]
                row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
                cells = [f"{row[stage]:.3f}" for stage in STAGES]
                print(
                    f"| {name} | {scale_name} | {batch_size} | {row['pages_per_s']:.3f} | {row['cpu_per_page']:.2f} | "
                    f"{row['regions']:.0f} | " + " | ".join(cells) + " |",
                    flush=True,
                )
    if args.device != "cpu":
        return  # the part timings below are host-side and CPU-only
    print("\n| model | detector forward s/page | NMS s/page |\n|---|---|---|")
    for name in args.models:
        forward, nms = time_detection_parts(build_model(name), pages[0], boxes[0], args.repeats)
        print(f"| {name} | {forward:.3f} | {nms:.3f} |", flush=True)


if __name__ == "__main__":
    main()

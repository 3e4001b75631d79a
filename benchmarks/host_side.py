"""Host-side work per page of ``OCR.read``: everything but the three networks (issue #20 item 4).

The pages, the scripted detector maps and the random-weight models are those of ``benchmarks/pipeline_speed.py``
(real detector forward for its features; its confidence and box maps replaced so that every page yields its ~190
words). The networks' own time is measured by forward hooks on the detector, the recognizer and the relational model
and subtracted from the wall time of the whole read; what is left is the host-side work the issue asks to bring
under 5 ms per page at batch 32. A profile of one more read (``cProfile``, networks included but listed apart) names
the Python functions that hold that time.

Usage::

    python benchmarks/host_side.py --batch-size 32 --pages 32 --threads 1
    python benchmarks/host_side.py --batch-size 8 --pages 8 --profile 25
    CALLERS="index_select|lerp_" python benchmarks/host_side.py --profile 5   # also who calls the matching functions

Prints a Markdown table (wall, networks, host, all per page) plus the command, machine, date and load average.
On a shared machine the host figure moves with the load; the CPU time of the process is printed too.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_speed import build_model, render_page, scripted_maps  # noqa: E402

from textspotter.pipeline import OCR, AssemblyOptions, OrientationOptions, ScaleOptions  # noqa: E402
from textspotter.pipeline.preprocess import render_views  # noqa: E402


class NetworkClock:
    """Wall seconds spent inside the forward passes of the given modules (forward pre- and post-hooks)."""

    def __init__(self, modules: dict[str, nn.Module]) -> None:
        self.seconds = dict.fromkeys(modules, 0.0)
        self._started: dict[str, float] = {}
        for name, module in modules.items():
            module.register_forward_pre_hook(self._pre(name))
            module.register_forward_hook(self._post(name))

    def _pre(self, name: str):
        def hook(module: nn.Module, args: object) -> None:
            self._started[name] = time.perf_counter()

        return hook

    def _post(self, name: str):
        def hook(module: nn.Module, args: object, output: object) -> None:
            self.seconds[name] += time.perf_counter() - self._started.pop(name)

        return hook

    def reset(self) -> None:
        self.seconds = dict.fromkeys(self.seconds, 0.0)


def read_once(ocr: OCR, model: nn.Module, pages: list, boxes: list, scale: ScaleOptions) -> float:
    """Queue the scripted maps, read every page, return the wall seconds."""
    model.detector.queue = [
        scripted_maps(view, page_boxes)
        for page, page_boxes in zip(pages, boxes)
        for view in render_views(page, model.spec.preprocess, scale)[1]
    ]
    start = time.perf_counter()
    ocr.read(pages)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--pages", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timed reads; the median is reported")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, help="also print the N functions of most own time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rendered = [render_page(seed) for seed in range(args.pages)]
    pages, boxes = [p for p, _ in rendered], [b for _, b in rendered]
    model = build_model(args.model)
    clock = NetworkClock(
        {"detector": model.detector.real, "recognizer": model.recognizer, "relational": model.relational}
    )
    scale = ScaleOptions()
    ocr = OCR(
        model=model,
        batch_size=args.batch_size,
        scale=scale,
        # Random recognizer weights make every word invalid; keep them so that assembly has the real amount of work.
        assembly=AssemblyOptions(include_invalid=True),
        orientation=OrientationOptions(mode="off"),
    )
    read_once(ocr, model, pages[: args.batch_size], boxes[: args.batch_size], scale)  # warm-up
    runs = []
    for _ in range(args.repeats):
        clock.reset()
        cpu = time.process_time()
        wall = read_once(ocr, model, pages, boxes, scale)
        runs.append({"wall": wall, "cpu": time.process_time() - cpu, **clock.seconds})
    row = {key: statistics.median(run[key] for run in runs) / args.pages for key in runs[0]}
    networks = row["detector"] + row["recognizer"] + row["relational"]
    words = statistics.fmean(map(len, boxes))

    print(f"command: python benchmarks/host_side.py {' '.join(sys.argv[1:])}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='minutes')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    print(f"pages: {args.pages}, {words:.0f} words each, batch {args.batch_size}, median of {args.repeats} reads\n")
    print("| model | batch | wall ms/page | detector | recognizer | relational | **host ms/page** | CPU ms/page |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.model} | {args.batch_size} | {1e3 * row['wall']:.1f} | {1e3 * row['detector']:.1f} | "
        f"{1e3 * row['recognizer']:.1f} | {1e3 * row['relational']:.1f} | **{1e3 * (row['wall'] - networks):.1f}** | "
        f"{1e3 * row['cpu']:.1f} |"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        read_once(ocr, model, pages, boxes, scale)
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(os.environ.get("SORT", "tottime")).print_stats(args.profile)
        if os.environ.get("CALLERS"):
            pstats.Stats(profiler, stream=stream).print_callers(os.environ["CALLERS"])
        print("\n```\n" + stream.getvalue().strip() + "\n```")


if __name__ == "__main__":
    main()

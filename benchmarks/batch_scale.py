"""Throughput of ``textspotter batch`` on a local Ray instance with 1 and 2 OCR actors (pages per second).

Generates ``--pages`` PNG pages of ``--size`` pixels (a few lines of words each), saves the model with random
weights (seed 0) when ``--model`` is a registry name, starts one local Ray instance, and runs the same job with each
``--configs`` entry ``ACTORSxCPUS`` (actors, CPUs and PyTorch threads per actor) ``--repeats`` times, each into a
fresh output folder. Reports per configuration the median wall time of ``run_batch`` (Ray already started; actor
start-up and model loading included) and the pages per second it gives, plus the OCR-busy seconds per page measured
inside the actors (median over runs of the mean ``ocr`` timing) and the steady rate it implies once the actors are
up: actors / busy seconds per page (the actors' contention for cores is in their busy time). Results of runs on our
machines are in benchmarks/RESULTS.md.

    python benchmarks/batch_scale.py --model small --pages 24 --configs 1x1,2x1,1x2 --repeats 3

Random weights find no text, so recognition and relation cost nothing here: the figures are for detection-bound
pages (the detector runs the same whatever the weights). Ray's CPUs are logical: ``--ray-cpus`` defaults to enough
for the largest configuration plus the read and write tasks, whatever the machine has.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pages import PageLayout, word_page  # benchmarks/pages.py: the script's folder is on sys.path

DENSE = PageLayout(font=48, margin=20, pitch=30, words=(3, 9))


def make_page(index: int, width: int, height: int, path: Path) -> None:
    """Save a white page with lines of words, different for each index, as a PNG."""
    word_page(index, width, height, DENSE).save(path)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def parse_configs(text: str) -> list[tuple[int, int]]:
    configs = []
    for item in text.split(","):
        actors, _, cpus = item.strip().partition("x")
        configs.append((int(actors), int(cpus or 1)))
    return configs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="small", help="model folder or registry name (random weights)")
    parser.add_argument("--pages", type=int, default=24, help="pages per run (default: 24)")
    parser.add_argument("--size", default="850x1100", help="page size WxH in pixels (default: letter at 100 dpi)")
    parser.add_argument("--configs", default="1x1,2x1", help="ACTORSxCPUS entries, comma-separated (default: 1x1,2x1)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (default: 3)")
    parser.add_argument("--batch-size", type=int, default=4, help="pages per OCR batch (default: 4)")
    parser.add_argument("--ray-cpus", type=float, default=None, help="logical CPUs of the local Ray instance")
    args = parser.parse_args()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    import torch

    from textspotter.scale import BatchJob, read_results, run_batch

    configs = parse_configs(args.configs)
    width, height = (int(v) for v in args.size.lower().split("x"))
    work = Path(tempfile.mkdtemp(prefix="batch-scale-"))
    pages = work / "pages"
    pages.mkdir()
    for index in range(args.pages):
        make_page(index, width, height, pages / f"page{index:04d}.png")
    model = args.model
    weights = "trained weights"
    if not os.path.isdir(model):
        from textspotter.models import create_model
        from textspotter.models.checkpoints import save_model

        torch.manual_seed(0)
        model = str(save_model(create_model(args.model), work / "model"))
        weights = "random weights (seed 0)"

    reader_cpus, writer_cpus = 0.5, 0.25
    ray_cpus = args.ray_cpus or max(a * c for a, c in configs) + reader_cpus + writer_cpus + 0.25
    ray.init(num_cpus=ray_cpus, object_store_memory=500 * 1024**2, include_dashboard=False, log_to_driver=False)
    results = []
    try:
        for actors, cpus in configs:
            walls, busy = [], []
            for repeat in range(args.repeats):
                job = BatchJob(
                    inputs=(str(pages),),
                    output=str(work / f"out-{actors}x{cpus}-{repeat}"),
                    model=model,
                    batch_size=args.batch_size,
                    actors=actors,
                    cpus_per_actor=cpus,
                    reader_cpus=reader_cpus,
                    rows_per_file=1000,
                )
                summary = run_batch(job)
                if summary.pages_written != args.pages or summary.pages_failed:
                    print(f"run failed: {summary}", file=sys.stderr)
                    return 1
                timings = read_results(job.output)["timings"].to_pylist()
                walls.append(summary.seconds)
                busy.append(sum(t["ocr"] for t in timings) / args.pages)
                rate = summary.pages_per_second
                print(f"{actors}x{cpus} run {repeat + 1}: {summary.seconds:.1f} s, {rate:.3f} pages/s", file=sys.stderr)
            results.append((actors, cpus, walls, busy))
    finally:
        ray.shutdown()

    print(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"- command: `python {' '.join(sys.argv)}`")
    print(f"- machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"- torch {torch.__version__}, ray {ray.__version__}; local Ray with {ray_cpus:g} logical CPUs")
    print(f"- model: {args.model} ({weights}); {args.pages} pages of {width}x{height} px; batch size {args.batch_size}")
    print()
    print("| actors × CPUs | median wall s | median pages/s | runs (pages/s) | OCR-busy s/page | steady pages/s |")
    print("|---|---|---|---|---|---|")
    for actors, cpus, walls, busy in results:
        wall = statistics.median(walls)
        runs = ", ".join(f"{args.pages / w:.3f}" for w in walls)
        per_page = statistics.median(busy)
        steady = statistics.median(actors / b for b in busy)
        row = f"| {actors} × {cpus} | {wall:.1f} | {args.pages / wall:.3f} | {runs} | {per_page:.2f} | {steady:.3f} |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())

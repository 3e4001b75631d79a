"""Pages per second of each engine using all cores, both ways: threads in one process, or one page per core.

The speed target of issue #20 compares textspotter with Tesseract "run the fair way": each engine uses both cores,
and Tesseract, whose own threading gains little, is run as one single-threaded process per core reading pages side
by side. This script times every engine in both modes on the same pages in the same run:

- ``threads``: one worker process with ``--cores`` threads reads the pages one after another;
- ``processes``: ``--cores`` worker processes with one thread each pull pages from a shared queue.

Each worker is a fresh process (spawned, so thread settings cannot leak between engines) that loads its engine
before the clock starts: the wall time covers decoding each image file and reading it, from the moment every worker
is ready until the last page is done. Model loading and process start-up are reported apart (``load s``). The pages'
results are scored with the evaluation harness (CER and bag-of-word error), so that a faster mode which reads worse
shows it.

Usage::

    python benchmarks/fair_speed.py --datasets docbank tesseract-test --cores 2
    python benchmarks/fair_speed.py --datasets docbank --limit 20 --engines textspotter --modes processes

Prints a Markdown table (and the command, machine, date and load average) ready for ``benchmarks/RESULTS.md``;
``--output FILE`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = REPO.parent / "shared" / "data"


@dataclass
class RunResult:
    """What one (engine, mode) run measured; ``predictions`` indexed like the pages."""

    engine: str
    mode: str
    version: str = ""
    workers: int = 0
    wall_s: float = 0.0
    load_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    seconds: list[float] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _engine_options(name: str, model: str | None, precision: str, int8: str = "auto", long_words: str = "auto") -> Any:
    if name == "textspotter":
        from textspotter.evaluate.engines import TextspotterOptions

        return TextspotterOptions(model=model, precision=precision, int8=int8, long_words=long_words)
    return None


def _worker(
    name: str,
    threads: int,
    model: str | None,
    precision: str,
    int8: str,
    long_words: str,
    images: list[str],
    tasks: Any,
    ready: Any,
    start: Any,
    results: Any,
) -> None:
    """Load one engine with ``threads`` threads, wait for the start signal, read pages until the queue is empty."""
    # Thread limits before any library that reads them is imported (OpenMP in torch and libtesseract).
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["OMP_THREAD_LIMIT"] = str(threads)
    began = time.perf_counter()
    try:
        if name == "textspotter":
            import torch

            torch.set_num_threads(threads)
        from textspotter.evaluate.datasets import load_image
        from textspotter.evaluate.engines import create_engine

        engine = create_engine(name, _engine_options(name, model, precision, int8, long_words), threads=threads)
        engine.load()
        version = engine.version()
    except Exception as exc:  # the run reports the engine as unavailable
        ready.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    ready.put(("ready", time.perf_counter() - began))
    start.wait()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    out: list[tuple[int, float, Any, str]] = []
    while True:
        # A blocking get until the sentinel: multiprocessing's get_nowait() also raises Empty when another worker
        # holds the queue's read lock, which made a worker quit early and left one worker reading nearly every
        # page (the "two workers on one core" of earlier runs).
        index = tasks.get()
        if index is None:
            break
        tic = time.perf_counter()
        try:
            prediction = engine.read(load_image(images[index]))
            error = ""
        except Exception as exc:  # one bad page does not stop the run
            prediction, error = None, f"{type(exc).__name__}: {exc}"
        out.append((index, time.perf_counter() - tic, prediction, error))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results.put((version, usage.ru_utime + usage.ru_stime - cpu_before, usage.ru_maxrss / 1024.0, out))


def run(
    name: str,
    mode: str,
    cores: int,
    model: str | None,
    precision: str,
    images: list[str],
    int8: str = "auto",
    long_words: str = "auto",
) -> RunResult:
    """Time one engine in one mode over ``images``; see the module docstring."""
    context = mp.get_context("spawn")
    workers, threads = (1, cores) if mode == "threads" else (cores, 1)
    tasks, ready, results = context.Queue(), context.Queue(), context.Queue()
    start = context.Event()
    for index in range(len(images)):
        tasks.put(index)
    for _ in range(workers):
        tasks.put(None)  # one stop sentinel per worker
    began = time.perf_counter()
    processes = [
        context.Process(
            target=_worker,
            args=(name, threads, model, precision, int8, long_words, images, tasks, ready, start, results),
            daemon=True,
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    result = RunResult(engine=name, mode=mode, workers=workers)
    for _ in processes:
        status, value = ready.get()
        if status == "error":
            for process in processes:
                process.terminate()
            result.errors.append(value)
            return result
    result.load_s = time.perf_counter() - began
    tic = time.perf_counter()
    start.set()
    collected = [results.get() for _ in processes]
    result.wall_s = time.perf_counter() - tic
    for process in processes:
        process.join()
    result.seconds = [0.0] * len(images)
    result.predictions = [None] * len(images)
    for version, cpu, rss, pages in collected:
        result.version = version
        result.cpu_s += cpu
        result.peak_rss_mb = max(result.peak_rss_mb, rss)
        for index, seconds, prediction, error in pages:
            result.seconds[index] = seconds
            result.predictions[index] = prediction
            if error:
                result.errors.append(f"{images[index]}: {error}")
    return result


def _scores(samples: list[Any], predictions: list[Any]) -> tuple[float, float]:
    """CER and bag-of-word error (%) of the pages an engine read, with the benchmark's scoring."""
    from textspotter.document import Page
    from textspotter.evaluate.engines import Prediction
    from textspotter.evaluate.scoring import score_dataset

    filled = [p if p is not None else Prediction(Page(width=1, height=1), error="failed") for p in predictions]
    scores = score_dataset(samples, filled)
    metrics = scores.metrics()
    cer, bow = metrics["cer"], metrics["bag_of_word_error"]
    return (100.0 * cer if cer is not None else float("nan")), (100.0 * bow if bow is not None else float("nan"))


def _stage_seconds(predictions: list[Any]) -> dict[str, float]:
    """Mean seconds per page of each pipeline stage (textspotter pages carry ``timings``; others nothing)."""
    totals: dict[str, float] = {}
    pages = [p.page for p in predictions if p is not None and getattr(p.page, "timings", None)]
    for page in pages:
        for stage, seconds in page.timings.items():
            totals[stage] = totals.get(stage, 0.0) + seconds
    return {stage: total / len(pages) for stage, total in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["docbank", "tesseract-test"])
    parser.add_argument("--data-root", default=str(DATA_ROOT))
    parser.add_argument("--limit", type=int, default=None, help="first N pages of each dataset")
    parser.add_argument("--engines", nargs="+", default=["textspotter", "tesseract", "rapidocr"])
    parser.add_argument("--modes", nargs="+", default=["threads", "processes"], choices=["threads", "processes"])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", default=None, help="textspotter model folder (default: the shipped model)")
    parser.add_argument("--precision", default="auto", choices=["auto", "model", "bf16"])
    parser.add_argument("--int8", default="auto", choices=["auto", "on", "off"], help="textspotter's --int8")
    parser.add_argument(
        "--long-words", default="auto", choices=["auto", "on", "off"], help="textspotter's --long-words"
    )
    parser.add_argument("--output", default=None, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)

    from textspotter.evaluate.datasets import open_dataset

    print(f"# {' '.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}")
    print(
        f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start"
    )
    rows: list[dict[str, Any]] = []
    for spec in args.datasets:
        dataset = open_dataset(spec, data_root=args.data_root, limit=args.limit)
        samples = list(dataset.samples)
        images = [str(sample.image) for sample in samples]
        print(f"\n### {dataset.name}: {len(images)} pages, {args.cores} cores\n")
        print(
            "| engine | mode | workers × threads | pages/s | load s | CPU s/page | peak RSS MB (per worker) "
            "| CER % | BoW err % |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for name in args.engines:
            for mode in args.modes:
                result = run(name, mode, args.cores, args.model, args.precision, images, args.int8, args.long_words)
                if not result.wall_s:
                    print(f"| {name} | {mode} | unavailable: {'; '.join(result.errors)[:200]} |||||||")
                    continue
                cer, bow = _scores(samples, result.predictions)
                threads = args.cores if mode == "threads" else 1
                row = {
                    "dataset": dataset.name,
                    "engine": name,
                    "version": result.version,
                    "mode": mode,
                    "workers": result.workers,
                    "threads": threads,
                    "pages": len(images),
                    "pages_per_s": len(images) / result.wall_s,
                    "wall_s": result.wall_s,
                    "load_s": result.load_s,
                    "cpu_s_per_page": result.cpu_s / len(images),
                    "peak_rss_mb": result.peak_rss_mb,
                    "cer": cer,
                    "bow_error": bow,
                    "errors": result.errors,
                    "stages": _stage_seconds(result.predictions),
                    "load_average_after": os.getloadavg()[0],
                }
                rows.append(row)
                print(
                    f"| {name} | {mode} | {result.workers} × {threads} | {row['pages_per_s']:.3f} | "
                    f"{result.load_s:.1f} | {row['cpu_s_per_page']:.2f} | {result.peak_rss_mb:.0f} | {cer:.2f} | "
                    f"{bow:.2f} |",
                    flush=True,
                )
                for error in result.errors[:5]:
                    print(f"  error: {error}", file=sys.stderr)
        for row in rows:
            if row["dataset"] == dataset.name:
                print(f"- {row['engine']} ({row['mode']}): {row['version']}")
                if row["stages"]:
                    stages = ", ".join(f"{k} {v:.3f}" for k, v in row["stages"].items())
                    print(f"  - seconds per page by stage (wall, in its worker): {stages}")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``textspotter bench``: several engines side by side on several datasets, same images, same threads.

    textspotter bench --datasets docbank,tesseract-test,pubtabnet,rapidocr-lines \\
        --engines textspotter,tesseract,rapidocr --output bench-results

Prints a markdown table per dataset (engine × metric, pages per second, model-load seconds) and writes
``bench.md``, ``bench.json`` and ``charts/<metric>.png`` under ``--output``. Engine outputs are cached per
(engine, version, image hash), so a rerun only computes what changed. An engine that cannot run here (package or
model missing) is skipped with a message.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys

from textspotter.cli.eval import add_common_arguments, engine_options, open_cache, pin_threads, progress_printer

DEFAULT_DATASETS = "docbank,tesseract-test,pubtabnet,rapidocr-lines"
DEFAULT_ENGINES = "textspotter,tesseract,rapidocr"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--datasets",
        default=DEFAULT_DATASETS,
        help="comma-separated dataset paths, FORMAT:PATH or names under --data-root (default: %(default)s)",
    )
    parser.add_argument("--engines", default=DEFAULT_ENGINES, help="comma-separated engines (default: %(default)s)")
    parser.add_argument(
        "--output", default="bench-results", help="folder for bench.md, bench.json, charts/ (default: %(default)s)"
    )
    parser.add_argument("--no-charts", action="store_true", help="do not draw the PNG charts")
    parser.add_argument("--title", default="textspotter bench", help="heading of the report")
    parser.add_argument("--note", action="append", default=[], help="a line added to the report's context (repeatable)")
    parser.add_argument(
        "--fold-quotes",
        action="store_true",
        help="score typographic quotes and apostrophes as ASCII ones (a diagnostic; TextNormalization.fold_quotes)",
    )
    add_common_arguments(parser)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def _context(args: argparse.Namespace, cache_folder: str, load_before: str) -> list[tuple[str, str]]:
    threads = args.threads
    context = [
        ("command", "`" + shlex.join(["textspotter", *sys.argv[1:]]) + "`"),
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        (
            "machine",
            f"{_cpu_name()}, {os.cpu_count()} logical CPUs visible, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}",
        ),
        (
            "threads",
            f"{threads} per engine: OMP_NUM_THREADS=OMP_THREAD_LIMIT={threads}, torch.set_num_threads({threads}), "
            f"onnxruntime intra_op={threads} inter_op=1; engines run one after another, one page at a time",
        ),
        ("timing", "per-page seconds exclude image decoding and model load; load is reported apart"),
        (
            "load average",
            f"{load_before} at start, {_load_average()} at end (1-minute; other processes share the CPUs)",
        ),
        ("cache", cache_folder),
    ]
    if args.fold_quotes:
        context.append(("scoring", "typographic quotes and apostrophes scored as ASCII ones (--fold-quotes)"))
    if args.dont_care:
        context.append(
            ("scoring", "words read inside ignored reference words left out of the text metrics (--dont-care)")
        )
    if args.model is not None and args.model.startswith("random:"):
        context.append(("textspotter model", f"{args.model}: RANDOM untrained weights, scores are meaningless"))
    context += [("note", note) for note in args.note]
    return context


def run(args: argparse.Namespace) -> int:
    datasets_wanted = [d.strip() for d in args.datasets.split(",") if d.strip()]
    engines_wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    try:
        pin_threads(args.threads)
        from textspotter.evaluate import EngineUnavailableError, ScoreOptions, create_engine, evaluate, open_dataset
        from textspotter.evaluate.report import markdown_report, results_to_json, write_charts
        from textspotter.metrics import TextNormalization

        datasets = [
            open_dataset(d, data_root=args.data_root, format=args.format, limit=args.limit) for d in datasets_wanted
        ]
        engines = [create_engine(e, engine_options(e, args), threads=args.threads) for e in engines_wanted]
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"textspotter bench: error: {exc}", file=sys.stderr)
        return 2
    options = ScoreOptions(normalization=TextNormalization(fold_quotes=args.fold_quotes), dont_care=args.dont_care)
    cache = open_cache(args)
    load_before = _load_average()
    results = []
    for engine in engines:
        for dataset in datasets:
            try:
                results.append(
                    evaluate(
                        engine,
                        dataset,
                        cache=cache,
                        refresh=args.refresh,
                        options=options,
                        progress=progress_printer(engine.name, dataset.name, args.quiet),
                    )
                )
            except EngineUnavailableError as exc:
                print(f"textspotter bench: skipping {engine.name}: {exc}", file=sys.stderr)
                break
    if not results:
        print("textspotter bench: no engine could run", file=sys.stderr)
        return 3
    # Group by dataset in the order given, engines in the order given.
    position = {dataset.name: index for index, dataset in enumerate(datasets)}
    results.sort(key=lambda r: (position[r.dataset], engines_wanted.index(r.engine)))
    context = _context(args, "disabled" if cache is None else str(cache.folder), load_before)
    report = markdown_report(results, title=args.title, context=context)
    print(report, end="")
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "bench.md"), "w", encoding="utf-8") as handle:
        handle.write(report)
    with open(os.path.join(args.output, "bench.json"), "w", encoding="utf-8") as handle:
        handle.write(results_to_json(results, context=context) + "\n")
    if not args.no_charts:
        try:
            charts = write_charts(results, os.path.join(args.output, "charts"))
        except ImportError:
            print("textspotter bench: matplotlib is not installed; no charts (pip install matplotlib)", file=sys.stderr)
        else:
            print(f"wrote {len(charts)} charts to {os.path.join(args.output, 'charts')}", file=sys.stderr)
    return 0

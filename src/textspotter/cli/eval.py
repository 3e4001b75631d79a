"""``textspotter eval``: score one engine on one dataset.

    textspotter eval --dataset tesseract-test --engine tesseract
    textspotter eval --dataset docbank --engine rapidocr --limit 20 --json rapidocr-docbank.json
    textspotter eval --dataset icdar:/data/icdar2015/test --engine textspotter --model runs/v2-en/best

The options shared with ``textspotter bench`` (data root, threads, cache, engine settings) are defined here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

from .read import add_infer_length_argument, add_lexicon_argument, add_reading_order_argument

DEFAULT_DATA_ROOT = os.path.join("..", "shared", "data")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that ``eval`` and ``bench`` share."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data-root",
        default=DEFAULT_DATA_ROOT,
        help="folder of the named datasets docbank, tesseract-test, pubtabnet, rapidocr-lines (default: %(default)s)",
    )
    data.add_argument("--format", default=None, help="force the dataset format (default: detected from the files)")
    data.add_argument("--limit", type=int, default=None, help="score only the first N pages of each dataset")
    data.add_argument(
        "--dont-care",
        action="store_true",
        help="leave out of the text metrics the words read inside ignored reference words (text the reference does "
        "not transcribe; ScoreOptions.dont_care)",
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for every engine: OMP_NUM_THREADS, OMP_THREAD_LIMIT, torch, onnxruntime (default: 1)",
    )
    run.add_argument("--cache", default=None, help="cache folder (default: ~/.cache/textspotter/bench)")
    run.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    run.add_argument("--refresh", action="store_true", help="recompute every page and overwrite the cache")
    run.add_argument("--quiet", action="store_true", help="no per-page progress on stderr")
    engines = parser.add_argument_group("engines")
    engines.add_argument(
        "--model",
        default=None,
        help="textspotter model folder (default: the shipped model); 'random:NAME' for random weights of a "
        "registry configuration (speed and harness checks only)",
    )
    engines.add_argument("--device", default="cpu", help="textspotter device (default: cpu)")
    add_infer_length_argument(engines)
    add_reading_order_argument(engines)
    add_lexicon_argument(engines)
    engines.add_argument(
        "--crop-margin",
        type=float,
        default=None,
        metavar="M",
        help="textspotter: read each quad lengthened by M times its height at both ends (default: the pipeline's, "
        "RecognitionOptions.crop_margin; 0 reads the detected quads as they are)",
    )
    engines.add_argument("--tesseract-lang", default="eng", help="Tesseract languages, e.g. eng+deu (default: eng)")
    engines.add_argument("--tesseract-psm", type=int, default=3, help="Tesseract page segmentation mode (default: 3)")
    engines.add_argument(
        "--tesseract-backend", default="auto", choices=("auto", "tesserocr", "cli"), help="default: auto"
    )
    engines.add_argument("--tessdata", default=None, help="tessdata folder (default: the Debian one if present)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        required=True,
        help="a dataset path, FORMAT:PATH, or a name under --data-root (docbank, tesseract-test, pubtabnet, "
        "rapidocr-lines)",
    )
    parser.add_argument("--engine", required=True, help="textspotter, tesseract or rapidocr")
    parser.add_argument("--json", default=None, help="also write the result as JSON to this file")
    add_common_arguments(parser)


def pin_threads(threads: int) -> None:
    """Give every engine the same number of CPU threads (environment first, before engines load their libraries)."""
    if threads < 1:
        raise ValueError(f"--threads must be at least 1, got {threads}")
    for variable in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    import torch

    torch.set_num_threads(threads)
    # torch allows this only before its first parallel work; the intra-op setting above is what matters here.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)


def engine_options(name: str, args: argparse.Namespace) -> Any:
    """Build the options dataclass of engine ``name`` from the command-line arguments."""
    from textspotter.evaluate import TesseractOptions, TextspotterOptions

    if name == "textspotter":
        return TextspotterOptions(
            model=args.model,
            device=args.device,
            infer_length=args.infer_length,
            reading_order=args.reading_order,
            valid_confidence=args.valid_confidence,
            fit_text=args.fit_text,
            precision=args.precision,
            lexicon=args.lexicon,
            cjk_lm=args.cjk_lm,
            long_words=args.long_words,
            closing_quotes=args.closing_quotes,
            unify_scripts=args.unify_scripts == "on",
            han_pages=args.han_pages == "on",
            int8=args.int8,
            crop_to_page=args.crop_to_page,
            crop_margin=args.crop_margin,
        )
    if name == "tesseract":
        return TesseractOptions(
            lang=args.tesseract_lang, psm=args.tesseract_psm, backend=args.tesseract_backend, tessdata=args.tessdata
        )
    return None


def open_cache(args: argparse.Namespace) -> Any:
    """Return the :class:`ResultCache` the arguments ask for, or ``None`` with ``--no-cache``."""
    from textspotter.evaluate import ResultCache, default_cache_dir

    if args.no_cache:
        return None
    return ResultCache(args.cache or default_cache_dir())


def progress_printer(engine: str, dataset: str, quiet: bool) -> Any:
    """Return a progress callback that prints one line per page to stderr (``None`` when quiet)."""
    if quiet:
        return None

    def report(done: int, total: int, sample_id: str, cached: bool) -> None:
        note = " (cached)" if cached else ""
        print(f"[{engine} / {dataset}] {done}/{total} {sample_id}{note}", file=sys.stderr, flush=True)

    return report


def run(args: argparse.Namespace) -> int:
    try:
        pin_threads(args.threads)
        from textspotter.evaluate import EngineUnavailableError, ScoreOptions, create_engine, evaluate, open_dataset
        from textspotter.evaluate.report import markdown_report, results_to_json

        dataset = open_dataset(args.dataset, data_root=args.data_root, format=args.format, limit=args.limit)
        engine = create_engine(args.engine, engine_options(args.engine, args), threads=args.threads)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"textspotter eval: error: {exc}", file=sys.stderr)
        return 2
    try:
        result = evaluate(
            engine,
            dataset,
            cache=open_cache(args),
            refresh=args.refresh,
            progress=progress_printer(args.engine, dataset.name, args.quiet),
            options=ScoreOptions(dont_care=args.dont_care),
        )
    except EngineUnavailableError as exc:
        print(f"textspotter eval: engine {args.engine} is not available: {exc}", file=sys.stderr)
        return 3
    print(markdown_report([result], title=f"{args.engine} on {dataset.name}"), end="")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(results_to_json([result]) + "\n")
    return 0

"""``textspotter batch``: OCR a large corpus on Ray Data, one row per page, resumable (docs/batch.md).

Examples::

    textspotter batch scans/ "pdfs/**/*.pdf" --output results/                  # local Ray, Parquet
    textspotter batch --list inputs.txt --output s3://bucket/ocr/ --format jsonl
    textspotter batch s3://bucket/scans/ --output s3://bucket/ocr/ --address auto --actors 8 --gpus-per-actor 1

PDF pages are read from their own text layer when it can be trusted (``--text-layer auto``, the default, as for
``textspotter read``; ``ocr`` OCRs every page, ``only`` never OCRs); each row records its ``text_source``.

Rerunning the same command skips the pages already in ``--output``. A page that cannot be read gets a row with its
error and the run goes on; a part file that cannot be written (full disk) is named on stderr, the others are kept and
a rerun redoes its pages. The output folder is checked (created, a probe file written) before Ray starts. The exit
status is 0 when every page was read and written, 1 when some page failed, a part file could not be written or a
pattern matched nothing, 2 when the run could not start (bad options, missing model or list file, an output folder
that cannot be created, written or read, no Ray cluster at ``--address``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from .outputs import option_hint

__all__ = ["add_arguments", "run"]

# Names in the library's error messages (BatchJob fields, option classes) → the options that set them.
_OPTION_FLAGS = {
    "actors": "--actors",
    "batch_size": "--batch-size",
    "cpus_per_actor": "--cpus-per-actor",
    "gpus_per_actor": "--gpus-per-actor",
    "reader_cpus": "--reader-cpus",
    "rows_per_file": "--rows-per-file",
    "dpi": "--dpi",
    "pdf_password": "--pdf-password",
    "ScaleOptions.infer_length": "--infer-length",
    "precision": "--precision",
    "output": "--output",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``batch`` options to ``parser``."""
    from textspotter.scale.job import OUTPUT_FORMATS, BatchJob

    defaults = {f.name: f.default for f in dataclasses.fields(BatchJob)}
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="image or PDF files, folders or glob patterns; paths or fsspec URLs"
    )
    parser.add_argument(
        "--list",
        action="append",
        default=[],
        metavar="FILE",
        dest="list_files",
        help="text file naming one input per line (path or URL; # comments); may be repeated",
    )
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="output folder, path or fsspec URL")
    parser.add_argument(
        "--format",
        choices=tuple(OUTPUT_FORMATS),
        default=defaults["format"],
        help="part file format (default: parquet)",
    )
    parser.add_argument("--model", metavar="PATH", help="model folder on every node (default: the shipped model)")
    parser.add_argument("--dpi", type=float, default=200.0, help="resolution of rendered PDF pages (default: 200)")
    parser.add_argument(
        "--scale", choices=("single", "tiled"), default="single", help="single view, or also tiles (default: single)"
    )
    from textspotter.cli.read import (
        add_infer_length_argument,
        add_lexicon_argument,
        add_pdf_password_argument,
        add_text_layer_argument,
    )

    add_pdf_password_argument(parser)
    add_infer_length_argument(parser)
    add_lexicon_argument(parser)
    add_text_layer_argument(parser)
    parser.add_argument("--retry-errors", action="store_true", help="redo pages whose earlier row records an error")
    resources = parser.add_argument_group("resources")
    resources.add_argument("--address", help="Ray cluster to use ('auto', 'ray://host:10001'); default: a local Ray")
    resources.add_argument(
        "--actors", type=int, default=defaults["actors"], help="OCR actors, one model each (default: 1)"
    )
    resources.add_argument(
        "--batch-size", type=int, default=defaults["batch_size"], help="pages per OCR batch (default: 8)"
    )
    resources.add_argument(
        "--cpus-per-actor",
        type=float,
        default=defaults["cpus_per_actor"],
        help="CPUs per actor, also its PyTorch threads on CPU (default: 1)",
    )
    resources.add_argument(
        "--gpus-per-actor",
        type=float,
        default=defaults["gpus_per_actor"],
        help="GPUs per actor; above 0 the model runs on CUDA, 0.5 puts two actors on a GPU (default: 0)",
    )
    resources.add_argument(
        "--reader-cpus",
        type=float,
        default=defaults["reader_cpus"],
        help="CPUs per task that fetches inputs and renders pages (default: 1)",
    )
    resources.add_argument(
        "--rows-per-file",
        type=int,
        default=defaults["rows_per_file"],
        help="pages per part file, at least (default: 1000)",
    )
    resources.add_argument("--no-progress", action="store_true", help="hide Ray Data's progress bars")


def run(args: argparse.Namespace) -> int:
    """Run ``textspotter batch``; return 0 if every page was read, 1 if some failed, 2 if nothing could start."""
    from textspotter.imageio import ImageOptions
    from textspotter.ops.charlm import char_lm_options
    from textspotter.ops.lexicon import lexicon_options
    from textspotter.ops.longwords import long_word_options
    from textspotter.ops.quotes import quote_options
    from textspotter.pipeline import (
        DetectionOptions,
        RecognitionOptions,
        RelationOptions,
        ScaleOptions,
        TextLayerOptions,
    )
    from textspotter.scale import BatchJob, run_batch

    prog = "textspotter batch"
    try:
        job = BatchJob(
            inputs=tuple(args.inputs),
            list_files=tuple(args.list_files),
            output=args.output,
            format=args.format,
            model=args.model,
            batch_size=args.batch_size,
            actors=args.actors,
            cpus_per_actor=args.cpus_per_actor,
            gpus_per_actor=args.gpus_per_actor,
            reader_cpus=args.reader_cpus,
            rows_per_file=args.rows_per_file,
            retry_errors=args.retry_errors,
            image_options=ImageOptions(dpi=args.dpi, pdf_password=args.pdf_password),
            scale=ScaleOptions(mode=args.scale, infer_length=args.infer_length, fit_text=args.fit_text),
            detection=DetectionOptions(precision=args.precision, crop_to_page=args.crop_to_page, int8=args.int8),
            recognition=RecognitionOptions(
                precision=args.precision,
                lexicon=lexicon_options(args.lexicon),
                cjk_lm=char_lm_options(args.cjk_lm),
                long_words=long_word_options(args.long_words),
                closing_quotes=quote_options(args.closing_quotes),
                unify_scripts=args.unify_scripts == "on",
                han_pages=args.han_pages == "on",
                int8=args.int8,
            ),
            relation=RelationOptions(precision=args.precision),
            text_layer=TextLayerOptions(mode=args.text_layer),
        )
        summary = run_batch(job, address=args.address, progress=not args.no_progress)
    except (FileNotFoundError, ValueError, TypeError, ImportError, ConnectionError) as exc:
        print(f"{prog}: error: {exc}{option_hint(str(exc), _OPTION_FLAGS)}", file=sys.stderr)
        return 2
    for problem in summary.problems:
        print(f"{prog}: error: {problem}", file=sys.stderr)
    for problem in summary.write_errors:
        print(f"{prog}: error: {problem}", file=sys.stderr)
    if summary.write_errors:
        print(
            f"{prog}: {summary.pages_unwritten} pages were read but not written; the next run with the same command "
            "redoes them",
            file=sys.stderr,
        )
    for error in summary.errors:
        print(f"{prog}: failed: {error}", file=sys.stderr)
    if summary.pages_failed > len(summary.errors):
        print(
            f"{prog}: ... and {summary.pages_failed - len(summary.errors)} more (see the error column)", file=sys.stderr
        )
    print(
        f"{prog}: {summary.inputs} inputs, {summary.inputs_skipped} already done; wrote {summary.pages_written} pages "
        f"({summary.pages_failed} failed) in {len(summary.files)} files to {job.output} in {summary.seconds:.1f} s "
        f"({summary.pages_per_second:.2f} pages/s)",
        file=sys.stderr,
    )
    return 1 if summary.pages_failed or summary.problems or summary.write_errors else 0

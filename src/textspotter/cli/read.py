"""``textspotter read``: OCR images and PDFs and print or write the results.

Examples::

    textspotter read page.png                          # published JSON, one line per page
    textspotter read scans/ --format text --out out/   # every image and PDF of a folder, one .txt per input
    textspotter read "docs/*.pdf" --dpi 300 --overlay --out out/ --level sentence

Formats: ``json`` (per page one JSON line ``{"source", "page", "results": [published dicts]}``), ``document`` (the
full Document as JSON: paragraphs, lines, words with quads and confidences), ``text``, ``markdown``, ``hocr``,
``alto``. With ``--out DIR`` each input gets one file ``DIR/<name>.<ext>``; otherwise results go to stdout.
``--overlay`` draws the quads and texts over each page into ``<name>[.p<page>].overlay.png`` (in ``--out``, else
beside the input). An unreadable input is reported on stderr and the others still run; the exit status is 1 if any
input failed, 2 if nothing could start (no model, bad options).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..imageio import INPUT_SUFFIXES

__all__ = ["add_arguments", "add_infer_length_argument", "add_reading_order_argument", "run", "expand_paths"]

_MULTI_PAGE_SUFFIXES = (".pdf", ".tif", ".tiff")
FORMATS = {"json": ".json", "document": ".json", "text": ".txt", "markdown": ".md", "hocr": ".hocr", "alto": ".xml"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``read`` options to ``parser``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image or PDF files, directories, or glob patterns")
    parser.add_argument(
        "--level",
        choices=("word", "sentence", "paragraph"),
        default="paragraph",
        help="merge level of the json format and the overlay (default: paragraph)",
    )
    parser.add_argument("--format", choices=tuple(FORMATS), default="json", help="output format (default: json)")
    parser.add_argument("--out", metavar="DIR", help="write one file per input into DIR instead of printing")
    parser.add_argument("--overlay", action="store_true", help="also write a PNG of each page with boxes and texts")
    parser.add_argument("--dpi", type=float, default=200.0, help="resolution of rendered PDF pages (default: 200)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--batch-size", type=int, default=8, help="detector inputs per batch (default: 8)")
    parser.add_argument("--model", metavar="PATH", help="model folder (default: the shipped default model)")
    parser.add_argument(
        "--scale",
        choices=("single", "tiled"),
        default="single",
        help="single view (published), or also zoomed tiles for small text (default: single)",
    )
    add_infer_length_argument(parser)
    add_reading_order_argument(parser)


def add_reading_order_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--reading-order lines|paragraphs`` (``AssemblyOptions.order``); shared by read, eval and bench."""
    parser.add_argument(
        "--reading-order",
        choices=("lines", "paragraphs"),
        default="lines",
        help="place every line and split paragraphs that disagree (default), or keep the relational model's "
        "paragraphs whole (docs/usage.md §1)",
    )


def add_infer_length_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--infer-length L``, ``--no-fit-text`` (``ScaleOptions``) and ``--precision`` (detector and recognizer).

    Shared by read, batch, eval and bench.
    """
    parser.add_argument(
        "--infer-length",
        type=int,
        metavar="L",
        default=None,
        help="detector input side L, a multiple of 32 (default: the model's); larger reads small text better, slower",
    )
    parser.add_argument(
        "--no-fit-text",
        dest="fit_text",
        action="store_false",
        help="do not read a page again at a smaller size when its text is too large for the model "
        "(ScaleOptions.fit_text, docs/usage.md §4)",
    )
    parser.add_argument(
        "--precision",
        choices=("model", "bf16"),
        default="model",
        help="run the detector and recognizer in the model's dtype (default) or under bfloat16 autocast, faster on "
        "CPUs with AVX-512 BF16 and on GPUs (DetectionOptions / RecognitionOptions.precision, docs/usage.md §4)",
    )


def expand_paths(patterns: list[str]) -> tuple[list[str], list[str]]:
    """Expand directories (their images and PDFs, sorted, recursively) and glob patterns.

    Returns:
        ``(paths, problems)``: the inputs in order without duplicates, and one message per argument that matched
        nothing.
    """
    paths: list[str] = []
    problems: list[str] = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            found = sorted(
                str(p) for p in Path(pattern).rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES
            )
            if not found:
                problems.append(f"{pattern}: directory contains no images or PDFs")
        elif os.path.exists(pattern) or not glob.has_magic(pattern):
            found = [pattern]  # a missing plain path is reported by the reader, with the others still running
        else:
            found = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
            if not found:
                problems.append(f"{pattern}: no file matches this pattern")
        paths.extend(found)
    return list(dict.fromkeys(paths)), problems


def _render(doc: Any, fmt: str, level: str) -> str:
    from textspotter.export import to_alto, to_hocr, to_json, to_markdown, to_published, to_text

    if fmt == "json":
        return "\n".join(
            json.dumps(
                {"source": doc.source, "page": page.index, "results": to_published(page, level)}, ensure_ascii=False
            )
            for page in doc.pages
        )
    return {"document": to_json, "text": to_text, "markdown": to_markdown, "hocr": to_hocr, "alto": to_alto}[fmt](doc)


def _output_stem(source: str, used: set[str]) -> str:
    stem = Path(source).stem or "input"
    name, k = stem, 1
    while name in used:
        k += 1
        name = f"{stem}-{k}"
    used.add(name)
    return name


def _write_overlays(doc: Any, stem: str, folder: Path, level: str, image_options: Any) -> list[Path]:
    from textspotter.export import draw_overlay
    from textspotter.imageio import iter_pages

    written = []
    multi = len(doc.pages) > 1
    pages = {page.index: page for page in doc.pages}
    for image in iter_pages(doc.source, options=image_options):
        if image.index not in pages:
            continue
        name = f"{stem}.p{image.index + 1}.overlay.png" if multi else f"{stem}.overlay.png"
        path = folder / name
        draw_overlay(image.image, pages[image.index], level=level).save(path)
        written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    """Run ``textspotter read``; return 0 if every input was read, 1 if some failed, 2 if nothing could start."""
    from tqdm import tqdm

    from textspotter.imageio import ImageOptions
    from textspotter.pipeline import OCR, AssemblyOptions, DetectionOptions, RecognitionOptions, ScaleOptions

    paths, problems = expand_paths(args.paths)
    for problem in problems:
        print(f"textspotter read: error: {problem}", file=sys.stderr)
    if not paths:
        return 1 if problems else 2
    try:
        image_options = ImageOptions(dpi=args.dpi)
        ocr = OCR(
            model=args.model,
            device=args.device,
            batch_size=args.batch_size,
            image_options=image_options,
            scale=ScaleOptions(mode=args.scale, infer_length=args.infer_length, fit_text=args.fit_text),
            detection=DetectionOptions(precision=args.precision),
            recognition=RecognitionOptions(precision=args.precision),
            assembly=AssemblyOptions(order=args.reading_order),
        )
    except (FileNotFoundError, ValueError, TypeError) as exc:
        hint = " (on the command line: --model PATH)" if args.model is None else ""
        print(f"textspotter read: error: {exc}{hint}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    show_progress = len(paths) > 1 or Path(paths[0]).suffix.lower() in _MULTI_PAGE_SUFFIXES
    failed = bool(problems)
    used: set[str] = set()
    with tqdm(total=None, unit="page", file=sys.stderr, disable=not show_progress, leave=False) as bar:
        for doc in ocr.read_iter(paths, progress=bar.update):
            if doc.error is not None:
                failed = True
                bar.write(f"textspotter read: error: {doc.error}", file=sys.stderr)
                continue
            stem = _output_stem(doc.source, used)
            text = _render(doc, args.format, args.level)
            if out is None:
                if args.format != "json" and len(paths) > 1:
                    print(f"==> {doc.source} <==")
                print(text)
            else:
                (out / f"{stem}{FORMATS[args.format]}").write_text(text + "\n", encoding="utf-8")
            if args.overlay:
                folder = out if out is not None else Path(doc.source).parent
                _write_overlays(doc, stem, folder, args.level, image_options)
    return 1 if failed else 0

"""``textspotter read``: OCR images and PDFs and print or write the results.

Examples::

    textspotter read page.png                          # published JSON, one line per page
    textspotter read scans/ --format text --out out/   # every image and PDF of a folder, one .txt per input
    textspotter read "docs/*.pdf" --dpi 300 --overlay --out out/ --level line
    textspotter read scan.tif --format pdf,text --out out/ # searchable out/scan.pdf and out/scan.txt, one OCR pass
    curl -s https://example.org/page.png | textspotter read - --format text

Formats: ``json`` (per page one JSON line ``{"source", "page", "rotation", "text_source", "results": [published
dicts]}``), ``document`` (the full Document as JSON: paragraphs, lines, words with quads and confidences), ``text``,
``markdown``, ``hocr``, ``alto`` and ``pdf`` (the page images with an invisible, searchable text layer). Several
formats are asked for at once with commas (``--format text,hocr,pdf``): the inputs are read once and each input gets
one file per format. With ``--out DIR`` each input gets ``DIR/<name><suffix>`` per format (:data:`FORMATS`: ``json``
→ ``.json``, ``document`` → ``.document.json``, ``pdf`` → ``.pdf``, ...); otherwise one format goes to stdout
(``pdf`` only when stdout is not a terminal, and for one input). ``-`` reads one input from standard input (its
format is sniffed). ``--text-layer auto|ocr|only`` chooses whether PDF pages are read from their own text layer
(``pipeline.textlayer``). ``--overlay`` draws the quads and texts over each page into
``<name>[.p<page>].overlay.png`` (in ``--out``, else beside the input; the current folder for ``-``).

``json``, ``text`` and ``markdown`` are written page by page as batches of pages are read (stdout is flushed after
each page); ``document``, ``hocr``, ``alto`` and ``pdf`` once their input is complete. Every file is written as
``<name>.partial`` and renamed when complete (``cli.outputs``), so a killed run leaves the pages read so far in
``.partial`` files and never a truncated file under a final name. The output folders are checked before any work,
and an output that would replace one of the inputs is refused then.

The progress bar counts pages: its total (and so its ETA) comes from counting the pages of every input before
reading (PDF pages with pypdfium2, TIFF frames with PIL, without decoding them).

An unreadable input, or an output file that cannot be written (full disk), is reported on stderr and the others
still run. Exit status: 0 every input read and written, 1 some input failed or could not be written (or a pattern
matched nothing), 2 nothing could start (no model, bad options, an output folder that cannot be created or written).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..imageio import INPUT_SUFFIXES
from .outputs import PartialFile, check_folder, describe_os_error, option_hint, save_image

__all__ = [
    "add_arguments",
    "add_infer_length_argument",
    "add_lexicon_argument",
    "add_pdf_password_argument",
    "add_reading_order_argument",
    "add_text_layer_argument",
    "run",
    "expand_paths",
]

# Output formats and the suffix of their files. json and document differ, so that both can be written in one run.
FORMATS = {
    "json": ".json",
    "document": ".document.json",
    "text": ".txt",
    "markdown": ".md",
    "hocr": ".hocr",
    "alto": ".xml",
    "pdf": ".pdf",
}
STDIN = "-"
"""The path that stands for standard input."""

_STDIN_NAME = "<stdin>"  # Document.source of the input read from standard input


def parse_formats(value: str) -> tuple[str, ...]:
    """Parse ``--format``: one format or several separated by commas (``"text,hocr"``), without repeats.

    Raises:
        argparse.ArgumentTypeError: an unknown or empty format name.
    """
    names = [name.strip() for name in value.split(",")]
    unknown = [name for name in names if name not in FORMATS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}, several separated by commas"
        )
    return tuple(dict.fromkeys(names))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``read`` options to ``parser``."""
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="image or PDF files, directories, glob patterns, or - for stdin"
    )
    parser.add_argument(
        "--level",
        choices=("word", "line", "sentence", "paragraph"),
        default="paragraph",
        help="merge level of the json format and the overlay; line and sentence are the same (default: paragraph)",
    )
    parser.add_argument(
        "--format",
        type=parse_formats,
        default=("json",),
        metavar="FORMAT[,FORMAT...]",
        help=f"output formats, {', '.join(FORMATS)}; several separated by commas need --out (default: json)",
    )
    parser.add_argument("--out", metavar="DIR", help="write one file per input and format into DIR instead of printing")
    parser.add_argument("--overlay", action="store_true", help="also write a PNG of each page with boxes and texts")
    parser.add_argument("--dpi", type=float, default=200.0, help="resolution of rendered PDF pages (default: 200)")
    add_pdf_password_argument(parser)
    add_text_layer_argument(parser)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--batch-size", type=int, default=8, help="detector inputs per batch (default: 8)")
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N|auto",
        help="reader processes, one input at a time each, with cores/N threads each (default: 1); auto: one per "
        "core on a CPU when there are 4 or more inputs (docs/usage.md §5)",
    )
    parser.add_argument(
        "--model",
        metavar="PATH",
        help="model folder, or a shipped model name: default, multi (default: the shipped default model)",
    )
    parser.add_argument(
        "--scale",
        choices=("single", "tiled"),
        default="single",
        help="single view (published), or also zoomed tiles for small text (default: single)",
    )
    add_infer_length_argument(parser)
    add_reading_order_argument(parser)
    add_lexicon_argument(parser)
    parser.add_argument(
        "--orientation",
        choices=("auto", "off"),
        default="auto",
        help="auto: find pages turned by 90, 180 or 270 degrees and read them upright, reporting the turn as the "
        "page's rotation (quads stay in the input's pixels); off: read every page as it is (default: auto)",
    )


def _workers(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or auto, got {value!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number or auto, got {value!r}")
    return count


def add_pdf_password_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--pdf-password`` (``ImageOptions.pdf_password``); shared by read and batch."""
    parser.add_argument(
        "--pdf-password",
        metavar="PASSWORD",
        help="password of encrypted PDFs, user or owner password (ImageOptions.pdf_password); other users of this "
        "machine can see a command line, see docs/usage.md §5",
    )


def add_text_layer_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--text-layer auto|ocr|only`` (``TextLayerOptions.mode``)."""
    parser.add_argument(
        "--text-layer",
        choices=("auto", "ocr", "only"),
        default="auto",
        help="PDF pages: auto reads a trusted text layer and OCRs the other pages and their images; ocr OCRs every "
        "page; only never OCRs (a page without a trusted text layer stays empty). Each page's text_source says "
        "which it got; images are always OCRed (default: auto, docs/usage.md §7)",
    )


def _add_auto_switch(parser: argparse.ArgumentParser | argparse._ArgumentGroup, flag: str, help: str) -> None:
    """Add ``FLAG auto|on|off`` (default ``auto``): an optional pass of the pipeline, on by the model by default."""
    parser.add_argument(flag, choices=("auto", "on", "off"), default="auto", help=help)


def add_lexicon_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--lexicon auto|off|en`` (``RecognitionOptions.lexicon``), ``--cjk-lm auto|on|off``
    (``RecognitionOptions.cjk_lm``), ``--long-words auto|on|off`` (``RecognitionOptions.long_words``),
    ``--closing-quotes auto|on|off`` (``RecognitionOptions.closing_quotes``), ``--unify-scripts on|off``
    (``RecognitionOptions.unify_scripts``), ``--han-pages on|off`` (``RecognitionOptions.han_pages``) and ``--int8
    auto|on|off`` (``RecognitionOptions.int8``); shared by read, batch, eval and bench."""
    parser.add_argument(
        "--lexicon",
        choices=("auto", "off", "en"),
        default="auto",
        help="en: on pages of running English text, replace unsure readings of ordinary words by common English "
        "words that the recognizer's output supports; never words with digits or symbols, acronyms or confident "
        "readings; auto (default): en for the shipped CTC models, off for the published ones "
        "(RecognitionOptions.lexicon, docs/usage.md §8)",
    )
    _add_auto_switch(
        parser,
        "--cjk-lm",
        "on: read unsure Chinese and Japanese readings again with a beam search weighed by a character bigram "
        "of common Chinese and Japanese words; auto (default): on for models that read Han or kana (multi), off "
        "otherwise (RecognitionOptions.cjk_lm, docs/usage.md §8.1)",
    )
    _add_auto_switch(
        parser,
        "--long-words",
        "on: read a word too long for the recognizer's strip (code, URLs, long CJK lines) again as "
        "overlapping windows and join their readings; auto (default): on for the shipped CTC models, off for the "
        "published ones (RecognitionOptions.long_words, docs/usage.md §4)",
    )
    _add_auto_switch(
        parser,
        "--closing-quotes",
        "on: on a page that opens more double quotes than it closes, read the words ending in punctuation again "
        "lengthened at their end and keep a closing quote the detected box left out; auto (default): on for "
        "charsets with curly quotes (RecognitionOptions.closing_quotes, docs/usage.md §4)",
    )
    parser.add_argument(
        "--unify-scripts",
        choices=("on", "off"),
        default="on",
        help="on (default): read a word spelled in Latin and Cyrillic letters mixed again in one alphabet, and write "
        "Latin/Cyrillic look-alike letters (о/o, А/A) in the script of their word, or of their page for one- and "
        "two-letter words (RecognitionOptions.unify_scripts, docs/usage.md §8.2)",
    )
    parser.add_argument(
        "--han-pages",
        choices=("on", "off"),
        default="on",
        help="on (default): on a page whose Han and kana characters are nearly all Han (a Chinese page), read the "
        "regions read with kana again with kana left out, since there they are misread Han characters; no effect for "
        "models without kana (RecognitionOptions.han_pages, docs/usage.md §8.3)",
    )
    _add_auto_switch(
        parser,
        "--int8",
        "run the detector's and the recognizer's convolutions as int8 convolutions on the CPU; auto "
        "(default): when the model holds calibrated int8 ranges (both shipped models do) and PyTorch has x86 "
        "int8 kernels; on: the same, an error where it cannot (DetectionOptions / RecognitionOptions.int8, "
        "docs/usage.md §4)",
    )


def add_reading_order_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--reading-order lines|paragraphs`` (``AssemblyOptions.order``) and ``--valid-confidence C``
    (``AssemblyOptions.valid_confidence``); shared by read, eval and bench."""
    parser.add_argument(
        "--reading-order",
        choices=("lines", "paragraphs"),
        default="lines",
        help="place every line and split paragraphs that disagree (default), or keep the relational model's "
        "paragraphs whole (docs/usage.md §1)",
    )
    parser.add_argument(
        "--valid-confidence",
        type=_unit_interval,
        default=None,
        metavar="C",
        help="the confidence a word needs to be valid (kept in the output), in [0, 1); default: the model's "
        "(postprocess.valid_confidence in model.json, 0.5 as published)",
    )


def _unit_interval(value: str) -> float:
    """``argparse`` type of a number in [0, 1)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 <= number < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return number


def add_infer_length_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add ``--infer-length L``, ``--no-fit-text`` (``ScaleOptions``), ``--precision`` and ``--full-square``.

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
        choices=("auto", "model", "bf16"),
        default="auto",
        help="run the detector, the recognizer and the relational model's Transformer in the model's dtype (model) "
        "or under bfloat16 autocast (bf16); auto (default): bf16 on CPUs with native bfloat16 (AVX-512 BF16, AMX), "
        "else model (DetectionOptions / RecognitionOptions / RelationOptions.precision, docs/usage.md §4)",
    )
    parser.add_argument(
        "--full-square",
        dest="crop_to_page",
        action="store_false",
        help="run the detector on the whole padded square input, as the published models do, instead of only the "
        "part that shows the page (DetectionOptions.crop_to_page, docs/usage.md §4)",
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
        if pattern == STDIN:
            found = [STDIN]
        elif os.path.isdir(pattern):
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


# Formats written page by page as each page is read: the text before every page but the first, the text after every
# page, and the end of the output. The other formats are whole documents, written once their input is complete.
_STREAMED: dict[str, tuple[str, str]] = {"json": ("", "\n"), "text": ("\f", ""), "markdown": ("\n\n---\n\n", "")}

# Names in the library's error messages → the options that set them.
_OPTION_FLAGS = {
    "OCR(model=": "--model PATH",
    "batch_size": "--batch-size",
    "device": "--device",
    "dpi": "--dpi",
    "pdf_password": "--pdf-password",
    "ScaleOptions.infer_length": "--infer-length",
    "precision": "--precision",
}


def _read_in_workers(
    settings: dict[str, Any],
    inputs: list[Any],
    workers: int,
    progress: Any,
    on_page: Any,
) -> Iterator[Any]:
    """Documents of ``inputs`` read by worker processes, with the progress and page callbacks of ``read_iter``."""
    from textspotter.pipeline.parallel import read_in_processes

    threads = max(1, (os.cpu_count() or 1) // workers)
    for position, doc in enumerate(read_in_processes(settings, inputs, workers=workers, threads=threads)):
        if on_page is not None:
            for page in doc.pages:
                on_page(position, page)
        progress(len(doc.pages))
        yield doc


def _render(doc: Any, fmt: str, level: str) -> str:
    """Return a whole-document format (``document``, ``hocr``, ``alto``) of ``doc``."""
    from textspotter.export import to_alto, to_hocr, to_json

    return {"document": to_json, "hocr": to_hocr, "alto": to_alto}[fmt](doc)


def _page_piece(page: Any, fmt: str, source: str, level: str) -> str:
    """Return one page of a streamed format (``json``, ``text``, ``markdown``), without separators."""
    from textspotter.export import to_markdown, to_published

    if fmt == "json":
        # rotation: the clockwise turn the page was read at (--orientation); boxes are the input's either way.
        # text_source: where the page's text came from (--text-layer): ocr, text-layer, mixed or none.
        record = {
            "source": source,
            "page": page.index,
            "rotation": page.rotation,
            "text_source": page.text_source,
            "results": to_published(page, level),
        }
        return json.dumps(record, ensure_ascii=False)
    if fmt == "text":
        return page.text()
    return to_markdown(page).removesuffix("\n")


class _StdoutFailed(Exception):
    """Standard output cannot be written (e.g. redirected to a full disk): nothing more can be delivered."""


def _print(text: str) -> None:
    """Write ``text`` to stdout and flush it, so that a reader sees each page as soon as it is read."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader went away: cli.main stops quietly
    except OSError as exc:
        raise _StdoutFailed(describe_os_error(exc)) from exc


class _PageStream:
    """Write the pages of one input as they are read, to stdout or to a :class:`PartialFile`.

    The concatenated output equals the whole-document view: ``json`` one line per page, ``text`` pages separated by
    form feeds, ``markdown`` pages separated by ``---``.
    """

    def __init__(self, *, fmt: str, level: str, source: str, file: PartialFile | None, header: bool) -> None:
        self.fmt, self.level, self.source, self.file = fmt, level, source, file
        self.header = header  # "==> source <==" before the first page, on stdout
        self.pages = 0
        self.written = 0  # characters of the format's own text (not the header)
        self.ended = False

    def _emit(self, text: str) -> None:
        if self.file is not None:
            self.file.write(text)
        else:
            _print(text)

    def page(self, page: Any) -> None:
        before, after = _STREAMED[self.fmt]
        text = (before if self.pages else "") + _page_piece(page, self.fmt, self.source, self.level) + after
        self.written += len(text)
        if self.header and not self.pages:
            text = f"==> {self.source} <==\n" + text
        self.pages += 1
        self._emit(text)

    def end(self) -> None:
        """Write the end of the output (once)."""
        if self.ended:
            return
        self.ended = True
        if self.fmt == "text" or (self.fmt == "markdown" and self.written):
            self._emit("\n")
        if self.fmt == "markdown":
            self._emit("\n")

    def finish(self) -> None:
        """End the output and give the file its final name."""
        self.end()
        if self.file is not None:
            self.file.commit()


def _output_stem(source: str, used: set[str]) -> str:
    stem = "stdin" if source == STDIN else Path(source).stem or "input"
    name, k = stem, 1
    while name in used:
        k += 1
        name = f"{stem}-{k}"
    used.add(name)
    return name


class _StdinBytes(io.BytesIO):
    """Standard input's bytes, named as the reader reports them (``Document.source``)."""

    name = _STDIN_NAME


def count_pages(source: str | bytes, *, pdf_password: str | None = None) -> int:
    """Count the pages of an input without decoding them, for the progress bar.

    Args:
        source: a path, or the bytes of an image or PDF.
        pdf_password: password of an encrypted PDF.

    Returns:
        A PDF's page count (pypdfium2 reads only its page tree), a TIFF's frame count, 1 for any other input, and
        1 for an input that cannot be opened (the reader reports it).
    """
    from PIL import Image

    try:
        if isinstance(source, bytes):
            head = source[:1024]
        else:
            with open(source, "rb") as handle:
                head = handle.read(1024)
        if b"%PDF-" in head:
            import pypdfium2 as pdfium

            document = pdfium.PdfDocument(source, password=pdf_password)
            try:
                return max(len(document), 1)
            finally:
                document.close()
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            return max(int(getattr(image, "n_frames", 1)), 1) if image.format == "TIFF" else 1
    except (OSError, ValueError, RuntimeError, Image.DecompressionBombError):
        return 1  # only an estimate: the reader reports what is wrong with the input (PdfiumError is a RuntimeError)


def _write_overlays(doc: Any, source: Any, stem: str, folder: Path, level: str, image_options: Any) -> list[str]:
    """Draw and save the overlay of each page; return one message per file that could not be written."""
    from textspotter.export import draw_overlay
    from textspotter.imageio import iter_pages

    problems = []
    multi = len(doc.pages) > 1
    pages = {page.index: page for page in doc.pages}
    for image in iter_pages(source, options=image_options, name=doc.source):
        if image.index not in pages:
            continue
        name = f"{stem}.p{image.index + 1}.overlay.png" if multi else f"{stem}.overlay.png"
        problem = save_image(draw_overlay(image.image, pages[image.index], level=level), folder / name)
        if problem is not None:
            problems.append(problem)
    return problems


def _write_pdf(doc: Any, source: Any, file: Any, image_options: Any) -> None:
    """Write the searchable PDF of ``doc`` to ``file``, its page images decoded again from ``source``."""
    from textspotter.export import write_pdf
    from textspotter.export.pdf import source_dpi
    from textspotter.imageio import iter_pages

    images = iter_pages(source, options=image_options, name=doc.source)
    dpi = source_dpi(source, image_options=image_options)
    write_pdf(doc, file, images=images, dpi=dpi)


class _BinaryStdout:
    """``sys.stdout.buffer`` for binary formats, failing as :func:`_print` does."""

    def write(self, data: bytes) -> None:
        try:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _StdoutFailed(describe_os_error(exc)) from exc

    def flush(self) -> None:
        try:
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _StdoutFailed(describe_os_error(exc)) from exc


def _check_outputs(out: Path | None, overlay_folders: list[Path]) -> list[str]:
    """Check every folder that will receive files, before any work; return one message per unusable folder."""
    problems = []
    if out is not None:
        problem = check_folder(out, create=True)
        if problem is not None:
            problems.append(f"--out {problem}")
    for folder in dict.fromkeys(overlay_folders):
        problem = check_folder(folder, create=False)
        if problem is not None:
            problems.append(f"--overlay: {problem} (write the overlays elsewhere with --out DIR)")
    return problems


def _replaced_inputs(out: Path, stems: list[str], formats: tuple[str, ...], paths: list[str]) -> list[str]:
    """Return one message per output file that is one of the inputs (``scan.pdf --format pdf --out .``)."""
    inputs = [path for path in paths if path != STDIN and os.path.isfile(path)]
    problems = []
    for stem in stems:
        for fmt in formats:
            target = out / f"{stem}{FORMATS[fmt]}"
            if target.exists() and any(os.path.samefile(target, path) for path in inputs):
                problems.append(
                    f"--out {out}: the {fmt} output {target} would replace that input; choose another --out"
                )
    return problems


def _format_problems(formats: tuple[str, ...], out: Path | None, paths: list[str]) -> list[str]:
    """Check the formats against where they go; return one message per impossible combination."""
    if out is not None:
        return []
    if len(formats) > 1:
        return [f"--format {','.join(formats)}: several formats need --out DIR (one file per input and format)"]
    if formats == ("pdf",):
        if len(paths) > 1:
            return ["--format pdf: several inputs need --out DIR (one PDF per input)"]
        if sys.stdout.isatty():
            return ["--format pdf: a PDF is binary; give --out DIR or redirect stdout to a file"]
    return []


def run(args: argparse.Namespace) -> int:
    """Run ``textspotter read``; return 0 if every input was read and written, 1 if some input failed or could
    not be written, 2 if nothing could start."""
    from tqdm import tqdm

    from textspotter.imageio import ImageOptions
    from textspotter.ops.charlm import char_lm_options
    from textspotter.ops.lexicon import lexicon_options
    from textspotter.ops.longwords import long_word_options
    from textspotter.ops.quotes import quote_options
    from textspotter.pipeline import (
        OCR,
        AssemblyOptions,
        DetectionOptions,
        OrientationOptions,
        RecognitionOptions,
        RelationOptions,
        ScaleOptions,
    )
    from textspotter.pipeline.parallel import auto_workers
    from textspotter.pipeline.textlayer import TextLayerOptions

    prog = "textspotter read"
    formats: tuple[str, ...] = args.format if isinstance(args.format, tuple) else parse_formats(args.format)
    paths, problems = expand_paths(args.paths)
    for problem in problems:
        print(f"{prog}: error: {problem}", file=sys.stderr)
    if not paths:
        return 1 if problems else 2
    out = Path(args.out) if args.out else None
    used: set[str] = set()
    stems = [_output_stem(path, used) for path in paths]
    # Overlays without --out go beside their inputs; a missing input is reported by the reader, not here.
    beside = []
    if args.overlay and out is None:
        beside = [Path(".") if p == STDIN else Path(p).parent for p in paths if p == STDIN or os.path.exists(p)]
    output_problems = _format_problems(formats, out, paths) or _check_outputs(out, beside)
    if out is not None and not output_problems:
        output_problems = _replaced_inputs(out, stems, formats, paths)
    for problem in output_problems:
        print(f"{prog}: error: {problem}", file=sys.stderr)
    if output_problems:
        return 2
    try:
        image_options = ImageOptions(dpi=args.dpi, pdf_password=args.pdf_password)
        settings: dict[str, Any] = {
            "model": args.model,
            "device": args.device,
            "batch_size": args.batch_size,
            "image_options": image_options,
            "scale": ScaleOptions(mode=args.scale, infer_length=args.infer_length, fit_text=args.fit_text),
            "detection": DetectionOptions(precision=args.precision, crop_to_page=args.crop_to_page, int8=args.int8),
            "recognition": RecognitionOptions(
                precision=args.precision,
                lexicon=lexicon_options(args.lexicon),
                cjk_lm=char_lm_options(args.cjk_lm),
                long_words=long_word_options(args.long_words),
                closing_quotes=quote_options(args.closing_quotes),
                unify_scripts=args.unify_scripts == "on",
                han_pages=args.han_pages == "on",
                int8=args.int8,
            ),
            "relation": RelationOptions(precision=args.precision),
            "assembly": AssemblyOptions(order=args.reading_order, valid_confidence=args.valid_confidence),
            "orientation": OrientationOptions(mode=args.orientation),
            "text_layer": TextLayerOptions(mode=args.text_layer),
        }
        # Built here even when worker processes read: a bad option or model stops the command before they start.
        ocr = OCR(**settings)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"{prog}: error: {exc}{option_hint(str(exc), _OPTION_FLAGS)}", file=sys.stderr)
        return 2
    # Standard input is read once; its bytes serve the reader, and the overlay and PDF, which decode again.
    stdin = sys.stdin.buffer.read() if STDIN in paths else b""
    sources: list[Any] = [stdin if path == STDIN else path for path in paths]
    total = sum(count_pages(source, pdf_password=args.pdf_password) for source in sources)
    show_progress = total > 1
    header = out is None and formats[0] != "json" and len(paths) > 1
    streamed = [fmt for fmt in formats if fmt in _STREAMED]
    whole = [fmt for fmt in formats if fmt not in _STREAMED]
    failed = bool(problems)
    streams: dict[tuple[int, str], _PageStream] = {}

    with tqdm(total=total, unit="page", file=sys.stderr, disable=not show_progress, leave=False) as bar:

        def report(message: str) -> None:
            nonlocal failed
            failed = True
            bar.write(f"{prog}: error: {message}", file=sys.stderr)

        def target(position: int, fmt: str) -> Path:
            assert out is not None  # noqa: S101 - callers write files only with --out
            return out / f"{stems[position]}{FORMATS[fmt]}"

        def open_stream(position: int, fmt: str) -> _PageStream:
            if (position, fmt) not in streams:
                file = None if out is None else PartialFile(target(position, fmt))
                streams[position, fmt] = _PageStream(
                    fmt=fmt,
                    level=args.level,
                    source=paths[position] if paths[position] != STDIN else _STDIN_NAME,
                    file=file,
                    header=header,
                )
            return streams[position, fmt]

        def on_page(position: int, page: Any) -> None:
            # The pages of a batch can start the next input before the Document of the previous one is yielded;
            # that input is complete then (inputs are decoded in order), so its end goes out first, on stdout.
            for (earlier, _), stream in streams.items():
                if earlier < position:
                    stream.end()
            for fmt in streamed:
                stream = open_stream(position, fmt)
                had_error = stream.file is not None and stream.file.error is not None
                stream.page(page)
                if stream.file is not None and stream.file.error is not None and not had_error:
                    report(stream.file.error)  # said at once; the input's later pages are not written

        def finish(position: int, doc: Any) -> None:
            if doc.error is not None:
                kept = []
                for fmt in streamed:
                    stream = streams.pop((position, fmt), None)
                    if stream is not None and stream.file is not None and stream.file.started:
                        stream.file.close()
                        kept.append(str(stream.file.partial))
                message = doc.error
                if kept:
                    message += f" (the pages read before this are in {', '.join(kept)})"
                report(message)
                return
            for fmt in streamed:
                stream = open_stream(position, fmt)
                del streams[position, fmt]
                reported = stream.file is not None and stream.file.error is not None
                stream.finish()
                if stream.file is not None and stream.file.error is not None and not reported:
                    report(stream.file.error)
            for fmt in whole:
                if fmt == "pdf":
                    if out is None:
                        try:
                            _write_pdf(doc, sources[position], _BinaryStdout(), image_options)
                            _BinaryStdout().flush()
                        except BrokenPipeError:
                            raise  # the reader went away: cli.main stops quietly
                        except (ValueError, OSError) as exc:  # the input changed or vanished since it was read
                            report(f"cannot write the PDF of {doc.source}: {exc}")
                        continue
                    file = PartialFile(target(position, fmt), binary=True)
                    try:
                        _write_pdf(doc, sources[position], file, image_options)
                    except (ValueError, OSError) as exc:  # the input changed or vanished since it was read
                        file.discard()
                        report(f"cannot write {file.path}: {exc}")
                        continue
                elif out is None:
                    text = _render(doc, fmt, args.level) + "\n"
                    _print(f"==> {doc.source} <==\n" + text if header else text)
                    continue
                else:
                    file = PartialFile(target(position, fmt))
                    file.write(_render(doc, fmt, args.level) + "\n")
                file.commit()
                if file.error is not None:
                    report(file.error)
            if args.overlay:
                folder = out if out is not None else Path(".") if paths[position] == STDIN else Path(doc.source).parent
                overlays = _write_overlays(doc, sources[position], stems[position], folder, args.level, image_options)
                for problem in overlays:
                    report(problem)

        inputs = [_StdinBytes(source) if path == STDIN else source for path, source in zip(paths, sources)]
        workers = auto_workers(len(paths), str(args.device)) if args.workers == "auto" else args.workers
        if workers > 1 and STDIN not in paths:
            del ocr  # each worker builds its own
            documents = _read_in_workers(settings, inputs, workers, bar.update, on_page if streamed else None)
        else:
            # Pages that only stream out are not kept for their Document: memory stays flat over a long PDF.
            stream_only = bool(streamed) and not whole and not args.overlay
            documents = ocr.read_iter(
                inputs, progress=bar.update, on_page=on_page if streamed else None, keep_pages=not stream_only
            )
        try:
            for position, doc in enumerate(documents):
                finish(position, doc)
        except _StdoutFailed as exc:
            # Every later result would go to the same broken stream: stop instead of reading for nothing.
            report(f"cannot write to stdout: {exc}")
            # What is still buffered would fail again when Python flushes stdout at exit (and turn the status into 120).
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if failed else 0

"""Engine adapters: textspotter, Tesseract 5 and RapidOCR behind one small interface.

Every engine takes the same input, a ``[H, W, 3]`` uint8 RGB page (decoded once by
:func:`textspotter.evaluate.datasets.load_image`), and returns a :class:`Prediction` holding a
:class:`textspotter.document.Page`: words and lines with quads in pixels of that page, in the engine's reading
order. Loading the model is a separate, separately timed step (:meth:`Engine.load`), so that model-load time is
reported apart from per-page time. Each engine runs with the thread count it is given.

>>> engine = create_engine("tesseract", threads=1)           # doctest: +SKIP
>>> engine.load(); prediction = engine.read(image)          # doctest: +SKIP
>>> prediction.page.text()                                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import io
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from textspotter.document import Line, Page, Paragraph, Quad, Word, as_quad, bounding_quad

__all__ = [
    "Prediction",
    "Engine",
    "EngineUnavailableError",
    "TextspotterOptions",
    "TesseractOptions",
    "RapidOCROptions",
    "TextspotterEngine",
    "TesseractEngine",
    "RapidOCREngine",
    "ENGINES",
    "create_engine",
    "page_from_tesseract_tsv",
    "page_from_lines",
]

DEBIAN_TESSDATA = "/usr/share/tesseract-ocr/5/tessdata/"


class EngineUnavailableError(RuntimeError):
    """An engine cannot run here: its package, program or model files are missing."""


@dataclass(frozen=True)
class Prediction:
    """What an engine read on one page.

    Attributes:
        page: words, lines and paragraphs in the engine's reading order; quads in pixels of the input image.
        seconds: wall-clock time of :meth:`Engine.read` for this page (set by the runner; excludes decoding).
        tables: HTML of the tables the engine itself recognised (none of the current adapters produce any).
        error: why the page could not be read (then ``page`` is empty), or ``None``.
    """

    page: Page
    seconds: float = 0.0
    tables: tuple[str, ...] = ()
    error: str | None = None


class Engine(Protocol):
    """The interface the evaluation runner needs from an OCR engine."""

    name: str

    def version(self) -> str:
        """Return a string that changes whenever the output could change (library, model, settings, threads).

        It must be cheap: it is computed before the model is loaded, to look results up in the cache.
        """
        ...

    def load(self) -> None:
        """Load the model (timed separately by the runner). Raise :class:`EngineUnavailableError` if impossible."""
        ...

    def read(self, image: np.ndarray) -> Prediction:
        """Read one ``[H, W, 3]`` uint8 RGB page."""
        ...

    def close(self) -> None:
        """Release the model and any process or library handle."""
        ...


def _check_threads(threads: int) -> int:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    return threads


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not-installed"


@functools.lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """Hash the textspotter package's Python sources (paths and bytes): 12 hex digits.

    Part of the textspotter engine's version, so that the bench cache does not hand back pages read by other code
    at the same package version (a changed reading-order or orientation rule would otherwise be scored on stale
    outputs). About 10 ms, once per process.
    """
    import textspotter

    root = Path(textspotter.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _folder_fingerprint(folder: Path) -> str:
    """Hash the names, sizes and modification times of a folder's files (cheap; changes when weights change)."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _word(text: str, quad: Any, confidence: float, order: int) -> Word:
    confidence = float(min(max(confidence, 0.0), 1.0))
    return Word(text, as_quad(quad), confidence, confidence, confidence, order=order, valid=bool(text))


def _line(words: list[Word], order: int, quad: Quad | None = None) -> Line:
    confidence = float(np.mean([w.confidence for w in words])) if words else 0.0
    return Line(tuple(words), quad or bounding_quad([w.quad for w in words]), confidence, order=order)


def _paragraph(lines: list[Line], order: int, quad: Quad | None = None) -> Paragraph:
    confidence = float(np.mean([line.confidence for line in lines])) if lines else 0.0
    return Paragraph(tuple(lines), quad or bounding_quad([line.quad for line in lines]), confidence, order=order)


def page_from_lines(
    lines: list[tuple[str, Any, float, list[tuple[str, Any, float]] | None]],
    width: int,
    height: int,
) -> Page:
    """Build a one-paragraph :class:`Page` from lines in reading order.

    Args:
        lines: per line ``(text, quad [4, 2], confidence, words)``; ``words`` is ``[(text, quad, confidence)]``,
            or ``None`` to split the line's text at whitespace and give each word the matching stretch of the
            line's quad (by character position), which is exact for monospaced text and close otherwise.
        width, height: page size in pixels.

    Returns:
        The page (empty when ``lines`` is).
    """
    built: list[Line] = []
    for text, quad, confidence, words in lines:
        if words is None:
            words = _split_line(text, np.asarray(quad, dtype=np.float64), confidence)
        line_words = [_word(t, q, c, i) for i, (t, q, c) in enumerate(words) if t.strip()]
        if line_words:
            built.append(_line(line_words, len(built), as_quad(quad)))
    paragraphs = (_paragraph(built, 0),) if built else ()
    return Page(width=width, height=height, paragraphs=paragraphs)


def _split_line(text: str, quad: np.ndarray, confidence: float) -> list[tuple[str, np.ndarray, float]]:
    """Split a line into whitespace-separated words, each with the stretch of the line quad it spans."""
    length = max(len(text), 1)
    words = []
    for match in re.finditer(r"\S+", text):
        start, end = match.start() / length, match.end() / length
        top = quad[0] + (quad[1] - quad[0]) * np.array([[start], [end]])
        bottom = quad[3] + (quad[2] - quad[3]) * np.array([[end], [start]])
        words.append((match.group(), np.concatenate([top, bottom]), confidence))
    return words


# ------------------------------------------------------------------------------------------------------------
# textspotter


@dataclass(frozen=True)
class TextspotterOptions:
    """Settings of the textspotter engine.

    Attributes:
        model: a model folder; ``None`` for the shipped default model; or ``"random:<name>"`` for a randomly
            initialised model of a registry configuration (seed 0), to time an architecture or test the
            harness. Scores of random weights mean nothing; reports label them.
        device: ``"cpu"``, ``"cuda"``, ``"auto"`` ...
        batch_size: pages per forward pass (the runner sends one page at a time, so 1 is what is used).
        infer_length: detector input side (``ScaleOptions.infer_length``); ``None`` keeps the model's.
        reading_order: ``AssemblyOptions.order`` (``"lines"`` or ``"paragraphs"``).
        fit_text: ``ScaleOptions.fit_text`` (read pages with too-large text again at a smaller size).
        precision: ``DetectionOptions.precision`` and ``RecognitionOptions.precision`` (``"auto"``, ``"model"`` or
            ``"bf16"``); the version string names the precision ``"auto"`` resolves to on this machine.
        crop_to_page: ``DetectionOptions.crop_to_page`` (skip the padding of the detector's square input).
        lexicon: ``"off"``, or the language of ``RecognitionOptions.lexicon`` (``"en"``: rescore ordinary words
            with the shipped English lexicon and its default settings).
        cjk_lm: ``"auto"``, ``"on"`` or ``"off"``: ``RecognitionOptions.cjk_lm`` (``char_lm_options``).
        long_words: ``"auto"``, ``"on"`` or ``"off"``: ``RecognitionOptions.long_words`` (``long_word_options``).
        closing_quotes: ``"auto"``, ``"on"`` or ``"off"``: ``RecognitionOptions.closing_quotes`` (``quote_options``).
        unify_scripts: ``RecognitionOptions.unify_scripts`` (Latin/Cyrillic look-alikes in their word's script).
        han_pages: ``RecognitionOptions.han_pages`` (kana read on Chinese pages read again without kana).
        int8: ``DetectionOptions.int8`` and ``RecognitionOptions.int8`` (``"auto"``, ``"on"`` or ``"off"``); the
            version string names it unless off.
        crop_margin: ``RecognitionOptions.crop_margin``; ``None`` keeps the pipeline's default.
        valid_confidence: ``AssemblyOptions.valid_confidence``; ``None`` keeps the model's.
    """

    model: str | None = None
    device: str = "cpu"
    batch_size: int = 1
    infer_length: int | None = None
    reading_order: str = "lines"
    fit_text: bool = True
    precision: str = "auto"
    crop_to_page: bool = True
    lexicon: str = "auto"
    cjk_lm: str = "auto"
    long_words: str = "auto"
    closing_quotes: str = "auto"
    unify_scripts: bool = True
    han_pages: bool = True
    int8: str = "auto"
    crop_margin: float | None = None
    valid_confidence: float | None = None


def _named_settings(label: str, choice: str, settings: Any) -> str:
    """``"; LABEL CHOICE: field value, ..."`` of an options dataclass, for an engine's version string (a cache key)."""
    return f"; {label} {choice}: " + ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(settings).items())


class TextspotterEngine:
    """This project's pipeline, through ``textspotter.OCR(model=..., device=...).read(images)``."""

    name = "textspotter"

    def __init__(self, options: TextspotterOptions | None = None, *, threads: int = 1) -> None:
        self.options = options or TextspotterOptions()
        self.threads = _check_threads(threads)
        self._ocr: Any = None

    def _model_id(self) -> str:
        model = self.options.model
        if model is not None and model.startswith("random:"):
            return model
        if model is None:
            from textspotter.pipeline.ocr import default_model_dir

            folder = default_model_dir()
            return f"default@{_folder_fingerprint(folder)}"
        folder = Path(model)
        return f"{folder.resolve().name}@{_folder_fingerprint(folder)}"

    def version(self) -> str:
        from textspotter import __version__

        # Part of the version string, so that cached results of another input size or page assembly are not reused.
        extra = "" if self.options.infer_length is None else f"; infer_length {self.options.infer_length}"
        precision = self.options.precision
        if precision == "auto" and self.options.device == "cpu":
            from textspotter.pipeline.stages import resolve_precision

            precision = resolve_precision("cpu", precision)
        if precision != "model":
            extra += f"; precision {precision}"
        if self.options.crop_to_page:
            # Named when on: results cached before the option existed were read from the whole square input.
            extra += "; input cropped to the page"
        if self.options.lexicon != "off":
            # Named with its settings when on, so that cached results read without the lexicon, or with other
            # weights and thresholds, are not reused.
            from textspotter.ops.lexicon import LexiconOptions, lexicon_options

            chosen = lexicon_options(self.options.lexicon)
            extra += _named_settings(
                "lexicon", self.options.lexicon, chosen if isinstance(chosen, LexiconOptions) else LexiconOptions()
            )
        if self.options.cjk_lm != "off":
            # Named with its settings (it changes the readings of models that read Han or kana).
            from textspotter.ops.charlm import CharLMOptions

            extra += _named_settings("cjk lm", self.options.cjk_lm, CharLMOptions())
        if self.options.long_words != "off":
            # Named with its settings: results cached before the option existed read long words squeezed.
            from textspotter.ops.longwords import LongWordOptions

            extra += _named_settings("long words", self.options.long_words, LongWordOptions())
        if self.options.closing_quotes != "off":
            # Named with its settings: results cached before the option existed kept the quotes a box left out.
            from textspotter.ops.quotes import QuoteOptions

            extra += _named_settings("closing quotes", self.options.closing_quotes, QuoteOptions())
        if self.options.unify_scripts:
            # Named when on: results cached before the option existed kept look-alikes as read.
            extra += "; scripts unified"
        if not self.options.han_pages:
            # Named when off: the default (on) is in the code's fingerprint already.
            extra += "; kana kept on Chinese pages"
        if self.options.int8 != "off":
            # Named unless off: results cached before the option existed were read with a float encoder (the
            # model's fingerprint says whether it holds int8 ranges).
            extra += f"; int8 {self.options.int8}"
        from textspotter.pipeline.stages import RecognitionOptions

        margin = RecognitionOptions().crop_margin if self.options.crop_margin is None else self.options.crop_margin
        if margin:
            # Named when on: results cached before the option existed were read from the detected quads as they are.
            extra += f"; crop margin {margin:g}"
        if self.options.valid_confidence is not None:
            extra += f"; valid confidence {self.options.valid_confidence:g}"
        return (
            f"textspotter {__version__} (code {source_fingerprint()}); torch {_package_version('torch')}; "
            f"model {self._model_id()}; "
            f"device {self.options.device}; threads {self.threads}{extra}; "
            f"reading order {self.options.reading_order}; fit text {'on' if self.options.fit_text else 'off'}"
        )

    def load(self) -> None:
        try:
            import torch

            from textspotter import OCR
        except ImportError as exc:
            raise EngineUnavailableError(f"textspotter's pipeline cannot be imported: {exc}") from exc
        model: Any = self.options.model
        try:
            if model is not None and model.startswith("random:"):
                from textspotter.charset import latin_charset
                from textspotter.models import create_model, get_spec

                name = model.split(":", 1)[1]
                # The published configurations carry no charset; random weights decode with our Latin one.
                charset = None if get_spec(name).charset is not None else latin_charset()
                # A private RNG stream: the same random weights every time, without touching the caller's seed.
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)
                    model = create_model(name, charset=charset)
            from textspotter.ops.charlm import char_lm_options
            from textspotter.ops.lexicon import lexicon_options
            from textspotter.ops.longwords import long_word_options
            from textspotter.ops.quotes import quote_options
            from textspotter.pipeline import (
                AssemblyOptions,
                DetectionOptions,
                RecognitionOptions,
                RelationOptions,
                ScaleOptions,
            )

            self._ocr = OCR(
                model=model,
                device=self.options.device,
                batch_size=self.options.batch_size,
                scale=ScaleOptions(infer_length=self.options.infer_length, fit_text=self.options.fit_text),
                detection=DetectionOptions(
                    precision=self.options.precision,
                    crop_to_page=self.options.crop_to_page,
                    int8=self.options.int8,  # type: ignore[arg-type]
                ),
                recognition=RecognitionOptions(
                    precision=self.options.precision,
                    lexicon=lexicon_options(self.options.lexicon),
                    cjk_lm=char_lm_options(self.options.cjk_lm),
                    long_words=long_word_options(self.options.long_words),
                    closing_quotes=quote_options(self.options.closing_quotes),
                    unify_scripts=self.options.unify_scripts,
                    han_pages=self.options.han_pages,
                    int8=self.options.int8,  # type: ignore[arg-type]
                    **({} if self.options.crop_margin is None else {"crop_margin": self.options.crop_margin}),
                ),
                relation=RelationOptions(precision=self.options.precision),
                assembly=AssemblyOptions(
                    order=self.options.reading_order, valid_confidence=self.options.valid_confidence
                ),
            )
        except (FileNotFoundError, ValueError) as exc:
            # No weights, an unknown configuration, a model without charset: this engine cannot run as asked.
            raise EngineUnavailableError(str(exc)) from exc

    def read(self, image: np.ndarray) -> Prediction:
        if self._ocr is None:
            raise RuntimeError("call load() before read()")
        document = self._ocr.read([image])[0]
        height, width = image.shape[:2]
        if not document.ok or not document.pages:
            return Prediction(Page(width=width, height=height), error=document.error or "no page")
        return Prediction(document.pages[0])

    def close(self) -> None:
        self._ocr = None


# ------------------------------------------------------------------------------------------------------------
# Tesseract


@dataclass(frozen=True)
class TesseractOptions:
    """Settings of the Tesseract engine.

    Attributes:
        lang: Tesseract language(s), e.g. ``"eng"`` or ``"eng+deu+fra"``.
        psm: page segmentation mode (3: fully automatic, Tesseract's default).
        backend: ``"tesserocr"`` (in-process, model loaded once: load time measured apart), ``"cli"`` (the
            ``tesseract`` program per page: process start and model load fall in the per-page time), or
            ``"auto"`` (tesserocr when installed, else the CLI).
        tessdata: folder of ``*.traineddata``; ``None`` for the Debian folder when it exists (tesserocr's wheel
            finds no languages without it), else Tesseract's own default.
    """

    lang: str = "eng"
    psm: int = 3
    backend: str = "auto"
    tessdata: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "tesserocr", "cli"):
            raise ValueError(f"backend must be 'auto', 'tesserocr' or 'cli', got {self.backend!r}")
        if not re.fullmatch(r"[A-Za-z_]+(\+[A-Za-z_]+)*", self.lang):
            raise ValueError(f"lang must look like 'eng' or 'eng+deu', got {self.lang!r}")
        if not 0 <= self.psm <= 13:
            raise ValueError(f"psm must be in 0..13, got {self.psm!r}")


def page_from_tesseract_tsv(tsv: str, width: int, height: int) -> Page:
    """Build a :class:`Page` from Tesseract's TSV output (blocks and paragraphs → paragraphs, lines, words).

    Args:
        tsv: the TSV text (with or without its header row): ``level page block par line word left top width
            height conf text``.
        width, height: page size in pixels.
    """
    paragraphs: dict[tuple[int, int], dict[int, dict[str, Any]]] = {}
    line_boxes: dict[tuple[int, int, int], Quad] = {}
    for row in tsv.splitlines():
        fields = row.split("\t")
        if len(fields) < 11 or not fields[0].isdigit():
            continue
        level, _, block, par, line, _ = (int(v) for v in fields[:6])
        left, top, box_width, box_height = (float(v) for v in fields[6:10])
        quad = ((left, top), (left + box_width, top), (left + box_width, top + box_height), (left, top + box_height))
        if level == 4:
            line_boxes[(block, par, line)] = quad
        elif level == 5:
            text = fields[11].strip() if len(fields) > 11 else ""
            if not text:
                continue
            lines = paragraphs.setdefault((block, par), {})
            words = lines.setdefault(line, {"words": []})["words"]
            words.append(_word(text, quad, float(fields[10]) / 100, len(words)))
    built: list[Paragraph] = []
    for (block, par), lines in paragraphs.items():
        line_objects = [
            _line(entry["words"], order, line_boxes.get((block, par, number)))
            for order, (number, entry) in enumerate(lines.items())
        ]
        built.append(_paragraph(line_objects, len(built)))
    return Page(width=width, height=height, paragraphs=tuple(built))


class TesseractEngine:
    """Tesseract 5 through ``tesserocr`` (bundled libtesseract) or the ``tesseract`` program, with TSV output."""

    name = "tesseract"

    def __init__(self, options: TesseractOptions | None = None, *, threads: int = 1) -> None:
        self.options = options or TesseractOptions()
        self.threads = _check_threads(threads)
        self._api: Any = None
        self._backend = self._choose_backend()

    def _choose_backend(self) -> str:
        if self.options.backend != "auto":
            return self.options.backend
        try:
            import tesserocr  # noqa: F401
        except ImportError:
            return "cli"
        return "tesserocr"

    def _tessdata(self) -> str | None:
        if self.options.tessdata is not None:
            return self.options.tessdata
        return DEBIAN_TESSDATA if os.path.isdir(DEBIAN_TESSDATA) else None

    def version(self) -> str:
        if self._backend == "tesserocr":
            try:
                import tesserocr
            except ImportError as exc:
                raise EngineUnavailableError("tesserocr is not installed (pip install tesserocr)") from exc
            library = tesserocr.tesseract_version().splitlines()[0]
            backend = f"tesserocr {_package_version('tesserocr')}"
        else:
            program = shutil.which("tesseract")
            if program is None:
                raise EngineUnavailableError("the tesseract program is not installed (apt-get install tesseract-ocr)")
            result = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
            library = (result.stdout or result.stderr).splitlines()[0] if (result.stdout or result.stderr) else "?"
            backend = "cli"
        return f"{library}; {backend}; lang {self.options.lang}; psm {self.options.psm}; threads {self.threads}"

    def load(self) -> None:
        tessdata = self._tessdata()
        if tessdata is not None:
            missing = [
                lang for lang in self.options.lang.split("+") if not (Path(tessdata) / f"{lang}.traineddata").is_file()
            ]
            if missing:
                raise EngineUnavailableError(f"no traineddata for {missing} in {tessdata}")
        if self._backend == "cli":
            if shutil.which("tesseract") is None:
                raise EngineUnavailableError("the tesseract program is not installed (apt-get install tesseract-ocr)")
            return
        try:
            import tesserocr
        except ImportError as exc:
            raise EngineUnavailableError("tesserocr is not installed (pip install tesserocr)") from exc
        kwargs: dict[str, Any] = {"lang": self.options.lang, "psm": self.options.psm}
        if tessdata is not None:
            kwargs["path"] = tessdata
        try:
            self._api = tesserocr.PyTessBaseAPI(**kwargs)
        except RuntimeError as exc:
            raise EngineUnavailableError(f"tesserocr could not load {self.options.lang!r}: {exc}") from exc

    def read(self, image: np.ndarray) -> Prediction:
        height, width = image.shape[:2]
        if self._backend == "cli":
            tsv = self._run_cli(image)
        else:
            if self._api is None:
                raise RuntimeError("call load() before read()")
            from PIL import Image

            self._api.SetImage(Image.fromarray(image))
            tsv = self._api.GetTSVText(0)
            self._api.Clear()
        return Prediction(page_from_tesseract_tsv(tsv, width, height))

    def _run_cli(self, image: np.ndarray) -> str:
        from PIL import Image

        environment = dict(os.environ, OMP_THREAD_LIMIT=str(self.threads))
        tessdata = self._tessdata()
        command = ["tesseract", "", "stdout", "-l", self.options.lang, "--psm", str(self.options.psm)]
        if tessdata is not None:
            command += ["--tessdata-dir", tessdata]
        with tempfile.TemporaryDirectory(prefix="textspotter-tesseract-") as folder:
            # A lossless file, so the program sees exactly the pixels the other engines get.
            path = os.path.join(folder, "page.png")
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
            Path(path).write_bytes(buffer.getvalue())
            command[1] = path
            result = subprocess.run([*command, "tsv"], capture_output=True, text=True, env=environment, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"tesseract failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        return result.stdout

    def close(self) -> None:
        if self._api is not None:
            self._api.End()
            self._api = None


# ------------------------------------------------------------------------------------------------------------
# RapidOCR


@dataclass(frozen=True)
class RapidOCROptions:
    """Settings of the RapidOCR engine (``rapidocr`` 3.x on onnxruntime, models from its wheel).

    Attributes:
        word_boxes: ask RapidOCR for word boxes (``return_word_box``); lines whose words do not spell the line's
            text (CJK lines come back per character) are split at whitespace instead.
        params: extra ``RapidOCR(params=...)`` settings as ``(key, value)`` pairs, e.g.
            ``(("Det.box_thresh", 0.6),)``.
    """

    word_boxes: bool = True
    params: tuple[tuple[str, Any], ...] = ()


class RapidOCREngine:
    """RapidOCR 3.x (PP-OCR detection, direction classifier and recognition models, onnxruntime on CPU)."""

    name = "rapidocr"

    def __init__(self, options: RapidOCROptions | None = None, *, threads: int = 1) -> None:
        self.options = options or RapidOCROptions()
        self.threads = _check_threads(threads)
        self._engine: Any = None

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            # RapidOCR logs a warning for every page without text; the library must stay quiet.
            "Global.log_level": "error",
            "Global.return_word_box": self.options.word_boxes,
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        params.update(dict(self.options.params))
        return params

    def version(self) -> str:
        settings = ",".join(f"{k}={v}" for k, v in sorted(self._params().items()) if k != "Global.log_level")
        return (
            f"rapidocr {_package_version('rapidocr')}; onnxruntime {_package_version('onnxruntime')}; "
            f"{settings}; threads {self.threads}"
        )

    def load(self) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise EngineUnavailableError("rapidocr is not installed (pip install rapidocr onnxruntime)") from exc
        try:
            self._engine = RapidOCR(params=self._params())
        except Exception as exc:  # noqa: BLE001 - rapidocr raises many kinds when onnxruntime or models are missing
            raise EngineUnavailableError(f"RapidOCR could not start: {type(exc).__name__}: {exc}") from exc
        # RapidOCR 3 loads its three models lazily on the first page; load them now so that the first page's time
        # is reading time only. These are private methods of rapidocr 3.x, hence the guard.
        for loader in ("_load_det_model", "_load_cls_model", "_load_rec_model"):
            if hasattr(self._engine, loader):
                getattr(self._engine, loader)()

    def read(self, image: np.ndarray) -> Prediction:
        if self._engine is None:
            raise RuntimeError("call load() before read()")
        height, width = image.shape[:2]
        # RapidOCR takes arrays as BGR (OpenCV order).
        result = self._engine(np.ascontiguousarray(image[..., ::-1]))
        texts = getattr(result, "txts", None)
        boxes = getattr(result, "boxes", None)
        if not texts or boxes is None:
            return Prediction(Page(width=width, height=height))
        scores = getattr(result, "scores", None) or [1.0] * len(texts)
        word_results = getattr(result, "word_results", None) or ()
        aligned = self.options.word_boxes and len(word_results) == len(texts)
        lines = []
        for index, (text, box, score) in enumerate(zip(texts, boxes, scores)):
            words = None
            if aligned:
                candidate = [(str(w[0]), w[2], float(w[1])) for w in word_results[index] if w[2] is not None]
                if " ".join(w[0] for w in candidate).split() == text.split():
                    words = candidate
            lines.append((str(text), np.asarray(box, dtype=np.float64), float(score), words))
        return Prediction(page_from_lines(lines, width, height))

    def close(self) -> None:
        self._engine = None


ENGINES: dict[str, type] = {
    "textspotter": TextspotterEngine,
    "tesseract": TesseractEngine,
    "rapidocr": RapidOCREngine,
}


def create_engine(name: str, options: Any = None, *, threads: int = 1) -> Engine:
    """Create an engine adapter by name (``textspotter``, ``tesseract``, ``rapidocr``).

    Args:
        name: a key of :data:`ENGINES`.
        options: that engine's options dataclass (:class:`TextspotterOptions`, :class:`TesseractOptions`,
            :class:`RapidOCROptions`), or ``None`` for its defaults.
        threads: CPU threads the engine may use (onnxruntime intra-op threads, Tesseract's OpenMP limit for the
            CLI; torch's thread count is process-wide and set by the caller).
    """
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
    return ENGINES[name](options, threads=threads)

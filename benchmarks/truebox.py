"""Recognition alone: read DocBank's true word boxes and count the words read exactly right.

This separates the recognizer from the detector and the assembly: every engine gets the same boxes (DocBank's
token boxes, in page pixels) and is scored word by word. It is the measure issue #19 sets a target on (at least 92 %
of words exactly right) and the one to compare recognizer variants with before spending days of training on them.

Engines:

* ``textspotter``: ``OCR.recognize(page, quads)`` (the detector runs once per page for its feature map);
* ``rapidocr``: RapidOCR's recognizer alone (PP-OCR) on each box cropped from the page with a small margin;
* ``tesseract``: Tesseract on each cropped box as one word (page segmentation mode 8).
* ``textspotter-detected``: not true boxes: the detector's own quads, each true box matched one-to-one to the
  detected quad whose bounding box overlaps it most (IoU ≥ 0.5), the matched quad's text as the reading and an empty
  reading where nothing matched. Against ``textspotter`` this splits the page error into detection (unmatched
  words, the ``detected: missed`` group) and quad geometry (matched words read from the detector's quad instead of
  the true one, the ``detected: matched`` group).

Words are grouped by kind (lowercase letters only, containing digits, one character, other: punctuation, capitals,
symbols), by font kind (DocBank's font name: math fonts, italic, other) and by length. Tokens whose reference holds
characters the model's charset cannot produce are counted apart and are wrong for every engine.

Usage::

    python benchmarks/truebox.py --pages 20 --engines textspotter,rapidocr --threads 2
    python benchmarks/truebox.py --model runs/stage12/checkpoints/step-00001000/model --pages 20 --json out.json
    python benchmarks/truebox.py --engines textspotter,textspotter-detected --pages 20   # detection vs recognition
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_LOWER = re.compile(r"^[a-z]+$")
_MATH_FONT = re.compile(r"CMMI|CMSY|CMEX|MSBM|MSAM|EUFM|RSFS|Math|Symbol|STIX", re.IGNORECASE)
_ITALIC_FONT = re.compile(r"Italic|Oblique|CMTI|CMSL|-It\b|Ital", re.IGNORECASE)
_LENGTHS = ((1, 1), (2, 5), (6, 11), (12, 13), (14, 15), (16, 31), (32, 10_000))


@dataclass(frozen=True)
class Token:
    """A DocBank token: its text, its box in page pixels (x0, y0, x1, y1) and its font name."""

    text: str
    box: tuple[float, float, float, float]
    font: str


def docbank_pages(folder: Path, limit: int, skip: int = 0) -> Iterator[tuple[Path, list[Token]]]:
    """Yield ``limit`` DocBank pages (sorted by name) after the first ``skip`` with their usable tokens."""
    from PIL import Image

    from textspotter.evaluate.datasets import _repair_docbank_token

    for image_path in sorted(folder.glob("*_ori.jpg"))[skip : skip + limit]:
        with Image.open(image_path) as image:
            width, height = image.size
        annotation = image_path.with_name(image_path.name[: -len("_ori.jpg")] + ".txt")
        tokens = []
        for raw in annotation.read_text(encoding="utf-8").splitlines():
            fields = raw.split("\t")
            if len(fields) < 9:
                continue
            text = _repair_docbank_token(fields[0]).strip()
            x0, y0, x1, y1 = (float(v) for v in fields[1:5])
            if not text or (text.startswith("##LT") and text.endswith("##")) or x1 <= x0 or y1 <= y0:
                continue
            box = (x0 * width / 1000, y0 * height / 1000, x1 * width / 1000, y1 * height / 1000)
            tokens.append(Token(text, box, fields[8].split("+")[-1]))
        yield image_path, tokens


def _quads(tokens: list[Token]) -> np.ndarray:
    """``[N, 4, 2]`` float32 quads, clockwise from the top-left vertex."""
    boxes = np.array([t.box for t in tokens], dtype=np.float32).reshape(-1, 4)
    x0, y0, x1, y1 = boxes.T
    return np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x1, y1], 1), np.stack([x0, y1], 1)], 1)


def _crops(image: np.ndarray, tokens: list[Token], margin: float = 0.15) -> Iterator[np.ndarray]:
    """Axis-aligned crops of each box, widened by ``margin`` of the box height on every side."""
    height, width = image.shape[:2]
    for token in tokens:
        x0, y0, x1, y1 = token.box
        pad = margin * (y1 - y0)
        left, top = max(0, int(x0 - pad)), max(0, int(y0 - pad))
        right, bottom = min(width, int(np.ceil(x1 + pad))), min(height, int(np.ceil(y1 + pad)))
        yield image[top : max(bottom, top + 1), left : max(right, left + 1)]


def _textspotter(args: argparse.Namespace) -> Any:
    from textspotter import OCR
    from textspotter.ops.lexicon import lexicon_options
    from textspotter.pipeline import DetectionOptions, RecognitionOptions
    from textspotter.pipeline.preprocess import ScaleOptions

    options: dict[str, Any] = {
        "detection": DetectionOptions(precision=args.precision),
        # OCR.recognize reads the quads through stages.recognize, which applies the lexicon after greedy decoding.
        "recognition": RecognitionOptions(
            precision=args.precision,
            lexicon=lexicon_options(args.lexicon),
            **({} if args.crop_margin is None else {"crop_margin": args.crop_margin}),
        ),
    }
    if args.infer_length:
        options["scale"] = ScaleOptions(infer_length=args.infer_length)
    return OCR(model=args.model, device="cpu", **options)


def textspotter_reader(args: argparse.Namespace) -> tuple[Callable[[np.ndarray, list[Token]], list[str]], str]:
    ocr = _textspotter(args)

    def read(image: np.ndarray, tokens: list[Token]) -> list[str]:
        return list(ocr.recognize(image, _quads(tokens)).texts)

    lexicon = "" if args.lexicon == "off" else f", lexicon {args.lexicon}"
    margin = "" if args.crop_margin is None else f", crop margin {args.crop_margin:g}"
    return read, f"textspotter {args.model or 'default'}{lexicon}{margin}"


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[N, M]`` IoU of axis-aligned boxes ``[N, 4]`` and ``[M, 4]`` (x0, y0, x1, y1)."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def match_boxes(truth: np.ndarray, found: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """For each true box, the index of its one-to-one match among ``found`` (greedy by IoU), or -1."""
    match = np.full(len(truth), -1, dtype=np.int64)
    if not len(truth) or not len(found):
        return match
    iou = _box_iou(truth, found)
    taken = np.zeros(len(found), dtype=bool)
    for flat in np.argsort(-iou, axis=None):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < threshold:
            break
        if match[i] < 0 and not taken[j]:
            match[i], taken[j] = j, True
    return match


# id(token) -> matched, filled by the textspotter-detected reader; engines run after it are grouped by it too
# (``--engines textspotter-detected,textspotter``: how the true boxes of the matched and the missed words read).
MATCHED: dict[int, bool] = {}


def detected_reader(args: argparse.Namespace) -> tuple[Callable[[np.ndarray, list[Token]], list[str]], str]:
    ocr = _textspotter(args)

    def read(image: np.ndarray, tokens: list[Token]) -> list[str]:
        quads = ocr.detect(image).quads
        texts = list(ocr.recognize(image, quads).texts) if len(quads) else []
        found = np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1) if len(quads) else np.zeros((0, 4))
        match = match_boxes(np.array([t.box for t in tokens], dtype=np.float32).reshape(-1, 4), found)
        for token, j in zip(tokens, match):
            MATCHED[id(token)] = bool(j >= 0)
        return [texts[j] if j >= 0 else "" for j in match]

    return read, f"textspotter {args.model or 'default'} (detected quads)"


def rapidocr_reader(args: argparse.Namespace) -> tuple[Callable[[np.ndarray, list[Token]], list[str]], str]:
    from rapidocr import RapidOCR

    engine = RapidOCR(
        params={
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": args.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )

    def read(image: np.ndarray, tokens: list[Token]) -> list[str]:
        texts = []
        for crop in _crops(image, tokens):
            result = engine(np.ascontiguousarray(crop[..., ::-1]), use_det=False, use_cls=False, use_rec=True)
            found = getattr(result, "txts", None) or ("",)
            texts.append(str(found[0]).strip())
        return texts

    return read, "rapidocr (recognizer only, PP-OCR)"


def tesseract_reader(args: argparse.Namespace) -> tuple[Callable[[np.ndarray, list[Token]], list[str]], str]:
    import tesserocr
    from PIL import Image

    tessdata = "/usr/share/tesseract-ocr/5/tessdata/"
    api = tesserocr.PyTessBaseAPI(path=tessdata, lang="eng", psm=tesserocr.PSM.SINGLE_WORD)

    def read(image: np.ndarray, tokens: list[Token]) -> list[str]:
        texts = []
        for crop in _crops(image, tokens):
            api.SetImage(Image.fromarray(np.ascontiguousarray(crop)))
            texts.append(api.GetUTF8Text().strip())
        return texts

    return read, "tesseract (one word per box, psm 8)"


READERS = {
    "textspotter": textspotter_reader,
    "textspotter-detected": detected_reader,
    "rapidocr": rapidocr_reader,
    "tesseract": tesseract_reader,
}


def kinds(token: Token) -> list[str]:
    """The groups a token is counted in."""
    text = token.text
    if _LOWER.match(text):
        kind = "lowercase"
    elif any(c.isdigit() for c in text):
        kind = "with digits"
    elif len(text) == 1:
        kind = "one character"
    else:
        kind = "other (capitals, punctuation, symbols)"
    font = "math font" if _MATH_FONT.search(token.font) else "italic" if _ITALIC_FONT.search(token.font) else "other"
    length = next(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in _LENGTHS if lo <= len(text) <= hi)
    groups = ["all", f"kind: {kind}", f"font: {font}", f"length: {length}"]
    if id(token) in MATCHED:
        groups.append("detected: matched" if MATCHED[id(token)] else "detected: missed")
    return groups


def score(pairs: list[tuple[Token, str]]) -> dict[str, dict[str, float]]:
    """Exact-word accuracy and CER per group (CER: total edits / total reference characters)."""
    from rapidfuzz.distance import Levenshtein

    right: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    edits: dict[str, int] = defaultdict(int)
    chars: dict[str, int] = defaultdict(int)
    for token, text in pairs:
        distance = Levenshtein.distance(token.text, text)
        for group in kinds(token):
            count[group] += 1
            right[group] += text == token.text
            edits[group] += distance
            chars[group] += len(token.text)
    return {
        group: {"words": count[group], "exact": right[group] / count[group], "cer": edits[group] / max(chars[group], 1)}
        for group in sorted(count, key=lambda g: (g != "all", g))
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/docbank-samples", help="DocBank folder")
    parser.add_argument("--pages", type=int, default=20, help="first N pages in sorted order (after --skip)")
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        help="leave out the first K pages: tune on pages the reported figures (the first 20) do not use",
    )
    parser.add_argument("--engines", default="textspotter", help=f"comma-separated: {', '.join(READERS)}")
    parser.add_argument("--model", default=None, help="textspotter model folder (default: the shipped one)")
    parser.add_argument("--infer-length", type=int, default=None, help="textspotter detector input side")
    parser.add_argument("--threads", type=int, default=1, help="torch / onnxruntime threads")
    parser.add_argument("--precision", default="auto", help="textspotter's precision: auto, model (float32), bf16")
    parser.add_argument(
        "--lexicon", choices=("auto", "off", "en"), default="auto", help="textspotter's lexicon rescoring"
    )
    parser.add_argument(
        "--crop-margin", type=float, default=None, help="textspotter's RecognitionOptions.crop_margin (default: its)"
    )
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--errors", default=None, help="write the wrong readings (TSV: engine, truth, read, font)")
    args = parser.parse_args(argv)

    import torch

    from textspotter.imageio import load_pages

    torch.set_num_threads(args.threads)
    pages = list(docbank_pages(Path(args.data), args.pages, args.skip))
    if not pages:
        print(f"no DocBank pages in {args.data}", file=sys.stderr)
        return 2
    report = {}
    wrong: list[str] = []
    for name in args.engines.split(","):
        if name not in READERS:
            print(f"unknown engine {name!r}; known: {', '.join(READERS)}", file=sys.stderr)
            return 2
        read, label = READERS[name](args)
        pairs: list[tuple[Token, str]] = []
        start = time.perf_counter()
        for path, tokens in pages:
            image = load_pages(str(path))[0].image
            pairs.extend(zip(tokens, read(image, tokens)))
        seconds = time.perf_counter() - start
        table = score(pairs)
        wrong.extend(
            f"{name}\t{token.text}\t{text}\t{token.font}\t{'missed' if not MATCHED.get(id(token), True) else ''}"
            for token, text in pairs
            if text != token.text
        )
        report[name] = {"label": label, "pages": len(pages), "seconds": seconds, "groups": table}
        print(f"\n{label}: {len(pages)} pages, {len(pairs)} words, {seconds:.1f} s")
        print(f"{'group':<44} {'words':>7} {'exact %':>8} {'CER %':>7}")
        for group, row in table.items():
            print(f"{group:<44} {row['words']:>7} {100 * row['exact']:>8.2f} {100 * row['cer']:>7.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    if args.errors:
        Path(args.errors).write_text("".join(line + "\n" for line in wrong), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Two page-assembly settings compared on the same readings: each page is read once and assembled twice.

Page assembly (``pipeline.assemble.assemble_page``: lines, reading order, joins and splits) runs after the
networks, so two ``AssemblyOptions`` can be compared without reading a page twice: the readings of the first
assembly are kept and assembled again with the other options. Prints each page whose text changed (its NED before
and after) and the mean per-page NED, bag-of-character error and CER of both settings.

Usage::

    python benchmarks/assembly_ab.py --dataset zh-Hans --model multi --pages 40 --set number_columns=false
    python benchmarks/assembly_ab.py --dataset docbank --pages 100 --set join_gap=none
    python benchmarks/assembly_ab.py --dataset en --split test --pages 40 --set number_columns=false
    python benchmarks/assembly_ab.py --dataset ru --model multi --keep runs/readings/multi-ru-dev --set table_gap=none

With ``--keep DIR`` each page's readings are also written to ``DIR`` (one ``.npz`` a page, plain arrays and JSON,
never pickles) and read from there on the next run instead of reading the page again, so assembly rules can be
tried on many pages in seconds. The folder belongs to one model and one version of the reading code: remove it
when either changes (a file written for another model name is an error).

Two versions of the assembly *code* are compared on kept readings with ``--scores`` and ``--against``: run the old
code (for example a worktree of the previous commit on ``PYTHONPATH``) with ``--scores old.json`` to write each
page's counts under the default options, then the new code with ``--against old.json`` for paired bootstrap
intervals (``benchmarks/paired.py``) of NED, CER and bag-of-character error, new minus old::

    PYTHONPATH=/tmp/old/src python benchmarks/assembly_ab.py --dataset ru --model multi --keep K --set \
        table_gap=0.15 --scores old.json
    python benchmarks/assembly_ab.py --dataset ru --model multi --keep K --set table_gap=0.15 --against old.json

``--dataset`` is a language of the corpus bench pages (``/work/corpus/bench/LANG/SPLIT``, built by
``benchmarks/corpus_bench.py --build-only``) or a dataset shortcut under ``../shared/data`` (``docbank``,
``tesseract-test``). ``--set`` gives the *first* setting (the baseline) as changes to the default
``AssemblyOptions``; the second is the default itself. Tune on dev pages only.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

import textspotter.pipeline.ocr as ocr_module
from textspotter.evaluate.datasets import load_image, open_dataset, read_manifest_samples
from textspotter.evaluate.scoring import hypothesis_text
from textspotter.metrics.text import TextCounts, text_counts
from textspotter.pipeline import OCR, AssemblyOptions
from textspotter.pipeline.assemble import PageReadings

SHORTCUTS = ("docbank", "tesseract-test")


def parse_setting(text: str) -> tuple[str, Any]:
    """``name=value`` → (name, value); values ``none``, ``true``, ``false``, numbers or strings."""
    name, sep, value = text.partition("=")
    if not sep or name not in {f.name for f in dataclasses.fields(AssemblyOptions)}:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE with a field of AssemblyOptions, got {text!r}")
    lowered = value.strip().lower()
    if lowered in ("none", "true", "false"):
        return name, {"none": None, "true": True, "false": False}[lowered]
    try:
        return name, float(value)
    except ValueError:
        return name, value


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")


def kept_name(page_id: str) -> str:
    """The file name of a page's kept readings: its id's last part without an image suffix, plus ``.npz``.

    Only an image suffix is taken off: ``Path.stem`` would read ``python3.11-doc-2c6c19203b-p0002`` as the file
    ``python3`` with the suffix ``.11-doc-...``, and every page of that package would share one file.

    >>> kept_name("python3.11-doc-2c6c19203b-p0002"), kept_name("images/1_ori.jpg")
    ('python3.11-doc-2c6c19203b-p0002.npz', '1_ori.npz')
    """
    name = Path(page_id).name
    return (name[: -len(Path(name).suffix)] if Path(name).suffix.lower() in _IMAGE_SUFFIXES else name) + ".npz"


def save_readings(path: Path, readings: PageReadings, model: str, page_id: str = "") -> None:
    """Write one page's readings as plain arrays (``np.savez``; texts as a string array, groups as JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(
            fh,
            texts=np.array(list(readings.texts), dtype=str).reshape(-1),
            quads=np.asarray(readings.quads, dtype=np.float32).reshape(-1, 4, 2),
            detection_confidence=np.asarray(readings.detection_confidence, dtype=np.float32),
            text_confidence=np.asarray(readings.text_confidence, dtype=np.float32),
            groups=np.array(json.dumps(readings.groups)),
            page=np.array([readings.width, readings.height, readings.index], dtype=np.int64),
            model=np.array(model),
            page_id=np.array(page_id),
        )


def load_readings(path: Path, model: str, page_id: str = "") -> PageReadings:
    """Read what :func:`save_readings` wrote (no pickles); a file of another model, or of another page (where both
    the file and the caller name one), is an error naming it."""
    with np.load(path, allow_pickle=False) as data:
        if str(data["model"]) != model:
            raise SystemExit(f"{path}: readings of model {str(data['model'])!r}, not {model!r}: use another --keep")
        stored = str(data["page_id"]) if "page_id" in data.files else ""
        if page_id and stored and stored != page_id:
            raise SystemExit(f"{path}: readings of page {stored!r}, not {page_id!r}")
        width, height, index = (int(v) for v in data["page"])
        return PageReadings(
            texts=[str(t) for t in data["texts"]],
            quads=data["quads"],
            detection_confidence=data["detection_confidence"],
            text_confidence=data["text_confidence"],
            groups=json.loads(str(data["groups"])),
            width=width,
            height=height,
            index=index,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="corpus bench language (en, zh-Hans, ...) or a shortcut")
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--root", default="/work/corpus/bench", help="folder of the corpus bench pages")
    parser.add_argument("--data-root", default="../shared/data", help="folder of the dataset shortcuts")
    parser.add_argument("--model", default="default", help="model name or folder")
    parser.add_argument("--pages", type=int, default=40, help="first N pages")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", dest="changes", type=parse_setting, action="append", default=[], required=True)
    parser.add_argument("--keep", type=Path, default=None, help="folder of kept readings: read from / write to")
    parser.add_argument("--scores", type=Path, default=None, help="write each page's counts (default options)")
    parser.add_argument("--against", type=Path, default=None, help="--scores file of another code: paired intervals")
    args = parser.parse_args(argv)
    if args.dataset in SHORTCUTS:
        samples = open_dataset(args.dataset, data_root=args.data_root, limit=args.pages).samples
    else:
        manifest = Path(args.root) / args.dataset / args.split / "manifest.jsonl"
        if not manifest.is_file():
            parser.error(f"{manifest} not found: build the pages with benchmarks/corpus_bench.py --build-only")
        samples = list(itertools.islice(read_manifest_samples(manifest), args.pages))
    baseline = AssemblyOptions(**dict(args.changes))
    default = AssemblyOptions()
    torch.set_num_threads(args.threads)

    # The readings of each page's assembly, kept to assemble again.
    kept: list[Any] = []
    assemble = ocr_module.assemble_page

    def keeping(readings: Any, *, options: AssemblyOptions | None = None) -> Any:
        kept.append(readings)
        return assemble(readings, options=options)

    ocr_module.assemble_page = keeping
    ocr: OCR | None = None
    scores: dict[str, list[tuple[float, float, float]]] = {"baseline": [], "default": []}
    counts: dict[str, TextCounts] = {}
    changed = 0
    for sample in samples:
        kept.clear()
        stored = None if args.keep is None else args.keep / kept_name(sample.id)
        if stored is not None and stored.is_file():
            kept.append(load_readings(stored, args.model, sample.id))
        else:
            ocr = ocr or OCR(model=args.model, assembly=baseline)
            document = ocr.read(load_image(sample.image))[0]
            if document.error is not None or not kept:
                print(f"{sample.id}: not read ({document.error})")
                continue
            if stored is not None:
                save_readings(stored, kept[-1], args.model, sample.id)
        texts = {}
        for name, options in (("baseline", baseline), ("default", default)):
            # The last assembly is the page's: a page found turned is assembled again once read upright.
            texts[name] = hypothesis_text(assemble(kept[-1], options=options))
            page_counts = text_counts(sample.text or "", texts[name])
            if name == "default":
                counts[sample.id] = page_counts
            rates = page_counts.rates()
            scores[name].append((rates["ned"], rates["bag_of_char_error"], rates["cer"]))
        if texts["baseline"] != texts["default"]:
            changed += 1
            before, after = scores["baseline"][-1][0], scores["default"][-1][0]
            print(f"{sample.id:60s} NED {100 * before:6.2f} -> {100 * after:6.2f}", flush=True)
    if not scores["default"]:
        print("no page read")
        return 1
    for name in ("baseline", "default"):
        ned, boc, cer = (100 * statistics.fmean(row[k] for row in scores[name]) for k in range(3))
        label = " ".join(f"{k}={v}" for k, v in args.changes) if name == "baseline" else "defaults"
        print(f"{args.dataset} {name} ({label}): NED {ned:.2f}, bag-of-character error {boc:.2f}, CER {cer:.2f} %")
    print(f"pages {len(scores['default'])}, changed {changed}")
    if args.scores is not None:
        args.scores.write_text(json.dumps({k: dataclasses.asdict(c) for k, c in counts.items()}), encoding="utf-8")
    if args.against is not None:
        compare_code(args.against, counts)
    return 0


def compare_code(path: Path, counts: dict[str, TextCounts]) -> None:
    """Print paired intervals of this run's default assembly (B) against the ``--scores`` file at ``path`` (A)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from paired import compare_runs, table

    other = {k: TextCounts(**v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
    pages = [k for k in counts if k in other]
    if not pages:
        raise SystemExit(f"{path}: no page in common with this run")
    metrics = ["ned", "cer", "bag_of_char_error"]
    print(table(compare_runs([other[k] for k in pages], [counts[k] for k in pages], metrics), (path.stem, "this")))


if __name__ == "__main__":
    raise SystemExit(main())

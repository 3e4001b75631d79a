"""Generated test pages per language: textspotter beside Tesseract and RapidOCR (issue #22 item 3).

Nemotron OCR v2 reports its NED per language on rendered pages; this script measures the same kind of page for the
six languages of the multilingual model and for mixed-language pages, with the engines side by side:

1. **Pages.** For each set it writes, if missing, ``ROOT/<set>/`` with ``textspotter synth`` (the generator the
   models train on, with its image effects) at a master seed no training config uses (``SEED``), so the pages are
   new draws of the generator, not training pages: ``PAGES`` pages of the layouts ``article,form,table,receipt``.
   The ``mixed`` set has a second language in every page (``--mixed 1``).
2. **Scores.** ``textspotter bench`` per set with textspotter (``--model``, e.g. ``multi``), Tesseract given the
   set's language (``chi_tra`` for Traditional Chinese; all six for ``mixed``: an advantage textspotter does not
   take) and RapidOCR where its shipped model has the script's characters (Chinese, Japanese, Latin).
3. **Tables.** One markdown table (set × engine → CER, NED, bag-of-character error, ..., pages/s) in
   ``OUTPUT/generated-bench.md``, the figures in ``OUTPUT/generated-bench.json``, the bench reports in
   ``OUTPUT/<set>/``. The pages/s column at ``--threads`` threads answers item 4 (a CJK page in at most twice the
   time of an English page of the same size: the generator's pages of every language have the same sizes).

Usage::

    python benchmarks/generated_bench.py --model multi --pages 20
    python benchmarks/generated_bench.py --model multi --sets zh-Hans,ja --engines textspotter,tesseract
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SEED = 90_210
"""Master seed of the pages (the training configs use other seeds; page i is drawn from (SEED, i))."""
LAYOUTS = "article,form,table,receipt"


def _corpus_bench() -> Any:
    """The table helpers of ``corpus_bench.py`` (same folder), so both benchmarks print the same columns."""
    path = Path(__file__).with_name("corpus_bench.py")
    spec = importlib.util.spec_from_file_location("corpus_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("corpus_bench", module)
    spec.loader.exec_module(module)
    return module


# (set, generator languages, Tesseract traineddata, RapidOCR has the characters)
SETS: tuple[tuple[str, str, str, bool], ...] = (
    ("en", "en", "eng", True),
    ("zh-Hans", "zh-Hans", "chi_sim", True),
    ("zh-Hant", "zh-Hant", "chi_tra", True),
    ("ja", "ja", "jpn", True),
    ("ko", "ko", "kor", False),
    ("ru", "ru", "rus", False),
    ("mixed", "en,zh-Hans,zh-Hant,ja,ko,ru", "eng+chi_sim+chi_tra+jpn+kor+rus", False),
)


def generate(name: str, languages: str, folder: Path, pages: int, workers: int) -> None:
    """Write the pages of one set with ``textspotter synth`` unless the folder already holds them."""
    manifest = folder / "manifest.jsonl"
    if manifest.is_file() and sum(1 for line in manifest.open(encoding="utf-8") if line.strip()) >= pages:
        return
    command = [sys.executable, "-m", "textspotter", "synth", "--out", str(folder), "--lang", languages]
    command += ["--layout", LAYOUTS, "--pages", str(pages), "--seed", str(SEED), "--workers", str(workers)]
    if name == "mixed":
        command += ["--mixed", "1"]
    print("$ " + " ".join(command[2:]), file=sys.stderr, flush=True)
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--root", default="/work/generated-bench", help="folder of the generated pages")
    parser.add_argument("--output", default=None, help="reports folder (default: ROOT/results)")
    parser.add_argument("--model", default=None, help="textspotter model: a name (multi) or a folder")
    parser.add_argument("--sets", default=",".join(s[0] for s in SETS), help="comma-separated sets")
    parser.add_argument("--engines", default="textspotter,tesseract,rapidocr", help="comma-separated engines")
    parser.add_argument("--pages", type=int, default=20, help="pages per set (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per engine (default 1)")
    parser.add_argument("--workers", type=int, default=1, help="generator processes (same pages)")
    parser.add_argument("--cache", default=None, help="bench cache folder (default: textspotter bench's)")
    parser.add_argument("--quiet", action="store_true", help="no per-page progress")
    args = parser.parse_args(argv)
    known = {s[0]: s for s in SETS}
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [s for s in chosen if s not in known] + [
        e for e in engines if e not in ("textspotter", "tesseract", "rapidocr")
    ]
    if unknown or not chosen or not engines or args.pages < 1:
        print(f"generated_bench: error: unknown set or engine {unknown}, or --pages < 1", file=sys.stderr)
        return 2

    cb = _corpus_bench()
    root = Path(args.root)
    output = Path(args.output) if args.output else root / "results"
    rows: list[dict[str, Any]] = []
    versions: dict[str, str] = {}
    for name in chosen:
        _, languages, tesseract, rapidocr = known[name]
        folder = root / name
        generate(name, languages, folder, args.pages, args.workers)
        runnable = [e for e in engines if e != "rapidocr" or rapidocr]
        command = [sys.executable, "-m", "textspotter", "bench", "--datasets", str(folder), "--engines"]
        command += [",".join(runnable), "--tesseract-lang", tesseract, "--threads", str(args.threads)]
        command += ["--output", str(output / name), "--no-charts", "--limit", str(args.pages)]
        command += ["--title", f"generated {name} (seed {SEED})"]
        if args.model:
            command += ["--model", args.model]
        if args.cache:
            command += ["--cache", args.cache]
        if args.quiet:
            command.append("--quiet")
        print("$ " + " ".join(command[2:]), file=sys.stderr, flush=True)
        if subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode != 0:
            print(f"generated_bench: textspotter bench failed for {name}", file=sys.stderr)
            return 1
        bench = json.loads((output / name / "bench.json").read_text(encoding="utf-8"))
        results = {r["engine"]: r for r in bench.get("results", [])}
        pages, words = cb.count_words(folder / "manifest.jsonl", args.pages)
        for engine in engines:
            label = {"tesseract": f"tesseract ({tesseract})", "rapidocr": "rapidocr (PP-OCRv6 small)"}.get(
                engine, engine
            )
            row: dict[str, Any] = {"language": name, "engine": label, "pages": pages, "words": words, "metrics": {}}
            result = results.get(engine)
            if engine == "rapidocr" and not rapidocr:
                row["note"] = "cannot read: its shipped model has no characters of this script"
            elif result is None:
                row["note"] = "did not run (see the bench messages)"
            else:
                row["metrics"] = {key: result["metrics"].get(key) for key, _ in cb.METRICS}
                row.update(pages_per_second=result["pages_per_second"], cached=result["cached"])
                versions[label] = result["version"]
            rows.append(row)
    title = f"# Generated test pages (seed {SEED}, {args.pages} pages per set, {args.threads} thread(s) per engine)\n\n"
    report = title + cb.split_table("generated", rows)
    report += "\n### Engines\n\n" + "\n".join(f"- `{name}`: {version}" for name, version in versions.items()) + "\n"
    if any(row.get("cached") for row in rows):
        report += "\n¹ pages read from the bench cache; pages/s as measured when they were computed.\n"
    output.mkdir(parents=True, exist_ok=True)
    (output / "generated-bench.md").write_text(report, encoding="utf-8")
    figures = {"seed": SEED, "pages": args.pages, "rows": rows, "engines": versions}
    (output / "generated-bench.json").write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n")
    print(report, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Development benchmark: the corpus's dev and test pages per language, textspotter beside Tesseract and RapidOCR.

The corpus split (:mod:`textspotter.corpus.split`, recorded in ``benchmarks/corpus-split.json``) keeps dev and test
documents out of training. This script turns them into a fixed benchmark per language and split:

1. **Pages.** For each (language, split) it builds, if missing, ``ROOT/<language>/<split>/`` (a manifest folder):
   the documents of the language's Debian packages in that split (at most ``documents`` of them, drawn by a hash of
   the seed and the document id), ``pages_per_document`` pages each (drawn by the corpus builder from the seed),
   rendered and degraded by ``textspotter.corpus.build_corpus`` exactly as training pages are; only pages whose
   ``language`` (the script of their trusted words) is the language are kept, at most ``page_cap`` of them, taken
   one page per document in turn (:func:`select_pages`) so that a long manual does not fill the benchmark. The
   manifest lists them in that order, so ``--limit N`` scores a spread of documents, not the first few.
   The page ids (and the documents built) are written to ``benchmarks/corpus-bench-pages.json``; a later rebuild
   builds those documents and keeps exactly those pages, or fails if one is missing. A split folder that holds other
   pages (another set built under the same ``--root``, such as ``corpus_dev_wide.py``'s) is an error unless
   ``--replace`` is given: readings kept for those pages would otherwise silently refer to pages that are gone.
2. **Scores.** ``textspotter bench`` runs on the language's splits with textspotter, Tesseract (its traineddata for
   the language) and RapidOCR (the model its wheel ships, PP-OCRv6 small, reads Chinese, Japanese and Latin
   scripts; a language it has no characters for is listed as such, not run). Engine outputs are cached per image,
   so rerunning with a new ``--model`` recomputes only the textspotter column.
3. **Tables.** One markdown table per split (language × engine → the bench's headline metrics, pages and words)
   in ``OUTPUT/corpus-bench.md``, all figures in ``OUTPUT/corpus-bench.json``, the bench reports in
   ``OUTPUT/<language>/``.

Usage::

    nice -n 19 python benchmarks/corpus_bench.py --splits test --limit 20 --threads 1
    python benchmarks/corpus_bench.py --model runs/multi/model --languages zh-Hans,ja --splits dev,test
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RECIPE_VERSION = 1
PAGES_FILE = Path(__file__).with_name("corpus-bench-pages.json")
SPLITS = ("dev", "test")
ENGINES = ("textspotter", "tesseract", "rapidocr")
# RapidOCR 3.10's wheel ships one recognizer, PP-OCRv6 small "multi": 15,565 Han characters, 180 kana, Latin;
# no Hangul and no Cyrillic (counted in the model's own character list), so it cannot read Korean or Russian.
RAPIDOCR_MODEL = "PP-OCRv6 small (multi: Chinese, Japanese, Latin), from the rapidocr wheel"
# Headline metrics of `textspotter bench` (keys of bench.json) and their column labels. NED and bag-of-character
# error are the per-language measures of the multilingual model (issue #22): CJK lines have no spaces to count words.
METRICS = (
    ("cer", "CER %"),
    ("ned", "NED %"),
    ("bag_of_char_error", "BoC err %"),
    ("wer", "WER %"),
    ("bag_of_word_error", "BoW err %"),
    ("word_f1", "word F1 %"),
    ("line_f1", "line F1 %"),
    ("reading_order_tau", "order τ"),
)


@dataclass(frozen=True)
class Language:
    """How the pages of one language are drawn and which peer models read them.

    Attributes:
        code: the page ``language`` of the corpus builder (``en``, ``zh-Hans``, ``ja``, ``ko``, ``ru``).
        packages: Debian packages whose dev/test documents are drawn from.
        tesseract: Tesseract traineddata name(s) (``eng``, ``chi_sim``, ...).
        rapidocr: whether RapidOCR's shipped model has the script's characters.
        documents: documents per split at most (drawn by hash; all when there are fewer).
        pages_per_document: pages built per document at most (drawn by the corpus builder).
    """

    code: str
    packages: tuple[str, ...]
    tesseract: str
    rapidocr: bool
    documents: int
    pages_per_document: int


@dataclass(frozen=True)
class Recipe:
    """The fixed recipe of the benchmark pages (recorded with the page ids).

    Attributes:
        seed: master seed of the corpus build and of the document and page draws.
        page_cap: pages per (language, split) at most.
        languages: the languages, in report order.
    """

    seed: int = 0
    page_cap: int = 40
    languages: tuple[Language, ...] = ()

    def language(self, code: str) -> Language:
        for language in self.languages:
            if language.code == code:
                return language
        raise ValueError(f"unknown language {code!r}; known: {', '.join(lang.code for lang in self.languages)}")

    def to_dict(self) -> dict[str, Any]:
        return {"version": RECIPE_VERSION, **asdict(self)}


ENGLISH_PACKAGES = (
    "texlive-latex-base-doc",
    "texlive-latex-recommended-doc",
    "texlive-humanities-doc",
    "texlive-science-doc",
    "texlive-publishers-doc",
    "debian-reference-en",
    "developers-reference",
    "python3.11-doc",
    "texlive-pictures-doc",
    "texlive-fonts-extra-doc",
    "texlive-latex-extra-doc",
)
# English has hundreds of dev/test documents: one or two pages from each of many documents. The other languages
# have 1-11 documents per split, and their packages hold English pages too: up to the cap from each document (the
# selection still takes one page per document in turn).
RECIPE = Recipe(
    seed=0,
    page_cap=40,
    languages=(
        Language("en", ENGLISH_PACKAGES, "eng", True, documents=40, pages_per_document=2),
        Language("zh-Hans", ("texlive-lang-chinese",), "chi_sim", True, documents=40, pages_per_document=40),
        Language("ja", ("texlive-lang-japanese",), "jpn", True, documents=40, pages_per_document=40),
        Language("ko", ("texlive-lang-korean",), "kor", False, documents=40, pages_per_document=40),
        Language("ru", ("texlive-lang-cyrillic",), "rus", False, documents=40, pages_per_document=40),
    ),
)


def _rank(seed: int, text: str) -> int:
    """A stable pseudo-random rank of a name (same on every machine and Python version)."""
    digest = hashlib.sha256(f"textspotter-corpus-bench/{RECIPE_VERSION}:{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def draw_documents(documents: Sequence[Any], language: Language, split: str, seed: int) -> list[Any]:
    """The documents of a language's packages in a split, at most ``language.documents``, drawn by hash.

    Args:
        documents: :class:`textspotter.corpus.Document` objects (any order).
        language: the language's recipe.
        split: ``dev`` or ``test``.
        seed: the recipe's seed.

    Returns:
        The drawn documents, sorted by id (the corpus builder's order).
    """
    from textspotter.corpus.split import split_of

    packages = set(language.packages)
    candidates = [d for d in documents if d.package in packages and split_of(d.key) == split]
    drawn = sorted(candidates, key=lambda d: (_rank(seed, d.id), d.id))[: language.documents]
    return sorted(drawn, key=lambda d: d.id)


def document_of(page_id: str) -> str:
    """The document part of a corpus page id (``<package>-<hash>-p0007`` → ``<package>-<hash>``)."""
    stem, sep, number = page_id.rpartition("-p")
    if not sep or not stem or not number.isdigit():
        raise ValueError(f"not a corpus page id (<package>-<hash>-pNNNN): {page_id!r}")
    return stem


def select_pages(page_ids: Sequence[str], cap: int, seed: int) -> list[str]:
    """Choose at most ``cap`` pages, one per document in turn, in a reproducible order.

    Documents are visited in the order of a hash of their id; each round takes the next page (in hash order) of
    every document that has one left. Any prefix of the result is therefore spread over as many documents as
    possible (what ``--limit N`` scores).

    Args:
        page_ids: corpus page ids (``<package>-<hash>-pNNNN``), no duplicates.
        cap: pages at most (positive).
        seed: the recipe's seed.

    Returns:
        The chosen page ids in benchmark order.

    Raises:
        ValueError: a non-positive cap, a duplicate or malformed page id.
    """
    if cap < 1:
        raise ValueError(f"cap must be positive, got {cap}")
    if len(set(page_ids)) != len(page_ids):
        raise ValueError("page ids must be unique")
    by_document: dict[str, list[str]] = {}
    for page_id in page_ids:
        by_document.setdefault(document_of(page_id), []).append(page_id)
    queues = [
        sorted(pages, key=lambda p: (_rank(seed, p), p))
        for _, pages in sorted(by_document.items(), key=lambda item: (_rank(seed, item[0]), item[0]))
    ]
    chosen: list[str] = []
    depth = 0
    while len(chosen) < cap and any(depth < len(q) for q in queues):
        chosen += [q[depth] for q in queues if depth < len(q)][: cap - len(chosen)]
        depth += 1
    return chosen


def _read_lines(manifest: Path) -> dict[str, str]:
    """Manifest lines by page id (the lines as written, so pages are copied byte for byte)."""
    lines = {}
    with open(manifest, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                lines[json.loads(line)["id"]] = line if line.endswith("\n") else line + "\n"
    return lines


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copyfile(source, target)


def prepare_split(
    documents: Sequence[Any],
    language: Language,
    split: str,
    root: Path,
    *,
    recipe: Recipe,
    recorded: dict[str, Any] | None,
    workers: int = 1,
    replace: bool = False,
) -> dict[str, Any]:
    """Build (if missing) the benchmark pages of one language and split; return their record.

    The manifest folder is ``root/<language>/<split>/`` (the corpus build itself in ``.../build-<split>/``). With a
    ``recorded`` entry (``{"documents": [...], "pages": [...]}``) exactly those documents are built and those
    pages kept, in that order; without one, documents and pages are drawn by the recipe. A manifest folder that
    already holds other pages (another recipe's set under the same root, e.g. ``corpus_dev_wide.py``'s) is
    replaced only with ``replace``: kept readings and caches refer to its pages.

    Returns:
        The record: ``documents`` (ids built), ``pages`` (page ids in benchmark order).

    Raises:
        ValueError: a recorded page the rebuild did not produce (the pages are no longer the recorded ones); the
            manifest folder holds other pages and ``replace`` is false.
        FileNotFoundError: a recorded document missing from ``documents``.
    """
    from textspotter.corpus import BuildOptions, build_corpus

    folder = root / language.code / split
    manifest = folder / "manifest.jsonl"
    present = list(_read_lines(manifest)) if manifest.is_file() else []
    if recorded is not None and present == recorded["pages"]:
        return recorded
    if present and not replace:
        raise ValueError(
            f"{folder} holds {len(present)} pages that are not this recipe's recorded ones (another set built "
            "under this root?); choose another root, or replace them (--replace)"
        )
    if recorded is not None:
        by_id = {d.id: d for d in documents}
        missing = [i for i in recorded["documents"] if i not in by_id]
        if missing:
            raise FileNotFoundError(f"{language.code}/{split}: recorded documents not in the sources: {missing[:3]}")
        chosen = [by_id[i] for i in recorded["documents"]]
    else:
        chosen = draw_documents(documents, language, split, recipe.seed)
    build = root / language.code / f"build-{split}"
    options = BuildOptions(max_pages=language.pages_per_document, splits=(split,))
    if chosen:
        build_corpus(chosen, build, options, seed=recipe.seed, workers=workers)
    built = build / split / "manifest.jsonl"
    lines = _read_lines(built) if built.is_file() else {}
    in_language = [i for i, line in lines.items() if json.loads(line).get("language") == language.code]
    if recorded is not None:
        absent = [p for p in recorded["pages"] if p not in in_language]
        if absent:
            raise ValueError(
                f"{language.code}/{split}: the rebuild lacks recorded pages {absent[:3]} (sources or corpus builder "
                "changed); remove this entry from the pages file to draw again (and pass --replace)"
            )
        pages = list(recorded["pages"])
    else:
        pages = select_pages(in_language, recipe.page_cap, recipe.seed) if in_language else []
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with open(manifest, "w", encoding="utf-8") as handle:
        for page_id in pages:
            line = lines[page_id]
            handle.write(line)
            image = json.loads(line)["image"]
            _link_or_copy(build / split / image, folder / image)
    return {"documents": [d.id for d in chosen], "pages": pages}


def count_words(manifest: Path, limit: int | None) -> tuple[int, int]:
    """Pages and scored (not ignored) words of the first ``limit`` pages of a manifest."""
    pages = words = 0
    if not manifest.is_file():
        return 0, 0
    with open(manifest, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            if limit is not None and pages >= limit:
                break
            record = json.loads(line)
            pages += 1
            words += sum(1 for w in record["words"] if not w.get("ignore"))
    return pages, words


def _cell(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if name == "reading_order_tau" else f"{100 * value:.2f}"


def engine_label(engine: str, language: Language) -> str:
    """The engine column of the tables: which model reads the language."""
    if engine == "tesseract":
        return f"tesseract ({language.tesseract})"
    if engine == "rapidocr":
        return "rapidocr (PP-OCRv6 small)" if language.rapidocr else "rapidocr"
    return engine


def split_table(split: str, rows: Sequence[dict[str, Any]]) -> str:
    """One markdown table of a split: a row per (language, engine) with pages, words and the headline metrics.

    Args:
        split: the split's name (for the heading).
        rows: dicts with ``language``, ``engine`` (label), ``pages``, ``words``, ``metrics`` (bench.json keys →
            rates, or ``None``), ``pages_per_second``, ``cached`` (pages read from the bench cache: marked ¹, their
            speed is the one measured when computed) and ``note`` (set for an engine that cannot read the
            language: its metrics are left empty).
    """
    header = ["language", "pages", "words", "engine", *(label for _, label in METRICS), "pages/s"]
    lines = [f"### {split}", "", "| " + " | ".join(header) + " |", "|" + "---|" * 4 + "---:|" * (len(METRICS) + 1)]
    for row in rows:
        if row.get("note"):
            cells = [f"— {row['note']}"] + [""] * len(METRICS)
        else:
            speed = row.get("pages_per_second")
            cells = [_cell(name, row["metrics"].get(name)) for name, _ in METRICS]
            cells.append(f"{speed:.3f}" if speed else "n/a")
        engine = row["engine"] + ("¹" if row.get("cached") else "")
        lines.append("| " + " | ".join([row["language"], str(row["pages"]), str(row["words"]), engine, *cells]) + " |")
    return "\n".join(lines) + "\n"


def _bench(
    language: Language, folders: list[Path], engines: list[str], output: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Run ``textspotter bench`` on a language's manifest folders; return its bench.json."""
    command = [
        sys.executable,
        "-m",
        "textspotter",
        "bench",
        "--datasets",
        ",".join(str(f) for f in folders),
        "--engines",
        ",".join(engines),
        "--tesseract-lang",
        language.tesseract,
        "--threads",
        str(args.threads),
        "--output",
        str(output),
        "--no-charts",
        "--title",
        f"corpus {language.code}: {', '.join(f.name for f in folders)}",
        "--note",
        f"pages: benchmarks/corpus_bench.py recipe v{RECIPE_VERSION} ({PAGES_FILE.name})",
    ]
    if args.limit is not None:
        command += ["--limit", str(args.limit)]
    if args.model:
        command += ["--model", args.model]
    if args.precision:
        command += ["--precision", args.precision]
    if args.infer_length is not None:
        command += ["--infer-length", str(args.infer_length)]
    if args.crop_margin is not None:
        command += ["--crop-margin", str(args.crop_margin)]
    if args.valid_confidence is not None:
        command += ["--valid-confidence", str(args.valid_confidence)]
    if args.cjk_lm is not None:
        command += ["--cjk-lm", args.cjk_lm]
    if args.closing_quotes is not None:
        command += ["--closing-quotes", args.closing_quotes]
    if args.unify_scripts is not None:
        command += ["--unify-scripts", args.unify_scripts]
    if args.cache:
        command += ["--cache", args.cache]
    if args.dont_care:
        command.append("--dont-care")
    if args.quiet:
        command.append("--quiet")
    print("$ " + " ".join(command[2:]), file=sys.stderr, flush=True)
    completed = subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"textspotter bench failed for {language.code} (exit {completed.returncode})")
    return json.loads((output / "bench.json").read_text(encoding="utf-8"))


def _load_recorded(path: Path, recipe: Recipe) -> dict[str, Any]:
    if not path.is_file():
        return {"recipe": recipe.to_dict(), "splits": {}}
    recorded = json.loads(path.read_text(encoding="utf-8"))
    if recorded.get("recipe") != json.loads(json.dumps(recipe.to_dict())):
        raise ValueError(f"{path} was drawn with another recipe; bump RECIPE_VERSION and remove the file to redraw")
    return recorded


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sources", default="/work/corpus", help="corpus sources folder (sources.json)")
    parser.add_argument("--root", default="/work/corpus/bench", help="folder of the benchmark pages")
    parser.add_argument("--output", default=None, help="reports folder (default: ROOT/results)")
    parser.add_argument("--model", default=None, help="textspotter model folder (default: the shipped model)")
    parser.add_argument("--languages", default=",".join(lang.code for lang in RECIPE.languages))
    parser.add_argument("--splits", default=",".join(SPLITS), help="comma-separated: dev, test")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated engines")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per engine (default 1)")
    parser.add_argument("--precision", default=None, help="textspotter's --precision (auto, model, bf16)")
    parser.add_argument("--infer-length", type=int, default=None, help="textspotter's detector input side")
    parser.add_argument("--crop-margin", type=float, default=None, help="textspotter's --crop-margin")
    parser.add_argument("--valid-confidence", type=float, default=None, help="textspotter's --valid-confidence")
    parser.add_argument("--cjk-lm", choices=("auto", "on", "off"), default=None, help="textspotter's --cjk-lm")
    parser.add_argument(
        "--closing-quotes", choices=("auto", "on", "off"), default=None, help="textspotter's --closing-quotes"
    )
    parser.add_argument("--unify-scripts", choices=("on", "off"), default=None, help="textspotter's --unify-scripts")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages of each split")
    parser.add_argument("--workers", type=int, default=1, help="processes of the corpus build (same pages)")
    parser.add_argument("--cache", default=None, help="bench cache folder (default: textspotter bench's)")
    parser.add_argument("--build-only", action="store_true", help="build the pages and the pages file, score nothing")
    parser.add_argument(
        "--replace", action="store_true", help="rebuild a split whose folder holds other pages than the recorded ones"
    )
    parser.add_argument(
        "--dont-care",
        action="store_true",
        help="leave out of the text metrics the words read inside ignored reference words (bench --dont-care)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-page progress")
    args = parser.parse_args(argv)
    try:
        languages = [RECIPE.language(c.strip()) for c in args.languages.split(",") if c.strip()]
        splits = [s.strip() for s in args.splits.split(",") if s.strip()]
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        if not splits or any(s not in SPLITS for s in splits):
            raise ValueError(f"--splits must be a subset of {SPLITS}, got {args.splits!r}")
        if not engines or any(e not in ENGINES for e in engines):
            raise ValueError(f"--engines must be a subset of {ENGINES}, got {args.engines!r}")
        if args.limit is not None and args.limit < 1:
            raise ValueError(f"--limit must be positive, got {args.limit}")
        recorded = _load_recorded(PAGES_FILE, RECIPE)
    except ValueError as exc:
        print(f"corpus_bench: error: {exc}", file=sys.stderr)
        return 2

    from textspotter.corpus import load_documents

    root = Path(args.root)
    documents = load_documents([args.sources])
    for language in languages:
        for split in splits:
            entry = recorded["splits"].get(split, {}).get(language.code)
            try:
                record = prepare_split(
                    documents,
                    language,
                    split,
                    root,
                    recipe=RECIPE,
                    recorded=entry,
                    workers=args.workers,
                    replace=args.replace,
                )
            except (ValueError, FileNotFoundError) as exc:
                print(f"corpus_bench: error: {exc}", file=sys.stderr)
                return 2
            if record != entry:
                recorded["splits"].setdefault(split, {})[language.code] = record
                recorded["splits"] = {s: dict(sorted(v.items())) for s, v in sorted(recorded["splits"].items())}
                PAGES_FILE.write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"{language.code}/{split}: {len(record['pages'])} pages of {len(record['documents'])} documents")
    if args.build_only:
        return 0

    output = Path(args.output) if args.output else root / "results"
    rows: dict[str, list[dict[str, Any]]] = {split: [] for split in splits}
    versions: dict[str, str] = {}
    for language in languages:
        folders = [
            root / language.code / s for s in splits if count_words(root / language.code / s / "manifest.jsonl", 1)[0]
        ]
        runnable = [e for e in engines if e != "rapidocr" or language.rapidocr]
        bench = _bench(language, folders, runnable, output / language.code, args) if folders and runnable else {}
        results = {(r["dataset"], r["engine"]): r for r in bench.get("results", [])}
        for split in splits:
            pages, words = count_words(root / language.code / split / "manifest.jsonl", args.limit)
            for engine in engines:
                row: dict[str, Any] = {
                    "language": language.code,
                    "split": split,
                    "engine": engine_label(engine, language),
                    "pages": pages,
                    "words": words,
                    "metrics": {},
                }
                result = results.get((split, engine))
                if engine == "rapidocr" and not language.rapidocr:
                    row["note"] = "cannot read: its shipped model has no characters of this script"
                elif pages == 0:
                    row["note"] = "no pages of this language in this split"
                elif result is None:
                    row["note"] = "did not run (see the bench messages)"
                else:
                    row["metrics"] = {name: result["metrics"].get(name) for name, _ in METRICS}
                    row["pages_per_second"] = result["pages_per_second"]
                    row["cached"] = result["cached"]
                    row["errors"] = result["errors"]
                    versions[engine if engine != "tesseract" else f"tesseract ({language.tesseract})"] = result[
                        "version"
                    ]
                rows[split].append(row)
    title = ["# Corpus development benchmark", ""]
    title.append(
        f"Pages: `benchmarks/corpus_bench.py` recipe v{RECIPE_VERSION} (seed {RECIPE.seed}, at most "
        f"{RECIPE.page_cap} pages per language and split), page ids in `benchmarks/{PAGES_FILE.name}`; "
        f"{args.threads} thread(s) per engine" + (f"; first {args.limit} pages of each split" if args.limit else "")
    )
    title += ["", f"RapidOCR model: {RAPIDOCR_MODEL}.", ""]
    body = "\n".join(split_table(split, rows[split]) for split in splits)
    engines_md = "\n".join(f"- `{name}`: {version}" for name, version in versions.items())
    report = "\n".join(title) + "\n" + body + "\n### Engines\n\n" + engines_md + "\n"
    if any(row.get("cached") for split_rows in rows.values() for row in split_rows):
        report += "\n¹ pages read from the bench cache; pages/s as measured when they were computed.\n"
    output.mkdir(parents=True, exist_ok=True)
    (output / "corpus-bench.md").write_text(report, encoding="utf-8")
    (output / "corpus-bench.json").write_text(
        json.dumps(
            {"recipe": RECIPE.to_dict(), "limit": args.limit, "rows": rows, "engines": versions},
            indent=1,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    print(report, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

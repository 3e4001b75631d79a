"""A wider English development set for page-assembly rules: one page from each of up to 160 more dev documents.

The corpus bench's English dev split (``benchmarks/corpus_bench.py``) holds 40 pages; a reading-order rule decided on
them alone may fit those pages. This script builds 120 more from other documents of the same split (never train,
never test): the corpus bench's recipe with seed 1, one page per document, the 40 documents of the bench's dev pages
left out. Pages are rendered and degraded as the bench's are, into ``ROOT/en/dev/`` (a manifest folder that
``benchmarks/assembly_ab.py --root ROOT --dataset en`` reads). The documents and pages are recorded in
``benchmarks/corpus-dev-wide-pages.json``; a rebuild builds those documents and keeps exactly those pages.

Usage::

    python benchmarks/corpus_dev_wide.py --root /work/corpus/bench-dev-wide
    python benchmarks/assembly_ab.py --root /work/corpus/bench-dev-wide --dataset en --pages 120 --keep K --set ...
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import corpus_bench

PAGES_FILE = Path(__file__).with_name("corpus-dev-wide-pages.json")
SEED = 1
DOCUMENTS = 160
PAGE_CAP = 120


def wide_recipe() -> tuple[corpus_bench.Recipe, corpus_bench.Language]:
    """The recipe and English language entry of the wider set (seed 1, one page per document)."""
    english = dataclasses.replace(corpus_bench.RECIPE.language("en"), documents=DOCUMENTS, pages_per_document=1)
    return dataclasses.replace(corpus_bench.RECIPE, seed=SEED, page_cap=PAGE_CAP, languages=(english,)), english


def bench_documents(pages_file: Path = corpus_bench.PAGES_FILE) -> set[str]:
    """The documents of the corpus bench's English dev pages (left out of the wider set)."""
    recorded = json.loads(pages_file.read_text(encoding="utf-8"))
    return set(recorded["splits"]["dev"]["en"]["documents"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sources", default="/work/corpus", help="corpus sources folder (sources.json)")
    parser.add_argument("--root", default="/work/corpus/bench-dev-wide", help="folder of the pages")
    parser.add_argument("--workers", type=int, default=1, help="processes of the corpus build (same pages)")
    parser.add_argument("--replace", action="store_true", help="rebuild a folder that holds other pages")
    args = parser.parse_args(argv)

    from textspotter.corpus import load_documents

    recipe, english = wide_recipe()
    left_out = bench_documents()
    documents = [d for d in load_documents([args.sources]) if d.id not in left_out]
    recorded = json.loads(PAGES_FILE.read_text(encoding="utf-8")) if PAGES_FILE.is_file() else None
    try:
        record = corpus_bench.prepare_split(
            documents,
            english,
            "dev",
            Path(args.root),
            recipe=recipe,
            recorded=recorded,
            workers=args.workers,
            replace=args.replace,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"corpus_dev_wide: error: {exc}", file=sys.stderr)
        return 2
    if record != recorded:
        PAGES_FILE.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"en/dev (wide): {len(record['pages'])} pages of {len(record['documents'])} documents under {args.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

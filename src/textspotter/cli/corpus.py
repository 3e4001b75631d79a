"""``textspotter corpus``: real documents as training data.

Examples::

    apt-get update   # once: `corpus sources` downloads with apt-get
    textspotter corpus sources --out /work/corpus/src --packages texlive-latex-base-doc texlive-lang-korean
    textspotter corpus build /work/corpus/src --out /work/corpus/sample --seed 1 --workers 2 --max-pages 8
    textspotter corpus build /work/corpus/src --out /work/corpus/more --max-pages 8 --exclude /work/corpus/sample
    textspotter corpus build paper.pdf folder_of_pdfs/ --out data/real --clean-share 1 --preview 12
"""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    sources = sub.add_parser("sources", help="download and unpack Debian packages of documents, convert HTML/office")
    sources.add_argument("--out", required=True, help="sources folder (packages unpacked there, index sources.json)")
    sources.add_argument("--packages", nargs="+", default=None, help="Debian packages (default: the built-in list)")
    sources.add_argument(
        "--html-limit", type=int, default=40, help="HTML pages printed per package (-1 all, 0 none; default 40)"
    )
    sources.add_argument("--no-office", action="store_true", help="skip LibreOffice layouts and office files")

    build = sub.add_parser("build", help="render documents into a dataset with trusted text-layer labels")
    build.add_argument("sources", nargs="+", help="sources folders (sources.json), folders of PDFs, or PDF files")
    build.add_argument("--out", required=True, help="output folder: train/ dev/ test/ manifests and the report")
    build.add_argument("--seed", type=int, default=0, help="master seed; page p of document d uses (seed, d, p)")
    build.add_argument("--workers", type=int, default=1, help="processes (the output is the same for any count)")
    build.add_argument("--dpi", type=float, nargs=2, default=(100.0, 300.0), metavar=("LOW", "HIGH"))
    build.add_argument("--clean-share", type=float, default=0.25, help="share of pages without effects")
    build.add_argument("--max-pages", type=int, default=None, help="pages per document at most (drawn)")
    build.add_argument("--max-documents", type=int, default=None, help="documents at most per package (drawn)")
    build.add_argument("--packages", nargs="+", default=None, help="only documents of these packages")
    build.add_argument(
        "--exclude",
        nargs="+",
        default=None,
        metavar="BUILD",
        help="earlier build folders: their kept pages are not drawn again (extends a corpus with new pages)",
    )
    build.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image format (default jpg)")
    build.add_argument("--shards", type=int, default=1, help="manifest folders per split (whole documents each)")
    build.add_argument("--splits", default="train,dev,test", help="comma-separated splits to write")
    build.add_argument(
        "--preview", nargs="?", type=int, const=12, default=None, metavar="N", help="write preview.png of N pages"
    )


def _limit(documents, packages, max_documents):  # noqa: ANN001, ANN202
    if packages:
        documents = [d for d in documents if d.package in set(packages)]
    if max_documents is None:
        return documents
    from textspotter.corpus.split import key_hash

    # A reproducible draw per package: the documents with the smallest key hashes (not the first by name).
    counts: dict[str, int] = {}
    chosen = set()
    for document in sorted(documents, key=lambda d: key_hash(d.id)):
        if counts.get(document.package, 0) < max_documents:
            counts[document.package] = counts.get(document.package, 0) + 1
            chosen.add(document.id)
    return [d for d in documents if d.id in chosen]


def run(args: argparse.Namespace) -> int:
    from textspotter.corpus import BuildOptions, build_corpus, fetch_sources, load_documents
    from textspotter.corpus.build import built_pages
    from textspotter.corpus.sources import DEFAULT_PACKAGES

    try:
        if args.corpus_command == "sources":
            index = fetch_sources(
                args.packages or DEFAULT_PACKAGES,
                args.out,
                html_limit=args.html_limit,
                office=not args.no_office,
                log=lambda line: print(line, file=sys.stderr),
            )
            print(f"wrote {index}")
            return 0
        documents = _limit(load_documents(args.sources), args.packages, args.max_documents)
        exclude = built_pages(args.exclude) if args.exclude else None
        options = BuildOptions(
            dpi=tuple(args.dpi),
            clean_share=args.clean_share,
            max_pages=args.max_pages,
            image_format=args.format,
            shards=args.shards,
            splits=tuple(s.strip() for s in args.splits.split(",") if s.strip()),
        )
        from tqdm import tqdm

        start, cpu_start = time.perf_counter(), time.process_time()
        with tqdm(desc="corpus", unit="page", dynamic_ncols=True) as bar:
            report = build_corpus(
                documents,
                args.out,
                options,
                seed=args.seed,
                workers=args.workers,
                progress=bar.update,
                exclude=exclude,
            )
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start  # this process only: meaningful with --workers 1
        pages = sum(entry["counts"].get("pages", 0) for entry in report.values())
        kept = sum(entry["counts"].get("pages_kept", 0) for entry in report.values())
        print(
            f"{len(documents)} documents, {pages} pages checked, {kept} kept in {elapsed:.1f} s "
            f"({kept / max(elapsed, 1e-9):.2f} kept pages/s with {args.workers} worker(s)); "
            f"report: {args.out}/report.md"
        )
        if args.workers == 1:
            print(f"CPU time {cpu:.1f} s: {kept / max(cpu, 1e-9):.2f} kept pages per CPU-second")
        if args.preview:
            from pathlib import Path

            from textspotter.synth.preview import contact_sheet

            for split in options.splits:
                folder = Path(args.out) / split
                if (folder / "manifest.jsonl").is_file():
                    contact_sheet(folder, pages=args.preview).save(folder / "preview.png")
                    print(f"wrote {folder / 'preview.png'}")
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"textspotter corpus: error: {exc}", file=sys.stderr)
        return 2
    return 0

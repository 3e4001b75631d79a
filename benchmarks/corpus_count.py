"""Count the documents and pages of a corpus sources folder, per package (and per converter).

    python benchmarks/corpus_count.py /work/corpus [--sample /work/corpus/sample]

With ``--sample`` (a ``textspotter corpus build`` output), the share of pages kept per package in that build and
the languages of its kept pages are used to estimate usable pages per package: pages x kept share (an estimate:
the sample checks a few pages of a few documents per package, not every page).

With ``--text-check PACKAGE ...``, every page of those packages goes through the text-layer checks (no rendering,
so no ink checks): pages that survive, per language of their trusted words.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", help="sources folder with sources.json")
    parser.add_argument("--sample", default=None, help="a corpus build folder (report.json) to estimate usable pages")
    parser.add_argument("--text-check", nargs="+", default=[], metavar="PACKAGE", help="check every page's text layer")
    args = parser.parse_args()

    import pypdfium2 as pdfium

    from textspotter.corpus import load_documents
    from textspotter.data.manifest import read_manifest

    documents = load_documents([args.sources])
    counts: dict[str, Counter] = defaultdict(Counter)
    for document in documents:
        row = counts[document.package]
        row["documents"] += 1
        row[f"documents_{document.converter or 'pdf'}"] += 1
        try:
            pdf = pdfium.PdfDocument(document.path)
        except (pdfium.PdfiumError, OSError):
            row["unreadable"] += 1
            continue
        row["pages"] += len(pdf)
        row[f"pages_{document.converter or 'pdf'}"] += len(pdf)
        pdf.close()
    kept_share: dict[str, float] = {}
    languages: dict[str, Counter] = defaultdict(Counter)
    if args.sample:
        report = json.loads((Path(args.sample) / "report.json").read_text())
        for package, entry in report.items():
            pages = entry["counts"].get("pages", 0)
            kept_share[package] = entry["counts"].get("pages_kept", 0) / pages if pages else 0.0
        for split in ("train", "dev", "test"):
            if (Path(args.sample) / split / "manifest.jsonl").is_file():
                for page in read_manifest(Path(args.sample) / split):
                    languages[page.params["package"]][page.language or "?"] += 1
    print(
        "| package | documents (pdf / chromium / libreoffice) | pages | sample kept share | usable pages (est.) "
        "| sample languages |"
    )
    print("|---|---|---|---|---|---|")
    total = Counter()
    for package in sorted(counts):
        row = counts[package]
        share = kept_share.get(package)
        usable = round(row["pages"] * share) if share is not None else None
        total["documents"] += row["documents"]
        total["pages"] += row["pages"]
        total["usable"] += usable or 0
        langs = ", ".join(f"{k} {v}" for k, v in languages[package].most_common())
        print(
            f"| {package} | {row['documents']} ({row['documents_pdf']} / {row['documents_chromium']} / "
            f"{row['documents_libreoffice']}) | {row['pages']} | "
            f"{'' if share is None else f'{share:.2f}'} | {'' if usable is None else usable} | {langs} |"
        )
    print(f"| all | {total['documents']} | {total['pages']} | | {total['usable']} | |")
    if args.text_check:
        text_check([d for d in documents if d.package in set(args.text_check)])


def text_check(documents) -> None:  # noqa: ANN001
    """Print, per package, pages surviving the text-layer checks (every page) by language of their trusted words."""
    import pypdfium2 as pdfium

    from textspotter.corpus.build import _language
    from textspotter.corpus.text_layer import extract_glyphs, group_words
    from textspotter.corpus.trust import FontStats, check_words, page_verdict, suspect_fonts

    rows: dict[str, Counter] = defaultdict(Counter)
    for document in documents:
        try:
            pdf = pdfium.PdfDocument(document.path)
        except (pdfium.PdfiumError, OSError):
            continue
        pages = []
        stats = FontStats()
        for number in range(len(pdf)):
            page = pdf[number]
            text = extract_glyphs(page, 1.0)
            page.close()
            stats.add(text.glyphs)
            pages.append((text, group_words(text.glyphs)))
        suspect = suspect_fonts(stats)
        row = rows[document.package]
        for text, words in pages:
            words, _ = check_words(words, text, suspect)
            verdict = page_verdict(words, 0.0)
            row["pages"] += 1
            if verdict is None:
                row[f"usable_{_language(words) or '?'}"] += 1
            else:
                row[f"drop_{verdict}"] += 1
        pdf.close()
    print()
    print("| package | pages | usable by language (text-layer checks only) | dropped |")
    print("|---|---|---|---|")
    for package, row in sorted(rows.items()):
        usable = ", ".join(f"{k[7:]} {v}" for k, v in row.most_common() if k.startswith("usable_"))
        dropped = ", ".join(f"{k[5:]} {v}" for k, v in row.most_common() if k.startswith("drop_"))
        print(f"| {package} | {row['pages']} | {usable} | {dropped} |")


if __name__ == "__main__":
    main()

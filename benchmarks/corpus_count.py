"""Count the documents and pages of a corpus sources folder, per package (and per converter).

    python benchmarks/corpus_count.py /work/corpus [--sample /work/corpus/sample]

With ``--sample`` (a ``textspotter corpus build`` output), the share of pages kept per package in that build and
the languages of its kept pages are used to estimate usable pages per package: pages x kept share (an estimate:
the sample checks a few pages of a few documents per package, not every page).
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


if __name__ == "__main__":
    main()

"""Write a manifest of the corpus training pages that hold the most mathematics (issue #19, stage 25).

A page is kept when at least ``--min-words`` of its words hold a mathematical operator (``−`` U+2212, ``∗``, ``∇``,
``∂``, ``≤``, ``±``, ...; the centred dot and Greek letters are left out of the test because tables of contents fill
lines with ``·`` and the humanities documentation sets Greek prose). Image paths are written absolute, so the new
manifest reads the original images where they are; only ``train`` splits are read, so no dev or test page enters.

    python scripts/corpus-math-manifest.py /work/corpus/en30k /work/corpus/en30k-math
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OPERATORS = frozenset("−∗∇∂∈∉≤≥≈≠∑∏∫√∞±×⇒⇔∀∃⊂⊆∪∩∧∨¬⊥∼≡")


def math_words(page: dict) -> int:
    """Number of the page's words that hold an operator of :data:`OPERATORS`."""
    return sum(any(char in OPERATORS for char in word["text"]) for word in page["words"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", type=Path, help="corpus build folder (holds */train and more/*/train)")
    parser.add_argument("out", type=Path, help="folder of the new manifest.jsonl")
    parser.add_argument("--min-words", type=int, default=8, help="words with an operator a page needs (default 8)")
    args = parser.parse_args(argv)
    manifests = [
        path
        for pattern in ("*/train/manifest.jsonl", "more/*/train/manifest.jsonl")
        for path in sorted(args.build.glob(pattern))
    ]
    if not manifests:
        print(f"error: no */train/manifest.jsonl under {args.build}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    kept = words = 0
    with (args.out / "manifest.jsonl").open("w", encoding="utf-8") as out:
        for manifest in manifests:
            with manifest.open("rb") as fh:
                for raw in fh:
                    if not raw.strip():
                        continue
                    page = json.loads(raw)
                    if math_words(page) < args.min_words:
                        continue
                    page["image"] = str((manifest.parent / page["image"]).resolve())
                    out.write(json.dumps(page, ensure_ascii=False) + "\n")
                    kept += 1
                    words += len(page["words"])
    print(f"{kept} pages, {words} words from {len(manifests)} manifests -> {args.out / 'manifest.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

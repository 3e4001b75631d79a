"""Move the pages of existing corpus builds to the split their documents have under the current rule.

Usage: python scripts/corpus-resplit.py BUILD_FOLDER [BUILD_FOLDER ...]

A build folder (``textspotter corpus build --out``) holds ``train/``, ``dev/`` and ``test/`` manifest folders,
``split.json`` and ``build.json``. When the split rule changes (docs/corpus.md, "The split"), rendering every page
again is not needed: a page's split is its document's (``params.document``), so each manifest line moves, with its
image, to the folder :func:`textspotter.corpus.split_of` now gives. Manifests are rewritten through a temporary file
and renamed, and ``split.json`` / ``build.json`` record the new rule; a folder already up to date is left untouched.
Prints, per folder, how many pages moved from which split to which.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

from textspotter.corpus.split import SPLIT_RULE, SPLITS, split_of


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def resplit(folder: Path) -> Counter[tuple[str, str]]:
    """Move the pages of one build folder; return the counts of ``(old split, new split)`` moves."""
    lines: dict[str, list[str]] = {split: [] for split in SPLITS}
    moves: Counter[tuple[str, str]] = Counter()
    for split in SPLITS:
        manifest = folder / split / "manifest.jsonl"
        if not manifest.is_file():
            continue
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            page = json.loads(line)
            target = split_of(page["params"]["document"])
            if target != split:
                moves[(split, target)] += 1
                source_image, target_image = folder / split / page["image"], folder / target / page["image"]
                target_image.parent.mkdir(parents=True, exist_ok=True)
                if source_image.exists():
                    os.replace(source_image, target_image)
                elif not target_image.exists():
                    raise FileNotFoundError(f"{folder}: image {page['image']} of page {page['id']} is missing")
            lines[target].append(line)
    if moves:
        for split, kept in lines.items():
            if kept or (folder / split / "manifest.jsonl").is_file():
                (folder / split).mkdir(exist_ok=True)
                _write_atomic(folder / split / "manifest.jsonl", "".join(f"{line}\n" for line in kept))
    record_path = folder / "split.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        for key, entry in record.get("documents", {}).items():
            entry["split"] = split_of(key)
        record["rule"] = SPLIT_RULE
        _write_atomic(record_path, json.dumps(record, indent=1) + "\n")
    build_path = folder / "build.json"
    if build_path.is_file():
        build = json.loads(build_path.read_text(encoding="utf-8"))
        build["split_rule"] = SPLIT_RULE
        build["folders"] = [split for split in SPLITS if lines[split] or (folder / split / "manifest.jsonl").is_file()]
        _write_atomic(build_path, json.dumps(build, indent=2, ensure_ascii=False) + "\n")
    return moves


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for name in argv:
        folder = Path(name)
        if not (folder / "split.json").is_file():
            print(f"{folder}: not a corpus build folder (no split.json)", file=sys.stderr)
            return 2
        moves = resplit(folder)
        summary = ", ".join(f"{a} -> {b}: {n}" for (a, b), n in sorted(moves.items())) or "nothing to move"
        print(f"{folder}: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

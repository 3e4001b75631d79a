"""CPU time of page assembly (``assemble_page``) on real pages' readings, rebuilt from cached bench pages.

The host-side benchmark (``benchmarks/host_side.py``) reads synthetic pages with random-weight networks, whose
relational model links words at random: a 190-word page assembles there from about 95 paragraphs, which makes the
XY-cut and the joins far busier than on a real page. This script takes what a real model found on real pages
instead: each page cached by ``textspotter bench`` or ``benchmarks/corpus_bench.py`` (``--cache``) becomes
:class:`PageReadings` again (its words' texts, quads and confidences; its lines as the relational groups, the
paragraphs shuffled so that the page must be ordered again) and is assembled with each option set. The figure is
CPU seconds of this process (``time.process_time``), the best of ``--repeats`` rounds, so that other jobs on the
machine move it little.

    python benchmarks/assembly_speed.py runs/bench-cache [more cache folders] [--pages 400] [--repeats 5]

Prints the pages, words per page and CPU milliseconds per page for ``AssemblyOptions()`` (default, lines placed
one by one) and ``AssemblyOptions(order="paragraphs")``.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textspotter.evaluate.cache import page_from_dict
from textspotter.pipeline.assemble import AssemblyOptions, PageReadings, assemble_page

OPTION_SETS = {"default": AssemblyOptions(), "paragraphs": AssemblyOptions(order="paragraphs")}


def readings_of(page_dict: dict, seed: int = 0) -> PageReadings:
    """The readings that assemble into a page like the cached one: words in line order, lines as groups, the
    paragraphs in a shuffled order (``seed``)."""
    page = page_from_dict(page_dict)
    texts, quads, detection, text_confidence, groups = [], [], [], [], []
    for paragraph in page.paragraphs:
        lines = []
        for line in paragraph.lines:
            ids = []
            for word in line.words:
                ids.append(len(texts))
                texts.append(word.text)
                quads.append(word.quad)
                detection.append(word.detection_confidence)
                text_confidence.append(word.text_confidence)
            lines.append(ids)
        groups.append(lines)
    random.Random(seed).shuffle(groups)
    return PageReadings(
        texts=texts,
        quads=np.array(quads, dtype=np.float32).reshape(-1, 4, 2),
        detection_confidence=np.array(detection, dtype=np.float32),
        text_confidence=np.array(text_confidence, dtype=np.float32),
        groups=groups,
        width=page.width,
        height=page.height,
    )


def cached_readings(folders: Sequence[str | Path], limit: int) -> list[PageReadings]:
    """Up to ``limit`` pages' readings from bench cache folders (``ENGINE/KEY[:2]/KEY.json`` under each), in name
    order; pages without words are skipped."""
    out: list[PageReadings] = []
    for folder in folders:
        for path in sorted(glob.glob(str(Path(folder) / "*" / "*" / "*.json"))):
            if len(out) >= limit:
                return out
            with open(path, encoding="utf-8") as handle:
                readings = readings_of(json.load(handle)["page"], seed=len(out))
            if readings.texts:
                out.append(readings)
    return out


def cpu_ms_per_page(readings: Sequence[PageReadings], options: AssemblyOptions, repeats: int) -> float:
    """Best of ``repeats`` rounds of assembling every page: CPU milliseconds per page."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for page in readings:
            assemble_page(page, options=options)
        best = min(best, time.process_time() - start)
    return 1000 * best / len(readings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("caches", nargs="+", help="bench cache folders (--cache of textspotter bench)")
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    readings = cached_readings(args.caches, args.pages)
    if not readings:
        parser.error(f"no cached page with words under {args.caches}")
    words = sum(len(r.texts) for r in readings) / len(readings)
    print(f"command: python benchmarks/assembly_speed.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='minutes')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"pages: {len(readings)}, {words:.0f} words each on average, best of {args.repeats} rounds\n")
    print("| options | CPU ms/page |")
    print("|---|---:|")
    for name, options in OPTION_SETS.items():
        print(f"| {name} | {cpu_ms_per_page(readings, options, args.repeats):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""CPU seconds, page faults and peak memory per page of ``OCR.read`` on real pages (issue #20).

Speed in pages per second moves with whatever else runs on the machine; the CPU time a page costs (user and system),
and the minor page faults behind the system time, move much less. This script reads ``--pages`` pages of a dataset
one ``OCR.read`` call each (the way a loop over files calls it), after one warm-up page, and prints per page: user
and system CPU seconds, minor page faults and wall seconds, plus the process's peak RSS. Run it for two versions of
the code in alternation (the other one from a worktree, ``PYTHONPATH=WORKTREE/src``) to compare them.

    python benchmarks/cpu_per_page.py --dataset docbank --pages 8 --threads 1
    PYTHONPATH=/tmp/old/src python benchmarks/cpu_per_page.py --dataset docbank --pages 8 --threads 1

Prints one Markdown table row (and the command, code location, date and load average).
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import sys
import time
from pathlib import Path

import torch

import textspotter
from textspotter import OCR
from textspotter.evaluate.datasets import open_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="docbank", help="dataset path or shortcut (default docbank)")
    parser.add_argument("--data-root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--pages", type=int, default=8, help="pages timed after the warm-up page (default 8)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--model", default="default", help="model name or folder (default: the shipped English one)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    samples = open_dataset(args.dataset, data_root=args.data_root, limit=args.pages + 1).samples
    if len(samples) < 2:
        parser.error(f"{args.dataset}: needs at least 2 pages, has {len(samples)}")
    ocr = OCR(model=args.model)
    ocr.read(samples[0].image)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for sample in samples[1:]:
        document = ocr.read(sample.image)[0]
        if not document.ok:
            raise SystemExit(f"{sample.image}: {document.error}")
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
    count = len(samples) - 1
    print(f"command: python {' '.join(sys.argv)}")
    print(f"code: {Path(textspotter.__file__).resolve().parent}")
    now = datetime.datetime.now(datetime.timezone.utc)
    print(f"date: {now:%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}")
    print()
    print("| pages | user s/page | system s/page | minor faults/page | wall s/page | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    user, system = (after.ru_utime - before.ru_utime) / count, (after.ru_stime - before.ru_stime) / count
    faults = (after.ru_minflt - before.ru_minflt) / count
    print(f"| {count} | {user:.3f} | {system:.3f} | {faults:.0f} | {wall / count:.3f} | {after.ru_maxrss / 1024:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

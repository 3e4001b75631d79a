"""Pages per second per core of the synthetic page generator (on-the-fly generation, no file writing).

Runs ``generate_page`` in one process with one OpenCV thread, after a warm-up that loads fonts and word lists, and
reports the median of several timed rounds, per layout as well as overall. Results go in
benchmarks/RESULTS.md.

    python benchmarks/synth_speed.py                       # English documents, default effects
    python benchmarks/synth_speed.py --lang ja --layouts article,vertical --pages 40
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--layouts", default="article,form,table,receipt")
    parser.add_argument("--pages", type=int, default=40, help="pages per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clean", action="store_true", help="no image effects")
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()

    import cv2

    from textspotter.synth import EffectConfig, SynthConfig, generate_page

    cv2.setNumThreads(1)
    config = SynthConfig(languages=tuple(args.lang.split(",")), layouts=tuple(args.layouts.split(",")))
    if args.clean:
        config = SynthConfig(languages=config.languages, layouts=config.layouts, effects=EffectConfig.none())
    for index in range(5):  # warm-up: font catalogue, word lists, Faker, font objects
        generate_page(config, args.seed + 1, index)

    rates, cpu_rates, per_layout, sizes, words = [], [], {}, [], []
    for r in range(args.rounds):
        start, cpu_start = time.perf_counter(), time.process_time()
        for index in range(args.pages):
            t0 = time.perf_counter()
            image, page = generate_page(config, args.seed, r * args.pages + index)
            per_layout.setdefault(page.params["layout"], []).append(time.perf_counter() - t0)
            sizes.append(max(image.shape[:2]))
            words.append(len(page.words))
        rates.append(args.pages / (time.perf_counter() - start))
        cpu_rates.append(args.pages / (time.process_time() - cpu_start))

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores visible, python {platform.python_version()}")
    print(f"config: lang={args.lang} layouts={args.layouts} effects={'none' if args.clean else 'default'}")
    print(
        f"pages: {args.rounds} rounds x {args.pages}; median long side {statistics.median(sizes)} px; "
        f"median {statistics.median(words)} words/page"
    )
    print(
        f"pages/s (wall clock): median {statistics.median(rates):.2f} (rounds: {', '.join(f'{x:.2f}' for x in rates)})"
    )
    # CPU time is what one core spends per page; it stays meaningful when other processes share the cores.
    cpu = ", ".join(f"{x:.2f}" for x in cpu_rates)
    print(f"pages per CPU-second (per core): median {statistics.median(cpu_rates):.2f} (rounds: {cpu})")
    for name, times in sorted(per_layout.items()):
        print(
            f"  {name:9s} {len(times):4d} pages  median {1000 * statistics.median(times):6.1f} ms  "
            f"mean {1000 * statistics.mean(times):6.1f} ms"
        )


if __name__ == "__main__":
    main()

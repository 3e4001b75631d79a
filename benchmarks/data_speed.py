"""Training windows per second per core: pages from a manifest corpus against pages from the generator.

Builds micro-batches with ``TrainingStream.make_batch`` in this process with one torch and one OpenCV thread (what
one DataLoader worker does) for each source kind and each K (windows cut from each loaded page), and reports the
median of the timed rounds in windows per CPU-second and per wall-second. The training settings (detector input
side, window size, augmentation, targets, synthetic options) come from a training config. Results go in
benchmarks/RESULTS.md.

    python benchmarks/data_speed.py --manifest /work/corpus/bench/pdf-manifest
    python benchmarks/data_speed.py --manifest 'corpus/en/shard-*' --windows 1,2,4 --batches 8 --rounds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", required=True, nargs="+", help="manifest folders or glob patterns")
    parser.add_argument("--config", default="configs/small-en.yaml", help="training config for the data settings")
    parser.add_argument("--model", default="small", help="registry model whose charset and preprocessing are used")
    parser.add_argument("--windows", default="1,4", help="comma-separated K values (windows per loaded page)")
    parser.add_argument("--batch-size", type=int, default=4, help="windows per micro-batch")
    parser.add_argument("--batches", type=int, default=6, help="micro-batches per timed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default="manifest,synth", help="source kinds to time")
    args = parser.parse_args()

    import cv2
    import torch

    from textspotter.data.dataset import MixedSource, TrainingStream, build_sources
    from textspotter.models.registry import get_spec
    from textspotter.train.config import SourceSection, resolve_config
    from textspotter.train.loop import sample_builder

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    config = resolve_config(args.config)
    data = config.data
    spec = get_spec(args.model)
    if config.model.infer_length:
        spec = dataclasses.replace(
            spec, preprocess=dataclasses.replace(spec.preprocess, infer_length=config.model.infer_length)
        )
    builder = sample_builder(spec, data)
    options = {
        "manifest": SourceSection(kind="manifest", paths=list(args.manifest)),
        "synth": SourceSection(kind="synth", synth=data.synth_options() or {}),
    }
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
        f"python {platform.python_version()}, torch {torch.__version__}, load average "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(
        f"config: {args.config}: L = {spec.preprocess.infer_length}, windows of {data.crop_size} px, "
        f"micro-batches of {args.batch_size}, {args.batches} per round, {args.rounds} rounds, 1 thread"
    )
    print("| source | K | windows / CPU-s | windows / s | pages loaded / s | CPU ms per window |")
    print("|---|---|---|---|---|---|")
    for kind in args.kinds.split(","):
        (entry,) = build_sources([options[kind]], seed=data.seed)
        for windows in [int(k) for k in args.windows.split(",")]:
            source = MixedSource(entry.source, windows=windows)
            stream = TrainingStream([source], builder, batch_size=args.batch_size, seed=data.seed)
            stream.make_batch(0)  # warm-up: fonts, word lists, first decode
            cpu_rates, wall_rates = [], []
            for round_index in range(args.rounds):
                first = 1 + round_index * args.batches
                start, cpu_start = time.perf_counter(), time.process_time()
                for batch in range(first, first + args.batches):
                    stream.make_batch(batch)
                windows_built = args.batches * args.batch_size
                cpu_rates.append(windows_built / (time.process_time() - cpu_start))
                wall_rates.append(windows_built / (time.perf_counter() - start))
            cpu, wall = statistics.median(cpu_rates), statistics.median(wall_rates)
            pages = wall / min(windows, args.batch_size)
            print(f"| {kind} | {windows} | {cpu:.1f} | {wall:.1f} | {pages:.1f} | {1000 / cpu:.0f} |")


if __name__ == "__main__":
    main()

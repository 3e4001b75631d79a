"""Re-estimate a model folder's recognizer BatchNorm statistics over a training config's data mix ("precise BN").

Writes a new model folder with the same weights and spec; only the recognizer's BatchNorm running means and
variances change (``textspotter.train.loop.recalibrate_batchnorm``, docs/training.md "BatchNorm statistics").

    python scripts/recalibrate_bn.py src/textspotter/weights/multi configs/small-multi.yaml runs/multi-bn \\
        --windows 600 --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch

from textspotter.models.checkpoints import load_model, save_model
from textspotter.train.config import resolve_config
from textspotter.train.loop import recalibrate_batchnorm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model folder to start from")
    parser.add_argument("config", help="training config whose data section serves the windows")
    parser.add_argument("out", help="new model folder")
    parser.add_argument("--windows", type=int, default=600)
    parser.add_argument("--start-batch", type=int, default=0, help="where in the config's data stream to start")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = resolve_config(args.config, overrides=args.set)
    model = load_model(args.model)
    started = time.perf_counter()
    used = recalibrate_batchnorm(model, config, windows=args.windows, start_batch=args.start_batch)
    save_model(model, args.out)
    print(f"{args.out}: recognizer BatchNorm statistics from {used} windows in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

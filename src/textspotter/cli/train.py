"""``textspotter train``: train the detector, recognizer and relational model jointly.

Examples::

    textspotter train --config configs/small-en.yaml
    textspotter train --config configs/small-en.yaml --set train.steps=100 --set optim.lr=5e-4
    textspotter train --config configs/small-en.yaml --init path/to/v2_english --set train.freeze=[detector]
    textspotter train --config configs/small-en.yaml --resume auto
    torchrun --nproc_per_node 8 -m textspotter train --config configs/small-en-gpu.yaml
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML training config (defaults are used for everything it leaves out)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set train.steps=1000 --set train.freeze=[detector] (repeatable)",
    )
    parser.add_argument("--init", help="start from this model folder (ours, or a published v1/v2 folder)")
    parser.add_argument("--out", help="run folder for logs, curves and checkpoints (train.out_dir)")
    parser.add_argument("--steps", type=int, help="optimizer steps (train.steps)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="train.device")
    parser.add_argument(
        "--resume", metavar="CHECKPOINT|auto", help="resume from a checkpoint folder, or the latest one in --out"
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--quiet", action="store_true", help="do not echo log records to stdout")


def run(args: argparse.Namespace) -> int:
    import json
    import os

    import yaml

    from textspotter.train.config import config_to_dict, resolve_config

    overrides = list(args.overrides)
    for key, value in (
        ("model.init", args.init),
        ("train.out_dir", args.out),
        ("train.steps", args.steps),
        ("train.device", args.device),
        ("train.resume", args.resume),
    ):
        if value is not None:
            # JSON-quote strings (valid YAML) so that paths such as "1e3" or "yes" stay strings.
            overrides.append(f"{key}={value if isinstance(value, int) else json.dumps(str(value))}")
    try:
        config = resolve_config(args.config, overrides=overrides)
    except (ValueError, FileNotFoundError) as exc:
        print(f"textspotter train: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        print(yaml.safe_dump(config_to_dict(config), sort_keys=False), end="")
        return 0

    from textspotter.train.loop import train

    rank = os.environ.get("RANK", "0")
    echo = None if args.quiet else (lambda line: print(line, flush=True))
    result = train(config, log=echo)
    if rank == "0" and not args.quiet:
        rates = " ".join(f"{k}={v:.4g}" for k, v in result.evaluation.items())
        print(f"done: {result.step} steps in {result.out_dir}; {rates}", flush=True)
    return 0

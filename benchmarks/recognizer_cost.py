"""Training cost of the recognizer alone by classifier size and strip width (issue #22).

Times one forward pass under bf16 autocast, a log-softmax loss and its backward pass for a batch of random strips
(48 feature channels × 8 rows, the `small` detector's output), for each pair of classes and columns, with the
shipped English recognizer's other settings. The second of two repetitions is printed. With ``--sampled S`` each
classifier size is also timed scoring S of its classes only (``loss.sampled_classes``: training's sampled softmax).

    python benchmarks/recognizer_cost.py --threads 2 --strips 200
    python benchmarks/recognizer_cost.py --threads 1 --strips 100 --classes 10617 --sampled 1024
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from textspotter.models.recognizer import Recognizer
from textspotter.models.spec import RecognizerConfig

SPEC = Path(__file__).resolve().parents[1] / "src" / "textspotter" / "weights" / "default" / "model.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--strips", type=int, default=200)
    parser.add_argument("--classes", default="308,10617", help="comma-separated classifier sizes")
    parser.add_argument("--widths", default="48,256", help="comma-separated strip widths (columns)")
    parser.add_argument("--sampled", type=int, default=0, help="also time scoring only this many classes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = json.loads(SPEC.read_text())["recognizer"]
    fields = {f.name for f in dataclasses.fields(RecognizerConfig)}
    print("classes  scored  columns  forward_s  backward_s")
    for width in (int(w) for w in args.widths.split(",")):
        for tokens in (int(c) for c in args.classes.split(",")):
            settings = {k: v for k, v in base.items() if k in fields} | {"num_tokens": tokens, "max_width": width}
            recognizer = Recognizer(RecognizerConfig(**settings), 48)
            strips = torch.randn(args.strips, 48, 8, width)
            subsets = [None] + ([torch.randperm(tokens)[: args.sampled].sort().values] if args.sampled else [])
            for classes in subsets:
                for _ in range(2):
                    recognizer.zero_grad(set_to_none=True)
                    start = time.perf_counter()
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        logits = recognizer(strips, classes)[0]
                    loss = torch.nn.functional.log_softmax(logits.float(), -1).mean()
                    middle = time.perf_counter()
                    loss.backward()
                    end = time.perf_counter()
                scored = tokens if classes is None else classes.numel()
                print(f"{tokens:7d}  {scored:6d}  {width:7d}  {middle - start:9.2f}  {end - middle:10.2f}", flush=True)


if __name__ == "__main__":
    main()

"""Calibrate a model folder's int8 ranges (``spec.int8``) for reading with int8 convolutions on a CPU.

Reads the given pages with the model in float (int8 off), keeps the strips its recognizer reads and the inputs its
detector reads, measures the activation ranges of the recognizer's encoder on a seeded sample of the strips
(``textspotter.models.quantize.calibrate``) and of the detector's body on the first ``--detector-pages`` inputs
(``calibrate_detector``), and writes a new model folder: the same weights, the spec with ``int8`` set. Calibrate on
pages like the ones the model will read, and never on the pages it is evaluated on.

    python scripts/calibrate_int8.py src/textspotter/weights/default runs/default-int8 \\
        --images 'runs/synth-calib/images/*.png' '/work/corpus/en30k/*/train/images/*.png' --pages 48
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import random
import time
from typing import Any

import torch

from textspotter.models.checkpoints import load_model, save_model
from textspotter.models.quantize import calibrate, calibrate_detector
from textspotter.pipeline import OCR
from textspotter.pipeline.stages import DetectionOptions, RecognitionOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model folder to calibrate")
    parser.add_argument("out", help="new model folder (same weights, spec with int8 ranges)")
    parser.add_argument("--images", nargs="+", required=True, help="image files or glob patterns (quoted)")
    parser.add_argument("--pages", type=int, default=48, help="pages drawn from the images (seeded)")
    parser.add_argument("--strips", type=int, default=8192, help="strips drawn from those pages (seeded)")
    parser.add_argument("--detector-pages", type=int, default=16, help="detector inputs calibrated on; 0: no detector")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--description", default="", help="what the pages are (kept in spec.int8.calibration)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted({path for pattern in args.images for path in glob.glob(pattern)})
    if not files:
        parser.error(f"no image matches {args.images}")
    rng = random.Random(args.seed)
    pages = rng.sample(files, min(args.pages, len(files)))
    model = load_model(args.model).eval()
    model.spec = model.spec.replace(int8=None)
    kept: list[torch.Tensor] = []
    inputs: list[torch.Tensor] = []

    def keep(_module: Any, hook_args: tuple[torch.Tensor, ...]) -> None:
        kept.append(hook_args[0].detach().float().clone())

    def keep_input(_module: Any, hook_args: tuple[torch.Tensor, ...]) -> None:
        # ``args`` is the command line here: the hook's own arguments must not shadow it.
        if len(inputs) < args.detector_pages:
            inputs.append(hook_args[0].detach().float().clone())

    handles = [
        # The encoder's input: the feature strips, with a pixel stem's channels appended when the model has one.
        model.recognizer.encoder.register_forward_pre_hook(keep),
        model.detector.register_forward_pre_hook(keep_input),
    ]
    started = time.perf_counter()
    ocr = OCR(
        model=model,
        device="cpu",
        detection=DetectionOptions(int8="off"),
        recognition=RecognitionOptions(int8="off"),
    )
    for document in ocr.read(pages):
        if not document.ok:
            print(f"skipped {document.source}: {document.error}")
    for handle in handles:
        handle.remove()
    # A seeded sample of all strips; the batches keep their widths (a bucketed recognizer reads several).
    total = sum(batch.shape[0] for batch in kept)
    generator = torch.Generator().manual_seed(args.seed)
    chosen = torch.zeros(total, dtype=torch.bool)
    chosen[torch.randperm(total, generator=generator)[: args.strips]] = True
    batches, start = [], 0
    for batch in kept:
        part = batch[chosen[start : start + batch.shape[0]]]
        start += batch.shape[0]
        batches.extend(part.split(256) if part.shape[0] else [])
    count = int(chosen.sum())
    description = args.description or f"{len(pages)} pages of {', '.join(args.images)}, seed {args.seed}"
    description += f"; {count} strips"
    config = calibrate(model, batches, description)
    if inputs:
        detector = calibrate_detector(model.detector, inputs)
        description += f"; detector: the first {len(inputs)} detector inputs"
        config = dataclasses.replace(config, detector=detector, calibration=description)
    model.spec = model.spec.replace(int8=config)
    save_model(model, args.out)
    seconds = time.perf_counter() - started
    counts = f"{len(config.recognizer)} recognizer and {len(config.detector)} detector ranges"
    used = f"{count} strips and {len(inputs)} inputs of {len(pages)} pages"
    print(f"{args.out}: {counts} from {used}, {seconds:.0f} s")


if __name__ == "__main__":
    main()

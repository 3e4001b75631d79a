"""Average the weights of model folders of one network ("model soup") into a new model folder.

Every floating-point parameter and buffer (BatchNorm statistics included) becomes the element-wise mean of the
folders' values, computed in float64; integer buffers (``num_batches_tracked``) are taken from the last folder. The
folders must hold the same network: the same spec apart from the int8 ranges, which the mean drops (calibrate them
again: ``scripts/calibrate_int8.py``). The spec, charset included, is the last folder's.

    python scripts/average_weights.py runs/en-pixels4/checkpoints/step-00001500/model \\
        runs/en-pixels5/checkpoints/step-00001500/model runs/soup-float
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch

from textspotter.models.checkpoints import load_model, save_model
from textspotter.models.spec import ModelSpec


def average_models(folders: Sequence[str | Path], out: str | Path) -> Path:
    """Write the mean of ``folders``' weights to ``out`` (see the module docstring); return ``out``.

    Raises:
        ValueError: fewer than two folders, or folders whose specs (int8 ranges aside) or tensors differ in shape.
    """
    if len(folders) < 2:
        raise ValueError(f"average_models needs at least two model folders, got {len(folders)}")
    models = [load_model(folder) for folder in folders]
    base = models[-1]

    def plain(spec: ModelSpec) -> ModelSpec:
        return spec.replace(int8=None)

    for folder, model in zip(folders, models, strict=True):
        if plain(model.spec) != plain(base.spec):
            raise ValueError(f"{folder}: its model spec differs from {folders[-1]}'s; only one network can be averaged")
    states = [model.state_dict() for model in models]
    mean = {}
    for key, value in states[-1].items():
        if value.is_floating_point():
            total = torch.stack([state[key].double() for state in states]).mean(0)
            mean[key] = total.to(value.dtype)
        else:
            mean[key] = value
    base.load_state_dict(mean)
    base.spec = plain(base.spec)
    return save_model(base, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="two or more model folders, then the output folder")
    args = parser.parse_args()
    if len(args.folders) < 3:
        parser.error("give at least two model folders and an output folder")
    out = average_models(args.folders[:-1], args.folders[-1])
    print(f"{out}: mean of {len(args.folders) - 1} models")


if __name__ == "__main__":
    main()

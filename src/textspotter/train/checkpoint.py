"""Training checkpoints with exact resume.

A checkpoint is a folder ``<out_dir>/checkpoints/step-00001000/`` holding:

* ``trainer.pt``: model and optimizer state, scheduler state, the step, the data position (micro-batches consumed
  by each rank) and the random states of python, numpy and torch (CPU and CUDA) of **every** rank;
* ``config.yaml``: the resolved training configuration;
* ``model/``: the model as an inference folder (``models.checkpoints.save_model``), usable with ``--init`` or the
  pipeline directly.

Files are written under a temporary name and renamed, so an interrupted save never leaves a half checkpoint that
``latest_checkpoint`` would pick.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "TRAINER_STATE",
    "checkpoint_path",
    "capture_rng_state",
    "restore_rng_state",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "prune_checkpoints",
]

TRAINER_STATE = "trainer.pt"
CHECKPOINT_FORMAT = 1
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoint_path(out_dir: str | os.PathLike[str], step: int) -> Path:
    """Return the folder of the checkpoint taken after ``step`` optimizer steps."""
    return Path(out_dir) / "checkpoints" / f"step-{step:08d}"


def capture_rng_state() -> dict[str, Any]:
    """Return the random states of python, numpy and torch (CPU and every CUDA device) of this process."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore states captured by :func:`capture_rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    folder: str | os.PathLike[str],
    trainer_state: dict[str, Any],
    *,
    config_yaml: str,
    model: torch.nn.Module | None = None,
) -> Path:
    """Write a checkpoint folder atomically (called on rank 0 only).

    Args:
        folder: destination (created; replaced if it exists).
        trainer_state: everything needed to resume (see the module docstring).
        config_yaml: the resolved config as YAML text.
        model: the ``OCRModel`` to also save as an inference folder in ``model/`` (skipped when None).

    Returns:
        The checkpoint folder.
    """
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    torch.save({"format": CHECKPOINT_FORMAT, **trainer_state}, tmp / TRAINER_STATE)
    (tmp / "config.yaml").write_text(config_yaml, encoding="utf-8")
    if model is not None:
        from ..models.checkpoints import save_model

        save_model(model, tmp / "model")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def load_checkpoint(folder: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read the trainer state of a checkpoint folder.

    Raises:
        FileNotFoundError: if the folder holds no ``trainer.pt``.
        ValueError: if the file is of an unknown format.
    """
    path = Path(folder) / TRAINER_STATE
    if not path.is_file():
        raise FileNotFoundError(f"no training checkpoint at {path}")
    # The state holds numpy RNG tuples and python objects besides tensors: it is our own file, not a download.
    state = torch.load(path, map_location=map_location, weights_only=False)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: unsupported checkpoint format {state.get('format')!r}")
    return state


def _checkpoints(out_dir: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / TRAINER_STATE).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(out_dir: str | os.PathLike[str]) -> Path | None:
    """Return the most recent complete checkpoint folder under ``out_dir``, or None."""
    found = _checkpoints(out_dir)
    return found[-1][1] if found else None


def prune_checkpoints(out_dir: str | os.PathLike[str], keep: int) -> None:
    """Delete all but the ``keep`` most recent checkpoints (``keep <= 0`` keeps everything)."""
    if keep <= 0:
        return
    for _, folder in _checkpoints(out_dir)[:-keep]:
        shutil.rmtree(folder, ignore_errors=True)

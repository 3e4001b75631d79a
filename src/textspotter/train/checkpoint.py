"""Training checkpoints with exact resume.

A checkpoint is a folder ``<out_dir>/checkpoints/step-00001000/`` holding:

* ``trainer.json`` + ``trainer.safetensors``: model and optimizer state, scheduler state, the step, the data
  position (micro-batches consumed by each rank) and the random states of python, numpy and torch (CPU and CUDA) of
  **every** rank. The JSON file holds the structure (dicts, lists, tuples, numbers, strings) with references to the
  tensors and arrays stored in the safetensors file. Neither format can hold code, so resuming from a checkpoint
  someone else wrote cannot run anything (a pickled ``trainer.pt`` of earlier versions is refused, not read);
* ``config.yaml``: the resolved training configuration;
* ``model/``: the model as an inference folder (``models.checkpoints.save_model``), usable with ``--init`` or the
  pipeline directly.

Files are written under a temporary name and renamed, so an interrupted save never leaves a half checkpoint that
``latest_checkpoint`` would pick.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

__all__ = [
    "TRAINER_STATE",
    "TRAINER_TENSORS",
    "checkpoint_path",
    "capture_rng_state",
    "restore_rng_state",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "prune_checkpoints",
]

TRAINER_STATE = "trainer.json"
TRAINER_TENSORS = "trainer.safetensors"
CHECKPOINT_FORMAT = 2
_LEGACY_PICKLE = "trainer.pt"
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
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode({"format": CHECKPOINT_FORMAT, **trainer_state}, tensors)
    save_file(tensors, str(tmp / TRAINER_TENSORS))
    (tmp / TRAINER_STATE).write_text(json.dumps(structure), encoding="utf-8")
    (tmp / "config.yaml").write_text(config_yaml, encoding="utf-8")
    if model is not None:
        from ..models.checkpoints import save_model

        save_model(model, tmp / "model")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def load_checkpoint(folder: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read the trainer state of a checkpoint folder (no unpickling: JSON structure plus safetensors).

    Raises:
        FileNotFoundError: if the folder holds no ``trainer.json`` / ``trainer.safetensors``.
        ValueError: if the files are of an unknown format, malformed, or a pickled ``trainer.pt`` of an earlier
            version (refused: unpickling can run code).
    """
    folder = Path(folder)
    path, tensor_path = folder / TRAINER_STATE, folder / TRAINER_TENSORS
    if not path.is_file() and (folder / _LEGACY_PICKLE).is_file():
        raise ValueError(
            f"{folder / _LEGACY_PICKLE}: a pickled training state of an earlier textspotter version; it is not loaded "
            "because unpickling can run code. Start a new run from its weights instead: "
            f"--set model.init={folder / 'model'}"
        )
    for required in (path, tensor_path):
        if not required.is_file():
            raise FileNotFoundError(f"no training checkpoint at {folder}: {required.name} is missing")
    try:
        structure = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a training checkpoint ({error})") from error
    if not isinstance(structure, dict) or structure.get("format") != CHECKPOINT_FORMAT:
        found = structure.get("format") if isinstance(structure, dict) else type(structure).__name__
        raise ValueError(f"{path}: unsupported checkpoint format {found!r}")
    device = str(map_location) if isinstance(map_location, torch.device) else map_location
    tensors = load_file(str(tensor_path), device=device)
    return _decode(structure, tensors, path)


# Trainer state <-> (JSON structure, flat tensor dict). JSON objects need string keys and have no tuples, and the
# state holds both (optimizer state is keyed by parameter index; python's and numpy's RNG states are tuples), so
# those are tagged. Tags are single-key objects whose key starts with "__", which plain state keys never do.
_TENSOR, _ARRAY, _TUPLE, _ITEMS = "__tensor__", "__ndarray__", "__tuple__", "__items__"


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        # safetensors refuses views of shared storage; a private contiguous copy is always accepted.
        tensors[name] = value.detach().to("cpu").contiguous().clone()
        return {_TENSOR: name}
    if isinstance(value, np.ndarray):
        name = f"t{len(tensors)}"
        # Stored as int64/float64 so any numpy dtype of the RNG state (uint32 for MT19937) survives exactly.
        wide = value.astype(np.float64 if value.dtype.kind == "f" else np.int64)
        tensors[name] = torch.from_numpy(np.ascontiguousarray(wide))
        return {_ARRAY: name, "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        items = [_encode(item, tensors) for item in value]
        return {_TUPLE: items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if all(isinstance(key, str) and not key.startswith("__") for key in value):
            return {key: _encode(item, tensors) for key, item in value.items()}
        return {_ITEMS: [[_encode(key, tensors), _encode(item, tensors)] for key, item in value.items()]}
    raise TypeError(f"training state holds a {type(value).__name__}, which a checkpoint cannot store")


def _decode(value: Any, tensors: dict[str, torch.Tensor], path: Path) -> Any:
    if isinstance(value, list):
        return [_decode(item, tensors, path) for item in value]
    if not isinstance(value, dict):
        return value
    try:
        if _TENSOR in value:
            return tensors[value[_TENSOR]]
        if _ARRAY in value:
            return tensors[value[_ARRAY]].cpu().numpy().astype(np.dtype(value["dtype"]))
        if _TUPLE in value:
            return tuple(_decode(item, tensors, path) for item in value[_TUPLE])
        if _ITEMS in value:
            return {_hashable(_decode(key, tensors, path)): _decode(item, tensors, path) for key, item in value[_ITEMS]}
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: malformed training checkpoint entry {str(value)[:80]!r} ({error})") from error
    return {key: _decode(item, tensors, path) for key, item in value.items()}


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict, torch.Tensor, np.ndarray)):
        raise TypeError(f"unusable dictionary key {key!r}")
    return key


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

"""Training-state checkpoints: exact round trip without pickle, and pickled files refused unread."""

from __future__ import annotations

import json
import pickle
import random

import numpy as np
import pytest
import torch

from textspotter.train.checkpoint import (
    TRAINER_STATE,
    TRAINER_TENSORS,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


def _trainer_state() -> dict:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95))
    model(torch.randn(2, 3)).sum().backward()
    optimizer.step()
    return {
        "step": 7,
        "data_position": 21,
        "world_size": 1,
        "spec": {"name": "tiny", "charset": ["a", "b"], "nested": {"x": 1.5, "none": None}},
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),  # int-keyed state, tuple betas, 0-dim step tensors
        "rng": [capture_rng_state()],
        "parameter_checksums": [0.1 + 0.2],
    }


def _assert_same(a, b) -> None:
    # A state dict's OrderedDict comes back as a plain dict with the same keys in the same order.
    assert type(a) is type(b) or (isinstance(a, dict) and type(b) is dict), (type(a), type(b))
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


def test_trainer_state_round_trips_exactly_without_pickle(tmp_path):
    state = _trainer_state()
    folder = save_checkpoint(tmp_path / "step-00000007", state, config_yaml="train: {}\n")
    assert sorted(p.name for p in folder.iterdir()) == sorted([TRAINER_STATE, TRAINER_TENSORS, "config.yaml"])
    json.loads((folder / TRAINER_STATE).read_text())  # plain JSON
    loaded = load_checkpoint(folder)
    assert loaded.pop("format") == 2
    _assert_same(state, loaded)


def test_restored_random_states_continue_the_same_streams(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    folder = save_checkpoint(tmp_path / "c", {"rng": [capture_rng_state()]}, config_yaml="")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    restore_rng_state(load_checkpoint(folder)["rng"][0])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def test_a_pickled_trainer_state_is_refused_and_never_unpickled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "step-00000001"
    folder.mkdir()
    (folder / "trainer.pt").write_bytes(pickle.dumps({"format": 1, "x": _RunsCode()}))
    with pytest.raises(ValueError, match=r"trainer\.pt.*unpickling can run code.*model\.init"):
        load_checkpoint(folder)
    assert not (tmp_path / "PWNED").exists()


def test_broken_or_foreign_checkpoints_get_clear_errors(tmp_path):
    folder = save_checkpoint(tmp_path / "c", {"step": 1, "w": torch.ones(2)}, config_yaml="")
    (folder / TRAINER_STATE).write_text('{"format": 99}')
    with pytest.raises(ValueError, match="unsupported checkpoint format 99"):
        load_checkpoint(folder)
    (folder / TRAINER_STATE).write_text('{"format": 2, "w": {"__tensor__": "t404"}}')
    with pytest.raises(ValueError, match="malformed"):
        load_checkpoint(folder)
    (folder / TRAINER_STATE).write_text("not json")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        load_checkpoint(folder)
    (folder / TRAINER_TENSORS).unlink()
    with pytest.raises(FileNotFoundError, match="trainer.safetensors is missing"):
        load_checkpoint(folder)


def test_state_that_cannot_be_stored_is_named(tmp_path):
    with pytest.raises(TypeError, match="holds a object"):
        save_checkpoint(tmp_path / "c", {"bad": object()}, config_yaml="")

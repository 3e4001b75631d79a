"""scripts/average_weights.py: the mean of model folders of one network."""

from pathlib import Path

import pytest
import torch

from textspotter.models import create_model
from textspotter.models.checkpoints import load_model, save_model

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "average_weights.py"


@pytest.fixture(scope="module")
def script(load_script):
    return load_script(SCRIPT, "average_weights")


def _saved(tmp_path, name, seed):
    torch.manual_seed(seed)
    model = create_model("tiny-test")
    with torch.no_grad():
        for buffer in model.buffers():
            if buffer.is_floating_point():
                buffer.uniform_(0.5, 1.5)  # BatchNorm statistics differ between the two folders too
    return save_model(model, tmp_path / name)


def test_mean_of_two_folders(script, tmp_path):
    a, b = _saved(tmp_path, "a", 1), _saved(tmp_path, "b", 2)
    out = script.average_models([a, b], tmp_path / "mean")
    first, second, mean = (load_model(p).state_dict() for p in (a, b, out))
    for key, value in mean.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (first[key] + second[key]) / 2)
        else:
            assert torch.equal(value, second[key])
    assert load_model(out).spec.int8 is None


def test_refuses_one_folder_and_different_networks(script, tmp_path):
    a = _saved(tmp_path, "a", 1)
    with pytest.raises(ValueError, match="at least two"):
        script.average_models([a], tmp_path / "out")
    other = load_model(a)
    other.spec = other.spec.replace(name="renamed")
    b = save_model(other, tmp_path / "b")
    with pytest.raises(ValueError, match="spec differs"):
        script.average_models([a, b], tmp_path / "out")

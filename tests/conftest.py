"""Shared test configuration: CPU only, few threads, deterministic seeds."""

import importlib.util
import os
import sys

import pytest
import torch

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


def pytest_configure(config):
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def shared_data():
    """Path of ../shared/data (development evaluation data); skip if this checkout has none beside it."""
    path = os.path.abspath(os.path.join(SHARED, "data"))
    if not os.path.isdir(path):
        pytest.skip("../shared/data is not beside this checkout")
    return path


@pytest.fixture(scope="session")
def load_script():
    """A loader of scripts outside the package (``benchmarks/*.py``) as modules: ``load_script(path, name)``.

    The module is registered in ``sys.modules`` while the session runs (dataclasses resolve their module while the
    class is created) and removed at its end.
    """
    loaded = []

    def load(path, name):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


@pytest.fixture
def read_recognition(tmp_path, monkeypatch, capsys):
    """``read_recognition(*flags)``: the ``RecognitionOptions`` that ``textspotter read IMAGE *flags`` builds.

    ``OCR`` is replaced by a stand-in that records its keyword arguments and stops the command (exit status 2 with
    its message on stderr, both checked), so no model is loaded.
    """
    import numpy as np
    from PIL import Image

    import textspotter.pipeline
    from textspotter.cli.main import main

    image = tmp_path / "blank.png"
    Image.fromarray(np.full((64, 64, 3), 255, dtype=np.uint8)).save(image)
    seen = {}

    def fake_ocr(**kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(textspotter.pipeline, "OCR", fake_ocr)

    def run(*flags: str):
        seen.clear()
        assert main(["read", str(image), *flags]) == 2
        assert "stop here" in capsys.readouterr().err
        return seen["recognition"]

    return run

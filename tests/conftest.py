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

"""Shared test configuration: CPU only, few threads, deterministic seeds."""

import os

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

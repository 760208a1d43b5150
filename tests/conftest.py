"""Shared fixtures: tiny real data and tiny real Keras models (no mocks)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from tests.utils.factories import least_squares_problem


@pytest.fixture
def regression_data() -> tuple[np.ndarray, np.ndarray]:
    """256 samples of a noisy 4-feature linear target."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=256)).astype("float32")
    return x, y[:, None]


@pytest.fixture
def classification_data() -> tuple[np.ndarray, np.ndarray]:
    """320 random 6x6x1 'images' with 3 classes that depend on the pixels."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(320, 6, 6, 1)).astype("float32")
    y = (x[:, :3].mean(axis=(1, 2, 3)) > 0).astype("int64") + (x[:, 3:].mean(axis=(1, 2, 3)) > 0.2)
    return x, y.astype("int64")


@pytest.fixture
def least_squares():
    return least_squares_problem()

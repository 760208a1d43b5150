"""One real range test (a tiny regressor, 60 steps, validation scored) shared by the
TensorBoard and MLflow tests."""

from __future__ import annotations

import numpy as np
import pytest

import finder
from tests.utils.factories import dense_regressor


@pytest.fixture(scope="session")
def range_result():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    y = (x @ np.array([1.0, -1.0, 2.0, 0.5])).astype("float32")[:, None]
    result = finder.range_test(
        dense_regressor(),
        x,
        y,
        batch_size=16,
        min_lr=1e-3,
        max_lr=5.0,
        num_steps=60,
        validation_data=(x[:32], y[:32]),
    )
    assert result.val_lrs and result.bounds.max_lr is not None
    return result

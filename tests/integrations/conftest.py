"""One real range test (a tiny regressor, 60 steps, validation scored) shared by the
TensorBoard and MLflow tests."""

from __future__ import annotations

import pytest

from tests.utils.factories import tiny_range_test


@pytest.fixture(scope="session")
def range_result():
    result = tiny_range_test(num_steps=60)
    assert result.val_lrs and result.bounds.max_lr is not None
    return result

"""`evaluate_learning_rate`: a learning rate (float or Keras schedule) at many steps at once, as
Keras evaluates it in training; `ScheduleSpec.lr_at`, the plots and the proposals sample
schedules with it."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np
from keras import ops

from finder.schedules import _checks

_schedules = keras.optimizers.schedules


def evaluate_learning_rate(learning_rate: Any, steps: Any) -> np.ndarray:
    """`learning_rate` (a float or a `LearningRateSchedule`) at each of `steps`.

    Schedules are evaluated as Keras evaluates them in training, with integer steps, all
    steps at once through `keras.ops.vectorized_map` (schedules such as `CosineDecay` with
    warm-up branch with `ops.cond` and cannot take a vector of steps directly). On PyTorch
    `vectorized_map` is `torch.vmap`, which refuses a branch on a tensor's value ("data-dependent
    control flow"), so there the schedule is called once per step, as training calls it.

    Args:
        learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`.
        steps: array-like of int, `>= 0`.

    Returns:
        A float64 numpy array shaped like `steps`.

    Raises:
        InvalidArgumentError: steps that are not non-negative integers, or a learning rate
            of another type.
    """
    array = np.asarray(steps)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise _checks.fail("steps", "an array of integers >= 0", steps)
    if array.size and (
        not np.all(np.isfinite(array)) or np.any(array < 0) or np.any(array != np.round(array))
    ):
        raise _checks.fail("steps", "an array of integers >= 0", steps)
    flat = array.astype(np.int64).ravel()
    if isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
        return np.full(array.shape, float(learning_rate), dtype=np.float64)
    if not isinstance(learning_rate, _schedules.LearningRateSchedule):
        raise _checks.fail(
            "learning_rate", "a float or a LearningRateSchedule", type(learning_rate).__name__
        )
    if flat.size == 0:
        return np.zeros(array.shape, dtype=np.float64)
    if keras.backend.backend() == "torch":
        values = [ops.convert_to_numpy(learning_rate(ops.convert_to_tensor(s))) for s in flat]
        return np.asarray(values, dtype=np.float64).reshape(array.shape)
    with _quiet_retracing():
        values = ops.vectorized_map(learning_rate, ops.convert_to_tensor(flat))
    return np.asarray(ops.convert_to_numpy(values), dtype=np.float64).reshape(array.shape)


@contextmanager
def _quiet_retracing() -> Iterator[None]:
    """Silence TensorFlow's "triggered tf.function retracing" warning.

    On TensorFlow every `vectorized_map` traces a function of its own, so sampling a sixth
    schedule (`finder run` samples one curve per proposal) logs that warning; here one trace
    per schedule is the expected cost, not a mistake to report.
    """
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)

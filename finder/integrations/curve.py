"""A range-test result as series over the sweep's steps, the shape TensorBoard and MLflow record.

Both tools plot a scalar against an integer step, not against the learning rate, so the curve
is written against the sweep step `i` (the `i`-th recorded step of `result.lrs`) and the
learning rate itself is one more series: a reader matches loss to LR by step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Series names; TensorBoard tags and MLflow metric keys are `PREFIX + name`.
PREFIX = "range_test/"
LEARNING_RATE = "learning_rate"
LOSS = "loss"
SMOOTHED_LOSS = "smoothed_loss"
VAL_LOSS = "val_loss"


def validation_steps(lrs: list[float], val_lrs: list[float]) -> list[int]:
    """The sweep step of each validation score: the step whose LR is nearest in log scale.

    Validation is scored at some steps of the first sweep, and `val_lrs` holds those steps'
    LRs, which lie on the grid of `lrs`; nearest-in-log also places them when repeats changed
    the grid's float rounding.
    """
    log_lrs = np.log(np.asarray(lrs, dtype=np.float64))
    return [int(np.argmin(np.abs(log_lrs - math.log(lr)))) for lr in val_lrs]


def curve_series(result: Any) -> dict[str, list[tuple[int, float]]]:
    """Series name -> [(sweep step, value)] for the LR, the raw and the smoothed loss, and
    the validation loss where the result recorded one.

    Args:
        result: a `RangeTestResult`.
    """
    series = {
        LEARNING_RATE: list(enumerate(map(float, result.lrs))),
        LOSS: list(enumerate(map(float, result.losses))),
        SMOOTHED_LOSS: list(enumerate(map(float, result.smoothed_losses))),
    }
    if result.val_lrs and len(result.lrs):
        steps = validation_steps(result.lrs, result.val_lrs)
        series[VAL_LOSS] = list(zip(steps, map(float, result.val_losses), strict=True))
    return series

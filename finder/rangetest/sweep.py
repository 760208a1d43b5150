"""The learning-rate grid of a range test and the schedule that applies it in the graph.

Step `i` of `n` (0-based) gets

```
exp:    lr_i = min_lr * (max_lr / min_lr) ** (i / (n - 1))
linear: lr_i = min_lr + (max_lr - min_lr) * i / (n - 1)
```

so the first step runs at exactly `min_lr` and the last at exactly `max_lr`.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from finder.errors import InvalidArgumentError, InvalidRangeError
from finder.rangetest.config import SWEEP_MODES
from finder.schedules import _checks


def validate_sweep(min_lr: float, max_lr: float, num_steps: int, mode: str) -> None:
    """Raise a clear error for a range that cannot be swept.

    Raises:
        InvalidRangeError: non-positive or non-finite bounds, `min_lr >= max_lr`, or
            `num_steps < 2`.
        InvalidArgumentError: unknown `mode`.
    """
    for name, value in (("min_lr", min_lr), ("max_lr", max_lr)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InvalidRangeError(
                f"Argument `{name}` must be a finite number > 0. Received: {name}={value!r}"
            )
    if min_lr >= max_lr:
        raise InvalidRangeError(
            f"Argument `min_lr` must be < `max_lr`. Received: min_lr={min_lr!r}, max_lr={max_lr!r}"
        )
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise InvalidRangeError(
            f"Argument `num_steps` must be an integer >= 2. Received: num_steps={num_steps!r}"
        )
    if mode not in SWEEP_MODES:
        raise InvalidArgumentError(
            f"Argument `mode` must be one of {SWEEP_MODES}. Received: mode={mode!r}"
        )


def sweep_lrs(min_lr: float, max_lr: float, num_steps: int, mode: str = "exp") -> np.ndarray:
    """The learning rate of every step of the sweep, float64, endpoints exact."""
    validate_sweep(min_lr, max_lr, num_steps, mode)
    if mode == "exp":
        lrs = np.geomspace(min_lr, max_lr, num_steps)
    else:
        lrs = np.linspace(min_lr, max_lr, num_steps)
    lrs[0], lrs[-1] = min_lr, max_lr
    return lrs


class SweepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The sweep as a schedule over `optimizer.iterations`, so no Python runs per step.

    It is installed on the optimizer only for the duration of a range test. Step `i` of the
    sweep is optimizer iteration `start_iteration + i * accumulation_steps` (with gradient
    accumulation the optimizer counts micro-batches).

    Args:
        min_lr: float. First learning rate.
        max_lr: float. Last learning rate.
        num_steps: int. Optimizer steps in the sweep.
        mode: str. `"exp"` or `"linear"`.
        start_iteration: int. `optimizer.iterations` when the sweep starts.
        accumulation_steps: int. Micro-batches per optimizer step. Defaults to `1`.
    """

    def __init__(
        self,
        min_lr: float,
        max_lr: float,
        num_steps: int,
        mode: str,
        start_iteration: int,
        accumulation_steps: int = 1,
    ) -> None:
        validate_sweep(min_lr, max_lr, num_steps, mode)
        self.min_lr = float(min_lr)
        self.max_lr = float(max_lr)
        self.num_steps = int(num_steps)
        self.mode = mode
        self.start_iteration = int(start_iteration)
        self.accumulation_steps = int(accumulation_steps)

    def __call__(self, step: Any) -> Any:
        dtype = "float32"
        # int32, not int64: JAX without `jax_enable_x64` has no int64 (and warns on a cast to
        # it); 2**31 steps is far beyond any training run.
        index = keras.ops.floor_divide(
            keras.ops.cast(step, "int32") - self.start_iteration, self.accumulation_steps
        )
        index = keras.ops.clip(keras.ops.cast(index, dtype), 0.0, float(self.num_steps - 1))
        fraction = index / float(self.num_steps - 1)
        if self.mode == "exp":
            log_ratio = math.log(self.max_lr / self.min_lr)
            return self.min_lr * keras.ops.exp(fraction * log_ratio)
        return self.min_lr + (self.max_lr - self.min_lr) * fraction

    def get_config(self) -> dict[str, Any]:
        return _checks.constructor_config(self)


class ConstantRate(keras.optimizers.schedules.LearningRateSchedule):
    """One learning rate at every step: a constant-LR trial (`finder.rangetest.trials`),
    installed like a sweep's schedule so that every backend traces it the same way.

    Args:
        learning_rate: float. The rate, > 0.
    """

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = _checks.real("learning_rate", learning_rate, low=0.0, low_open=True)

    def __call__(self, step: Any) -> Any:
        # A tensor of the step's dtype family, as `SweepSchedule` returns, not a Python float.
        return keras.ops.cast(step, "float32") * 0.0 + self.learning_rate

    def get_config(self) -> dict[str, Any]:
        return _checks.constructor_config(self)

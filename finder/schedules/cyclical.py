"""Cyclical learning rates (Smith, 2017), as PyTorch's `CyclicLR` computes them."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from finder.errors import InvalidRangeError
from finder.schedules import _checks

CYCLICAL_MODES = ("triangular", "triangular2", "exp_range")


@keras.saving.register_keras_serializable(package="finder")
class CyclicalLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """A `LearningRateSchedule` that cycles between `base_lr` and `max_lr`.

    Each cycle rises for `step_size_up` steps and falls for `step_size_down` steps, as in
    PyTorch's `torch.optim.lr_scheduler.CyclicLR` (step `k` is the `k`-th optimizer update):

    ```python
    total = step_size_up + step_size_down
    cycle = floor(1 + step / total)
    x = 1 + step / total - cycle                      # position in the cycle, [0, 1)
    height = x / ratio if x <= ratio else (x - 1) / (ratio - 1)   # ratio = up / total
    lr = base_lr + (max_lr - base_lr) * height * scale
    scale = 1                     # "triangular"
    scale = 1 / 2 ** (cycle - 1)  # "triangular2": the amplitude halves every cycle
    scale = gamma ** step         # "exp_range": decays with the step, not the cycle
    ```

    With `step_size_down == step_size_up == s` this is the formula of the CLR paper and of
    tensorflow-addons' `CyclicalLearningRate`: `x = |step / s - 2 * cycle + 1|`,
    `lr = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale`.

    Example:

    ```python
    schedule = CyclicalLearningRate(base_lr=1e-3, max_lr=1e-2, step_size_up=500)
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    float(schedule(0)), float(schedule(500)), float(schedule(1000))  # 0.001, 0.01, 0.001
    ```

    Args:
        base_lr: float. The lowest learning rate of a cycle, `>= 0`.
        max_lr: float. The highest learning rate of the first cycle, `> base_lr`.
        step_size_up: int. Steps from `base_lr` up to the peak.
        step_size_down: int or `None`. Steps from the peak back down; `None` means
            `step_size_up`. Defaults to `None`.
        mode: str. `"triangular"`, `"triangular2"` or `"exp_range"`.
            Defaults to `"triangular"`.
        gamma: float. The per-step decay of the amplitude in `"exp_range"` mode, in
            `(0, 1]`; unused by the other modes. Defaults to `1.0`.

    Returns:
        A callable taking the step (a scalar or tensor) and returning the learning rate as a
        tensor of dtype `keras.config.floatx()`.

    Raises:
        InvalidRangeError: `base_lr >= max_lr`.
        InvalidArgumentError: another argument is out of range or of the wrong type.
    """

    def __init__(
        self,
        base_lr: float,
        max_lr: float,
        step_size_up: int,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
    ) -> None:
        super().__init__()
        self.base_lr = _checks.real("base_lr", base_lr, low=0.0)
        self.max_lr = _checks.real("max_lr", max_lr, low=0.0, low_open=True)
        if self.base_lr >= self.max_lr:
            raise InvalidRangeError(
                "Argument `base_lr` must be < `max_lr`. "
                f"Received: base_lr={base_lr!r}, max_lr={max_lr!r}"
            )
        self.step_size_up = _checks.integer("step_size_up", step_size_up, low=1)
        self.step_size_down = (
            None
            if step_size_down is None
            else _checks.integer("step_size_down", step_size_down, low=1)
        )
        self.mode = _checks.choice("mode", mode, CYCLICAL_MODES)
        self.gamma = _checks.real("gamma", gamma, low=0.0, high=1.0, low_open=True)

    def __call__(self, step: Any) -> Any:
        dtype = keras.config.floatx()
        step = ops.cast(step, dtype)
        up = float(self.step_size_up)
        down = float(self.step_size_up if self.step_size_down is None else self.step_size_down)
        total = up + down
        cycle = ops.floor(ops.add(1.0, ops.divide(step, total)))
        # Steps into the current cycle: exact for integer steps, where `x * total` is not.
        into_cycle = ops.subtract(step, ops.multiply(ops.subtract(cycle, 1.0), total))
        height = ops.where(
            ops.less_equal(into_cycle, up),
            ops.divide(into_cycle, up),
            ops.divide(ops.subtract(total, into_cycle), down),
        )
        if self.mode == "triangular2":
            height = ops.multiply(height, ops.power(0.5, ops.subtract(cycle, 1.0)))
        elif self.mode == "exp_range":
            # gamma ** step through a float64 log: a float32 gamma raised to a large step
            # would carry its rounding error `step` times.
            height = ops.multiply(height, ops.exp(ops.multiply(step, math.log(self.gamma))))
        lr = ops.add(self.base_lr, ops.multiply(self.max_lr - self.base_lr, height))
        return ops.cast(lr, dtype)

    def get_config(self) -> dict[str, Any]:
        return _checks.constructor_config(self)

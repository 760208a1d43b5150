"""Warmup-stable-decay, the trapezoidal schedule (Hu et al., 2024; Hägele et al., 2024)."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from finder.errors import InvalidRangeError
from finder.schedules import _checks

DECAY_SHAPES = ("linear", "cosine", "sqrt")


@keras.saving.register_keras_serializable(package="finder")
class WarmupStableDecay(keras.optimizers.schedules.LearningRateSchedule):
    """A `LearningRateSchedule` that warms up, holds `max_lr`, then decays over a final stretch.

    The warmup-stable-decay (WSD, or trapezoidal) schedule of MiniCPM (Hu et al., 2024,
    arXiv:2404.06395), studied by Hägele et al. (2024, arXiv:2405.18392), who find that a
    cooldown over the last 10-20% of the steps matches a cosine schedule, with `"sqrt"`
    (`1 - sqrt`) the best shape. Step `k` is the `k`-th optimizer update
    (`optimizer.iterations == k`):

    ```python
    decay_start = total_steps - decay_steps
    if k < warmup_steps:
        lr = initial_lr + (max_lr - initial_lr) * k / warmup_steps
    elif k < decay_start:
        lr = max_lr
    else:
        p = min(1, (k - decay_start) / decay_steps)
        factor = 1 - p                      # "linear"
        factor = 0.5 * (1 + cos(pi * p))    # "cosine"
        factor = 1 - sqrt(p)                # "sqrt"
        lr = final_lr + (max_lr - final_lr) * factor
    ```

    Steps past `total_steps` hold `final_lr`.

    Example:

    ```python
    schedule = WarmupStableDecay(max_lr=0.1, total_steps=1000, warmup_steps=50,
                                 decay_steps=200, decay="sqrt")
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    float(schedule(25)), float(schedule(500)), float(schedule(950)), float(schedule(1000))
    # 0.05, 0.1, 0.0134, 0.0
    ```

    Args:
        max_lr: float. The learning rate held between warm-up and decay, `> 0`.
        total_steps: int. Optimizer steps the schedule spans, `> 0`.
        warmup_steps: int. Steps of linear warm-up from `initial_lr`, `>= 0`.
        decay_steps: int. Steps of the final decay to `final_lr`, `> 0`, and at most
            `total_steps - warmup_steps`.
        initial_lr: float. The learning rate at step 0, in `[0, max_lr]`. Defaults to `0.0`.
        final_lr: float. The learning rate at `total_steps` and after, in `[0, max_lr]`.
            Defaults to `0.0`.
        decay: str. The decay's shape: `"linear"`, `"cosine"` or `"sqrt"`.
            Defaults to `"linear"`.

    Returns:
        A callable taking the step (a scalar or tensor) and returning the learning rate as a
        tensor of dtype `keras.config.floatx()`.

    Raises:
        InvalidRangeError: `warmup_steps + decay_steps > total_steps`.
        InvalidArgumentError: another argument is out of range or of the wrong type.
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        warmup_steps: int,
        decay_steps: int,
        initial_lr: float = 0.0,
        final_lr: float = 0.0,
        decay: str = "linear",
    ) -> None:
        super().__init__()
        self.max_lr = _checks.real("max_lr", max_lr, low=0.0, low_open=True)
        self.total_steps = _checks.integer("total_steps", total_steps, low=1)
        self.warmup_steps = _checks.integer("warmup_steps", warmup_steps, low=0)
        self.decay_steps = _checks.integer("decay_steps", decay_steps, low=1)
        if self.warmup_steps + self.decay_steps > self.total_steps:
            raise InvalidRangeError(
                "Arguments `warmup_steps` + `decay_steps` must be <= `total_steps`. "
                f"Received: warmup_steps={warmup_steps!r}, decay_steps={decay_steps!r}, "
                f"total_steps={total_steps!r}"
            )
        self.initial_lr = _checks.real("initial_lr", initial_lr, low=0.0, high=self.max_lr)
        self.final_lr = _checks.real("final_lr", final_lr, low=0.0, high=self.max_lr)
        self.decay = _checks.choice("decay", decay, DECAY_SHAPES)

    def __call__(self, step: Any) -> Any:
        dtype = keras.config.floatx()
        step = ops.cast(step, dtype)
        decay_start = float(self.total_steps - self.decay_steps)
        # A zero-step warm-up is never selected below; dividing by 1 keeps its branch finite.
        warmup = ops.add(
            self.initial_lr,
            ops.multiply(
                self.max_lr - self.initial_lr,
                ops.divide(step, float(max(self.warmup_steps, 1))),
            ),
        )
        # `done` = p and `ahead` = 1 - p, each computed from the step directly, so the
        # factors below keep float32 precision near the end, where `1 - ...` would cancel.
        done = ops.clip(ops.divide(ops.subtract(step, decay_start), self.decay_steps), 0.0, 1.0)
        ahead = ops.clip(
            ops.divide(ops.subtract(float(self.total_steps), step), self.decay_steps), 0.0, 1.0
        )
        if self.decay == "linear":
            factor = ahead
        elif self.decay == "cosine":
            # 0.5 * (1 + cos(pi * p)) == sin(pi * (1 - p) / 2) ** 2
            factor = ops.square(ops.sin(ops.multiply(ahead, math.pi / 2)))
        else:
            # 1 - sqrt(p) == (1 - p) / (1 + sqrt(p))
            factor = ops.divide(ahead, ops.add(1.0, ops.sqrt(done)))
        decayed = ops.add(self.final_lr, ops.multiply(self.max_lr - self.final_lr, factor))
        stable = ops.full_like(step, self.max_lr)
        lr = ops.where(
            ops.less(step, float(self.warmup_steps)),
            warmup,
            ops.where(ops.less(step, decay_start), stable, decayed),
        )
        return ops.cast(lr, dtype)

    def get_config(self) -> dict[str, Any]:
        return _checks.constructor_config(self)

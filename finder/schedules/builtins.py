"""One-call factories for the Keras built-in schedules, and the reduce-on-plateau policy.

The factories validate their arguments, name them the way the rest of finder does
(`initial_lr`, `max_lr`, `total_steps`), and return plain Keras objects, so a model trained
with them saves and loads with no finder import at all.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import keras

from finder.errors import InvalidRangeError
from finder.schedules import _checks

PLATEAU_MODES = ("auto", "min", "max")


def cosine_warmup(
    max_lr: float,
    total_steps: int,
    warmup_steps: int,
    *,
    initial_lr: float = 0.0,
    alpha: float = 0.0,
) -> keras.optimizers.schedules.CosineDecay:
    """A linear warm-up to `max_lr`, then a cosine decay to `alpha * max_lr`.

    Built on `keras.optimizers.schedules.CosineDecay`, whose warm-up (with `warmup_target`
    set) runs from `initial_learning_rate` to `warmup_target` over `warmup_steps`, and whose
    decay then spans `decay_steps` more steps, starting from `warmup_target`:

    ```python
    if step < warmup_steps:
        lr = initial_lr + (max_lr - initial_lr) * step / warmup_steps
    else:
        t = min(step, total_steps) - warmup_steps       # decay_steps = total_steps - warmup
        lr = max_lr * ((1 - alpha) * 0.5 * (1 + cos(pi * t / decay_steps)) + alpha)
    ```

    Example:

    ```python
    schedule = cosine_warmup(max_lr=0.1, total_steps=1000, warmup_steps=100)
    float(schedule(0)), float(schedule(100)), float(schedule(1000))  # 0.0, 0.1, 0.0
    ```

    Args:
        max_lr: float. The learning rate at the end of the warm-up, `> 0`.
        total_steps: int. Warm-up plus decay steps; the rate holds its final value after.
        warmup_steps: int. Steps of linear warm-up, `>= 0` and `< total_steps`.
        initial_lr: float. The learning rate at step 0, `>= 0`. Defaults to `0.0`.
        alpha: float. The final learning rate as a fraction of `max_lr`, in `[0, 1]`.
            Defaults to `0.0`.

    Returns:
        A `keras.optimizers.schedules.CosineDecay`.

    Raises:
        InvalidArgumentError: an argument is out of range or of the wrong type.
    """
    max_lr = _checks.real("max_lr", max_lr, low=0.0, low_open=True)
    total_steps = _checks.integer("total_steps", total_steps, low=1)
    warmup_steps = _checks.integer("warmup_steps", warmup_steps, low=0)
    if warmup_steps >= total_steps:
        raise InvalidRangeError(
            "Argument `warmup_steps` must be < `total_steps`. "
            f"Received: warmup_steps={warmup_steps}, total_steps={total_steps}"
        )
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=_checks.real("initial_lr", initial_lr, low=0.0),
        decay_steps=total_steps - warmup_steps,
        alpha=_checks.real("alpha", alpha, low=0.0, high=1.0),
        warmup_target=max_lr,
        warmup_steps=warmup_steps,
    )


def exponential(
    initial_lr: float, decay_steps: int, decay_rate: float, *, staircase: bool = False
) -> keras.optimizers.schedules.ExponentialDecay:
    """An exponential decay: `initial_lr * decay_rate ** (step / decay_steps)`.

    ```python
    p = step / decay_steps          # floor(step / decay_steps) when staircase
    lr = initial_lr * decay_rate ** p
    ```

    Example:

    ```python
    schedule = exponential(initial_lr=0.1, decay_steps=1000, decay_rate=0.5)
    float(schedule(2000))  # 0.025
    ```

    Args:
        initial_lr: float. The learning rate at step 0, `> 0`.
        decay_steps: int. Steps over which the rate is multiplied by `decay_rate`, `> 0`.
        decay_rate: float. The factor per `decay_steps`, `> 0`.
        staircase: bool. Decay in whole steps of `decay_steps`. Defaults to `False`.

    Returns:
        A `keras.optimizers.schedules.ExponentialDecay`.

    Raises:
        InvalidArgumentError: an argument is out of range or of the wrong type.
    """
    checked = _decay_arguments(initial_lr, decay_steps, decay_rate, staircase, zero_rate=False)
    return keras.optimizers.schedules.ExponentialDecay(**checked)


def inverse_time(
    initial_lr: float, decay_steps: int, decay_rate: float, *, staircase: bool = False
) -> keras.optimizers.schedules.InverseTimeDecay:
    """An inverse-time decay: `initial_lr / (1 + decay_rate * step / decay_steps)`.

    ```python
    p = step / decay_steps          # floor(step / decay_steps) when staircase
    lr = initial_lr / (1 + decay_rate * p)
    ```

    Example:

    ```python
    schedule = inverse_time(initial_lr=0.1, decay_steps=1000, decay_rate=1.0)
    float(schedule(1000))  # 0.05
    ```

    Args:
        initial_lr: float. The learning rate at step 0, `> 0`.
        decay_steps: int. The step unit of the decay, `> 0`.
        decay_rate: float. How fast the rate falls, `>= 0`.
        staircase: bool. Decay in whole steps of `decay_steps`. Defaults to `False`.

    Returns:
        A `keras.optimizers.schedules.InverseTimeDecay`.

    Raises:
        InvalidArgumentError: an argument is out of range or of the wrong type.
    """
    checked = _decay_arguments(initial_lr, decay_steps, decay_rate, staircase, zero_rate=True)
    return keras.optimizers.schedules.InverseTimeDecay(**checked)


def _decay_arguments(
    initial_lr: float, decay_steps: int, decay_rate: float, staircase: bool, *, zero_rate: bool
) -> dict[str, Any]:
    """The checked Keras arguments of an exponential or inverse-time decay (`zero_rate`: a
    `decay_rate` of 0 is allowed)."""
    return {
        "initial_learning_rate": _checks.real("initial_lr", initial_lr, low=0.0, low_open=True),
        "decay_steps": _checks.integer("decay_steps", decay_steps, low=1),
        "decay_rate": _checks.real("decay_rate", decay_rate, low=0.0, low_open=not zero_rate),
        "staircase": _checks.boolean("staircase", staircase),
    }


def power(
    initial_lr: float,
    decay_steps: int,
    *,
    end_lr: float = 0.0,
    power: float = 1.0,
    cycle: bool = False,
) -> keras.optimizers.schedules.PolynomialDecay:
    """A polynomial decay from `initial_lr` to `end_lr` over `decay_steps`.

    ```python
    step = min(step, decay_steps)   # or decay_steps *= ceil(step / decay_steps) when cycle
    lr = (initial_lr - end_lr) * (1 - step / decay_steps) ** power + end_lr
    ```

    Example:

    ```python
    schedule = power(initial_lr=0.1, decay_steps=1000, power=2.0)
    float(schedule(500)), float(schedule(5000))  # 0.025, 0.0
    ```

    Args:
        initial_lr: float. The learning rate at step 0, `> 0`.
        decay_steps: int. Steps to reach `end_lr`, `> 0`.
        end_lr: float. The final learning rate, in `[0, initial_lr]`. Defaults to `0.0`
            (Keras' own default, `1e-4`, does not scale with `initial_lr`).
        power: float. The exponent, `> 0`; `1.0` is a linear decay. Defaults to `1.0`.
        cycle: bool. Restart the decay, from ever longer spans, after `decay_steps`.
            Defaults to `False`.

    Returns:
        A `keras.optimizers.schedules.PolynomialDecay`.

    Raises:
        InvalidArgumentError: an argument is out of range or of the wrong type.
    """
    initial_lr = _checks.real("initial_lr", initial_lr, low=0.0, low_open=True)
    return keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=initial_lr,
        decay_steps=_checks.integer("decay_steps", decay_steps, low=1),
        end_learning_rate=_checks.real("end_lr", end_lr, low=0.0, high=initial_lr),
        power=_checks.real("power", power, low=0.0, low_open=True),
        cycle=_checks.boolean("cycle", cycle),
    )


def piecewise_constant(
    boundaries: Sequence[int], values: Sequence[float]
) -> keras.optimizers.schedules.PiecewiseConstantDecay:
    """A step function: `values[i]` until step `boundaries[i]`, then the next value.

    ```python
    lr = values[0]      if step <= boundaries[0]
    lr = values[i]      if boundaries[i - 1] < step <= boundaries[i]
    lr = values[-1]     if step > boundaries[-1]
    ```

    Example:

    ```python
    schedule = piecewise_constant(boundaries=[1000, 2000], values=[0.1, 0.01, 0.001])
    float(schedule(1000)), float(schedule(1001))  # 0.1, 0.01
    ```

    Args:
        boundaries: list of int. Strictly increasing steps, `>= 0`, at least one.
        values: list of float. One more learning rate than boundaries, each `> 0`.

    Returns:
        A `keras.optimizers.schedules.PiecewiseConstantDecay`.

    Raises:
        InvalidArgumentError: an argument is out of range or of the wrong type.
    """
    if isinstance(boundaries, str | bytes) or not isinstance(boundaries, Sequence):
        raise _checks.fail("boundaries", "a list of integers", boundaries)
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise _checks.fail("values", "a list of numbers", values)
    if not boundaries:
        raise _checks.fail("boundaries", "a non-empty list", boundaries)
    checked_boundaries = [_checks.integer("boundaries", b, low=0) for b in boundaries]
    if any(b >= after for b, after in itertools.pairwise(checked_boundaries)):
        raise _checks.fail("boundaries", "strictly increasing", boundaries)
    if len(values) != len(boundaries) + 1:
        raise _checks.fail(
            "values", f"{len(boundaries) + 1} numbers, one more than `boundaries`", values
        )
    checked_values = [_checks.real("values", v, low=0.0, low_open=True) for v in values]
    return keras.optimizers.schedules.PiecewiseConstantDecay(checked_boundaries, checked_values)


@dataclasses.dataclass(frozen=True)
class PlateauPolicy:
    """Start at `initial_lr`; multiply it by `factor` whenever `monitor` stops improving.

    This is a policy, not a schedule: the rate depends on the metrics, not on the step.
    Keras cannot combine `ReduceLROnPlateau` with a `LearningRateSchedule` object: the
    callback assigns floats to `optimizer.learning_rate`, and assigning a float to an
    optimizer built with a schedule raises `TypeError`. So the optimizer gets the float
    `initial_lr`, and `callback()` gets the rest:

    ```python
    lr = initial_lr
    after `patience` epochs without `monitor` improving by `min_delta`:
        lr = max(lr * factor, min_lr); then wait `cooldown` epochs
    ```

    Example:

    ```python
    policy = PlateauPolicy(initial_lr=0.01, factor=0.5, patience=3)
    model.compile(keras.optimizers.SGD(learning_rate=policy.initial_lr), "mse")
    model.fit(x, y, validation_split=0.2, callbacks=[policy.callback()])
    ```

    Args:
        initial_lr: float. The learning rate the optimizer starts with, `> 0`.
        factor: float. The multiplier on a plateau, in `(0, 1)`. Defaults to `0.1`.
        patience: int. Epochs without improvement before reducing, `>= 0`.
            Defaults to `10`.
        min_lr: float. The floor of the learning rate, in `[0, initial_lr]`.
            Defaults to `0.0`.
        monitor: str. The logged quantity to watch. Defaults to `"val_loss"`.
        mode: str. `"auto"`, `"min"` or `"max"`, as in `ReduceLROnPlateau`.
            Defaults to `"auto"`.
        min_delta: float. The smallest change that counts as improvement, `>= 0`.
            Defaults to `1e-4`.
        cooldown: int. Epochs to wait after a reduction before watching again, `>= 0`.
            Defaults to `0`.

    Raises:
        InvalidArgumentError: a field is out of range or of the wrong type.
    """

    initial_lr: float
    factor: float = 0.1
    patience: int = 10
    min_lr: float = 0.0
    monitor: str = "val_loss"
    mode: str = "auto"
    min_delta: float = 1e-4
    cooldown: int = 0

    def __post_init__(self) -> None:
        initial_lr = _checks.real("initial_lr", self.initial_lr, low=0.0, low_open=True)
        checked: dict[str, Any] = {
            "initial_lr": initial_lr,
            "factor": _checks.real(
                "factor", self.factor, low=0.0, high=1.0, low_open=True, high_open=True
            ),
            "patience": _checks.integer("patience", self.patience, low=0),
            "min_lr": _checks.real("min_lr", self.min_lr, low=0.0, high=initial_lr),
            "mode": _checks.choice("mode", self.mode, PLATEAU_MODES),
            "min_delta": _checks.real("min_delta", self.min_delta, low=0.0),
            "cooldown": _checks.integer("cooldown", self.cooldown, low=0),
        }
        if not isinstance(self.monitor, str) or not self.monitor:
            raise _checks.fail("monitor", "a non-empty string", self.monitor)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def callback_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the `ReduceLROnPlateau` that `callback()` builds."""
        return {
            "monitor": self.monitor,
            "factor": self.factor,
            "patience": self.patience,
            "mode": self.mode,
            "min_delta": self.min_delta,
            "cooldown": self.cooldown,
            "min_lr": self.min_lr,
        }

    def callback(self) -> keras.callbacks.ReduceLROnPlateau:
        """A new `keras.callbacks.ReduceLROnPlateau` configured with this policy."""
        return keras.callbacks.ReduceLROnPlateau(**self.callback_kwargs())

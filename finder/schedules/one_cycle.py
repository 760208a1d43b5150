"""The 1cycle learning-rate policy (Smith & Topin, 2018), as PyTorch's `OneCycleLR` computes it."""

from __future__ import annotations

from typing import Any

import keras

from finder.schedules import _checks
from finder.schedules._phases import ANNEAL_STRATEGIES, anneal_cycle


@keras.saving.register_keras_serializable(package="finder")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """A `LearningRateSchedule` that warms up to `max_lr`, then anneals far below the start.

    The values match PyTorch's `torch.optim.lr_scheduler.OneCycleLR` step for step, where
    step `k` is the `k`-th optimizer update (`optimizer.iterations == k`):

    ```python
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    # two phases (default):  initial_lr -> max_lr -> min_lr
    #   ending at steps      float(pct_start * total_steps) - 1,  total_steps - 1
    # three phases:          initial_lr -> max_lr -> initial_lr -> min_lr
    #   ending at steps      float(pct_start * total_steps) - 1,
    #                        float(2 * pct_start * total_steps) - 2,  total_steps - 1
    pct = (step - phase_start) / (phase_end - phase_start)
    cos:    lr = end + (start - end) / 2 * (1 + cos(pi * pct))
    linear: lr = start + (end - start) * pct
    ```

    Steps past `total_steps - 1` hold `min_lr` (PyTorch raises past `total_steps`).

    Example:

    ```python
    schedule = OneCycle(max_lr=0.1, total_steps=1000)
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    float(schedule(0)), float(schedule(299)), float(schedule(999))  # 0.004, 0.1, 4e-07
    ```

    Args:
        max_lr: float. The peak learning rate, reached at the end of the warm-up phase.
        total_steps: int. Number of optimizer steps the cycle spans.
        pct_start: float. Fraction of the steps spent warming up; in `(0, 1)`, and at most
            `0.5` when `three_phase=True`. Defaults to `0.3`.
        div_factor: float. `initial_lr = max_lr / div_factor`. Defaults to `25.0`.
        final_div_factor: float. `min_lr = initial_lr / final_div_factor`.
            Defaults to `1e4`.
        anneal: str. `"cos"` or `"linear"` interpolation inside each phase.
            Defaults to `"cos"`.
        three_phase: bool. Come back down to `initial_lr` symmetrically before the final
            anneal to `min_lr` (fast.ai's original schedule). Defaults to `False`.

    Returns:
        A callable taking the step (a scalar or tensor) and returning the learning rate as a
        tensor of dtype `keras.config.floatx()`.

    Raises:
        InvalidArgumentError: an argument is out of range or of the wrong type.
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        anneal: str = "cos",
        three_phase: bool = False,
    ) -> None:
        super().__init__()
        self.max_lr = _checks.real("max_lr", max_lr, low=0.0, low_open=True)
        self.total_steps = _checks.integer("total_steps", total_steps, low=1)
        self.three_phase = _checks.boolean("three_phase", three_phase)
        self.pct_start = _checks.real(
            "pct_start",
            pct_start,
            low=0.0,
            high=0.5 if three_phase else 1.0,
            low_open=True,
            high_open=not three_phase,
        )
        self.div_factor = _checks.real("div_factor", div_factor, low=0.0, low_open=True)
        self.final_div_factor = _checks.real(
            "final_div_factor", final_div_factor, low=0.0, low_open=True
        )
        self.anneal = _checks.choice("anneal", anneal, ANNEAL_STRATEGIES)

    @property
    def initial_lr(self) -> float:
        """The learning rate at step 0: `max_lr / div_factor`."""
        return self.max_lr / self.div_factor

    @property
    def min_lr(self) -> float:
        """The final learning rate: `initial_lr / final_div_factor`."""
        return self.initial_lr / self.final_div_factor

    def __call__(self, step: Any) -> Any:
        initial_lr, max_lr, min_lr = self.initial_lr, self.max_lr, self.min_lr
        if self.three_phase:
            values = [(initial_lr, max_lr), (max_lr, initial_lr), (initial_lr, min_lr)]
        else:
            values = [(initial_lr, max_lr), (max_lr, min_lr)]
        return anneal_cycle(step, self, values, keras.config.floatx())

    def get_config(self) -> dict[str, Any]:
        return _checks.constructor_config(self)

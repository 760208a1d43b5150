"""A schedule that starts at a later optimizer step: `StartingAt`.

Keras evaluates an optimizer's learning-rate schedule at the optimizer's own step counter, and
a trained optimizer carries that counter on from where its last `fit` left it. A schedule
planned for one fit (a 1cycle over the fit's steps) must start with that fit: installed as it
is on an optimizer that has taken 500 steps, a 1cycle of 600 would begin near the end of its
warm-up, skip most of its anneal and hold its final rate for the last 500 steps. `finder.fit`
and `finder.LearningRateFinder` therefore install their proposal counted from the fit's first
step, `StartingAt(schedule, start_step)`.
"""

from __future__ import annotations

from typing import Any

import keras

from finder.schedules import _checks


@keras.saving.register_keras_serializable(package="finder")
class StartingAt(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule` evaluated at `step - start_step`: the schedule of a run whose first step is
    optimizer step `start_step` (module docstring). Steps before it get `schedule(0)`.

    Example:

    ```python
    steps_taken = int(model.optimizer.iterations)  # an optimizer that trained before
    model.optimizer.learning_rate = StartingAt(OneCycle(0.1, total_steps=600), steps_taken)
    ```

    Args:
        schedule: a `keras.optimizers.schedules.LearningRateSchedule`.
        start_step: int >= 0. The optimizer step at which `schedule` begins.

    Raises:
        InvalidArgumentError: `schedule` is not a schedule, or `start_step` is not an
            integer >= 0.
    """

    def __init__(self, schedule: Any, start_step: int) -> None:
        super().__init__()
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise _checks.fail("schedule", "a keras LearningRateSchedule", schedule)
        self.schedule = schedule
        self.start_step = _checks.integer("start_step", start_step, low=0)

    def __call__(self, step: Any) -> Any:
        return self.schedule(keras.ops.maximum(keras.ops.subtract(step, self.start_step), 0))

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": keras.optimizers.schedules.serialize(self.schedule),
            "start_step": self.start_step,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StartingAt:
        schedule = keras.optimizers.schedules.deserialize(config["schedule"])
        return cls(schedule, config["start_step"])


def starting_at(learning_rate: Any, start_step: int) -> Any:
    """`learning_rate` (a float or a schedule) for a run that starts at optimizer step
    `start_step`: a schedule wrapped in `StartingAt` where `start_step > 0`, anything else as
    it is."""
    schedule = isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule)
    return StartingAt(learning_rate, start_step) if schedule and start_step > 0 else learning_rate

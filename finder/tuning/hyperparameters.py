"""finder's bounds inside your own keras-tuner HyperModel: `hp_learning_rate`, `hp_schedule`.

`finder.tune` owns the whole search; these two helpers are for a search you write yourself
(keras-tuner #553 asks for LR bounds from a range test). Both read the ranges from
`SearchSpace.from_bounds` (the rule is in `finder.tuning.space`), so a hand-written search and
`finder.tune` search the same space:

```
hp_learning_rate   hp.Float("learning_rate", min_lr, edge_lr, sampling="log")   held range
hp_schedule        hp.Choice("family", families) and, per family in its conditional scope,
                   its LR (peak or held range, log) and shape parameters -> the schedule
```

```python
def build(hp):
    model = make_model()
    schedule = finder.tuning.hp_schedule(hp, result, Plan(epochs=3, steps_per_epoch=63))
    model.compile(keras.optimizers.SGD(schedule), "sparse_categorical_crossentropy")
    return model
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from finder.errors import InvalidArgumentError
from finder.families import FAMILIES
from finder.propose import Plan
from finder.suggest import Bounds
from finder.tuning.space import DEFAULT_FAMILIES, TUNABLE_FAMILIES, SearchSpace

# Families whose Keras form is one LearningRateSchedule: a float (constant) or a schedule that
# needs a callback (plateau) cannot be handed back as `learning_rate` alone.
SCHEDULE_FAMILIES = tuple(name for name in TUNABLE_FAMILIES if name not in ("constant", "plateau"))


def hp_learning_rate(hp: Any, result: Any, *, name: str = "learning_rate") -> float:
    """A constant learning rate, log-uniform inside a range test's bounds.

    The range is the one `finder.tune` gives a family whose LR stays near its value for the
    whole run (`[min_lr, edge_lr]`, see `finder.tuning.space`).

    Args:
        hp: keras_tuner.HyperParameters.
        result: a `RangeTestResult` (or its `Bounds`).
        name: str. The hyperparameter's name. Defaults to `"learning_rate"`.

    Returns:
        The trial's learning rate, a float.

    Raises:
        TuningError: the range test found no bounds.
    """
    low, high = SearchSpace.from_bounds(_bounds(result), ("constant",)).held_range
    return float(hp.Float(name, low, high, sampling="log"))


def hp_schedule(
    hp: Any, result: Any, plan: Plan, *, families: Sequence[str] = DEFAULT_FAMILIES
) -> keras.optimizers.schedules.LearningRateSchedule:
    """A learning-rate schedule whose family and parameters keras-tuner chooses, inside the
    range test's bounds, sized to `plan`.

    Declares `finder.tune`'s space on `hp` (`hp.Choice("family", ...)` and each family's
    parameters in its conditional scope) and returns the trial's schedule.

    Args:
        hp: keras_tuner.HyperParameters.
        result: a `RangeTestResult` (or its `Bounds`).
        plan: `finder.propose.Plan`. The training the schedule spans.
        families: names from `SCHEDULE_FAMILIES`. Defaults to `DEFAULT_FAMILIES`.

    Returns:
        A `keras.optimizers.schedules.LearningRateSchedule`.

    Raises:
        InvalidArgumentError: a family whose Keras form is not a schedule, or a bad plan.
        TuningError: the range test found no bounds.
    """
    if not isinstance(plan, Plan):
        raise InvalidArgumentError(
            f"Argument `plan` must be a finder.propose.Plan. Received: plan={plan!r}"
        )
    unsupported = [name for name in families if name in FAMILIES and name not in SCHEDULE_FAMILIES]
    if unsupported:
        raise InvalidArgumentError(
            f"hp_schedule returns a LearningRateSchedule; {', '.join(unsupported)} "
            f"cannot be one. Use families from {', '.join(SCHEDULE_FAMILIES)}."
        )
    space = SearchSpace.from_bounds(_bounds(result), tuple(families))
    space.declare(hp)
    schedule: keras.optimizers.schedules.LearningRateSchedule = space.spec(
        hp.values, plan.total_steps
    ).to_keras()
    return schedule


def _bounds(result: Any) -> Bounds:
    bounds = result if isinstance(result, Bounds) else getattr(result, "bounds", None)
    if not isinstance(bounds, Bounds):
        raise InvalidArgumentError(
            f"Argument `result` must be a RangeTestResult or Bounds. Received: {result!r}"
        )
    return bounds

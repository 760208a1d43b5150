"""The range test's checks of the data against its LR range, resolving the auto range's "auto"
values into an `AutoPlan` (the settings themselves check themselves: `RangeTestConfig`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from finder.defaults import AUTO
from finder.errors import InvalidArgumentError
from finder.rangetest import batches as batch_sources
from finder.rangetest.auto_range import (
    ANCHOR_DECADES_BELOW,
    CEILING_LR,
    SPAN_DECADES,
    Limits,
    anchor_start,
)
from finder.rangetest.auto_range import limits as auto_limits
from finder.rangetest.config import RangeTestConfig
from finder.rangetest.sweep import validate_sweep


@dataclass(frozen=True)
class AutoPlan:
    """The auto range's sweep settings, resolved from "auto" and explicit arguments."""

    start: float
    ceiling: float
    steps: int | None
    limit: Limits
    anchor: float | None = None
    span: float = SPAN_DECADES
    schedule_free: str | None = None  # `finder.rangetest.calibration.schedule_free_reason`
    trials: bool = False  # constant-LR trials instead of a ramp (`finder.rangetest.trials`)


def check_range(
    x: Any,
    y: Any,
    config: RangeTestConfig,
    budget: int | None,
    plan_steps: int | None,
    anchor_lr: float | None = None,
) -> AutoPlan | None:
    """Check the data against the config's LR range; the auto range's plan (within `budget`
    steps, sized by `plan_steps`), None for an explicit range. The config checked its own
    settings when it was built.

    `anchor_lr` is the optimizer's own learning rate, from which the auto range starts.

    Raises:
        InvalidRangeError, InvalidArgumentError, DataError: as `range_test` says.
    """
    batch_size, min_lr, max_lr, num_steps = (
        config.batch_size,
        config.min_lr,
        config.max_lr,
        config.num_steps,
    )
    batch_sources.validate_input(x, y, batch_size)
    if not config.auto:
        if plan_steps is not None:
            raise InvalidArgumentError(
                "Arguments `budget` and `plan_steps` apply to the auto range only; with "
                "explicit `min_lr`, `max_lr` and `num_steps` the sweep runs all its steps."
            )
        return None
    ceiling = cast(float, CEILING_LR if max_lr == AUTO else max_lr)
    # A ceiling below the anchored start moves the start down with it.
    start = cast(
        float,
        min(anchor_start(anchor_lr), ceiling / 10**ANCHOR_DECADES_BELOW)
        if min_lr == AUTO
        else min_lr,
    )
    steps = cast(int | None, None if num_steps == AUTO else num_steps)
    validate_sweep(start, ceiling, 2 if steps is None else steps, "exp")
    limit = auto_limits(budget, plan_steps, batch_sources.steps_per_pass(x, y, batch_size))
    return AutoPlan(float(start), float(ceiling), steps, limit, anchor_lr)

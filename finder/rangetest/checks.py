"""The range test's argument checks: the data and the LR range (resolving the auto range's
"auto" values into an `AutoPlan`), and the curve options."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

from finder.defaults import AUTO, is_auto
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
from finder.rangetest.sweep import SWEEP_MODES, validate_sweep
from finder.schedules import _checks


@dataclass(frozen=True)
class AutoPlan:
    """The auto range's sweep settings, resolved from "auto" and explicit arguments."""

    start: float
    ceiling: float
    steps: int | None
    limit: Limits
    anchor: float | None = None
    span: float = SPAN_DECADES


def check_range(
    x: Any,
    y: Any,
    batch_size: int,
    min_lr: float | str,
    max_lr: float | str,
    num_steps: int | str,
    budget: int | None,
    plan_steps: int | None,
    mode: str,
    anchor_lr: float | None = None,
) -> AutoPlan | None:
    """Check the data and the LR range; the auto range's plan, None for an explicit range.

    `anchor_lr` is the optimizer's own learning rate, from which the auto range starts.

    Raises:
        InvalidRangeError, InvalidArgumentError, DataError: as `range_test` says.
    """
    batch_sources.validate_input(x, y, batch_size)
    if mode not in SWEEP_MODES:
        raise InvalidArgumentError(
            f"Argument `mode` must be one of {SWEEP_MODES}. Received: mode={mode!r}"
        )
    if not is_auto(min_lr, max_lr, num_steps):
        validate_sweep(min_lr, max_lr, num_steps, mode)  # type: ignore[arg-type]
        if budget is not None or plan_steps is not None:
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


def validate_options(
    smoothing: float,
    divergence: float,
    repeats: int,
    validation_every: int | None,
    validation_samples: int,
) -> None:
    if not (isinstance(smoothing, (int, float)) and 0 <= smoothing < 1):
        raise InvalidArgumentError(
            f"Argument `smoothing` must be in [0, 1). Received: smoothing={smoothing!r}"
        )
    if not (isinstance(divergence, (int, float)) and math.isfinite(divergence) and divergence > 1):
        raise InvalidArgumentError(
            "Argument `divergence` must be a finite number > 1. "
            f"Received: divergence={divergence!r}"
        )
    _checks.integer("repeats", repeats, low=1)
    _checks.integer("validation_samples", validation_samples, low=1)
    _checks.optional_integer("validation_every", validation_every, low=1)

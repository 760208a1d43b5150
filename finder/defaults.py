"""The range-test defaults, in one place, without importing Keras: `RangeTestConfig`
(`finder.rangetest.config`) reads them into its fields, from which `finder.range_test`, the job
specs (`finder.jobs`), the CLI's options and the service's request models take them.
`finder.rangetest.auto_range` documents the auto range's; `RangeTestConfig` the others."""

from __future__ import annotations

from typing import Any

# `min_lr`, `max_lr` and `num_steps` take this value to let the range test find them.
AUTO = "auto"
# Optimizer steps of an auto range test, all sweeps together, when the caller gives neither a
# budget nor a training plan; with a plan, this fraction of it, at least `MIN_PLAN_BUDGET`
# (fastai's and Lightning's finders spend 100 steps). See `finder.rangetest.auto_range`.
DEFAULT_BUDGET = 300
PLAN_FRACTION = 0.1
MIN_PLAN_BUDGET = 100
# The densest grid an auto range sweeps, steps per decade (the density the proposals were
# calibrated on).
MAX_STEPS_PER_DECADE = 80
# Steps per sweep of an explicit range (`finder run --lr-range` without `--steps`, the
# service's explicit `min_lr`/`max_lr`): the pre-auto default.
EXPLICIT_STEPS = 500
# Batch size of a range test and of a job's training.
BATCH_SIZE = 64
# The EMA coefficient of the smoothed curve, and the multiple of its minimum that stops a sweep.
SMOOTHING = 0.98
DIVERGENCE = 4.0
# Samples of the fixed validation subset a range test scores along its first sweep.
VALIDATION_SAMPLES = 512
# Sweeps of an explicit-range job (CLI, service) over different batch orders when none are asked
# for; an auto-range job sweeps as its budget allows (`finder.range_test` itself does one).
JOB_REPEATS = 3
# The range test `finder.tune` runs when given no result: the settings that show plain SGD's
# loss falling on fashion_cnn (fastai's 1e-7..10 in 100 steps does not).
TUNE_RANGE_TEST: dict[str, Any] = {"min_lr": 1e-4, "max_lr": 10.0, "num_steps": 300, "repeats": 3}


def is_auto(min_lr: Any, max_lr: Any, num_steps: Any) -> bool:
    """Whether a range test with these settings finds (part of) its range itself."""
    return AUTO in (min_lr, max_lr, num_steps)


def job_repeats(repeats: int | None, auto: bool) -> int:
    """A job's sweeps: those asked for, else `JOB_REPEATS` for an explicit range and 1 for the
    auto range, whose repeats cost budget and so are never taken by default."""
    if repeats is not None:
        return repeats
    return 1 if auto else JOB_REPEATS

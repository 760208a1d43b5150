"""From a validated request body to the library's job settings (stored with the job).

The API never imports `finder.jobs` (it would load TensorFlow); the job process turns these
fields into a `RunSpec` (and, for tuning, a `TuneSpec`) in `service.jobs.tasks`.

A find-lr job's spec is `RunSpec` keyword arguments; a tune job's is
`{"run": <RunSpec keywords>, "tuning": <TuneSpec keywords>}`.
"""

from __future__ import annotations

from typing import Any

from finder.defaults import DEFAULT_BUDGET, job_repeats
from finder.rangetest.config import RangeTestConfig, config_fields, setting_of
from service.api.models import (
    FindLRCreate,
    RangeTestCreate,
    TuneCreate,
    UploadedData,
    UploadedModel,
)


def run_spec_fields(
    body: RangeTestCreate, *, model_path: str | None, data_path: str | None
) -> dict[str, Any]:
    """`RunSpec` keyword arguments without a plan; upload ids are replaced by file paths."""
    model = model_path if isinstance(body.model, UploadedModel) else body.model.builtin
    data = data_path if isinstance(body.data, UploadedData) else body.data.builtin
    # Every `RangeTestConfig` setting, from the request or its `range` (see service.api.models).
    settings = {
        item.name: getattr(body.range if setting_of(item).group == "range" else body, item.name)
        for item in config_fields(RangeTestConfig)
    }
    if not body.range.auto:
        settings["budget"] = None  # the budget bounds the auto range only
    return {
        "model": model,
        "data": data,
        "optimizer": body.optimizer.name if body.optimizer is not None else None,
        "optimizer_settings": dict(body.optimizer.settings) if body.optimizer is not None else {},
        "loss": body.loss,
        **settings,
        "validation": body.validation,
        "epochs": None,
        "steps_per_epoch": None,
    }


def find_lr_spec(
    body: FindLRCreate, *, model_path: str | None, data_path: str | None
) -> dict[str, Any]:
    """`RunSpec` keyword arguments for a find-lr job.

    A training plan maps onto `RunSpec.epochs` / `RunSpec.steps_per_epoch`; without one both
    are None and the result has no proposals.
    """
    spec = run_spec_fields(body, model_path=model_path, data_path=data_path)
    if body.plan is not None:
        spec.update(epochs=body.plan.epochs, steps_per_epoch=body.plan.steps_per_epoch)
    return spec


def tune_spec(body: TuneCreate, *, model_path: str | None, data_path: str | None) -> dict[str, Any]:
    """`{"run": RunSpec keywords, "tuning": TuneSpec keywords}` for a tune job."""
    tuning = body.tuning
    return {
        "run": run_spec_fields(body, model_path=model_path, data_path=data_path),
        "tuning": {
            "families": list(tuning.families),
            "tuner": tuning.tuner,
            "max_trials": tuning.max_trials,
            "epochs": tuning.epochs,
            "executions_per_trial": tuning.executions_per_trial,
            "objective": tuning.objective,
            # An accuracy objective needs its metric compiled into every trial.
            "metrics": ["accuracy"] if tuning.objective == "val_accuracy" else [],
            "workers": tuning.workers,
        },
    }


def range_test_steps(body: RangeTestCreate) -> int:
    """Optimizer steps of the range test when no sweep stops early (the auto range's budget)."""
    repeats = job_repeats(body.repeats, body.range.auto)
    if body.range.auto:
        return repeats * (body.range.budget or DEFAULT_BUDGET)
    return repeats * int(body.range.num_steps)


def total_steps(body: RangeTestCreate) -> int:
    """The job's progress units when nothing stops early: the range test's steps, plus one per
    trial epoch for a tuning job."""
    steps = range_test_steps(body)
    if isinstance(body, TuneCreate):
        steps += body.tuning.max_trials * body.tuning.epochs * body.tuning.executions_per_trial
    return steps

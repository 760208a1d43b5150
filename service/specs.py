"""From a validated request body to the library's `RunSpec` fields (stored with the job).

The API never imports `finder.runner` (it would load TensorFlow); the job process turns these
fields into a `RunSpec` (see `service.tasks.build_run_spec`).
"""

from __future__ import annotations

from typing import Any

from service.models import FindLRCreate, UploadedData, UploadedModel


def find_lr_spec(
    body: FindLRCreate, *, model_path: str | None, data_path: str | None
) -> dict[str, Any]:
    """`RunSpec` keyword arguments for a find-lr job; upload ids are replaced by file paths.

    A training plan maps onto `RunSpec.epochs` / `RunSpec.steps_per_epoch`; without one both
    are None and the result has no proposals.
    """
    model = model_path if isinstance(body.model, UploadedModel) else body.model.builtin
    data = data_path if isinstance(body.data, UploadedData) else body.data.builtin
    spec: dict[str, Any] = {
        "model": model,
        "data": data,
        "optimizer": body.optimizer.name if body.optimizer is not None else None,
        "optimizer_settings": dict(body.optimizer.settings) if body.optimizer is not None else {},
        "loss": body.loss,
        "batch_size": body.batch_size,
        "min_lr": body.range.min_lr,
        "max_lr": body.range.max_lr,
        "num_steps": body.range.num_steps,
        "mode": body.range.mode,
        "smoothing": body.smoothing,
        "divergence": body.divergence,
        "repeats": body.repeats,
        "seed": body.seed,
        "validation": body.validation,
        # No plan, no proposals: the library proposes schedules only when `epochs` is set.
        "epochs": body.plan.epochs if body.plan is not None else None,
        "steps_per_epoch": body.plan.steps_per_epoch if body.plan is not None else None,
    }
    return spec


def total_steps(body: FindLRCreate) -> int:
    """Optimizer steps of the whole job when no sweep stops early."""
    return body.repeats * body.range.num_steps

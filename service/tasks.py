"""What a job process runs: one range test, reporting progress and its outcome into the job row.

`run_job` is submitted as a Ray task with `max_calls=1`, so every job gets a fresh Python
process that exits afterwards (TensorFlow's memory and any GPU are released). Ray never retries
it (`max_retries=0`): the dispatcher counts attempts in the job row itself.

Errors the job's own input causes (a `FinderError`, or Keras refusing a loss or optimizer
setting) fail the job at once with the message as its reason; anything else propagates, and the
dispatcher retries it like a crashed process.
"""

from __future__ import annotations

import os
import time
from typing import Any

import ray

from finder.errors import FinderError
from service import crud
from service.db import create_db_engine

USER_ERRORS: tuple[type[Exception], ...] = (FinderError, ValueError, TypeError)


def reason_of(exc: BaseException) -> str:
    """A one-line, human-readable reason for `exc`."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, FinderError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ProgressWriter:
    """A `progress` callable that writes the job's progress, at most every `interval_s`."""

    def __init__(
        self, engine: Any, job_id: str, attempt: int, interval_s: float, clock: Any = time.monotonic
    ) -> None:
        self.engine = engine
        self.job_id = job_id
        self.attempt = attempt
        self.interval_s = interval_s
        self.clock = clock
        self._last_write = -float("inf")

    def __call__(self, progress: Any) -> None:
        now = self.clock()
        last_step = progress.step == progress.num_steps - 1
        if now - self._last_write < self.interval_s and not last_step:
            return
        self._last_write = now
        crud.record_progress(
            self.engine,
            self.job_id,
            self.attempt,
            steps_done=progress.repeat * progress.num_steps + progress.step + 1,
            lr=float(progress.lr),
            loss=float(progress.loss),
            smoothed_loss=float(progress.smoothed_loss),
        )


def run_job(
    job_id: str,
    attempt: int,
    database_url: str,
    spec: dict[str, Any],
    progress_interval_s: float,
) -> str:
    """Run attempt `attempt` of job `job_id`; return "succeeded", "failed" or "superseded"."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    engine = create_db_engine(database_url, pooled=False)
    try:
        node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
        if not crud.record_start(engine, job_id, attempt, os.getpid(), node_id):
            return "superseded"
        from finder.runner import RunSpec, run_spec

        try:
            result = run_spec(
                RunSpec(**spec),
                progress=ProgressWriter(engine, job_id, attempt, progress_interval_s),
            )
        except USER_ERRORS as exc:
            crud.record_failure(engine, job_id, attempt, reason_of(exc))
            return "failed"
        crud.record_success(engine, job_id, attempt, result.to_dict())
        return "succeeded"
    finally:
        engine.dispose()


# A fresh process per job; the dispatcher, not Ray, decides about retries.
run_job_remote = ray.remote(max_calls=1, max_retries=0)(run_job)

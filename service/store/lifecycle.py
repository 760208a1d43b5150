"""What happens to a running attempt: its start, its progress, its end, a retry, a release.

Every write names the attempt it belongs to (`_running`), so that a process left over from an
earlier attempt never overwrites a newer one; each returns whether it won. The caller commits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, update
from sqlalchemy.orm import Session

from service.core.db import Job, utcnow


def _running(job_id: str, attempt: int) -> ColumnElement[bool]:
    return and_(Job.id == job_id, Job.attempts == attempt, Job.status == "running")


def record_start(session: Session, job_id: str, attempt: int, pid: int, node_id: str) -> bool:
    started = session.execute(
        update(Job)
        .where(_running(job_id, attempt))
        .values(worker_pid=pid, node_id=node_id, updated_at=utcnow())
    )
    return bool(started.rowcount == 1)  # type: ignore[attr-defined]


def record_progress(
    session: Session,
    job_id: str,
    attempt: int,
    *,
    steps_done: int,
    phase: str,
    lr: float | None,
    loss: float | None,
    smoothed_loss: float | None,
    message: str | None = None,
    steps_total: int | None = None,
) -> bool:
    """Write a running attempt's progress; `steps_total`, when given, replaces the job's
    total (the range test's bound is only known once it runs, and a finished one ran fewer).
    False when the row moved on, or already counts more steps."""
    values: dict[str, Any] = {
        "steps_done": steps_done,
        "phase": phase,
        "message": message,
        "lr": lr,
        "loss": loss,
        "smoothed_loss": smoothed_loss,
        "updated_at": utcnow(),
    }
    if steps_total is not None:
        values["steps_total"] = steps_total
    written = session.execute(
        update(Job).where(_running(job_id, attempt), Job.steps_done <= steps_done).values(**values)
    )
    return bool(written.rowcount == 1)  # type: ignore[attr-defined]


def record_success(session: Session, job_id: str, attempt: int, result: dict[str, Any]) -> bool:
    return _finish(
        session,
        job_id,
        attempt,
        "succeeded",
        lambda job: {
            "result": json.dumps(result, separators=(",", ":"), allow_nan=False),
            "steps_done": job.steps_total if job is not None else 0,
            "error": None,
            "failure_kind": None,
        },
    )


def record_failure(
    session: Session, job_id: str, attempt: int, reason: str, kind: str | None = None
) -> bool:
    """Fail the job for good (an error retrying cannot fix, or no attempts left); `kind` is
    its classification (`service.jobs.failures`)."""
    values = {"error": reason, "failure_kind": kind}
    return _finish(session, job_id, attempt, "failed", lambda job: values)


def record_cancelled(session: Session, job_id: str, attempt: int, reason: str) -> bool:
    return _finish(session, job_id, attempt, "cancelled", lambda job: {"error": reason})


def _finish_values(job: Job | None, status: str, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"status": status, "finished_at": now, "updated_at": now}
    if job is not None and job.started_at is not None:
        values["duration_s"] = (now - job.started_at).total_seconds()
    return values


def _finish(
    session: Session,
    job_id: str,
    attempt: int,
    status: str,
    extra: Callable[[Job | None], dict[str, Any]],
) -> bool:
    """End attempt `attempt` of a running job with `status` and the columns `extra(job)` gives;
    False when the row had already moved on."""
    job = session.get(Job, job_id, populate_existing=True)
    values = _finish_values(job, status, utcnow())
    values.update(extra(job))
    written = session.execute(update(Job).where(_running(job_id, attempt)).values(**values))
    return bool(written.rowcount == 1)  # type: ignore[attr-defined]


def retry_or_fail(
    session: Session, job_id: str, attempt: int, reason: str, kind: str = "infrastructure"
) -> str | None:
    """After attempt `attempt` was lost: requeue the job if attempts remain, else fail it with
    `reason`; a job whose cancellation was asked for ends cancelled. The loss's `kind` is kept
    on the row either way. Returns the new status, None when the row had already moved on."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.status != "running" or job.attempts != attempt:
        return None
    now = utcnow()
    if job.cancel_requested:
        status = "cancelled"
        values = _finish_values(job, status, now)
        values["error"] = "Cancelled."
    elif job.attempts < job.max_attempts:
        status = "queued"
        values = {
            "status": status,
            "dispatcher_id": None,
            "error": f"Attempt {attempt} of {job.max_attempts} was lost: {reason}",
            "failure_kind": kind,
            "updated_at": now,
        }
    else:
        status = "failed"
        values = _finish_values(job, status, now)
        values["error"] = (
            f"Gave up after {job.attempts} attempt{'s' if job.attempts != 1 else ''}: {reason}"
        )
        values["failure_kind"] = kind
    written = session.execute(update(Job).where(_running(job_id, attempt)).values(**values))
    return status if written.rowcount == 1 else None  # type: ignore[attr-defined]


def release(session: Session, job_id: str, attempt: int) -> None:
    """Give a running job back to the queue without charging the attempt (clean shutdown)."""
    now = utcnow()
    session.execute(
        update(Job)
        .where(_running(job_id, attempt), Job.cancel_requested.is_(False))
        .values(status="queued", dispatcher_id=None, attempts=attempt - 1, updated_at=now)
    )
    session.execute(
        update(Job)
        .where(_running(job_id, attempt), Job.cancel_requested.is_(True))
        .values(status="cancelled", error="Cancelled.", finished_at=now, updated_at=now)
    )

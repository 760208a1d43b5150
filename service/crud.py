"""Every read and state change of the job, upload and dispatcher rows.

Each transition is a single conditional `UPDATE ... WHERE status = ...` whose row count says
whether it won, so the API, any number of dispatchers and the job processes can race on the
same row safely. Writes from a job process also name the attempt they belong to, so a process
left over from an earlier attempt can never overwrite a newer one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.orm import Session

from service.db import TERMINAL_STATUSES, Dispatcher, Job, Upload, utcnow
from service.errors import ConflictError, NotFoundError


def new_id() -> str:
    return uuid.uuid4().hex


# --- API side -------------------------------------------------------------------------------


def create_job(
    session: Session,
    *,
    owner: str,
    kind: str,
    request: dict[str, Any],
    spec: dict[str, Any],
    steps_total: int,
    max_attempts: int,
) -> Job:
    now = utcnow()
    job = Job(
        id=new_id(),
        owner=owner,
        kind=kind,
        status="queued",
        request=request,
        spec=spec,
        attempts=0,
        max_attempts=max_attempts,
        cancel_requested=False,
        steps_done=0,
        steps_total=steps_total,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.commit()
    return job


def get_job(session: Session, owner: str, job_id: str) -> Job:
    """The caller's job; another owner's job is as absent as a missing one.

    Raises:
        NotFoundError
    """
    job = session.scalar(select(Job).where(Job.id == job_id, Job.owner == owner))
    if job is None:
        raise NotFoundError(f"No job {job_id!r}.")
    return job


def list_jobs(
    session: Session, owner: str, *, status: str | None, limit: int, offset: int
) -> tuple[Sequence[Job], int]:
    """The caller's jobs, newest first, and how many match before paging."""
    where = [Job.owner == owner]
    if status is not None:
        where.append(Job.status == status)
    count = session.scalar(select(func.count()).select_from(Job).where(*where)) or 0
    jobs = session.scalars(
        select(Job)
        .where(*where)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return jobs, count


def request_cancel(session: Session, owner: str, job_id: str) -> Job:
    """Cancel a queued job now, or ask the dispatcher running it to stop it.

    Raises:
        NotFoundError: no such job for this owner.
        ConflictError: the job already ended.
    """
    job = get_job(session, owner, job_id)
    now = utcnow()
    cancelled = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == "queued")
        .values(
            status="cancelled",
            cancel_requested=True,
            error="Cancelled before it started.",
            finished_at=now,
            updated_at=now,
        )
    )
    if cancelled.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == "running")
            .values(cancel_requested=True, updated_at=now)
        )
    session.commit()
    session.refresh(job)
    if job.status in TERMINAL_STATUSES and not job.cancel_requested:
        raise ConflictError(f"Job {job.id} already ended ({job.status}).")
    return job


def create_upload(
    session: Session,
    *,
    upload_id: str,
    owner: str,
    kind: str,
    filename: str,
    path: str,
    size_bytes: int,
    description: dict[str, Any],
) -> Upload:
    upload = Upload(
        id=upload_id,
        owner=owner,
        kind=kind,
        filename=filename,
        path=path,
        size_bytes=size_bytes,
        description=description,
        created_at=utcnow(),
    )
    session.add(upload)
    session.commit()
    return upload


def get_upload(session: Session, owner: str, upload_id: str, kind: str) -> Upload:
    """The caller's upload of `kind`.

    Raises:
        NotFoundError: no such upload of that kind for this owner.
    """
    upload = session.scalar(
        select(Upload).where(Upload.id == upload_id, Upload.owner == owner, Upload.kind == kind)
    )
    if upload is None:
        raise NotFoundError(f"No {kind} upload {upload_id!r}.")
    return upload


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {status: int(count) for status, count in rows}


def durations(session: Session) -> list[tuple[str, float]]:
    rows = session.execute(
        select(Job.status, Job.duration_s).where(Job.duration_s.is_not(None))
    ).all()
    return [(status, float(duration)) for status, duration in rows if duration is not None]


def alive_dispatchers(session: Session, timeout_s: float) -> int:
    cutoff = utcnow() - timedelta(seconds=timeout_s)
    return int(
        session.scalar(
            select(func.count())
            .select_from(Dispatcher)
            .where(Dispatcher.heartbeat_at >= cutoff, Dispatcher.stopped.is_(False))
        )
        or 0
    )


# --- dispatcher side ------------------------------------------------------------------------


def register_dispatcher(engine: Engine, dispatcher_id: str, host: str, pid: int) -> None:
    with Session(engine) as session:
        now = utcnow()
        session.add(
            Dispatcher(
                id=dispatcher_id,
                host=host,
                pid=pid,
                started_at=now,
                heartbeat_at=now,
                stopped=False,
            )
        )
        session.commit()


def heartbeat(engine: Engine, dispatcher_id: str, *, stopped: bool = False) -> None:
    with Session(engine) as session:
        session.execute(
            update(Dispatcher)
            .where(Dispatcher.id == dispatcher_id)
            .values(heartbeat_at=utcnow(), stopped=stopped)
        )
        session.commit()


def dispatchers(engine: Engine) -> list[Dispatcher]:
    with Session(engine) as session:
        return list(session.scalars(select(Dispatcher)).all())


def claim_next(engine: Engine, dispatcher_id: str) -> Job | None:
    """Move the oldest queued job to running for `dispatcher_id`; None when none is left."""
    with Session(engine) as session:
        candidates = session.scalars(
            select(Job.id)
            .where(Job.status == "queued", Job.cancel_requested.is_(False))
            .order_by(Job.created_at, Job.id)
            .limit(8)
        ).all()
        for job_id in candidates:
            now = utcnow()
            claimed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued", Job.cancel_requested.is_(False))
                .values(
                    status="running",
                    dispatcher_id=dispatcher_id,
                    attempts=Job.attempts + 1,
                    started_at=now,
                    updated_at=now,
                    steps_done=0,
                    phase=None,
                    message=None,
                    lr=None,
                    loss=None,
                    smoothed_loss=None,
                    worker_pid=None,
                    node_id=None,
                )
            )
            session.commit()
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                return session.get(Job, job_id)
    return None


def _running(job_id: str, attempt: int) -> Any:
    return and_(Job.id == job_id, Job.attempts == attempt, Job.status == "running")


def record_start(engine: Engine, job_id: str, attempt: int, pid: int, node_id: str) -> bool:
    with Session(engine) as session:
        started = session.execute(
            update(Job)
            .where(_running(job_id, attempt))
            .values(worker_pid=pid, node_id=node_id, updated_at=utcnow())
        )
        session.commit()
        return bool(started.rowcount == 1)  # type: ignore[attr-defined]


def record_progress(
    engine: Engine,
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
    with Session(engine) as session:
        written = session.execute(
            update(Job)
            .where(_running(job_id, attempt), Job.steps_done <= steps_done)
            .values(**values)
        )
        session.commit()
        return bool(written.rowcount == 1)  # type: ignore[attr-defined]


def _finish_values(job: Job | None, status: str, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"status": status, "finished_at": now, "updated_at": now}
    if job is not None and job.started_at is not None:
        values["duration_s"] = (now - job.started_at).total_seconds()
    return values


def record_success(engine: Engine, job_id: str, attempt: int, result: dict[str, Any]) -> bool:
    return _finish(
        engine,
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
    engine: Engine, job_id: str, attempt: int, reason: str, kind: str | None = None
) -> bool:
    """Fail the job for good (an error retrying cannot fix, or no attempts left); `kind` is
    its classification (`service.failures`)."""
    values = {"error": reason, "failure_kind": kind}
    return _finish(engine, job_id, attempt, "failed", lambda job: values)


def record_cancelled(engine: Engine, job_id: str, attempt: int, reason: str) -> bool:
    return _finish(engine, job_id, attempt, "cancelled", lambda job: {"error": reason})


def _finish(
    engine: Engine,
    job_id: str,
    attempt: int,
    status: str,
    extra: Callable[[Job | None], dict[str, Any]],
) -> bool:
    """End attempt `attempt` of a running job with `status` and the columns `extra(job)` gives;
    False when the row had already moved on."""
    with Session(engine) as session:
        job = session.get(Job, job_id)
        values = _finish_values(job, status, utcnow())
        values.update(extra(job))
        written = session.execute(update(Job).where(_running(job_id, attempt)).values(**values))
        session.commit()
        return bool(written.rowcount == 1)  # type: ignore[attr-defined]


def retry_or_fail(
    engine: Engine, job_id: str, attempt: int, reason: str, kind: str = "infrastructure"
) -> str | None:
    """After attempt `attempt` was lost: requeue the job if attempts remain, else fail it with
    `reason`; a job whose cancellation was asked for ends cancelled. The loss's `kind` is kept
    on the row either way. Returns the new status, None when the row had already moved on."""
    with Session(engine) as session:
        job = session.get(Job, job_id)
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
        session.commit()
        return status if written.rowcount == 1 else None  # type: ignore[attr-defined]


def release(engine: Engine, job_id: str, attempt: int) -> None:
    """Give a running job back to the queue without charging the attempt (clean shutdown)."""
    with Session(engine) as session:
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
        session.commit()


def jobs_by_id(engine: Engine, job_ids: Sequence[str]) -> dict[str, Job]:
    if not job_ids:
        return {}
    with Session(engine) as session:
        return {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(job_ids)))}


def running_jobs(engine: Engine) -> list[Job]:
    with Session(engine) as session:
        return list(session.scalars(select(Job).where(Job.status == "running")).all())

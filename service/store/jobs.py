"""Reading, cancelling and deleting jobs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Text, cast, delete, func, select, update
from sqlalchemy.orm import Session

from service.core.db import TERMINAL_STATUSES, Job, utcnow
from service.core.errors import ConflictError, NotFoundError
from service.store.idempotency import forget_keys_of


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


def jobs_by_id(session: Session, job_ids: Sequence[str]) -> dict[str, Job]:
    """The rows of `job_ids` that still exist, by id (any owner)."""
    if not job_ids:
        return {}
    return {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(job_ids)))}


def running_jobs(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.status == "running")).all())


def jobs_using_upload(session: Session, upload_id: str, *, active_only: bool) -> list[str]:
    """Ids of the jobs whose request names `upload_id` (queued or running ones only, with
    `active_only`). Upload ids are 32 random hex digits: a match in the request's JSON text is
    a reference."""
    where = [cast(Job.request, Text).contains(upload_id)]
    if active_only:
        where.append(Job.status.in_(("queued", "running")))
    return list(session.scalars(select(Job.id).where(*where).limit(10)).all())


def request_cancel(session: Session, owner: str, job_id: str) -> Job:
    """Cancel a queued job now, or ask the dispatcher running it to stop it; commit.

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


def delete_job(session: Session, owner: str, job_id: str) -> Job:
    """Remove the caller's job in whatever state, with its idempotency keys, and commit; return
    the row as it was. A running job is asked to cancel first (`request_cancel`): its
    dispatcher stops the task, and finds the row gone if it looks later. The caller removes the
    job's files.

    Raises:
        NotFoundError: no such job for this owner.
    """
    job = get_job(session, owner, job_id)
    if job.status == "running":
        try:
            request_cancel(session, owner, job_id)
        except ConflictError:
            pass  # it ended meanwhile
    forget_keys_of(session, "job", [job.id])
    session.execute(delete(Job).where(Job.id == job.id))
    session.commit()
    return job

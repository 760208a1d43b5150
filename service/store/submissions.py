"""Queueing jobs: within the queue's bounds, once per idempotency key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.db import Job, Upload, utcnow
from service.core.errors import LimitExceededError, NotFoundError
from service.store.idempotency import Idempotency, create_once, remembered
from service.store.jobs import get_job
from service.store.locks import new_id


@dataclass(frozen=True)
class QueueLimits:
    max_queued: int
    max_queued_per_key: int
    retry_after_s: int


def submit_job(
    session: Session,
    *,
    owner: str,
    kind: str,
    request: dict[str, Any],
    spec: dict[str, Any],
    steps_total: int,
    max_attempts: int,
    limits: QueueLimits,
    idempotency: Idempotency | None,
    upload_ids: Sequence[str] = (),
    status_code: int = 202,
) -> tuple[Job, int | None]:
    """Queue a job within the queue's bounds, once per idempotency key, and commit.

    The check and the insert are one transaction under the `submissions` lock, so concurrent
    submissions (from any number of API processes) cannot overshoot a bound; the key's row is
    inserted in the same transaction, and its primary key (owner, key) lets only one of
    concurrent retries commit: the others answer with the winner's job.

    The uploads the job names (`upload_ids`) are looked up again under the lock, which
    deleting an upload takes too: a job is never queued with an upload deleted meanwhile.

    Returns:
        The job, and None when it was created now, or the status code it was created with when
        the key replays an earlier submission.

    Raises:
        IdempotencyConflictError: the key was used with another request.
        LimitExceededError: a bound on queued jobs is reached (429).
        NotFoundError: one of `upload_ids` was deleted meanwhile (404).
    """
    if idempotency is not None:  # a retry needs no lock
        record = remembered(session, owner, idempotency, "job")
        if record is not None:
            return get_job(session, owner, record.resource_id), record.status_code

    def create() -> Job:
        check_queue(session, owner, limits)
        check_uploads_exist(session, owner, upload_ids)
        return new_job(owner, kind, request, spec, steps_total, max_attempts)

    return create_once(
        session,
        owner=owner,
        idempotency=idempotency,
        resource="job",
        lock_name="submissions",
        status_code=status_code,
        create=create,
        fetch=lambda job_id: get_job(session, owner, job_id),
    )


def check_queue(session: Session, owner: str, limits: QueueLimits) -> None:
    """Raises LimitExceededError when the owner's or everyone's queued jobs are at a bound."""
    queued = Job.status == "queued"
    mine = session.scalar(select(func.count()).where(queued, Job.owner == owner)) or 0
    if mine >= limits.max_queued_per_key:
        raise LimitExceededError(
            f"This key has {mine} jobs queued, the most one key may have "
            f"(FINDER_MAX_QUEUED_PER_KEY={limits.max_queued_per_key}); retry once some have "
            "started.",
            limit="max_queued_per_key",
            value=limits.max_queued_per_key,
            retry_after_s=limits.retry_after_s,
        )
    everyone = session.scalar(select(func.count()).where(queued)) or 0
    if everyone >= limits.max_queued:
        raise LimitExceededError(
            f"The queue is full: {everyone} jobs are queued "
            f"(FINDER_MAX_QUEUED_JOBS={limits.max_queued}); retry later.",
            limit="max_queued_jobs",
            value=limits.max_queued,
            retry_after_s=limits.retry_after_s,
        )


def check_uploads_exist(session: Session, owner: str, upload_ids: Sequence[str]) -> None:
    """Raises NotFoundError when one of the owner's `upload_ids` is gone."""
    if not upload_ids:
        return
    present = set(
        session.scalars(
            select(Upload.id).where(Upload.id.in_(upload_ids), Upload.owner == owner)
        ).all()
    )
    for upload_id in upload_ids:
        if upload_id not in present:
            raise NotFoundError(f"No upload {upload_id!r}: it was deleted.")


def new_job(
    owner: str,
    kind: str,
    request: dict[str, Any],
    spec: dict[str, Any],
    steps_total: int,
    max_attempts: int,
) -> Job:
    now = utcnow()
    return Job(
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

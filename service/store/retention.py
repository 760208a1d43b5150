"""Removing what is past its retention: finished jobs, unused uploads, old idempotency keys.

Each function is one transaction's work, which the caller commits; `remove_unused_uploads`
takes the `submissions` lock, so it must be its transaction's first write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from service.core.db import TERMINAL_STATUSES, IdempotencyKey, Job, Upload
from service.store.idempotency import forget_keys_of
from service.store.jobs import jobs_using_upload
from service.store.locks import lock
from service.store.uploads import delete_uploads

BATCH = 1000


def remove_finished_jobs(session: Session, cutoff: datetime) -> list[str]:
    """Delete up to `BATCH` jobs that ended before `cutoff`, with their idempotency keys;
    return their ids (the caller removes their files)."""
    ended = Job.status.in_(sorted(TERMINAL_STATUSES))
    old = func.coalesce(Job.finished_at, Job.updated_at) < cutoff
    job_ids = list(session.scalars(select(Job.id).where(ended, old).limit(BATCH)).all())
    if job_ids:
        forget_keys_of(session, "job", job_ids)
        # Conditional: a row that changed meanwhile is not removed.
        session.execute(delete(Job).where(Job.id.in_(job_ids), ended, old))
    return job_ids


def remove_expired_keys(session: Session, cutoff: datetime) -> int:
    """Delete the idempotency keys created before `cutoff` (a key's job outlives it; a key
    never outlives its job); return how many."""
    keys = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(keys.rowcount)  # type: ignore[attr-defined]


def remove_unused_uploads(session: Session, cutoff: datetime) -> list[Upload]:
    """Delete up to `BATCH` uploads made before `cutoff` that no job names; return their rows
    (the caller removes their files)."""
    if session.scalar(select(Upload.id).where(Upload.created_at < cutoff).limit(1)) is None:
        return []
    lock(session, "submissions")  # as in uploads.delete_upload
    uploads = [
        upload
        for upload in session.scalars(
            select(Upload).where(Upload.created_at < cutoff).limit(BATCH)
        ).all()
        if not jobs_using_upload(session, upload.id, active_only=False)
    ]
    if uploads:
        delete_uploads(session, [upload.id for upload in uploads])
    return uploads

"""Uploaded files' rows: kept within the owner's quota, once per idempotency key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from service.core.db import Upload, utcnow
from service.core.errors import ConflictError, LimitExceededError, NotFoundError
from service.store.idempotency import Idempotency, create_once, forget_keys_of
from service.store.jobs import jobs_using_upload
from service.store.locks import lock


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
    quota_mb: float | None = None,
    idempotency: Idempotency | None = None,
) -> tuple[Upload, int | None]:
    """Keep an upload's row, within the owner's quota and once per idempotency key; commit.

    Returns:
        The upload, and None when it was created now, or 201 when the key replays an earlier
        upload (then the caller removes its own copy of the file).

    Raises:
        IdempotencyConflictError: the key was used with another file.
        LimitExceededError: 413, the owner's uploads would exceed `quota_mb` MiB.
    """

    def create() -> Upload:
        if quota_mb is not None:
            check_quota(session, owner, size_bytes, quota_mb)
        return Upload(
            id=upload_id,
            owner=owner,
            kind=kind,
            filename=filename,
            path=path,
            size_bytes=size_bytes,
            description=description,
            created_at=utcnow(),
        )

    return create_once(
        session,
        owner=owner,
        idempotency=idempotency,
        resource="upload",
        lock_name="uploads",
        status_code=201,
        create=create,
        fetch=lambda earlier_id: get_upload(session, owner, earlier_id, kind),
    )


def check_quota(session: Session, owner: str, size_bytes: int, quota_mb: float) -> None:
    """Raises LimitExceededError (413) when `size_bytes` more would pass the owner's quota."""
    stored = session.scalar(
        select(func.coalesce(func.sum(Upload.size_bytes), 0)).where(Upload.owner == owner)
    )
    if int(stored or 0) + size_bytes > quota_mb * (1 << 20):
        raise LimitExceededError(
            f"This key's uploads take {int(stored or 0)} bytes; this one "
            f"({size_bytes} bytes) would pass its quota (FINDER_UPLOAD_QUOTA_MB="
            f"{quota_mb:g}). Delete uploads it no longer needs (DELETE /uploads/{{id}}).",
            limit="upload_quota_mb",
            value=quota_mb,
            status_code=413,
        )


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


def delete_upload(session: Session, owner: str, upload_id: str) -> Upload:
    """Remove the caller's upload row (and its idempotency keys) and commit; the caller
    removes its file.

    Raises:
        NotFoundError: no such upload for this owner.
        ConflictError: a queued or running job still needs it.
    """
    try:
        # The lock of submissions: no job naming it is queued between the check and the delete.
        session.commit()
        lock(session, "submissions")
        upload = session.scalar(select(Upload).where(Upload.id == upload_id, Upload.owner == owner))
        if upload is None:
            raise NotFoundError(f"No upload {upload_id!r}.")
        users = jobs_using_upload(session, upload_id, active_only=True)
        if users:
            raise ConflictError(
                f"Upload {upload_id} is used by job {users[0]}, which has not ended; cancel or "
                "delete the job first."
            )
        delete_uploads(session, [upload_id])
        session.commit()
        return upload
    except BaseException:
        session.rollback()
        raise


def delete_uploads(session: Session, upload_ids: Sequence[str]) -> None:
    """Delete these upload rows and their idempotency keys (not their files)."""
    forget_keys_of(session, "upload", list(upload_ids))
    session.execute(delete(Upload).where(Upload.id.in_(upload_ids)))

"""Every read and state change of the job, upload and dispatcher rows.

Each transition is a single conditional `UPDATE ... WHERE status = ...` whose row count says
whether it won, so the API, any number of dispatchers and the job processes can race on the
same row safely. Writes from a job process also name the attempt they belong to, so a process
left over from an earlier attempt can never overwrite a newer one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Text, and_, cast, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import (
    TERMINAL_STATUSES,
    Dispatcher,
    IdempotencyKey,
    Job,
    ServiceLock,
    Upload,
    utcnow,
)
from service.errors import (
    ConflictError,
    IdempotencyConflictError,
    LimitExceededError,
    NotFoundError,
)


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
    """Queue a job with no bound or key checked (the API uses `submit_job`)."""
    job = _new_job(owner, kind, request, spec, steps_total, max_attempts)
    session.add(job)
    session.commit()
    return job


# --- submissions: idempotency keys and the queue's bounds ---------------------------------


@dataclass(frozen=True)
class Idempotency:
    """An `Idempotency-Key` and the hash of the request it came with."""

    key: str
    request_hash: str
    ttl_s: float


@dataclass(frozen=True)
class QueueLimits:
    max_queued: int
    max_queued_per_key: int
    retry_after_s: int


def request_hash(route: str, body: Any) -> str:
    """SHA-256 of `route` and the canonical JSON of `body` (sorted keys, no spaces), so that
    the same request spelled differently hashes the same."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


def lock(session: Session, name: str) -> None:
    """Take the `service_locks` row `name` for the rest of the transaction.

    Must be the transaction's first statement: an `UPDATE` takes SQLite's write lock at once
    (as `BEGIN IMMEDIATE` would; others wait on busy_timeout) and PostgreSQL's row lock (others
    wait; under READ COMMITTED their later statements see what the holder committed).
    """
    session.commit()  # whatever was read before is not part of the locked transaction
    session.execute(update(ServiceLock).where(ServiceLock.name == name).values(taken_at=utcnow()))


def remembered(
    session: Session, owner: str, idempotency: Idempotency, resource: str
) -> IdempotencyKey | None:
    """The unexpired record of `idempotency.key` for this owner, None when there is none.

    Raises:
        IdempotencyConflictError: the key came with another request (or created another kind
            of thing).
    """
    record = session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.owner == owner, IdempotencyKey.key == idempotency.key
        )
    )
    if record is None or record.created_at < utcnow() - timedelta(seconds=idempotency.ttl_s):
        return None
    if record.request_hash != idempotency.request_hash or record.resource != resource:
        raise IdempotencyConflictError(
            f"Idempotency-Key {idempotency.key!r} was already used with a different request "
            f"(it created {record.resource} {record.resource_id}); send a new key for a new "
            "request."
        )
    return record


def _forget_expired(session: Session, owner: str, idempotency: Idempotency) -> None:
    cutoff = utcnow() - timedelta(seconds=idempotency.ttl_s)
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.owner == owner,
            IdempotencyKey.key == idempotency.key,
            IdempotencyKey.created_at < cutoff,
        )
    )


def _check_queue(session: Session, owner: str, limits: QueueLimits) -> None:
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
    """Queue a job within the queue's bounds, once per idempotency key.

    The check and the insert are one transaction under the `submissions` lock, so concurrent
    submissions (from any number of API processes) cannot overshoot a bound; the key's row is
    inserted in the same transaction, and its primary key (owner, key) lets only one of
    concurrent retries commit: the others answer with the winner's job.

    Returns:
        The job, and None when it was created now, or the status code it was created with when
        the key replays an earlier submission.

    The uploads the job names (`upload_ids`) are looked up again under the lock, which
    deleting an upload takes too: a job is never queued with an upload deleted meanwhile.

    Raises:
        IdempotencyConflictError: the key was used with another request.
        LimitExceededError: a bound on queued jobs is reached (429).
        NotFoundError: one of `upload_ids` was deleted meanwhile (404).
    """
    if idempotency is not None:  # a retry needs no lock
        record = remembered(session, owner, idempotency, "job")
        if record is not None:
            return get_job(session, owner, record.resource_id), record.status_code
    try:
        lock(session, "submissions")
        if idempotency is not None:
            record = remembered(session, owner, idempotency, "job")
            if record is not None:
                job = get_job(session, owner, record.resource_id)
                session.commit()
                return job, record.status_code
            _forget_expired(session, owner, idempotency)
        _check_queue(session, owner, limits)
        _check_uploads_exist(session, owner, upload_ids)
        job = _new_job(owner, kind, request, spec, steps_total, max_attempts)
        session.add(job)
        if idempotency is not None:
            session.add(_key_row(owner, idempotency, "job", job.id, status_code))
        session.commit()
        return job, None
    except IntegrityError:
        # Another request with the same key committed first (its row is there now).
        session.rollback()
        if idempotency is None:
            raise
        record = remembered(session, owner, idempotency, "job")
        if record is None:
            raise
        return get_job(session, owner, record.resource_id), record.status_code
    except BaseException:
        session.rollback()
        raise


def _check_uploads_exist(session: Session, owner: str, upload_ids: Sequence[str]) -> None:
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


def _key_row(
    owner: str, idempotency: Idempotency, resource: str, resource_id: str, status_code: int
) -> IdempotencyKey:
    return IdempotencyKey(
        owner=owner,
        key=idempotency.key,
        request_hash=idempotency.request_hash,
        resource=resource,
        resource_id=resource_id,
        status_code=status_code,
        created_at=utcnow(),
    )


def _new_job(
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


def delete_job(session: Session, owner: str, job_id: str) -> Job:
    """Remove the caller's job in whatever state, with its idempotency keys; return the row as
    it was. A running job is asked to cancel first (`request_cancel`): its dispatcher stops the
    task, and finds the row gone if it looks later. The caller removes the job's files.

    Raises:
        NotFoundError: no such job for this owner.
    """
    job = get_job(session, owner, job_id)
    if job.status == "running":
        try:
            request_cancel(session, owner, job_id)
        except ConflictError:
            pass  # it ended meanwhile
    _delete_jobs(session, [job.id])
    session.commit()
    return job


def _delete_jobs(session: Session, job_ids: Sequence[str]) -> int:
    if not job_ids:
        return 0
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.resource == "job", IdempotencyKey.resource_id.in_(job_ids)
        )
    )
    deleted = session.execute(delete(Job).where(Job.id.in_(job_ids)))
    return int(deleted.rowcount)  # type: ignore[attr-defined]


def jobs_using_upload(session: Session, upload_id: str, *, active_only: bool) -> list[str]:
    """Ids of the jobs whose request names `upload_id` (queued or running ones only, with
    `active_only`). Upload ids are 32 random hex digits: a match in the request's JSON text is
    a reference."""
    where = [cast(Job.request, Text).contains(upload_id)]
    if active_only:
        where.append(Job.status.in_(("queued", "running")))
    return list(session.scalars(select(Job.id).where(*where).limit(10)).all())


def delete_upload(session: Session, owner: str, upload_id: str) -> Upload:
    """Remove the caller's upload row (and its idempotency keys); the caller removes its file.

    Raises:
        NotFoundError: no such upload for this owner.
        ConflictError: a queued or running job still needs it.
    """
    try:
        # The lock of submissions: no job naming it is queued between the check and the delete.
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
        _delete_uploads(session, [upload_id])
        session.commit()
        return upload
    except BaseException:
        session.rollback()
        raise


def _delete_uploads(session: Session, upload_ids: Sequence[str]) -> None:
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.resource == "upload", IdempotencyKey.resource_id.in_(upload_ids)
        )
    )
    session.execute(delete(Upload).where(Upload.id.in_(upload_ids)))


@dataclass(frozen=True)
class Swept:
    """What one retention sweep removed (the caller removes their files)."""

    job_ids: list[str]
    uploads: list[Upload]
    keys: int


def sweep(engine: Engine, *, retention_s: float, idempotency_ttl_s: float) -> Swept:
    """Remove finished jobs and unused uploads older than `retention_s`, and idempotency keys
    older than `idempotency_ttl_s` (a key's job outlives it; a key never outlives its job)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=retention_s)
    with Session(engine, expire_on_commit=False) as session:
        ended = Job.status.in_(sorted(TERMINAL_STATUSES))
        old = func.coalesce(Job.finished_at, Job.updated_at) < cutoff
        job_ids = list(session.scalars(select(Job.id).where(ended, old).limit(1000)).all())
        if job_ids:
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.resource == "job", IdempotencyKey.resource_id.in_(job_ids)
                )
            )
            # Conditional: a row that changed meanwhile is not removed.
            session.execute(delete(Job).where(Job.id.in_(job_ids), ended, old))
        key_cutoff = now - timedelta(seconds=idempotency_ttl_s)
        keys = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < key_cutoff))
        session.commit()
        uploads: list[Upload] = []
        if session.scalar(select(Upload.id).where(Upload.created_at < cutoff).limit(1)):
            lock(session, "submissions")  # as in delete_upload
            uploads = [
                upload
                for upload in session.scalars(
                    select(Upload).where(Upload.created_at < cutoff).limit(1000)
                ).all()
                if not jobs_using_upload(session, upload.id, active_only=False)
            ]
            if uploads:
                _delete_uploads(session, [upload.id for upload in uploads])
            session.commit()
    return Swept(job_ids=job_ids, uploads=uploads, keys=int(keys.rowcount))  # type: ignore[attr-defined]


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
    """Keep an upload's row, within the owner's quota and once per idempotency key.

    Returns:
        The upload, and None when it was created now, or 201 when the key replays an earlier
        upload (then the caller removes its own copy of the file).

    Raises:
        IdempotencyConflictError: the key was used with another file.
        LimitExceededError: 413, the owner's uploads would exceed `quota_mb` MiB.
    """
    try:
        lock(session, "uploads")
        if idempotency is not None:
            record = remembered(session, owner, idempotency, "upload")
            if record is not None:
                earlier = get_upload(session, owner, record.resource_id, kind)
                session.commit()
                return earlier, record.status_code
            _forget_expired(session, owner, idempotency)
        if quota_mb is not None:
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
        if idempotency is not None:
            session.add(_key_row(owner, idempotency, "upload", upload_id, 201))
        session.commit()
        return upload, None
    except IntegrityError:
        session.rollback()
        if idempotency is None:
            raise
        record = remembered(session, owner, idempotency, "upload")
        if record is None:
            raise
        return get_upload(session, owner, record.resource_id, kind), record.status_code
    except BaseException:
        session.rollback()
        raise


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


def claim_next(
    engine: Engine, dispatcher_id: str, max_running_per_key: int | None = None
) -> Job | None:
    """Move the oldest queued job to running for `dispatcher_id`; None when none is left.

    With `max_running_per_key`, the jobs of a key that already runs that many are skipped (they
    wait; other keys' jobs go first), and the claim holds the `claims` lock so that concurrent
    dispatchers cannot together overshoot a key's bound.
    """
    eligible = and_(Job.status == "queued", Job.cancel_requested.is_(False))
    if max_running_per_key is not None:
        busy = (
            select(Job.owner)
            .where(Job.status == "running")
            .group_by(Job.owner)
            .having(func.count() >= max_running_per_key)
        )
        eligible = and_(eligible, Job.owner.not_in(busy))
    oldest = select(Job.id).where(eligible).order_by(Job.created_at, Job.id).limit(8)
    with Session(engine) as session:
        if max_running_per_key is not None:
            if session.scalar(oldest.limit(1)) is None:
                return None  # nothing to claim: no lock taken
            lock(session, "claims")
        candidates = session.scalars(oldest).all()
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
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                session.commit()
                return session.get(Job, job_id)
        session.commit()
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

"""Claiming: moving the oldest eligible queued job to running for a dispatcher."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from service.core.db import Job, utcnow
from service.store.locks import lock


def claim_next(
    session: Session, dispatcher_id: str, max_running_per_key: int | None = None
) -> Job | None:
    """Move the oldest queued job to running for `dispatcher_id`; None when none is left.

    Call it as the first statement of a transaction, which the caller commits. With
    `max_running_per_key`, the jobs of a key that already runs that many are skipped (they
    wait; other keys' jobs go first).

    On PostgreSQL the oldest eligible row is selected `FOR UPDATE SKIP LOCKED` and updated in
    the same transaction: concurrent dispatchers each lock a different row instead of racing
    for the same one. SQLite has no row locks (one writer at a time): there the conditional
    `UPDATE ... WHERE status = 'queued'` decides, tried on the oldest few candidates.

    The per-key bound needs more than a row lock: two dispatchers can lock two different
    queued jobs of one key, each having counted that key's running jobs before the other
    committed, and together overshoot the bound. So a bounded claim first takes the `claims`
    lock (`locks.lock`), which makes the count and the update of concurrent claims happen one
    after the other; an unbounded claim needs only the row lock.
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
    oldest = select(Job.id).where(eligible).order_by(Job.created_at, Job.id)
    if max_running_per_key is not None:
        if session.scalar(oldest.limit(1)) is None:
            return None  # nothing to claim: no lock taken
        lock(session, "claims")
    candidates: Sequence[str]
    if session.get_bind().dialect.name == "postgresql":
        locked = session.scalar(oldest.limit(1).with_for_update(of=Job, skip_locked=True))
        candidates = [] if locked is None else [locked]
    else:
        candidates = session.scalars(oldest.limit(8)).all()
    for job_id in candidates:
        if take(session, job_id, dispatcher_id):
            return session.get(Job, job_id, populate_existing=True)
    return None


def take(session: Session, job_id: str, dispatcher_id: str) -> bool:
    """Move `job_id` from queued to running for `dispatcher_id`, counting an attempt; False
    when it is no longer queued."""
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
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]

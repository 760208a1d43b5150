"""The `service_locks` rows that serialise a check-then-write across processes."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.orm import Session

from service.core.db import ServiceLock, utcnow


def new_id() -> str:
    """A new row id: 32 random hex digits."""
    return uuid.uuid4().hex


def lock(session: Session, name: str) -> None:
    """Take the `service_locks` row `name` for the rest of the transaction.

    Must be the transaction's first write: an `UPDATE` takes SQLite's write lock at once (as
    `BEGIN IMMEDIATE` would; others wait on busy_timeout) and PostgreSQL's row lock (others
    wait; under READ COMMITTED their later statements see what the holder committed). Reads
    before it are fine on both: SQLite's driver begins its transaction at the first write, and
    each PostgreSQL statement reads what was committed when it started.
    """
    session.execute(update(ServiceLock).where(ServiceLock.name == name).values(taken_at=utcnow()))

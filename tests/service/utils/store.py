"""The job store as the job side calls it: each call in a transaction of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from service.store.sessions import transaction
from service.store.submissions import new_job

T = TypeVar("T")


def committed(engine: Engine, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`call(session, *args, **kwargs)` in a transaction of its own, committed."""
    with transaction(engine) as session:
        return call(session, *args, **kwargs)


def add_job(
    engine: Engine,
    *,
    owner: str = "owner",
    kind: str = "find_lr",
    spec: dict[str, Any] | None = None,
    steps_total: int = 10,
    max_attempts: int = 3,
) -> str:
    """A queued job (no bound or idempotency key checked); its id."""

    def add(session: Session) -> str:
        job = new_job(owner, kind, {}, spec or {}, steps_total, max_attempts)
        session.add(job)
        return job.id

    return committed(engine, add)

"""The dispatchers' rows: registration, heartbeats, and who is alive."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.core.db import Dispatcher, utcnow


def register_dispatcher(session: Session, dispatcher_id: str, host: str, pid: int) -> None:
    now = utcnow()
    session.add(
        Dispatcher(
            id=dispatcher_id, host=host, pid=pid, started_at=now, heartbeat_at=now, stopped=False
        )
    )


def heartbeat(session: Session, dispatcher_id: str, *, stopped: bool = False) -> None:
    """Say that the dispatcher is alive now (or, with `stopped`, that it stopped)."""
    session.execute(
        update(Dispatcher)
        .where(Dispatcher.id == dispatcher_id)
        .values(heartbeat_at=utcnow(), stopped=stopped)
    )


def list_dispatchers(session: Session) -> list[Dispatcher]:
    return list(session.scalars(select(Dispatcher)).all())


def alive_dispatchers(session: Session, timeout_s: float) -> int:
    """How many dispatchers have not stopped and sent a heartbeat within `timeout_s`."""
    cutoff = utcnow() - timedelta(seconds=timeout_s)
    return int(
        session.scalar(
            select(func.count())
            .select_from(Dispatcher)
            .where(Dispatcher.heartbeat_at >= cutoff, Dispatcher.stopped.is_(False))
        )
        or 0
    )

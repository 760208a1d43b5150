"""The aggregates `/metrics` reports, computed by the database on each scrape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from service.core.db import Job


@dataclass(frozen=True)
class Durations:
    """The run times of one status's jobs: how many took at most each bound, how many in
    all, and their sum (seconds)."""

    within: tuple[int, ...]
    count: int
    sum_s: float


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {status: int(count) for status, count in rows}


def durations_by_status(session: Session, bounds_s: Sequence[float]) -> dict[str, Durations]:
    """For each status with timed jobs, how many took at most each of `bounds_s` (one `SUM`
    per bound), how many in all and their sum: one aggregate query, whatever the jobs."""
    timed = Job.duration_s.is_not(None)
    within = [func.sum(case((Job.duration_s <= bound, 1), else_=0)) for bound in bounds_s]
    rows = session.execute(
        select(Job.status, func.count(), func.sum(Job.duration_s), *within)
        .where(timed)
        .group_by(Job.status)
    ).all()
    return {
        row[0]: Durations(
            within=tuple(int(n or 0) for n in row[3:]),
            count=int(row[1]),
            sum_s=float(row[2] or 0.0),
        )
        for row in rows
    }

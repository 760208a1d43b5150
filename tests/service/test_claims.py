"""Claims by concurrent dispatchers (`service.store.claims`), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from service.core.db import Job
from service.store import claims
from tests.service.utils.store import add_job, committed


def claim_all(engine: Engine, dispatchers: int, bound: int | None = None) -> list[list[str]]:
    """Each of `dispatchers` threads claims until nothing is left; the ids each one got."""
    barrier = threading.Barrier(dispatchers)

    def dispatcher(index: int) -> list[str]:
        barrier.wait(timeout=30)
        got = []
        while (job := committed(engine, claims.claim_next, f"d{index}", bound)) is not None:
            got.append(job.id)
        return got

    with ThreadPoolExecutor(max_workers=dispatchers) as pool:
        return list(pool.map(dispatcher, range(dispatchers)))


def test_concurrent_dispatchers_never_claim_one_job_twice(engine: Engine) -> None:
    queued = {add_job(engine, owner=f"owner{i % 5}") for i in range(60)}
    got = claim_all(engine, dispatchers=6)
    claimed = [job_id for ids in got for job_id in ids]
    assert sorted(claimed) == sorted(queued)  # each one once, none left behind
    with Session(engine) as session:
        rows = session.scalars(select(Job)).all()
    assert {(job.status, job.attempts) for job in rows} == {("running", 1)}
    assert {job.id: job.dispatcher_id for job in rows} == {
        job_id: f"d{index}" for index, ids in enumerate(got) for job_id in ids
    }


def test_concurrent_bounded_claims_hold_each_keys_bound(engine: Engine) -> None:
    for i in range(30):
        add_job(engine, owner=f"owner{i % 3}")
    claimed = [job_id for ids in claim_all(engine, dispatchers=6, bound=2) for job_id in ids]
    assert len(claimed) == len(set(claimed)) == 6
    with Session(engine) as session:
        running = session.execute(
            select(Job.owner, func.count()).where(Job.status == "running").group_by(Job.owner)
        ).all()
    assert dict(running) == {"owner0": 2, "owner1": 2, "owner2": 2}


def test_a_claim_skips_the_row_another_claim_has_locked(engine: Engine) -> None:
    """PostgreSQL: while one dispatcher's claim is not committed yet, another takes the next
    job at once (`SKIP LOCKED`) instead of waiting for the first one's row."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks: one writer at a time")
    first, second = add_job(engine), add_job(engine)
    with Session(engine) as holding:
        held = claims.claim_next(holding, "d1")
        assert held is not None and held.id == first
        with Session(engine) as other:
            other.execute(select(func.set_config("lock_timeout", "5s", True)))
            taken = claims.claim_next(other, "d2")
            assert taken is not None and taken.id == second
            other.commit()
        holding.commit()
    assert committed(engine, claims.claim_next, "d3") is None

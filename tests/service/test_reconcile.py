"""Recovery without Ray: rows left running by dead dispatchers, fenced writes, the claim."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from service import Settings
from service.core.db import Dispatcher as DispatcherRow
from service.core.db import utcnow
from service.jobs.dispatch import Dispatcher
from service.jobs.tasks import run_job
from service.store import claims, dispatchers, lifecycle
from service.store import jobs as job_store
from service.store.locks import new_id
from tests.service.utils.jobs import row
from tests.service.utils.store import add_job, committed


def queued_job(engine: Engine, max_attempts: int = 3) -> str:
    return add_job(engine, spec={"model": "mlp"}, max_attempts=max_attempts)


def dead_dispatcher(engine: Engine, *, pid: int = 2**22 + 1, age_s: float = 0) -> str:
    """A dispatcher row on this host whose process does not exist (pid beyond pid_max)."""
    dispatcher_id = new_id()
    committed(engine, dispatchers.register_dispatcher, dispatcher_id, socket.gethostname(), pid)
    with Session(engine) as session:
        session.execute(
            update(DispatcherRow)
            .where(DispatcherRow.id == dispatcher_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=age_s))
        )
        session.commit()
    return dispatcher_id


def test_claim_takes_the_oldest_once(engine: Engine) -> None:
    first, second = queued_job(engine), queued_job(engine)
    claimed = committed(engine, claims.claim_next, "d1")
    assert claimed is not None and claimed.id == first
    assert claimed.status == "running" and claimed.attempts == 1
    assert committed(engine, claims.claim_next, "d2").id == second  # type: ignore[union-attr]
    assert committed(engine, claims.claim_next, "d3") is None


def test_writes_of_an_old_attempt_are_ignored(engine: Engine) -> None:
    job_id = queued_job(engine)
    committed(engine, claims.claim_next, "d1")
    assert committed(engine, lifecycle.retry_or_fail, job_id, 1, "lost") == "queued"
    committed(engine, claims.claim_next, "d2")  # attempt 2
    assert not committed(
        engine,
        lifecycle.record_progress,
        job_id,
        1,
        steps_done=5,
        phase="range_test",
        lr=0.1,
        loss=1.0,
        smoothed_loss=1.0,
    )
    assert not committed(engine, lifecycle.record_success, job_id, 1, {"stale": True})
    assert committed(
        engine,
        lifecycle.record_progress,
        job_id,
        2,
        steps_done=3,
        phase="range_test",
        lr=0.1,
        loss=1.0,
        smoothed_loss=1.0,
    )
    current = row(engine, job_id)
    assert (current.status, current.attempts, current.steps_done) == ("running", 2, 3)
    assert current.error == "Attempt 1 of 3 was lost: lost"


def test_dead_dispatchers_jobs_are_requeued_at_start_up(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    job_id = queued_job(engine)
    committed(engine, claims.claim_next, dead_dispatcher(engine))
    dispatcher = Dispatcher(make_settings(dispatcher_timeout_s=3600), engine)
    committed(
        engine, dispatchers.register_dispatcher, dispatcher.id, dispatcher.host, dispatcher.pid
    )
    dispatcher.reconcile()  # what open() does at start-up, before claiming
    job = row(engine, job_id)
    assert job.status == "queued"
    assert job.attempts == 1
    assert "stopped" in (job.error or "")


def test_silent_dispatcher_on_another_host_is_presumed_dead(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    job_id = queued_job(engine)
    fresh, stale = new_id(), new_id()
    committed(engine, dispatchers.register_dispatcher, fresh, "other-host", 1)
    committed(engine, dispatchers.register_dispatcher, stale, "other-host", 1)
    with Session(engine) as session:
        session.execute(
            update(DispatcherRow)
            .where(DispatcherRow.id == stale)
            .values(heartbeat_at=utcnow() - timedelta(seconds=60))
        )
        session.commit()
    other_job = queued_job(engine)
    committed(engine, claims.claim_next, fresh)
    committed(engine, claims.claim_next, stale)
    Dispatcher(make_settings(dispatcher_timeout_s=30), engine).reconcile()
    assert row(engine, job_id).status == "running"  # its dispatcher is alive
    assert row(engine, other_job).status == "queued"


def test_last_attempt_lost_fails_with_the_reason(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    job_id = queued_job(engine, max_attempts=2)
    for _ in range(2):
        committed(engine, claims.claim_next, dead_dispatcher(engine))
        Dispatcher(make_settings(), engine).reconcile()
    job = row(engine, job_id)
    assert job.status == "failed"
    assert job.attempts == 2
    assert job.error is not None and job.error.startswith("Gave up after 2 attempts: ")
    assert job.failure_kind == "infrastructure"
    assert job.finished_at is not None


def test_cancel_requested_on_a_lost_job_ends_cancelled(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    job_id = queued_job(engine)
    committed(engine, claims.claim_next, dead_dispatcher(engine))
    with Session(engine) as session:
        job_store.request_cancel(session, "owner", job_id)
    Dispatcher(make_settings(), engine).reconcile()
    assert row(engine, job_id).status == "cancelled"


def test_clean_release_does_not_charge_an_attempt(engine: Engine) -> None:
    job_id = queued_job(engine)
    committed(engine, claims.claim_next, "d1")
    committed(engine, lifecycle.release, job_id, 1)
    job = row(engine, job_id)
    assert (job.status, job.attempts, job.dispatcher_id) == ("queued", 0, None)


def test_a_lost_last_attempt_is_classified_as_infrastructure(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    job_id = queued_job(engine, max_attempts=1)
    committed(engine, claims.claim_next, dead_dispatcher(engine))
    Dispatcher(make_settings(), engine).reconcile()
    job = row(engine, job_id)
    assert (job.status, job.failure_kind) == ("failed", "infrastructure")


def test_a_deterministic_failure_fails_once_with_its_kind(
    engine: Engine, make_settings: Callable[..., Settings]
) -> None:
    job_id = queued_job(engine)
    committed(engine, claims.claim_next, "d1")
    # A spec the job cannot even parse: the same input would fail every time.
    ended = run_job(job_id, 1, make_settings().database_url, "find_lr", {"bogus": 1}, 0.05)
    assert ended["status"] == "failed" and ended["kind"] == "input"
    assert "bogus" in str(ended["reason"])
    job = row(engine, job_id)
    assert (job.status, job.attempts, job.failure_kind) == ("failed", 1, "input")
    assert job.error == ended["reason"]


def test_an_unreachable_database_is_returned_for_a_retry() -> None:
    # Nothing listens on port 1: the job cannot record its start; the dispatcher will retry.
    ended = run_job("x", 1, "postgresql://nobody@127.0.0.1:1/none", "find_lr", {}, 0.05)
    assert ended["status"] == "retry" and ended["kind"] == "infrastructure"
    assert "OperationalError" in str(ended["reason"])

"""Submissions under a storm, without Ray: idempotency keys, the queue's bounds (429 with
Retry-After), and the per-key running bound at the claim."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from service.core.db import IdempotencyKey, Job, utcnow
from service.store import claims, lifecycle
from tests.service.utils.jobs import KEY_A, KEY_B, auth, quick_job, quick_tune
from tests.service.utils.store import add_job, committed

T = TypeVar("T")


def post(
    client: TestClient,
    body: dict[str, Any],
    *,
    key: str = KEY_A,
    idempotency_key: str | None = None,
    path: str = "/find-lr",
) -> httpx.Response:
    headers = auth(key)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(path, json=body, headers=headers)


def at_once(count: int, call: Callable[[int], T]) -> list[T]:
    """`call(i)` for i in range(count), all released together from `count` threads."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        barrier.wait(timeout=30)
        return call(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def stored_jobs(client: TestClient) -> int:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def refusals(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics", headers=auth()).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {s.labels["reason"]: s.value for s in families["finder_refusals"].samples}


# --- idempotency -----------------------------------------------------------------------------


def test_concurrent_retries_with_one_key_make_one_job(client: TestClient) -> None:
    responses = at_once(50, lambda _: post(client, quick_job(), idempotency_key="retry-1"))
    assert [r.status_code for r in responses] == [202] * 50, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 49
    assert {r.headers["location"] for r in responses} == {f"/jobs/{responses[0].json()['id']}"}
    assert stored_jobs(client) == 1


def test_a_retry_returns_the_original_job_and_another_body_is_409(client: TestClient) -> None:
    first = post(client, quick_job(), idempotency_key="order-7")
    assert first.status_code == 202 and "idempotent-replayed" not in first.headers
    # The same request spelled differently (key order, defaults written out) is the same body.
    spelled = dict(reversed(list(quick_job(seed=0, loss=None).items())))
    again = post(client, spelled, idempotency_key="order-7")
    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"

    other = post(client, quick_job(seed=1), idempotency_key="order-7")
    assert other.status_code == 409
    assert other.json()["detail"].startswith("Idempotency-Key 'order-7' was already used")
    assert first.json()["id"] in other.json()["detail"]
    # Another route with the same key is another request too.
    assert post(client, quick_tune(), idempotency_key="order-7", path="/tune").status_code == 409
    # Keys belong to one API key: another key's "order-7" is its own.
    theirs = post(client, quick_job(), key=KEY_B, idempotency_key="order-7")
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]
    # Without a key, every POST is a new job.
    assert post(client, quick_job()).json()["id"] != first.json()["id"]
    assert stored_jobs(client) == 3
    assert refusals(client)["idempotency_conflict"] == 2


def test_tune_is_idempotent_too(client: TestClient) -> None:
    first = post(client, quick_tune(), idempotency_key="tune-1", path="/tune")
    again = post(client, quick_tune(), idempotency_key="tune-1", path="/tune")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"] and again.json()["kind"] == "tune"


def test_keys_hold_across_restarts_and_expire(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    first = post(make_client(), quick_job(), idempotency_key="k")
    restarted = make_client()  # another API process on the same database
    assert post(restarted, quick_job(), idempotency_key="k").json()["id"] == first.json()["id"]
    with Session(engine) as session:
        session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, seconds=1))
        )
        session.commit()
    # Past 24 h the key is forgotten: the same key starts a new job, and is remembered again.
    fresh = post(restarted, quick_job(seed=5), idempotency_key="k")
    assert fresh.status_code == 202 and fresh.json()["id"] != first.json()["id"]
    assert (
        post(restarted, quick_job(seed=5), idempotency_key="k").json()["id"] == fresh.json()["id"]
    )


def test_malformed_idempotency_keys_are_422(client: TestClient) -> None:
    for key in ("", "has space", "x" * 256):
        assert post(client, quick_job(), idempotency_key=key).status_code == 422, key


# --- the queue's bounds ----------------------------------------------------------------------


def test_a_storm_against_the_per_key_bound_makes_exactly_the_bound(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_queued_per_key=20, retry_after_s=7)
    responses = at_once(60, lambda i: post(client, quick_job(seed=i)))
    codes = [r.status_code for r in responses]
    assert sorted(set(codes)) == [202, 429], codes
    assert codes.count(202) == 20
    for response in (r for r in responses if r.status_code == 429):
        assert response.headers["retry-after"] == "7"
        assert response.json() == {
            "detail": "This key has 20 jobs queued, the most one key may have "
            "(FINDER_MAX_QUEUED_PER_KEY=20); retry once some have started.",
            "limit": "max_queued_per_key",
            "value": 20,
        }
    assert stored_jobs(client) == 20
    accepted = {r.json()["id"] for r in responses if r.status_code == 202}
    listed = client.get("/jobs", params={"limit": 100}, headers=auth()).json()
    assert {job["id"] for job in listed["data"]} == accepted
    assert refusals(client)["max_queued_per_key"] == 40
    # Another key is not refused by this key's bound.
    assert post(client, quick_job(), key=KEY_B).status_code == 202


def test_the_overall_bound_and_a_retry_when_full(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_queued_jobs=3, max_queued_per_key=2)
    kept = post(client, quick_job(), idempotency_key="a")
    assert post(client, quick_job(seed=1)).status_code == 202
    assert post(client, quick_job(seed=2), key=KEY_B).status_code == 202
    full = post(client, quick_job(seed=3), key=KEY_B)
    assert full.status_code == 429
    assert full.json()["limit"] == "max_queued_jobs" and full.json()["value"] == 3
    assert full.headers["retry-after"] == "5"
    # A key at its own bound hears about that one first.
    assert post(client, quick_job(seed=4)).json()["limit"] == "max_queued_per_key"
    # A retry of a job that was accepted is answered, full queue or not.
    retry = post(client, quick_job(), idempotency_key="a")
    assert retry.status_code == 202 and retry.json()["id"] == kept.json()["id"]
    # A started (or cancelled) job frees its place.
    assert client.post(f"/jobs/{kept.json()['id']}/cancel", headers=auth()).status_code == 202
    assert post(client, quick_job(seed=3), key=KEY_B).status_code == 202
    assert refusals(client) == {
        "max_queued_jobs": 1,
        "max_queued_per_key": 1,
        "upload_quota_mb": 0,
        "idempotency_conflict": 0,
        "draining": 0,
    }


# --- the per-key running bound, at the claim -------------------------------------------------


def queued(engine: Engine, owner: str) -> str:
    return add_job(engine, owner=owner, steps_total=1)


def test_a_key_at_its_running_bound_does_not_block_another_keys_job(engine: Engine) -> None:
    busy = [queued(engine, "busy") for _ in range(4)]
    other = queued(engine, "other")  # queued after every job of "busy"

    claimed = [committed(engine, claims.claim_next, "d1", max_running_per_key=2) for _ in range(3)]
    assert [job.id for job in claimed if job] == [busy[0], busy[1], other]
    # "busy" runs two: its next jobs wait, and nothing else is queued.
    assert committed(engine, claims.claim_next, "d1", max_running_per_key=2) is None
    # One of its jobs ends: the next one is claimed.
    assert committed(engine, lifecycle.record_success, busy[0], 1, {})
    assert committed(engine, claims.claim_next, "d2", max_running_per_key=2).id == busy[2]  # type: ignore[union-attr]
    assert committed(engine, claims.claim_next, "d2", max_running_per_key=2) is None
    # Without the bound, the oldest job goes first whoever owns it.
    assert committed(engine, claims.claim_next, "d3").id == busy[3]  # type: ignore[union-attr]


def test_concurrent_claims_do_not_overshoot_a_keys_running_bound(engine: Engine) -> None:
    for _ in range(6):
        queued(engine, "one")
    claimed = [
        job
        for job in at_once(6, lambda i: committed(engine, claims.claim_next, f"d{i}", 2))
        if job is not None
    ]
    assert len(claimed) == 2
    with Session(engine) as session:
        running = session.scalar(select(func.count()).where(Job.status == "running"))
    assert running == 2


def test_a_storm_of_500_makes_20_jobs_and_each_ends_once(
    make_client: Callable[..., TestClient], monkeypatch: Any
) -> None:
    """500 submissions at once against a queue bound of 20: 20 jobs and 480 answers of 429 with
    `Retry-After`, no 5xx; then every accepted job is claimed and run to its end exactly once
    (claims and records as the dispatcher makes them, in this process, with a stand-in runner:
    the state machine is under test here, not training)."""
    from service.jobs import tasks

    client = make_client(max_queued_jobs=20, max_queued_per_key=500)
    responses = at_once(500, lambda i: post(client, quick_job(seed=i)))
    codes = [r.status_code for r in responses]
    assert codes.count(202) == 20 and codes.count(429) == 480, sorted(set(codes))
    assert all(r.headers.get("retry-after") for r in responses if r.status_code == 429)
    accepted = {r.json()["id"] for r in responses if r.status_code == 202}

    ran: list[str] = []
    monkeypatch.setitem(tasks.RUNNERS, "find_lr", lambda spec, sweep: ran.append("run") or {})
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    while (job := committed(engine, claims.claim_next, "storm")) is not None:
        ended = tasks.attempt_job(engine, job.id, job.attempts, job.kind, job.spec, 1.0)
        assert ended["status"] == "succeeded", ended
    assert len(ran) == 20
    with Session(engine) as session:
        jobs = session.scalars(select(Job)).all()
    assert {job.id for job in jobs} == accepted
    assert {(job.status, job.attempts) for job in jobs} == {("succeeded", 1)}

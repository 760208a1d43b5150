"""The graceful drain (service/drain.py): on SIGTERM no new job is taken (503 + Retry-After),
running jobs get FINDER_DRAIN_GRACE_S to finish, what still runs then goes back to the queue
with its attempts unchanged, and a restart runs it to the end."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from service.core.db import Job, normalize_url
from service.jobs.dispatch import Dispatcher, InFlight
from service.store import claims as store_claims
from tests.service.utils.jobs import TERMINAL, auth, quick_job, submit
from tests.service.utils.servers import Server
from tests.utils.processes import wait_for

# An MLP range test of a few seconds once TensorFlow is imported: long enough to outlast a
# 1 s grace, short enough to run to the end after the restart (stable LRs: no early stop).
DRAINED_JOB = quick_job(range={"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 1500})


def assert_draining_refusal(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    body = response.json()
    assert body["limit"] == "draining"
    assert "draining" in body["detail"]


def refusals(metrics: str, reason: str) -> int:
    prefix = f'finder_refusals_total{{reason="{reason}"}} '
    lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, metrics
    return int(float(lines[0][len(prefix) :]))  # the exposition writes counts as floats


def test_while_draining_submissions_are_503_and_reads_still_work(client: TestClient) -> None:
    queued = submit(client, quick_job())
    assert refusals(client.get("/metrics", headers=auth()).text, "draining") == 0
    client.app.state.drain.begin()  # type: ignore[attr-defined]  # what SIGTERM starts

    for path in ("/find-lr", "/tune"):
        assert_draining_refusal(client.post(path, json=quick_job(), headers=auth()))
    assert client.get(f"/jobs/{queued}", headers=auth()).json()["status"] == "queued"
    assert client.get("/jobs", headers=auth()).json()["count"] == 1
    health = client.get("/healthz")
    assert (health.status_code, health.json()["status"]) == (503, "draining")
    assert refusals(client.get("/metrics", headers=auth()).text, "draining") == 2
    # Cancelling and deleting stay possible.
    assert client.post(f"/jobs/{queued}/cancel", headers=auth()).status_code == 202
    assert client.delete(f"/jobs/{queued}", headers=auth()).status_code == 204


@pytest.mark.parametrize(
    ("grace_s", "task_ends_after_s", "loop_ends_after_s"),
    [(5.0, 0.3, 0.3), (0.3, None, 0.3)],
    ids=["task-ends-within-grace", "grace-over"],
)
def test_a_draining_dispatcher_claims_nothing_and_waits_out_its_jobs(
    make_settings: Any,
    engine: Any,
    monkeypatch: pytest.MonkeyPatch,
    grace_s: float,
    task_ends_after_s: float | None,
    loop_ends_after_s: float,
) -> None:
    """The loop's drain alone (no Ray): no claim; the loop ends when its last task does, or
    when the grace is over with a task still running (`stop()` hands that one back)."""
    claims: list[str] = []
    monkeypatch.setattr(store_claims, "claim_next", lambda *args: claims.append("claim"))
    dispatcher = Dispatcher(make_settings(poll_interval_s=0.01), engine)
    dispatcher.inflight["job"] = InFlight("job", 1, ref=None, submitted=time.monotonic())
    signalled = time.monotonic()

    def tick() -> None:
        if task_ends_after_s is not None and time.monotonic() - signalled >= task_ends_after_s:
            dispatcher.inflight.clear()  # what collect() does once the task has ended
        dispatcher.claim()

    dispatcher.tick = tick  # type: ignore[method-assign]
    dispatcher.drain(grace_s)
    thread = threading.Thread(target=dispatcher.loop)
    thread.start()
    assert dispatcher.drained.wait(10)
    took = time.monotonic() - signalled
    thread.join()
    assert loop_ends_after_s <= took < loop_ends_after_s + 2, took
    assert claims == []


def stored(database_url: str, job_id: str) -> Any:
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as connection:
            return connection.execute(select(Job).where(Job.id == job_id)).one()
    finally:
        engine.dispose()


def wait_progress(server: Server, job_id: str) -> None:
    def progressing() -> bool:
        document = server.request("GET", f"/jobs/{job_id}").json()
        assert document["status"] not in TERMINAL, document
        return bool(document["progress"]["steps_done"] > 0)

    wait_for(progressing, 120, "the job to make progress", every=0.05)


def drain(server: Server, job_id: str) -> float:
    """SIGTERM while the job runs: no new job, the job still readable; the server exits as
    uvicorn does on SIGTERM. Returns the seconds from the signal to the exit."""
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    assert_draining_refusal(server.request("POST", "/find-lr", json=quick_job()))
    assert server.request("GET", f"/jobs/{job_id}").status_code == 200
    assert server.process.wait(timeout=120) == -signal.SIGTERM
    assert "Traceback" not in server.log.read_text()
    return time.monotonic() - signalled


def follow(server: Server, job_id: str) -> None:
    """Read the job's /events stream until the server closes it."""
    url = f"{server.url}/jobs/{job_id}/events"
    with httpx.stream("GET", url, headers=auth(), timeout=None) as response:
        assert response.status_code == 200
        for _ in response.iter_lines():
            pass


# slow: two `finder serve` with their Ray, two job processes importing TensorFlow (~45 s).
@pytest.mark.slow
def test_sigterm_hands_a_running_job_back_then_lets_one_finish(
    serve: Any, database_url: str
) -> None:
    # A 1 s grace, far shorter than the job: it goes back to the queue, attempts unchanged.
    first: Server = serve(env={"FINDER_DRAIN_GRACE_S": "1"})
    response = first.request("POST", "/find-lr", json=DRAINED_JOB)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    wait_progress(first, job_id)
    # A client following the job: its stream ends when the drain does (uvicorn would wait for
    # it before stopping, and it would last as long as the job).
    stream = threading.Thread(target=follow, args=(first, job_id), daemon=True)
    stream.start()
    assert drain(first, job_id) < 30
    stream.join(timeout=10)
    assert not stream.is_alive()
    row = stored(database_url, job_id)
    assert (row.status, row.attempts, row.dispatcher_id) == ("queued", 0, None), row.error

    # Restarted with a grace longer than the job: it runs to the end during the drain (its
    # first counted attempt), and the server stops as soon as it has, not after the grace.
    second: Server = serve(env={"FINDER_DRAIN_GRACE_S": "600"})
    wait_progress(second, job_id)
    assert drain(second, job_id) < 300
    row = stored(database_url, job_id)
    assert (row.status, row.attempts) == ("succeeded", 1), row.error


# slow: a `finder worker` with its Ray and a job process importing TensorFlow (15-35 s on 2
# busy cores).
@pytest.mark.slow
def test_a_worker_drains_on_sigterm_too(serve: Any, database_url: str) -> None:
    api: Server = serve("serve", "--no-dispatcher", "--log-level", "warning")
    response = api.request("POST", "/find-lr", json=DRAINED_JOB)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    worker: Server = serve("worker", wait=False)  # a 1 s grace (service_env)
    wait_progress(api, job_id)
    worker.process.send_signal(signal.SIGTERM)
    # Submitted while the worker drains: it has room for a second job, but claims no more.
    later = api.request("POST", "/find-lr", json=quick_job()).json()["id"]
    assert worker.process.wait(timeout=60) == 0
    row = stored(database_url, job_id)
    assert (row.status, row.attempts, row.dispatcher_id) == ("queued", 0, None), row.error
    assert (stored(database_url, later).status, stored(database_url, later).attempts) == (
        "queued",
        0,
    )

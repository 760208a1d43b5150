"""`finder serve` as it runs in production, killed and restarted around a running job."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from service.core.db import Job, normalize_url
from tests.service.utils.jobs import TERMINAL, long_job
from tests.service.utils.servers import Server
from tests.utils.processes import descendants, process_alive, wait_for


def stored(database_url: str, job_id: str) -> Job:
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as connection:
            return connection.execute(select(Job).where(Job.id == job_id)).one()  # type: ignore[return-value]
    finally:
        engine.dispose()


def submit_and_wait_progress(server: Server, body: dict[str, Any]) -> str:
    response = server.request("POST", "/find-lr", json=body)
    assert response.status_code == 202, response.text
    job_id = str(response.json()["id"])

    def progressing() -> bool:
        document = server.request("GET", f"/jobs/{job_id}").json()
        assert document["status"] not in TERMINAL, document
        return bool(document["progress"]["steps_done"] > 0)

    wait_for(progressing, 120, "the job to make progress")
    return job_id


# slow: two service processes and a 600-step job (~50 s on 2 cores).
@pytest.mark.slow
def test_restart_mid_job_ends_the_job(serve: Any, database_url: str) -> None:
    first = serve()
    # 600 steps of fashion_cnn (20-60 s on 2 cores, beside the second job): long enough that
    # the job process, orphaned by the kill, is ended by the server's reaper (within ~2.5 s,
    # service/jobs/reaper.py) before it could finish and record attempt 1's success; short enough
    # that its retry ends well inside the wait below on a loaded machine.
    job_id = submit_and_wait_progress(
        first, long_job(range={"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 600})
    )
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert stored(database_url, job_id).status == "running"  # left behind by the dead process

    second = serve()
    # Submitted at once, so that it runs beside the retry of the first job.
    other = second.request(
        "POST",
        "/find-lr",
        json=long_job(range={"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 10_000}),
    ).json()["id"]

    def ended() -> dict[str, Any] | None:
        document = second.request("GET", f"/jobs/{job_id}").json()
        return document if document["status"] in TERMINAL else None

    document = wait_for(ended, 360, "the job to end after the restart", every=0.25)
    assert document["status"] == "succeeded", document["error"]
    assert document["attempts"] == 2

    # A clean stop (SIGTERM) drains (a 1 s grace here, service_env), then hands the running
    # job back to the queue without using an attempt.
    def progressing() -> bool:
        document = second.request("GET", f"/jobs/{other}").json()
        assert document["status"] not in TERMINAL, document
        return bool(document["progress"]["steps_done"] > 0)

    wait_for(progressing, 120, "the second job to make progress")
    # uvicorn shuts down gracefully, then re-raises the signal: the exit status says SIGTERM.
    assert second.stop(signal.SIGTERM) == -signal.SIGTERM
    row = stored(database_url, other)
    assert (row.status, row.attempts, row.dispatcher_id) == ("queued", 0, None)
    assert "Traceback" not in second.log.read_text()


@pytest.mark.slow  # ~30 s each: a real `finder serve`, its Ray, and a job process
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_no_ray_process_outlives_the_server(serve: Any, sig: signal.Signals) -> None:
    server = serve()
    submit_and_wait_progress(server, long_job())
    tree = descendants(server.process.pid)
    names = {pid: command_of(pid) for pid in tree}
    # The embedded Ray's processes, and the job's; the two agents outlived the server before.
    for part in ("raylet", "gcs_server", "DashboardAgent", "RuntimeEnvAgent", "finder-job"):
        assert any(part in name for name in names.values()), (part, names)
    server.stop(sig)

    def all_gone() -> bool:
        return not any(process_alive(pid) for pid in tree)

    wait_for(all_gone, 30, f"every process of the server to end after {sig.name}")


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""

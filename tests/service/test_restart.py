"""`finder serve` as it runs in production, killed and restarted around a running job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from service.db import Job, normalize_url
from tests.service.conftest import LOOPBACK_RAY_VAR
from tests.service.utils.jobs import KEY_A, TERMINAL, auth, quick_job
from tests.service.utils.processes import (
    descendants,
    free_port,
    kill_leftovers,
    wait_for,
    wait_http_ok,
)

FINDER = str(Path(sys.executable).parent / "finder")


class Server:
    """One `finder serve` process and everything it started."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = int(env["FINDER_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [FINDER, "serve", "--log-level", "warning"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.tree: set[int] = set()

    def wait_ready(self) -> None:
        wait_http_ok(f"{self.url}/healthz", self.process, timeout=120)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", headers=auth(), timeout=10, **kwargs)

    def stop(self, sig: signal.Signals) -> int:
        self.tree |= descendants(self.process.pid)
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def clean_up(self) -> None:
        if self.process.poll() is None:
            self.stop(signal.SIGKILL)
        kill_leftovers(self.tree)


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []
    env = {
        **os.environ,
        "FINDER_DATABASE_URL": database_url,
        "FINDER_DATA_DIR": str(tmp_path / "data"),
        "FINDER_API_KEYS": KEY_A,
        "FINDER_RAY_NUM_CPUS": "2",
        "FINDER_POLL_INTERVAL_S": "0.1",
        "FINDER_PROGRESS_INTERVAL_S": "0.05",
        # Long: a restart on the same host must notice the dead process, not wait this out.
        "FINDER_DISPATCHER_TIMEOUT_S": "600",
        LOOPBACK_RAY_VAR: "0",
    }

    def start() -> Server:
        server = Server({**env, "FINDER_PORT": str(free_port())}, tmp_path / "serve.log")
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.clean_up()


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


def test_restart_mid_job_ends_the_job(serve: Any, database_url: str) -> None:
    first = serve()
    job_id = submit_and_wait_progress(
        first, quick_job(range={"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 600})
    )
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert stored(database_url, job_id).status == "running"  # left behind by the dead process

    second = serve()

    def ended() -> dict[str, Any] | None:
        document = second.request("GET", f"/jobs/{job_id}").json()
        return document if document["status"] in TERMINAL else None

    document = wait_for(ended, 180, "the job to end after the restart", every=0.25)
    assert document["status"] == "succeeded", document["error"]
    assert document["attempts"] == 2

    # A clean stop (SIGTERM) hands a running job back to the queue without using an attempt.
    other = submit_and_wait_progress(
        second, quick_job(range={"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 3000})
    )
    # uvicorn shuts down gracefully, then re-raises the signal: the exit status says SIGTERM.
    assert second.stop(signal.SIGTERM) == -signal.SIGTERM
    row = stored(database_url, other)
    assert (row.status, row.attempts, row.dispatcher_id) == ("queued", 0, None)
    assert "Traceback" not in second.log.read_text()

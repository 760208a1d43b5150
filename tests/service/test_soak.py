"""Soak: many jobs through a `finder serve` whose job processes and whose own process are
SIGKILLed again and again; every job still ends, once, with one outcome."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from service.core.db import Job, normalize_url
from tests.service.utils.jobs import TERMINAL, quick_job
from tests.service.utils.servers import Server, service_env, start_server

JOBS = 20
SERVER_KILLS = 3
JOB_KILLS = 6
SOAK_TIMEOUT_S = 1200


def rows(database_url: str) -> list[Job]:
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(Job)).all())  # type: ignore[arg-type]
    finally:
        engine.dispose()


def start(database_url: str, root: Path) -> Server:
    env = {
        **service_env(database_url, root / "data"),
        # Enough attempts that the kills below cannot use them all up.
        "FINDER_MAX_ATTEMPTS": str(JOB_KILLS + SERVER_KILLS + 2),
    }
    return start_server(env, root / "service.log", ("serve", "--log-level", "warning"))


def _kill(pid: int) -> bool:
    """SIGKILL `pid`; False when it had already exited (a row not yet updated after its worker
    died with a killed server)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow  # minutes: 20 real range tests, each in a fresh process importing TensorFlow
def test_jobs_survive_repeated_sigkills(database_url: str, tmp_path: Path) -> None:
    rng = random.Random(0)
    servers = [start(database_url, tmp_path)]
    try:
        body = quick_job(range={"min_lr": 1e-4, "max_lr": 1.0, "num_steps": 30})
        ids = {servers[-1].request("POST", "/find-lr", json=body).json()["id"] for _ in range(JOBS)}
        assert len(ids) == JOBS
        # The kills come in a fixed order, one whenever a job is running, so that all of them
        # land while the jobs last; only the victim and the pauses are drawn at random.
        pending = (["job"] * (JOB_KILLS // SERVER_KILLS) + ["server"]) * SERVER_KILLS
        server_kills = job_kills = 0
        deadline = time.monotonic() + SOAK_TIMEOUT_S
        while time.monotonic() < deadline:
            current = rows(database_url)
            if all(job.status in TERMINAL for job in current):
                break
            running = [j for j in current if j.status == "running" and j.worker_pid]
            if pending and running:
                if pending[0] == "server":
                    servers[-1].stop(signal.SIGKILL)
                    servers.append(start(database_url, tmp_path))
                    server_kills += 1
                    pending.pop(0)
                elif _kill(rng.choice(running).worker_pid):
                    job_kills += 1
                    pending.pop(0)
            time.sleep(rng.uniform(1, 3))
        assert (server_kills, job_kills) == (SERVER_KILLS, JOB_KILLS)

        final = {job.id: job for job in rows(database_url)}
        assert set(final) == ids
        for job in final.values():
            # Every job ended, with exactly one outcome: a result, or a reason and no result.
            assert job.status in TERMINAL, (job.id, job.status)
            assert job.finished_at is not None
            if job.status == "succeeded":
                assert job.result is not None and job.error is None
            else:
                assert job.result is None and job.error, (job.id, job.status, job.error)
        assert sum(job.status == "succeeded" for job in final.values()) == JOBS
    finally:
        for server in servers:
            server.clean_up()

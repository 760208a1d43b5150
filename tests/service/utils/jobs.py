"""Request bodies, keys and waits shared by the service tests."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from service.core.db import Job
from tests.utils.processes import wait_for

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-0123456789abcdef"
TERMINAL = {"succeeded", "failed", "cancelled"}


def row(engine: Engine, job_id: str) -> Job:
    """The job's row as stored."""
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def auth(key: str = KEY_A) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def quick_job(**overrides: Any) -> dict[str, Any]:
    """A range test that finishes in a couple of seconds once TensorFlow is imported."""
    body: dict[str, Any] = {
        "model": {"builtin": "mlp"},
        "data": {"builtin": "fashion_mnist_sample"},
        "range": {"min_lr": 1e-4, "max_lr": 10.0, "num_steps": 40},
        "repeats": 1,
        "validation": False,
    }
    body.update(overrides)
    return body


def long_job(**overrides: Any) -> dict[str, Any]:
    """A range test that runs for several seconds (stable LRs, so it does not stop early)."""
    body = quick_job(
        model={"builtin": "fashion_cnn"},
        range={"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 2000},
    )
    body.update(overrides)
    return body


def quick_tune(**tuning: Any) -> dict[str, Any]:
    """A tuning job of a few seconds' training: a short range test, then 2 one-epoch trials."""
    body = quick_job()
    body["tuning"] = {
        "families": ["one_cycle", "constant"],
        "tuner": "random",
        "max_trials": 2,
        "epochs": 1,
        "objective": "val_accuracy",
        **tuning,
    }
    return body


def submit(
    client: TestClient, body: dict[str, Any], key: str = KEY_A, path: str = "/find-lr"
) -> str:
    response = client.post(path, json=body, headers=auth(key))
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def job(client: TestClient, job_id: str, key: str = KEY_A) -> dict[str, Any]:
    response = client.get(f"/jobs/{job_id}", headers=auth(key))
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def wait_status(
    client: TestClient, job_id: str, statuses: set[str], timeout: float = 120
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        document = job(client, job_id)
        if document["status"] in statuses:
            return document
        if document["status"] in TERMINAL:
            raise AssertionError(f"job ended {document['status']}: {document['error']}")
        return None

    return wait_for(reached, timeout, f"job {job_id} to reach {sorted(statuses)}", every=0.2)


def wait_progress(client: TestClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    """Wait until the job's process is running and has recorded at least one step."""

    def started() -> dict[str, Any] | None:
        document = job(client, job_id)
        if document["status"] in TERMINAL:
            raise AssertionError(f"job ended {document['status']} before making progress")
        return document if document["progress"]["steps_done"] > 0 else None

    return wait_for(started, timeout, f"job {job_id} to make progress", every=0.1)


def sse_events(client: TestClient, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every Server-Sent Event of the job's `/events` stream, until it ends."""
    events: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", f"/jobs/{job_id}/events", headers=auth()) as response:
        assert response.status_code == 200
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                assert kind is not None
                events.append((kind, json.loads(line[len("data: ") :])))
    return events


def elapsed(since: float) -> float:
    return time.monotonic() - since

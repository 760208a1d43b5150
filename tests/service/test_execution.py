"""Jobs on a real Ray: results, curves, events, retries after SIGKILL, cancellation.

Every job runs in a fresh job process. The end-to-end tests run real range tests (TensorFlow is
imported each time): a result, an uploaded model and data, a genuine Keras error. The retries,
cancellation and placement run the stub runner (`stub_client`): a real job's progress and
result without training.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from finder.rangetest.result import RangeTestResult, validate
from service.core.db import Job, normalize_url
from tests.service.utils import files
from tests.service.utils.jobs import (
    KEY_B,
    auth,
    long_job,
    quick_job,
    sse_events,
    submit,
    wait_progress,
    wait_status,
)
from tests.utils.processes import process_alive, wait_for
from tests.utils.ray_nodes import RayCluster


def job_row(client: TestClient, job_id: str) -> Job:
    """The job's row as stored (the API does not show the worker's pid)."""
    engine = create_engine(normalize_url(client.app.state.settings.database_url))  # type: ignore[attr-defined]
    try:
        with engine.connect() as connection:
            row = connection.execute(select(Job).where(Job.id == job_id)).one()
    finally:
        engine.dispose()
    return row  # type: ignore[return-value]


def test_end_to_end(running_client: TestClient) -> None:
    client = running_client
    # A range test of stable LRs (it runs all its steps) long enough for the event stream, which
    # polls the job every `EVENT_POLL_S`, to see it along the way: a diverging 40-step one can
    # run its steps between two polls.
    steps = 200
    body = quick_job(model={"builtin": "fashion_cnn"}, validation=True)
    body["range"] = {"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": steps}
    job_id = submit(client, body)
    events = sse_events(client, job_id)

    document = wait_status(client, job_id, {"succeeded"})
    validate(document["result"])
    result = RangeTestResult.from_dict(document["result"])
    assert result.steps_run > 0 and len(result.lrs) == len(result.losses) > 0
    assert document["attempts"] == 1
    assert document["error"] is None
    assert document["progress"]["steps_done"] == document["progress"]["steps_total"] == steps
    assert document["started_at"] <= document["finished_at"]

    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "end" and set(kinds[:-1]) <= {"progress"}
    assert events[-1][1]["status"] == "succeeded"
    done = [data["progress"]["steps_done"] for _, data in events]
    assert done == sorted(done), done
    assert len({s for s in done if 0 < s < steps}) >= 2, done  # progress arrived along the way

    png = client.get(f"/jobs/{job_id}/curve.png", headers=auth())
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    svg = client.get(f"/jobs/{job_id}/curve.svg", headers=auth())
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content

    assert client.get("/healthz").json()["dispatchers"] == 1
    # Read twice more: the second answer comes from the finished-job cache, still per key.
    assert (
        client.get(f"/jobs/{job_id}", headers=auth()).content
        == client.get(f"/jobs/{job_id}", headers=auth()).content
    )
    assert client.get(f"/jobs/{job_id}", headers=auth(KEY_B)).status_code == 404
    finished = client.post(f"/jobs/{job_id}/cancel", headers=auth())
    assert finished.status_code == 409
    assert finished.json() == {"detail": f"Job {job_id} already ended (succeeded)."}


def test_sigkill_is_retried_and_succeeds(stub_client: TestClient) -> None:
    client = stub_client
    job_id = submit(client, quick_job(range={"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 300}))
    wait_progress(client, job_id)
    first_pid = job_row(client, job_id).worker_pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)

    document = wait_status(client, job_id, {"succeeded"})
    assert document["attempts"] == 2
    assert job_row(client, job_id).worker_pid != first_pid
    validate(document["result"])


def test_sigkill_after_the_last_attempt_fails_with_the_reason(
    make_client: Callable[..., TestClient], ray_cluster: RayCluster, stub_runner: None
) -> None:
    client = make_client(run_dispatcher=True, max_attempts=1)
    job_id = submit(client, long_job())
    wait_progress(client, job_id)
    os.kill(job_row(client, job_id).worker_pid, signal.SIGKILL)

    document = wait_status(client, job_id, {"failed"})
    assert document["attempts"] == 1
    assert document["error"].startswith("Gave up after 1 attempt: the job's process died")
    assert document["failure_kind"] == "infrastructure"
    assert document["result"] is None


def test_cancel_a_running_job_stops_its_process(stub_client: TestClient) -> None:
    client = stub_client
    job_id = submit(client, long_job())
    wait_progress(client, job_id)
    pid = job_row(client, job_id).worker_pid
    assert pid is not None and process_alive(pid)

    response = client.post(f"/jobs/{job_id}/cancel", headers=auth())
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True

    document = wait_status(client, job_id, {"cancelled"}, timeout=10)
    assert document["error"] == "Cancelled by the caller."
    wait_for(lambda: not process_alive(pid), 10, f"job process {pid} to exit")
    again = client.post(f"/jobs/{job_id}/cancel", headers=auth())  # idempotent
    assert again.status_code == 202 and again.json()["status"] == "cancelled"


def test_a_bad_request_fails_once_with_the_library_message(running_client: TestClient) -> None:
    job_id = submit(running_client, quick_job(loss="not_a_loss"))
    document = wait_status(running_client, job_id, {"failed"})
    assert document["attempts"] == 1  # the same input would fail again: no retry
    assert "not_a_loss" in document["error"]
    assert document["failure_kind"] == "input"


def test_uploaded_model_and_data_with_a_plan(running_client: TestClient, tmp_path: Path) -> None:
    client = running_client

    def upload(kind: str, path: Path) -> str:
        with path.open("rb") as handle:
            response = client.post(
                f"/uploads/{kind}", files={"file": (path.name, handle)}, headers=auth()
            )
        assert response.status_code == 201, response.text
        return str(response.json()["upload_id"])

    model_id = upload("models", files.tiny_model_keras(tmp_path / "tiny.keras"))
    data_id = upload("datasets", files.tiny_dataset_npz(tmp_path / "toy.npz"))
    job_id = submit(
        client,
        quick_job(
            model={"upload_id": model_id},
            data={"upload_id": data_id},
            optimizer={"name": "sgd", "settings": {"momentum": 0.9}},
            batch_size=32,
            plan={"epochs": 5},
        ),
    )
    result = wait_status(client, job_id, {"succeeded"})["result"]
    validate(result)
    assert result["optimizer"]["config"]["momentum"] == 0.9
    assert result["metadata"]["dataset"]["train_samples"] == 256
    assert result["proposals"], "a plan asks for schedule proposals"


def test_concurrent_jobs_use_every_node(stub_client: TestClient, ray_cluster: RayCluster) -> None:
    client = stub_client
    body = quick_job(range={"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 3000})
    job_ids = [submit(client, body), submit(client, body)]
    for job_id in job_ids:
        wait_progress(client, job_id)
    nodes = [job_row(client, job_id).node_id for job_id in job_ids]
    for job_id in job_ids:
        client.post(f"/jobs/{job_id}/cancel", headers=auth())
    assert set(nodes) <= set(ray_cluster.node_ids)
    # Two 1-CPU jobs: on the 2-node cluster (1 CPU per node) they must run on different nodes.
    assert len(set(nodes)) == len(ray_cluster.node_ids), (nodes, ray_cluster)
    for job_id in job_ids:
        wait_status(client, job_id, {"cancelled"}, timeout=30)

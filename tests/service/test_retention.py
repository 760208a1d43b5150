"""Deleting jobs and uploads, the retention sweep, the upload quota and idempotent uploads
(without Ray: jobs stay queued, or their rows are moved on directly)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from service import Settings
from service.core.db import IdempotencyKey, Job, Upload, utcnow
from service.core.errors import NotFoundError
from service.jobs import dispatch, retention
from service.jobs.dispatch import Dispatcher, InFlight
from service.store import claims, lifecycle, submissions
from tests.service.utils import files
from tests.service.utils.jobs import KEY_B, auth, quick_job, submit
from tests.service.utils.store import committed
from tests.utils.processes import wait_for

WEEK = timedelta(days=7)


def upload(
    client: TestClient, path: Path, key: str | None = None, kind: str = "datasets"
) -> httpx.Response:
    headers = auth()
    if key is not None:
        headers["Idempotency-Key"] = key
    with path.open("rb") as handle:
        return client.post(
            f"/uploads/{kind}",
            files={"file": (path.name, handle, "application/octet-stream")},
            headers=headers,
        )


def engine_of(client: TestClient) -> Engine:
    return client.app.state.engine  # type: ignore[attr-defined,no-any-return]


def settings_of(client: TestClient) -> Settings:
    return client.app.state.settings  # type: ignore[attr-defined,no-any-return]


def curve_file(client: TestClient, job_id: str) -> Path:
    """A rendered curve of the job, as GET /jobs/{id}/curve.png leaves one."""
    path = settings_of(client).results_dir / job_id / "curve.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG")
    return path


def finish(engine: Engine, job_id: str, *, ago: timedelta = timedelta(0)) -> None:
    """Mark a job succeeded `ago` in the past."""
    when = utcnow() - ago
    with Session(engine) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="succeeded", result="{}", finished_at=when, updated_at=when)
        )
        session.commit()


def stored_uploads(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(Upload.id)).all())


# --- DELETE ----------------------------------------------------------------------------------


def test_delete_removes_the_job_its_rows_and_its_files(client: TestClient) -> None:
    headers = {**auth(), "Idempotency-Key": "del-1"}
    job_id = client.post("/find-lr", json=quick_job(), headers=headers).json()["id"]
    finish(engine_of(client), job_id)
    curve = curve_file(client, job_id)
    # Read once: a finished job is then answered from the API's memory.
    assert client.get(f"/jobs/{job_id}", headers=auth()).json()["status"] == "succeeded"
    assert client.delete(f"/jobs/{job_id}", headers=auth(KEY_B)).status_code == 404

    response = client.delete(f"/jobs/{job_id}", headers=auth())
    assert response.status_code == 204 and response.content == b""
    assert client.get(f"/jobs/{job_id}", headers=auth()).status_code == 404
    assert client.get(f"/jobs/{job_id}/curve.png", headers=auth()).status_code == 404
    assert not curve.exists() and not curve.parent.exists()
    assert client.get("/jobs", headers=auth()).json()["count"] == 0
    with Session(engine_of(client)) as session:
        assert session.get(Job, job_id) is None
        assert session.scalars(select(IdempotencyKey)).all() == []
    assert client.delete(f"/jobs/{job_id}", headers=auth()).status_code == 404
    # Its idempotency key went with it: the same request makes a new job.
    again = client.post("/find-lr", json=quick_job(), headers=headers)
    assert again.status_code == 202 and again.json()["id"] != job_id


def test_delete_a_queued_or_running_job(client: TestClient) -> None:
    queued = submit(client, quick_job())
    running = submit(client, quick_job(seed=1))
    # The older one (`queued`) is claimed: it runs.
    assert committed(engine_of(client), claims.claim_next, "d1") is not None
    assert client.delete(f"/jobs/{running}", headers=auth()).status_code == 204
    assert client.delete(f"/jobs/{queued}", headers=auth()).status_code == 204
    for job_id in (queued, running):
        assert client.get(f"/jobs/{job_id}", headers=auth()).status_code == 404
    # A deleted running job's dispatcher finds its row gone; its writes change nothing.
    assert not committed(engine_of(client), lifecycle.record_success, queued, 1, {})


def test_the_dispatcher_stops_a_deleted_jobs_task(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_of(client)
    dispatcher = Dispatcher(settings_of(client), engine)  # not opened: no Ray
    cancelled: list[object] = []
    monkeypatch.setattr(dispatch.ray, "cancel", lambda ref, force: cancelled.append(ref))
    kept, deleted = submit(client, quick_job()), submit(client, quick_job(seed=1))
    for _ in (kept, deleted):
        job = committed(engine, claims.claim_next, dispatcher.id)
        assert job is not None
        dispatcher.inflight[job.id] = InFlight(job.id, 1, ref=job.id, submitted=time.monotonic())

    assert client.delete(f"/jobs/{deleted}", headers=auth()).status_code == 204
    dispatcher.stop_requested()
    assert cancelled == [deleted]
    assert dispatcher.inflight[deleted].stop_reason == dispatch.CANCELLED_REASON
    assert dispatcher.inflight[kept].stop_reason is None


def test_delete_an_upload(client: TestClient, tmp_path: Path) -> None:
    data = upload(client, files.tiny_dataset_npz(tmp_path / "toy.npz")).json()
    stored = next(settings_of(client).uploads_dir.rglob("*.npz"))
    job_id = submit(client, quick_job(data={"upload_id": data["upload_id"]}))

    in_use = client.delete(f"/uploads/{data['upload_id']}", headers=auth())
    assert in_use.status_code == 409
    assert job_id in in_use.json()["detail"]
    assert client.delete(f"/uploads/{data['upload_id']}", headers=auth(KEY_B)).status_code == 404

    client.post(f"/jobs/{job_id}/cancel", headers=auth())
    assert client.delete(f"/uploads/{data['upload_id']}", headers=auth()).status_code == 204
    assert not stored.exists()
    assert stored_uploads(engine_of(client)) == set()
    assert client.delete(f"/uploads/{data['upload_id']}", headers=auth()).status_code == 404
    # A job naming it now is refused, as for any unknown upload.
    body = quick_job(data={"upload_id": data["upload_id"]})
    assert client.post("/find-lr", json=body, headers=auth()).status_code == 404


def test_a_job_is_not_queued_with_an_upload_deleted_meanwhile(engine: Engine) -> None:
    # The API looked the upload up, then it was deleted: the locked insert looks again.
    with Session(engine) as session, pytest.raises(NotFoundError, match="it was deleted"):
        submissions.submit_job(
            session, owner="owner", kind="find_lr", request={}, spec={}, steps_total=1,
            max_attempts=1, limits=submissions.QueueLimits(10, 10, 5), idempotency=None,
            upload_ids=["0" * 32],
        )  # fmt: skip
    with Session(engine) as session:
        assert session.scalars(select(Job)).all() == []


# --- the retention sweep ---------------------------------------------------------------------


def test_the_sweep_deletes_old_finished_jobs_and_unused_uploads(
    client: TestClient, tmp_path: Path
) -> None:
    engine = engine_of(client)
    old = submit(client, quick_job())
    recent = submit(client, quick_job(seed=1))
    waiting = submit(client, quick_job(seed=2))  # queued for ever: never swept
    finish(engine, old, ago=WEEK + timedelta(seconds=1))
    finish(engine, recent, ago=WEEK - timedelta(minutes=1))
    old_curve, recent_curve = curve_file(client, old), curve_file(client, recent)

    unused = upload(client, files.tiny_dataset_npz(tmp_path / "a.npz")).json()["upload_id"]
    named = upload(client, files.tiny_dataset_npz(tmp_path / "b.npz", seed=1)).json()["upload_id"]
    new = upload(client, files.tiny_dataset_npz(tmp_path / "c.npz", seed=2)).json()["upload_id"]
    submit(client, quick_job(data={"upload_id": named}))
    with Session(engine) as session:
        session.execute(
            update(Upload).where(Upload.id != new).values(created_at=utcnow() - 2 * WEEK)
        )
        session.commit()
    paths = {u.id: Path(u.path) for u in Session(engine).scalars(select(Upload)).all()}

    swept = retention.sweep(settings_of(client), engine)
    assert swept.job_ids == [old]
    assert [u.id for u in swept.uploads] == [unused]
    assert client.get(f"/jobs/{old}", headers=auth()).status_code == 404
    assert not old_curve.exists()
    for job_id in (recent, waiting):
        assert client.get(f"/jobs/{job_id}", headers=auth()).status_code == 200
    assert recent_curve.exists()
    assert stored_uploads(engine) == {named, new}
    assert not paths[unused].exists() and paths[named].exists() and paths[new].exists()
    assert retention.sweep(settings_of(client), engine).job_ids == []


def test_the_service_sweeps_by_itself(make_client: Callable[..., TestClient]) -> None:
    client = make_client(retention_s=60, sweep_interval_s=0.05)
    job_id = submit(client, quick_job())
    assert client.post(f"/jobs/{job_id}/cancel", headers=auth()).status_code == 202
    assert client.get(f"/jobs/{job_id}", headers=auth()).status_code == 200  # now cached
    finish(engine_of(client), job_id, ago=timedelta(seconds=61))
    wait_for(
        lambda: client.get(f"/jobs/{job_id}", headers=auth()).status_code == 404,
        10,
        "the sweep to delete the job",
        every=0.05,
    )


# --- uploads: quota and idempotency ----------------------------------------------------------


def test_uploads_past_the_quota_are_413(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    first = files.tiny_dataset_npz(tmp_path / "a.npz")
    quota_mb = 1.5 * first.stat().st_size / (1 << 20)
    client = make_client(upload_quota_mb=quota_mb)
    assert upload(client, first).status_code == 201
    refused = upload(client, files.tiny_dataset_npz(tmp_path / "b.npz", seed=1))
    assert refused.status_code == 413
    assert refused.json()["limit"] == "upload_quota_mb"
    assert refused.json()["value"] == quota_mb
    assert "FINDER_UPLOAD_QUOTA_MB" in refused.json()["detail"]
    assert len(list(settings_of(client).uploads_dir.rglob("*.npz"))) == 1  # refused: not kept


def test_an_upload_retried_with_its_key_is_stored_once(client: TestClient, tmp_path: Path) -> None:
    path = files.tiny_dataset_npz(tmp_path / "toy.npz")
    first = upload(client, path, key="up-1")
    again = upload(client, path, key="up-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(list(settings_of(client).uploads_dir.rglob("*.npz"))) == 1
    other = upload(client, files.tiny_dataset_npz(tmp_path / "other.npz", seed=3), key="up-1")
    assert other.status_code == 409
    assert len(list(settings_of(client).uploads_dir.rglob("*.npz"))) == 1

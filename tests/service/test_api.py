"""The HTTP API without running jobs: validation, keys, ownership, listing, cancelling."""

from __future__ import annotations

import re
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import service
from finder.data import BUILTIN_DATASETS
from finder.defaults import DEFAULT_BUDGET
from service.api.models import BuiltinDatasetName, BuiltinModelName
from tests.service.utils.jobs import KEY_A, KEY_B, auth, quick_job, submit


def test_public_names_are_explicit_and_sorted() -> None:
    assert service.__all__ == sorted(service.__all__)
    assert all(hasattr(service, name) for name in service.__all__)


def test_builtin_names_match_the_library() -> None:
    from finder.zoo import BUILTIN_MODELS

    assert set(get_args(BuiltinModelName)) == set(BUILTIN_MODELS)
    assert set(get_args(BuiltinDatasetName)) == set(BUILTIN_DATASETS)


def test_submit_returns_202_with_location(client: TestClient) -> None:
    response = client.post("/find-lr", json=quick_job(), headers=auth())
    assert response.status_code == 202
    body = response.json()
    assert response.headers["location"] == f"/jobs/{body['id']}"
    assert body["status"] == "queued"
    assert body["kind"] == "find_lr"
    assert body["attempts"] == 0
    assert body["progress"] == {
        "steps_done": 0,
        "steps_total": 40,
        "fraction": 0.0,
        "phase": None,
        "message": None,
        "lr": None,
        "loss": None,
        "smoothed_loss": None,
    }
    assert body["request"]["model"] == {"builtin": "mlp"}
    assert body["result"] is None


def test_defaults_fill_the_request(client: TestClient) -> None:
    response = client.post("/find-lr", json={}, headers=auth())
    assert response.status_code == 202
    request = response.json()["request"]
    assert request["model"] == {"builtin": "fashion_cnn"}
    assert request["data"] == {"builtin": "fashion_mnist_sample"}
    # The auto range by default: until it starts, its progress counts to the default budget
    # (the test sizes its own from the plan and reports it as it runs).
    assert request["range"] == {
        "min_lr": "auto",
        "max_lr": "auto",
        "num_steps": "auto",
        "budget": None,
        "mode": "exp",
    }
    assert response.json()["progress"]["steps_total"] == DEFAULT_BUDGET


@pytest.mark.parametrize(
    ("change", "field"),
    [
        # max_lr must exceed min_lr
        ({"range": {"min_lr": 1.0, "max_lr": 0.1}}, ["body", "range", "max_lr"]),
        # equal bounds are an empty range
        ({"range": {"min_lr": 0.1, "max_lr": 0.1}}, ["body", "range", "max_lr"]),
        # LRs are positive
        ({"range": {"min_lr": -1.0, "max_lr": 0.1}}, ["body", "range", "min_lr"]),
        # a sweep needs two steps
        ({"range": {"num_steps": 1}}, ["body", "range", "num_steps"]),
        # strict: no string-to-number coercion
        ({"batch_size": "64"}, ["body", "batch_size"]),
        # unknown fields are refused, not ignored
        ({"epochs": 3}, ["body", "epochs"]),
        # unknown built-in model
        ({"model": {"builtin": "resnet"}}, ["body", "model"]),
        # malformed upload id
        ({"data": {"upload_id": "../../etc/passwd"}}, ["body", "data"]),
        # unknown optimizer
        ({"optimizer": {"name": "magic"}}, ["body", "optimizer", "name"]),
        # smoothing must be < 1
        ({"smoothing": 1.0}, ["body", "smoothing"]),
        # repeats are bounded
        ({"repeats": 0}, ["body", "repeats"]),
        # a plan needs epochs >= 1
        ({"plan": {"epochs": 0}}, ["body", "plan", "epochs"]),
    ],
)
def test_invalid_bodies_name_the_field(
    client: TestClient, change: dict[str, Any], field: list[str]
) -> None:
    response = client.post("/find-lr", json=quick_job(**change), headers=auth())
    assert response.status_code == 422
    locations = [error["loc"][: len(field)] for error in response.json()["detail"]]
    assert field in locations, response.json()


def test_no_key_is_401(client: TestClient) -> None:
    response = client.post("/find-lr", json=quick_job())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Missing API key" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-configured-key-000"},  # unknown bearer key
        {"X-API-Key": "not-a-configured-key-000"},  # unknown header key
        {"Authorization": f"Basic {KEY_A}"},  # right key, wrong scheme
    ],
)
def test_wrong_keys_are_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/jobs", headers=headers)
    assert response.status_code == 401


def test_x_api_key_header_works(client: TestClient) -> None:
    job_id = submit(client, quick_job())
    response = client.get(f"/jobs/{job_id}", headers={"X-API-Key": KEY_A})
    assert response.status_code == 200
    assert response.json()["id"] == job_id


def test_another_keys_job_is_404(client: TestClient) -> None:
    job_id = submit(client, quick_job(), key=KEY_A)
    for method, path in [
        ("GET", f"/jobs/{job_id}"),
        ("DELETE", f"/jobs/{job_id}"),
        ("POST", f"/jobs/{job_id}/cancel"),
        ("GET", f"/jobs/{job_id}/curve.png"),
        ("GET", f"/jobs/{job_id}/events"),
    ]:
        response = client.request(method, path, headers=auth(KEY_B))
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": f"No job {job_id!r}."}
    assert client.get("/jobs", headers=auth(KEY_B)).json() == {"data": [], "count": 0}
    assert client.get(f"/jobs/{job_id}", headers=auth(KEY_A)).status_code == 200


def test_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/jobs/0123456789abcdef0123456789abcdef", headers=auth())
    assert response.status_code == 404


def test_list_newest_first_with_paging_and_filter(client: TestClient) -> None:
    ids = [submit(client, quick_job(seed=seed)) for seed in range(5)]
    client.post(f"/jobs/{ids[1]}/cancel", headers=auth())

    page = client.get("/jobs", params={"limit": 2, "offset": 1}, headers=auth()).json()
    assert page["count"] == 5
    assert [job["id"] for job in page["data"]] == [ids[3], ids[2]]
    assert all(job["result"] is None for job in page["data"])

    queued = client.get("/jobs", params={"status": "queued"}, headers=auth()).json()
    assert queued["count"] == 4
    assert ids[1] not in [job["id"] for job in queued["data"]]
    cancelled = client.get("/jobs", params={"status": "cancelled"}, headers=auth()).json()
    assert [job["id"] for job in cancelled["data"]] == [ids[1]]

    bad = client.get("/jobs", params={"status": "lost"}, headers=auth())
    assert bad.status_code == 422
    assert client.get("/jobs", params={"limit": 0}, headers=auth()).status_code == 422


def test_cancel_a_queued_job(client: TestClient) -> None:
    job_id = submit(client, quick_job())
    response = client.post(f"/jobs/{job_id}/cancel", headers=auth())
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert response.json()["error"] == "Cancelled before it started."
    assert response.json()["finished_at"] is not None
    # Cancelling twice is harmless; the curve of a cancelled job does not exist.
    assert client.post(f"/jobs/{job_id}/cancel", headers=auth()).status_code == 202
    curve = client.get(f"/jobs/{job_id}/curve.png", headers=auth())
    assert curve.status_code == 409
    assert "cancelled" in curve.json()["detail"]


def test_events_of_an_ended_job_end_at_once(client: TestClient) -> None:
    job_id = submit(client, quick_job())
    client.post(f"/jobs/{job_id}/cancel", headers=auth())
    with client.stream("GET", f"/jobs/{job_id}/events", headers=auth()) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    assert "event: end" in text
    assert '"status":"cancelled"' in text.replace(" ", "")


def test_builtins(client: TestClient) -> None:
    response = client.get("/builtins", headers=auth())
    assert response.status_code == 200
    body = response.json()
    assert [m["name"] for m in body["models"]] == ["fashion_cnn", "mlp"]
    assert all(m["input_shape"] == [28, 28, 1] for m in body["models"])
    sample = next(d for d in body["datasets"] if d["name"] == "fashion_mnist_sample")
    assert sample == {
        "name": "fashion_mnist_sample",
        "description": sample["description"],
        "input_shape": [28, 28, 1],
        "num_classes": 10,
        "available": True,
    }


def test_healthz_needs_no_key(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "dispatchers": 0}


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    submit(client, quick_job())
    cancelled = submit(client, quick_job())
    client.post(f"/jobs/{cancelled}/cancel", headers=auth())
    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", headers=auth())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    jobs = {s.labels["status"]: s.value for s in families["finder_jobs"].samples}
    assert jobs == {"queued": 1, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 1}
    durations = families["finder_job_duration_seconds"]
    counts = {s.labels["status"]: s.value for s in durations.samples if s.name.endswith("_count")}
    assert counts == {"succeeded": 0, "failed": 0, "cancelled": 0}


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths) >= {
        "/find-lr",
        "/tune",
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/curve.{extension}",
        "/jobs/{job_id}/events",
        "/jobs/{job_id}/cancel",
        "/uploads/models",
        "/uploads/{upload_id}",
        "/uploads/datasets",
        "/builtins",
        "/healthz",
        "/metrics",
    }
    assert "202" in paths["/find-lr"]["post"]["responses"]
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}


def test_docs_page_loads_swagger_ui_from_the_service_itself(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    styles = re.findall(r'<link type="text/css" rel="stylesheet" href="([^"]+)"', page.text)
    assert scripts and styles
    for url in scripts + styles:
        assert url.startswith("/static/"), url  # offline machines cannot reach a CDN
        served = client.get(url)
        assert served.status_code == 200 and len(served.content) > 100_000, url
    assert "/openapi.json" in page.text
    assert client.get("/redoc").status_code == 404  # its page would need a CDN too


def test_open_service_without_keys(make_client) -> None:
    open_client = make_client(api_keys=[])
    job_id = submit(open_client, quick_job(), key="ignored-key-0123456789")
    assert open_client.get(f"/jobs/{job_id}").status_code == 200

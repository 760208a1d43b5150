"""`GET /metrics` through prometheus_client: the job store's aggregates on each scrape."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, update

from service.api.metrics import DURATION_BUCKETS_S
from service.core.db import Job
from service.store.sessions import transaction
from tests.service.utils.jobs import auth
from tests.service.utils.store import add_job


def finished(engine: Engine, status: str, duration_s: float) -> None:
    job_id = add_job(engine)
    with transaction(engine) as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(status=status, duration_s=duration_s)
        )


def histogram(text: str, status: str) -> dict[str, float]:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {
        sample.labels.get("le", sample.name.rsplit("_", 1)[-1]): sample.value
        for sample in families["finder_job_duration_seconds"].samples
        if sample.labels["status"] == status
    }


def test_durations_are_a_histogram_by_status(client: TestClient) -> None:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    for duration in (0.5, 3.0, 30.0, 4000.0):
        finished(engine, "succeeded", duration)
    finished(engine, "failed", 7.0)
    add_job(engine)  # queued: no duration

    text = client.get("/metrics", headers=auth()).text
    succeeded = histogram(text, "succeeded")
    within = {"1": 1, "5": 2, "10": 2, "30": 3, "60": 3, "3600": 3, "+Inf": 4}
    assert {le: succeeded[le] for le in within} == within
    assert (succeeded["count"], succeeded["sum"]) == (4, 4033.5)
    assert (
        len([le for le in succeeded if le not in ("count", "sum")]) == len(DURATION_BUCKETS_S) + 1
    )
    failed = histogram(text, "failed")
    assert (failed["5"], failed["10"], failed["count"], failed["sum"]) == (0, 1, 1, 7.0)
    assert histogram(text, "cancelled")["count"] == 0
    families = {f.name: f for f in text_string_to_metric_families(text)}
    jobs = {s.labels["status"]: s.value for s in families["finder_jobs"].samples}
    assert jobs == {"queued": 1, "running": 0, "succeeded": 4, "failed": 1, "cancelled": 0}
    assert [s.value for s in families["finder_dispatchers"].samples] == [0]


def test_openmetrics_when_the_scraper_asks_for_it(client: TestClient) -> None:
    response = client.get(
        "/metrics", headers={**auth(), "Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(response.text)}
    refusals = {s.labels["reason"]: s.value for s in families["finder_refusals"].samples}
    assert refusals["draining"] == 0


def test_each_app_has_its_own_registry(make_client: Callable[..., TestClient]) -> None:
    first, second = make_client(), make_client()
    first.app.state.refusals.add("draining")  # type: ignore[attr-defined]
    for client, expected in ((first, 1), (second, 0)):
        text = client.get("/metrics", headers=auth()).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        refusals = {s.labels["reason"]: s.value for s in families["finder_refusals"].samples}
        assert refusals["draining"] == expected

"""A job's progress as the range test reports it: counts, totals and messages in its row."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finder.rangetest.progress import SweepProgress
from finder.rangetest.result import RangeTestResult
from service.api.models import JobPublic
from service.jobs.tasks import ProgressWriter
from service.store import claims, lifecycle
from tests.service.utils.jobs import quick_job, row, sse_events, submit, wait_status
from tests.service.utils.store import add_job, committed


def running_job(engine: Engine, kind: str, steps_total: int) -> str:
    """A job claimed by a dispatcher (attempt 1), as a job process finds it."""
    job_id = add_job(engine, kind=kind, steps_total=steps_total, max_attempts=1)
    committed(engine, claims.claim_next, "dispatcher")
    return job_id


def auto_range_events(budget: int) -> Iterator[SweepProgress]:
    """The events of an auto range test: three sweeps of a 150-step grid that stop after 100,
    140 and 130 steps (370 steps in all), with no count of sweeps known in advance."""
    sweeps = [("sweep", 0, 0, 150, 100), ("sweep", 1, 0, 150, 140), ("sweep", 2, 0, 150, 130)]
    before = 0
    for phase, repeat, repeats, num_steps, ran in sweeps:
        for step in range(ran):
            yield SweepProgress(
                repeat=repeat, repeats=repeats, step=step, num_steps=num_steps, lr=1e-3,
                loss=1.0, smoothed_loss=1.0, phase=phase, steps_before=before, budget=budget,
            )  # fmt: skip
        before += ran


def test_an_auto_range_counts_to_its_budget_then_ends_at_the_steps_it_ran(engine: Engine) -> None:
    job_id = running_job(engine, "find_lr", steps_total=1500)  # the submitted default budget
    writer = ProgressWriter(engine, job_id, 1, interval_s=0)
    seen = []
    for event in auto_range_events(budget=630):  # the budget as the test sized it
        writer(event)
        job = row(engine, job_id)
        seen.append((job.steps_done, job.steps_total, job.message))
    assert [done for done, _, _ in seen] == list(range(1, 371))
    assert {total for _, total, _ in seen} == {630}
    messages = {message for _, _, message in seen}
    assert messages == {"range test: sweep 1", "range test: sweep 2", "range test: sweep 3"}

    writer.finish(370)
    assert committed(engine, lifecycle.record_success, job_id, 1, {})
    progress = JobPublic.from_row(row(engine, job_id)).progress
    assert (progress.steps_done, progress.steps_total, progress.fraction) == (370, 370, 1.0)
    assert progress.loss == 1.0  # the last step's values stay


def test_a_tuning_jobs_range_test_keeps_the_total_its_trials_count_on_from(
    engine: Engine,
) -> None:
    job_id = running_job(engine, "tune", steps_total=1500 + 18)
    writer = ProgressWriter(engine, job_id, 1, interval_s=0, owns_total=False)
    for event in auto_range_events(budget=630):
        writer(event)
    job = row(engine, job_id)
    assert (job.steps_done, job.steps_total) == (370, 1518)


def test_an_auto_range_job_ends_at_the_steps_it_ran(stub_client: TestClient) -> None:
    client = stub_client  # its range test reports as the library's auto range does
    budget = 120
    body = quick_job(range={"budget": budget})
    job_id = submit(client, body)
    events = sse_events(client, job_id)

    document = wait_status(client, job_id, {"succeeded"})
    result = RangeTestResult.from_dict(document["result"])
    progress = [data["progress"] for kind, data in events if kind == "progress"]
    assert all("/0" not in (p["message"] or "") for p in progress), progress
    assert all(p["steps_done"] <= p["steps_total"] for p in progress), progress
    running = [p["steps_total"] for p in progress if p["steps_done"] < result.steps_run]
    assert set(running) == {budget}, progress
    assert document["progress"]["steps_done"] == result.steps_run
    assert document["progress"]["steps_total"] == result.steps_run

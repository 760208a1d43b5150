"""`POST /tune`: a range test then a keras-tuner search, as a job on the real Ray."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from finder.defaults import DEFAULT_BUDGET
from finder.tuning import result as tuning_result
from finder.tuning.space import DEFAULT_FAMILIES as LIBRARY_DEFAULT_FAMILIES
from finder.tuning.space import TUNABLE_FAMILIES
from service.api.models import DEFAULT_FAMILIES, FamilyName
from tests.service.utils.jobs import auth, quick_tune, sse_events, submit, wait_status


def test_family_names_match_the_library() -> None:
    assert get_args(FamilyName) == TUNABLE_FAMILIES
    assert DEFAULT_FAMILIES == LIBRARY_DEFAULT_FAMILIES


def test_submit_counts_range_steps_and_trial_epochs(client: TestClient) -> None:
    response = client.post("/tune", json=quick_tune(max_trials=3, epochs=2), headers=auth())
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/jobs/{body['id']}"
    assert (body["kind"], body["status"]) == ("tune", "queued")
    assert body["progress"]["steps_total"] == 40 + 3 * 2
    assert body["request"]["tuning"]["families"] == ["one_cycle", "constant"]
    listed = client.get("/jobs", headers=auth()).json()
    assert [(job["id"], job["kind"]) for job in listed["data"]] == [(body["id"], "tune")]


def test_tuning_defaults(client: TestClient) -> None:
    response = client.post("/tune", json={}, headers=auth())
    assert response.status_code == 202, response.text
    tuning = response.json()["request"]["tuning"]
    assert tuning["families"] == list(LIBRARY_DEFAULT_FAMILIES)
    assert (tuning["tuner"], tuning["max_trials"], tuning["epochs"]) == ("bayesian", 6, 3)
    # The auto range's default budget, then one unit per trial epoch.
    assert response.json()["progress"]["steps_total"] == DEFAULT_BUDGET + 6 * 3


@pytest.mark.parametrize(
    ("tuning", "field"),
    [
        ({"families": ["one_cycle", "warp_drive"]}, "families"),  # not a family
        ({"families": ["one_cycle", "one_cycle"]}, "families"),  # twice
        ({"families": []}, "families"),  # nothing to search
        ({"max_trials": 0}, "max_trials"),
        ({"tuner": "grid"}, "tuner"),
        ({"epochs": "3"}, "epochs"),  # strict: no coercion
        ({"objective": "loss"}, "objective"),  # training loss cannot score a schedule
        ({"workers": -1}, "workers"),
        ({"patience": 3}, "patience"),  # unknown option
    ],
)
def test_invalid_tuning_options_name_the_field(
    client: TestClient, tuning: dict[str, Any], field: str
) -> None:
    body = quick_tune()
    body["tuning"] = {**body["tuning"], **tuning}
    response = client.post("/tune", json=body, headers=auth())
    assert response.status_code == 422, response.text
    locations = [error["loc"] for error in response.json()["detail"]]
    assert any(field in loc for loc in locations), locations


def test_a_plan_belongs_to_find_lr(client: TestClient) -> None:
    body = {**quick_tune(), "plan": {"epochs": 3}}  # the trials' epochs are the plan
    response = client.post("/tune", json=body, headers=auth())
    assert response.status_code == 422
    assert ["body", "plan"] in [error["loc"] for error in response.json()["detail"]]


def test_without_a_key_401(client: TestClient) -> None:
    assert client.post("/tune", json=quick_tune()).status_code == 401


def test_tune_end_to_end(running_client: TestClient) -> None:
    client = running_client
    # A range test of stable LRs (it runs all its steps) long enough for the event stream, which
    # polls the job every `EVENT_POLL_S`, to see its phase: a diverging 40-step one can end
    # between two polls.
    body = quick_tune()
    body["range"] = {"min_lr": 1e-4, "max_lr": 1e-2, "num_steps": 300}
    job_id = submit(client, body, path="/tune")
    events = sse_events(client, job_id)

    document = wait_status(client, job_id, {"succeeded"}, timeout=300)
    tuning_result.validate(document["result"])
    result = tuning_result.TuningResult.from_dict(document["result"])
    assert len(result.trials) == 2
    assert all(trial.status == "COMPLETED" for trial in result.trials)
    assert {trial.family for trial in result.trials} <= {"one_cycle", "constant"}
    assert result.best is not None and result.best.family in {"one_cycle", "constant"}
    assert result.objective["name"] == "val_accuracy"
    assert result.range_test is not None and result.range_test.steps_run > 0
    assert result.plan["epochs"] == 1
    # 300 range-test steps, then 2 trials of one epoch.
    assert document["progress"]["steps_done"] == document["progress"]["steps_total"] == 302

    phases = [data["progress"]["phase"] for kind, data in events if kind == "progress"]
    seen = [phase for i, phase in enumerate(phases) if phase and phase not in phases[:i]]
    assert seen == ["range_test", "tuning"], phases
    messages = [data["progress"]["message"] or "" for _, data in events]
    assert any(message.startswith("trial ") for message in messages), messages
    steps = [data["progress"]["steps_done"] for _, data in events]
    assert steps == sorted(steps), steps
    assert events[-1][0] == "end" and events[-1][1]["status"] == "succeeded"

    png = client.get(f"/jobs/{job_id}/curve.png", headers=auth())
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.slow
def test_tune_trials_run_in_ray_worker_tasks(running_client: TestClient) -> None:
    # The job process serves keras-tuner's oracle; one Ray task beside it runs every trial.
    client = running_client
    job_id = submit(client, quick_tune(workers=1), path="/tune")
    document = wait_status(client, job_id, {"succeeded"}, timeout=300)
    result = tuning_result.TuningResult.from_dict(document["result"])
    assert result.role == "chief"
    assert [trial.status for trial in result.trials] == ["COMPLETED"] * 2
    worker_trials = result.config["worker_trials"]
    assert set(worker_trials) == {"worker0"}
    assert sorted(worker_trials["worker0"]) == sorted(t.trial_id for t in result.trials)

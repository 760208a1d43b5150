"""The stub runner the service tests run most jobs on: selected only through the test setting,
reporting progress as the library does, returning documents the real jobs wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy import Engine

from finder.rangetest import result as range_test_result
from finder.rangetest.progress import SweepProgress
from finder.tuning import result as tuning_result
from finder.tuning.hypermodel import TrialProgress
from service.jobs import tasks
from tests.service.test_progress import running_job
from tests.service.utils import stub_jobs
from tests.service.utils.jobs import quick_job, row

ROOT = Path(__file__).resolve().parents[2]


def run_spec(**overrides: object) -> dict[str, object]:
    """`RunSpec` keywords as the service stores them for `quick_job(**overrides)`."""
    from service.api.models import FindLRCreate
    from service.api.specs import find_lr_spec

    return find_lr_spec(FindLRCreate(**quick_job(**overrides)), model_path=None, data_path=None)


def test_the_service_runs_its_own_runners_unless_a_test_names_a_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(tasks.TEST_RUNNERS_VAR, raising=False)
    assert tasks.runners() is tasks.RUNNERS
    monkeypatch.setenv(tasks.TEST_RUNNERS_VAR, stub_jobs.TABLE)
    assert tasks.runners() is stub_jobs.RUNNERS
    assert set(stub_jobs.RUNNERS) == set(tasks.RUNNERS)
    monkeypatch.setenv(tasks.TEST_RUNNERS_VAR, "finder.jobs:RUNNERS")
    with pytest.raises(RuntimeError, match="not a table in tests"):
        tasks.runners()


@pytest.mark.parametrize(
    "overrides",
    [
        {"range": {"min_lr": 1e-4, "max_lr": 1.0, "num_steps": 7}, "repeats": 3},
        {"range": {"budget": 40}},
        {"range": {}},
    ],
    ids=["explicit", "auto-with-budget", "auto"],
)
def test_the_stubs_steps_are_the_librarys(overrides: dict[str, object]) -> None:
    steps = list(stub_jobs.range_steps(run_spec(**overrides)))
    assert steps and [s.steps_done for s in steps] == list(range(1, len(steps) + 1))
    assert all(isinstance(step, SweepProgress) for step in steps)
    assert all(step.steps_done <= step.steps_total for step in steps)


def test_the_stub_loads_no_keras() -> None:
    """The stub's job process reports progress with the library's own `SweepProgress`, whose
    module loads no Keras: a stub job imports no TensorFlow."""
    script = (
        "import sys, tests.service.utils.stub_jobs\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_the_stubs_trial_events_are_the_librarys() -> None:
    assert [f.name for f in fields(stub_jobs.TrialEvent)] == [f.name for f in fields(TrialProgress)]


def test_the_recorded_results_are_valid_documents() -> None:
    find_lr = stub_jobs.recorded(stub_jobs.FIND_LR_RESULT)
    range_test_result.validate(find_lr)
    assert range_test_result.RangeTestResult.from_dict(find_lr).proposals
    tune = stub_jobs.recorded(stub_jobs.TUNE_RESULT)
    tuning_result.validate(tune)
    assert len(tuning_result.TuningResult.from_dict(tune).trials) == 2


def test_a_stub_job_records_its_progress_and_result(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tasks.TEST_RUNNERS_VAR, stub_jobs.TABLE)
    spec = run_spec(range={"min_lr": 1e-4, "max_lr": 1.0, "num_steps": 20}, repeats=2)
    job_id = running_job(engine, "find_lr", steps_total=40)
    assert tasks.attempt_job(engine, job_id, 1, "find_lr", spec, 0.0)["status"] == "succeeded"
    job = row(engine, job_id)
    assert (job.status, job.steps_done, job.steps_total) == ("succeeded", 40, 40)
    assert job.result is not None
    result = json.loads(job.result)
    assert result["steps_run"] == 40
    range_test_result.validate(result)


def test_a_stub_job_fails_as_keras_does_on_an_unknown_loss(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tasks.TEST_RUNNERS_VAR, stub_jobs.TABLE)
    job_id = running_job(engine, "find_lr", steps_total=40)
    spec = run_spec(loss=stub_jobs.BAD_LOSS)
    ended = tasks.attempt_job(engine, job_id, 1, "find_lr", spec, 0.0)
    assert (ended["status"], ended["kind"]) == ("failed", "input")
    assert stub_jobs.BAD_LOSS in str(row(engine, job_id).error)

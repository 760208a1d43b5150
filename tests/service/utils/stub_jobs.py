"""A stand-in for the service's job runners that needs no TensorFlow: most service tests check
the job state machine, the API, progress, cancellation and the dashboard, not training.

A job process uses this module's `RUNNERS` instead of `service.jobs.tasks.RUNNERS` when its
environment holds `env()` (`service.jobs.tasks.TEST_RUNNERS_VAR`): the tests' in-process dispatcher
gets it through the Ray task's runtime environment (`remote_function()`), a `finder serve` or
`finder worker` the tests start through its own environment, which its Ray passes on.

A stub job goes through everything a real job does around the range test: `attempt_job` records
its start, writes progress through the real `ProgressWriter` (steps done and total, and the
sweep's label, as the library's range test counts them, the auto range included) and, for a
search, `TrialProgressWriter`, then records the result or a classified failure. It sleeps
`STEP_S` per range-test step and `EPOCH_S` per trial epoch, so a request's `num_steps` (or auto
`budget`) sets how long it runs; it ends when Ray cancels it (its process is killed) like a
real job. Its results are real ones:
documents a real job wrote, recorded by `record()` into `data/` and validated by the tests
against the shipped schemas.

Failures: a request whose `loss` is `not_a_loss` fails as Keras fails it (a `ValueError`
naming the loss: an input failure, not retried).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from finder.defaults import DEFAULT_BUDGET, is_auto, job_repeats
from finder.rangetest.progress import SweepProgress
from service.jobs.tasks import TEST_RUNNERS_VAR, ProgressWriter, TrialProgressWriter

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).resolve().parent / "data"
FIND_LR_RESULT = DATA / "find_lr_result.json"
TUNE_RESULT = DATA / "tune_result.json"
TABLE = f"{__name__}:RUNNERS"
STEP_S = 0.01
# A trial's epoch: long enough for a page following the job to see the search's phase.
EPOCH_S = 0.5
# An auto range test sweeps grids of a quarter of its budget, each stopping two thirds of the
# way (as its sweeps stop early at divergence), three times.
AUTO_SWEEPS = 3
BAD_LOSS = "not_a_loss"


def env() -> dict[str, str]:
    """The environment variables that make a job process run this module's stubs."""
    return {TEST_RUNNERS_VAR: TABLE, "PYTHONPATH": str(ROOT)}


def remote_function() -> Any:
    """`service.jobs.tasks.run_job_remote` whose processes run the stubs (`env()`)."""
    import ray

    from service.jobs.tasks import run_job

    return ray.remote(max_calls=1, max_retries=0, runtime_env={"env_vars": env()})(run_job)


# --- progress, as the library reports it -----------------------------------------------------


@dataclass(frozen=True)
class Family:
    family: str


@dataclass(frozen=True)
class Record:
    status: str
    score: float | None


@dataclass(frozen=True)
class TrialEvent:
    """A search step as `finder.tuning.hypermodel.TrialProgress` describes it (`spec` and
    `record` hold what `TrialProgressWriter` reads of them)."""

    event: str
    trial_id: str
    number: int
    max_trials: int | None
    spec: Family | None
    epoch: int
    epochs: int
    logs: dict[str, float] = field(default_factory=dict)
    record: Record | None = None


def range_steps(run: dict[str, Any]) -> Iterator[SweepProgress]:
    """The steps of the range test `run` (`RunSpec` keywords) asks for: every step of each
    sweep of an explicit range; auto sweeps that stop early, within the budget."""
    auto = is_auto(run["min_lr"], run["max_lr"], run["num_steps"])
    if auto:
        budget = int(run["budget"] or DEFAULT_BUDGET)
        grid = max(2, budget // (AUTO_SWEEPS + 1))
        sweeps = [(grid, max(1, grid * 2 // 3))] * AUTO_SWEEPS
        repeats, lrs = 0, (1e-6, 10.0)
    else:
        repeats = job_repeats(run["repeats"], auto)
        sweeps = [(int(run["num_steps"]), int(run["num_steps"]))] * repeats
        budget, lrs = None, (float(run["min_lr"]), float(run["max_lr"]))
    before = 0
    for repeat, (num_steps, ran) in enumerate(sweeps):
        for step in range(ran):
            lr = lrs[0] * (lrs[1] / lrs[0]) ** (step / max(1, num_steps - 1))
            loss = 2.3 - math.log10(lr / lrs[0]) * 0.1
            yield SweepProgress(
                repeat=repeat, repeats=repeats, step=step, num_steps=num_steps, lr=lr,
                loss=loss, smoothed_loss=loss, steps_before=before, budget=budget,
            )  # fmt: skip
        before += ran


def progress_steps(run: dict[str, Any]) -> int:
    """The range test's share of a search's progress (`finder.jobs.RunSpec.progress_steps`)."""
    auto = is_auto(run["min_lr"], run["max_lr"], run["num_steps"])
    steps = int(run["budget"] or DEFAULT_BUDGET) if auto else int(run["num_steps"])
    return job_repeats(run["repeats"], auto) * steps


def sweep(run: dict[str, Any], progress: ProgressWriter) -> int:
    """Report each step of the range test to `progress`, `STEP_S` apart; the steps run."""
    if run["loss"] == BAD_LOSS:
        raise ValueError(f"Could not interpret loss identifier: {BAD_LOSS}")
    ran = 0
    for step in range_steps(run):
        time.sleep(STEP_S)
        progress(step)
        ran = step.steps_done
    return ran


@cache
def recorded(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def range_test_result(steps_run: int) -> dict[str, Any]:
    """The recorded range-test result, counting the steps this stub ran."""
    result = copy.deepcopy(recorded(FIND_LR_RESULT))
    result["steps_run"] = result["extra_steps"] = steps_run
    return result


# --- the runners -----------------------------------------------------------------------------


def find_lr(spec: dict[str, Any], progress: ProgressWriter) -> dict[str, Any]:
    ran = sweep(spec, progress)
    progress.finish(ran)
    return range_test_result(ran)


def tune(spec: dict[str, Any], progress: ProgressWriter) -> dict[str, Any]:
    """The range test, then the recorded search's trials, one epoch after another."""
    run, search = spec["run"], spec["tuning"]
    ran = sweep(run, progress)
    progress.finish(ran)
    trials = TrialProgressWriter(
        progress.engine,
        progress.job_id,
        progress.attempt,
        offset=progress_steps(run),
        executions=search["executions_per_trial"],
    )
    result = copy.deepcopy(recorded(TUNE_RESULT))
    epochs, budget = int(search["epochs"]), int(search["max_trials"])
    for number, trial in enumerate(result["trials"], start=1):
        begin = {
            "trial_id": trial["trial_id"], "number": number, "max_trials": budget,
            "spec": Family(trial["family"]), "epochs": epochs,
        }  # fmt: skip
        trials(TrialEvent(event="trial_begin", epoch=0, **begin))
        for epoch in range(1, epochs + 1):
            time.sleep(EPOCH_S)
            trials(TrialEvent(event="epoch_end", epoch=epoch, logs={"loss": 1.0}, **begin))
        record = Record(trial["status"], trial["score"])
        trials(TrialEvent(event="trial_end", epoch=epochs, record=record, **begin))
    result["range_test"]["steps_run"] = result["range_test"]["extra_steps"] = ran
    return result


RUNNERS = {"find_lr": find_lr, "tune": tune}


# --- recording the results -------------------------------------------------------------------


def record() -> None:
    """Run the real jobs whose results the stubs return, and store those results:
    `python -m tests.service.utils.stub_jobs` (after a change to the result documents)."""
    from finder.jobs import RunSpec, TuneSpec, run_spec, run_tune_spec
    from service.api.models import FindLRCreate, TuneCreate
    from service.api.specs import find_lr_spec, tune_spec
    from tests.service.utils.jobs import quick_job, quick_tune

    # A range test with repeats and a plan: curves, a repeats band, suggestions, proposals.
    body = FindLRCreate(**quick_job(repeats=2, validation=True, plan={"epochs": 3}))
    spec = find_lr_spec(body, model_path=None, data_path=None)
    result = run_spec(RunSpec(**spec)).to_dict()
    FIND_LR_RESULT.write_text(json.dumps(result, indent=1) + "\n")
    search = tune_spec(TuneCreate(**quick_tune()), model_path=None, data_path=None)
    tuning = run_tune_spec(RunSpec(**search["run"]), TuneSpec(**search["tuning"])).to_dict()
    TUNE_RESULT.write_text(json.dumps(tuning, indent=1) + "\n")


if __name__ == "__main__":
    record()

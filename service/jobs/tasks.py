"""What a job process runs: one range test (or tuning search), reporting progress and its
outcome into the job row.

`run_job` is submitted as a Ray task with `max_calls=1`, so every job gets a fresh Python
process that exits afterwards (TensorFlow's memory and any GPU are released). Ray never retries
it (`max_retries=0`): the dispatcher counts attempts in the job row itself.

The task never raises: every error is classified (`service.jobs.failures`) and returned as plain
data, so the API process that reads it never unpickles a framework exception (which would
import TensorFlow there). Deterministic failures (invalid input, a model too large, a bug) are
recorded at once with their reason; infrastructure errors are returned as "retry", and the
dispatcher requeues the job like a crashed process.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ray

from service.core.db import create_db_engine
from service.jobs.failures import Outcome, failure, outcome
from service.store import lifecycle
from service.store.sessions import transaction

if TYPE_CHECKING:  # the dispatcher (in the API process) imports this module: no TensorFlow
    from finder.rangetest.progress import SweepProgress


class JobProgress:
    """Writes one attempt of a job's progress into its row (the base of both writers)."""

    def __init__(self, engine: Any, job_id: str, attempt: int) -> None:
        self.engine = engine
        self.job_id = job_id
        self.attempt = attempt

    def write(self, **values: Any) -> None:
        with transaction(self.engine) as session:
            lifecycle.record_progress(session, self.job_id, self.attempt, **values)


class ProgressWriter(JobProgress):
    """A range test's `progress` callable that writes the job's progress, at most every
    `interval_s`, as the library counts it (`SweepProgress.steps_done`, `.label`).

    With `owns_total`, the job's total is the range test's: the most steps it may run while it
    runs (the auto range sizes its budget once it starts), the steps it ran once `finish`ed.
    Without, the total stays the one submitted: a tuning job counts its trial epochs on from
    the range test's submitted bound, where the dashboard splits its two phases.
    """

    def __init__(
        self,
        engine: Any,
        job_id: str,
        attempt: int,
        interval_s: float,
        clock: Any = time.monotonic,
        *,
        owns_total: bool = True,
    ) -> None:
        super().__init__(engine, job_id, attempt)
        self.interval_s = interval_s
        self.clock = clock
        self.owns_total = owns_total
        self._last_write = -float("inf")
        self._last: SweepProgress | None = None

    def __call__(self, progress: SweepProgress) -> None:
        self._last = progress
        now = self.clock()
        last_step = progress.step == progress.num_steps - 1
        if now - self._last_write < self.interval_s and not last_step:
            return
        self._last_write = now
        self._write(progress.steps_done, progress.steps_total, f"range test: {progress.label}")

    def finish(self, steps_run: int) -> None:
        """Record that the range test ended after `steps_run` steps (its result's count), so
        that a finished job's progress reads N of N: sweeps stop early, below the bound."""
        self._write(steps_run, steps_run, f"range test: ran {steps_run} steps")

    def _write(self, steps_done: int, steps_total: int, message: str) -> None:
        last = self._last
        self.write(
            steps_done=steps_done,
            steps_total=steps_total if self.owns_total else None,
            phase="range_test",
            message=message,
            lr=None if last is None else float(last.lr),
            loss=None if last is None else float(last.loss),
            smoothed_loss=None if last is None else float(last.smoothed_loss),
        )


class TrialProgressWriter(JobProgress):
    """A search's `progress` callable: one progress unit per trial epoch, counted after the
    range test's `offset` steps, and a message saying which trial is where."""

    def __init__(
        self, engine: Any, job_id: str, attempt: int, offset: int, executions: int
    ) -> None:
        super().__init__(engine, job_id, attempt)
        self.offset = offset
        self.executions = executions
        self.finished_units = 0
        self.running_units: dict[str, int] = {}

    def __call__(self, event: Any) -> None:
        family = event.spec.family if event.spec is not None else "?"
        budget = f"/{event.max_trials}" if event.max_trials else ""
        head = f"trial {event.number}{budget} {family}"
        loss = event.logs.get("loss")
        if event.event == "trial_begin":
            self.running_units[event.trial_id] = 0
            message = f"{head}: starting"
        elif event.event == "epoch_end":
            self.running_units[event.trial_id] = self.running_units.get(event.trial_id, 0) + 1
            shown = ", ".join(f"{k} {v:.4g}" for k, v in event.logs.items() if k.startswith("val_"))
            message = f"{head}: epoch {event.epoch}/{event.epochs}" + (
                f", {shown}" if shown else ""
            )
        else:
            self.running_units.pop(event.trial_id, None)
            self.finished_units += event.epochs * self.executions
            record = event.record
            score = "—" if record is None or record.score is None else f"{record.score:.4g}"
            status = record.status.lower() if record is not None else "ended"
            message = f"{head}: {status}, score {score}"
        self.write(
            steps_done=self.offset + self.finished_units + sum(self.running_units.values()),
            phase="tuning",
            message=message,
            lr=None,
            loss=float(loss) if isinstance(loss, int | float) else None,
            smoothed_loss=None,
        )


def run_find_lr(spec: dict[str, Any], sweep: ProgressWriter) -> dict[str, Any]:
    from finder.jobs import RunSpec, run_spec

    result = run_spec(RunSpec(**spec), progress=sweep)
    sweep.finish(result.steps_run)
    return result.to_dict()


def run_tune(spec: dict[str, Any], sweep: ProgressWriter) -> dict[str, Any]:
    from finder.jobs import RunSpec, TuneSpec, run_tune_spec

    run, search = RunSpec(**spec["run"]), TuneSpec(**spec["tuning"])
    trials = TrialProgressWriter(
        sweep.engine,
        sweep.job_id,
        sweep.attempt,
        offset=run.progress_steps,
        executions=search.executions_per_trial,
    )
    return run_tune_spec(run, search, sweep_progress=sweep, trial_progress=trials).to_dict()


Runner = Callable[[dict[str, Any], ProgressWriter], dict[str, Any]]
RUNNERS: dict[str, Runner] = {"find_lr": run_find_lr, "tune": run_tune}
# For the repository's tests only, never set by the service: names ("module:attribute") a table
# of stand-in runners, in a module of the `tests` package (not installed with the service), that
# a job process uses instead of `RUNNERS` (the service's tests check the job state machine, the
# API and the dashboard on a stub that needs no TensorFlow).
TEST_RUNNERS_VAR = "FINDER_TEST_JOB_RUNNERS"


def runners() -> Mapping[str, Runner]:
    """The runner of each job kind: `RUNNERS`, or the test table `TEST_RUNNERS_VAR` names."""
    named = os.environ.get(TEST_RUNNERS_VAR)
    if not named:
        return RUNNERS
    module, _, attribute = named.partition(":")
    if module.split(".")[0] != "tests":
        raise RuntimeError(f"{TEST_RUNNERS_VAR} names {named!r}, not a table in tests")
    table: Mapping[str, Runner] = getattr(importlib.import_module(module), attribute)
    return table


def run_job(
    job_id: str,
    attempt: int,
    database_url: str,
    kind: str,
    spec: dict[str, Any],
    progress_interval_s: float,
) -> Outcome:
    """Run attempt `attempt` of job `job_id`; return its `Outcome` (never raise)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        engine = create_db_engine(database_url, pooled=False)
    except Exception as exc:
        return failure(exc)
    try:
        return attempt_job(engine, job_id, attempt, kind, spec, progress_interval_s)
    except Exception as exc:  # The database failed while recording: the dispatcher records.
        return failure(exc)
    finally:
        engine.dispose()


def attempt_job(
    engine: Any,
    job_id: str,
    attempt: int,
    kind: str,
    spec: dict[str, Any],
    progress_interval_s: float,
) -> Outcome:
    """Record the start, run the job, record a success or a deterministic failure."""
    node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    with transaction(engine) as session:
        started = lifecycle.record_start(session, job_id, attempt, os.getpid(), node_id)
    if not started:
        return outcome("superseded")
    try:
        # A tuning job's total counts its trials too (see `ProgressWriter`).
        sweep = ProgressWriter(
            engine, job_id, attempt, progress_interval_s, owns_total=kind == "find_lr"
        )
        result = runners()[kind](spec, sweep)
    except Exception as exc:
        ended = failure(exc)
        if ended["status"] == "failed":
            with transaction(engine) as session:
                lifecycle.record_failure(
                    session, job_id, attempt, str(ended["reason"]), ended["kind"]
                )
        return ended
    with transaction(engine) as session:
        lifecycle.record_success(session, job_id, attempt, result)
    return outcome("succeeded")


# A fresh process per job; the dispatcher, not Ray, decides about retries.
run_job_remote = ray.remote(max_calls=1, max_retries=0)(run_job)

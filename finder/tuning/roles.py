"""The ways one `finder.tune` call searches: here, as keras-tuner's chief, as one of its
workers, or as a chief with Ray tasks for workers.

`finder.tune` prepares a `SearchJob` (the hypermodel, `fit` arguments, trial budget, progress)
and a keras-tuner tuner, then calls one of these; each returns the `TrialRecord`s of the trials
it owns (a worker: only its own), checked (`TuningError` when a trial failed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from finder.tuning.distributed import OracleServer, TrialWatcher, chief_address, search_on_ray
from finder.tuning.hypermodel import ScheduleHyperModel, TrialProgress, trial_record
from finder.tuning.result import TrialRecord
from finder.tuning.tuners import check_trials


@dataclass
class SearchJob:
    """What every search path needs from the `tune` call: `where` names the keras-tuner
    project directory in error messages (None for a temporary one)."""

    hypermodel: ScheduleHyperModel
    fit_kwargs: dict[str, Any]
    max_trials: int | None
    progress: Callable[[TrialProgress], None] | None
    where: str | None = None


def search_locally(job: SearchJob, kt_tuner: Any) -> list[TrialRecord]:
    """Run every trial in this process."""
    kt_tuner.oracle.verbose = 0
    try:
        kt_tuner.search(**job.fit_kwargs, verbose=0)
    except RuntimeError as exc:
        # keras-tuner gives up after MAX_CONSECUTIVE_FAILURES failed trials.
        check_trials(_records(kt_tuner.oracle, job.hypermodel), job.where, cause=exc)
        raise
    return _checked_records(job, kt_tuner)


def search_as_worker(job: SearchJob, kt_tuner: Any) -> list[TrialRecord]:
    """Run the trials the chief's oracle hands this worker; returns only those."""
    kt_tuner.search(**job.fit_kwargs, verbose=0)
    records = [
        trial_record(kt_tuner.oracle.get_trial(trial_id), job.hypermodel)
        for trial_id in kt_tuner.finder_trial_ids
    ]
    if records:
        check_trials(records, job.where)
    return records


def search_as_chief(job: SearchJob, kt_tuner: Any) -> list[TrialRecord]:
    """Serve the oracle at keras-tuner's address to workers started elsewhere, until the
    search is over (and late workers have been told to stop)."""
    kt_tuner.oracle.verbose = 0
    watcher = TrialWatcher(kt_tuner.oracle, job.hypermodel, job.progress, job.max_trials)
    kt_tuner.save()
    server = OracleServer(kt_tuner.oracle, chief_address())
    try:
        server.serve(watcher.poll)
    finally:
        server.stop()
    return _checked_records(job, kt_tuner)


def search_with_ray_workers(
    job: SearchJob,
    kt_tuner: Any,
    count: int,
    **ray_kwargs: Any,
) -> tuple[list[TrialRecord], dict[str, list[str]]]:
    """Serve the oracle and run `count` Ray tasks as its workers (`ray_kwargs`: the worker
    function, model, data and options of `finder.tuning.distributed.search_on_ray`); returns
    the records and each worker's trial ids."""
    kt_tuner.oracle.verbose = 0
    watcher = TrialWatcher(kt_tuner.oracle, job.hypermodel, job.progress, job.max_trials)
    worker_trials = search_on_ray(kt_tuner.oracle, watcher.poll, count, **ray_kwargs)
    return _checked_records(job, kt_tuner), worker_trials


def _checked_records(job: SearchJob, kt_tuner: Any) -> list[TrialRecord]:
    records = _records(kt_tuner.oracle, job.hypermodel)
    check_trials(records, job.where)
    return records


def _records(oracle: Any, hypermodel: ScheduleHyperModel) -> list[TrialRecord]:
    return [trial_record(trial, hypermodel) for trial in list(oracle.trials.values())]

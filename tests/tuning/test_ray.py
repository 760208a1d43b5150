"""`finder.tune(workers=2)`: keras-tuner workers as Ray tasks against a chief oracle served by
the calling process, on the session's Ray (embedded, and two `ray start` nodes when slow)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import ray

from finder.errors import TuningError
from finder.tuning import tune
from tests.tuning.models import TINY_SPACE, tiny_classifier, tiny_data
from tests.utils.ray_nodes import RayCluster

MAX_TRIALS = 4


def _search(build_model: Any, workers: int = 2, **kwargs: Any) -> Any:
    x, y, x_val, y_val = tiny_data()
    return tune(
        build_model,
        x,
        y,
        validation_data=(x_val, y_val),
        space=TINY_SPACE,
        epochs=2,
        batch_size=32,
        tuner="random",
        max_trials=MAX_TRIALS,
        workers=workers,
        **kwargs,
    )


def test_ray_workers_run_every_trial_exactly_once(ray_cluster: RayCluster) -> None:
    events: list[Any] = []
    result = _search(tiny_classifier, progress=events.append)
    assert result.role == "chief"
    assert len(result.trials) == MAX_TRIALS
    assert all(t.status == "COMPLETED" for t in result.trials)
    worker_trials = result.config["worker_trials"]
    assert set(worker_trials) == {"worker0", "worker1"}
    ran = sorted(trial_id for ids in worker_trials.values() for trial_id in ids)
    assert ran == sorted(t.trial_id for t in result.trials)
    assert result.best is not None and result.best_trial_id == result.trials[0].trial_id
    # The chief reports each trial's start and end as its oracle sees them.
    ended = sorted(e.trial_id for e in events if e.event == "trial_end")
    assert ended == sorted(t.trial_id for t in result.trials)
    assert sorted(e.number for e in events if e.event == "trial_begin") == [1, 2, 3, 4]


def crash_in_ray_workers() -> Any:
    """A build_model whose process dies when it runs as a Ray worker."""
    if os.environ.get("KERASTUNER_TUNER_ID", "").startswith("worker"):
        os._exit(3)
    return tiny_classifier()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_dead_worker_stops_the_chief_with_an_error(ray_cluster: RayCluster) -> None:
    # Ray would retry the task 3 times by default (the retry resumes the worker's trial).
    with pytest.raises(TuningError, match="worker failed"):
        _search(crash_in_ray_workers, worker_options={"max_retries": 0})


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("ray_cluster", ["local"], indirect=True)
def test_a_worker_that_starts_after_the_search_does_not_hold_it_up(
    ray_cluster: RayCluster,
) -> None:
    # Each worker takes every CPU, so the second starts only after the first has run every trial
    # and been told to stop: the search must still end, complete, with the late worker idle.
    cpus = ray.cluster_resources()["CPU"]
    result = _search(tiny_classifier, worker_options={"num_cpus": cpus, "max_retries": 0})
    assert [t.status for t in result.trials] == ["COMPLETED"] * MAX_TRIALS
    ran = sorted(result.config["worker_trials"].values(), key=len)
    assert ran[-1] and sorted(ran[-1]) == sorted(t.trial_id for t in result.trials)
    assert not any(ran[:-1])  # the late worker, if it started in time, ran nothing

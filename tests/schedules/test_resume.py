"""Save after 2 epochs, resume in a fresh process: every step's LR and the weights match.

This is the lost-decayed-LR problem: a schedule that is not restored with the model (or a
callback that keeps its own step count) restarts, or jumps, when training resumes.
"""

from __future__ import annotations

import numpy as np
import pytest

from finder.schedules import ScheduleSpec
from tests.schedules.resume_worker import (
    FIRST_EPOCHS,
    RESUME_SPECS,
    RESUMED_EPOCHS,
    build_model,
    train,
)
from tests.utils.processes import run_python

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """For every family: the uninterrupted run, the first part, and the resumed part."""
    directory = tmp_path_factory.mktemp("resume")
    results: dict[str, dict] = {}
    for name, data in RESUME_SPECS.items():
        spec = ScheduleSpec.from_dict(data)
        whole_model = build_model(spec)
        whole = train(whole_model, spec, FIRST_EPOCHS + RESUMED_EPOCHS)
        first_model = build_model(spec)
        first = train(first_model, spec, FIRST_EPOCHS)
        first_model.save(directory / f"{name}.keras")
        results[name] = {"whole": whole, "whole_weights": whole_model.get_weights(), "first": first}
    # A UserWarning there (say, "Skipping variable loading for optimizer") is a failure.
    run_python("-W", "error::UserWarning", "-m", "tests.schedules.resume_worker", str(directory))
    for name in RESUME_SPECS:
        with np.load(directory / f"{name}.npz") as resumed:
            results[name]["resumed"] = dict(resumed)
    return results


@pytest.mark.parametrize("name", list(RESUME_SPECS))
def test_resumed_training_matches_uninterrupted_training(runs: dict[str, dict], name: str):
    run = runs[name]
    whole, first, resumed = run["whole"], run["first"], run["resumed"]
    steps_per_epoch = len(whole.steps) // (FIRST_EPOCHS + RESUMED_EPOCHS)
    assert whole.steps == list(range(len(whole.steps)))
    assert first.steps + resumed["steps"].tolist() == whole.steps
    # The schedule is evaluated at the same integer step by the same code: exactly equal.
    np.testing.assert_array_equal(
        first.learning_rates + resumed["learning_rates"].tolist(), whole.learning_rates
    )
    np.testing.assert_array_equal(first.momentums + resumed["momentums"].tolist(), whole.momentums)
    # The schedule really moves across the save point (else the test would prove nothing).
    save_step = FIRST_EPOCHS * steps_per_epoch
    assert whole.learning_rates[save_step] != whole.learning_rates[0]
    for i, weight in enumerate(run["whole_weights"]):
        np.testing.assert_allclose(resumed[f"weight_{i}"], weight, rtol=1e-6, atol=1e-7)


def test_momentum_cycles_across_the_save_point(runs: dict[str, dict]):
    whole = runs["one_cycle"]["whole"]
    # High momentum at the start, lowest at the LR peak, rising again while the LR anneals.
    assert whole.momentums[0] == pytest.approx(0.95)
    peak = int(np.argmax(whole.learning_rates))
    assert whole.momentums[peak] == pytest.approx(min(whole.momentums), abs=1e-3)
    assert whole.momentums[-1] > whole.momentums[peak]

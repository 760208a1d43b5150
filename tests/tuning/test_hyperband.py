"""Hyperband: every rung trains a complete schedule sized to its epochs, from scratch.

keras-tuner would continue a promoted trial from its parent's checkpoint with `initial_epoch > 0`
and a new optimizer: the schedule would restart mid-run, or (plain SGD, whose `iterations` Keras
restores) continue from the parent's step count. Either way the first-batch loss check fails.
"""

from __future__ import annotations

import pytest

from finder.tuning import tune
from finder.tuning.hypermodel import FIRST_LOSS, STEPS
from tests.tuning.models import TINY_SPACE, tiny_classifier, tiny_data

EPOCHS = 3  # Hyperband max_epochs with factor 3: rungs of 1 then 3 epochs
BATCH = 64


def test_promoted_trials_retrain_a_whole_schedule_from_the_initial_weights() -> None:
    x, y, x_val, y_val = tiny_data()
    result = tune(
        tiny_classifier,
        x,
        y,
        validation_data=(x_val, y_val),
        space=TINY_SPACE,
        epochs=EPOCHS,
        batch_size=BATCH,
        tuner="hyperband",
        max_trials=4,
    )
    steps_per_epoch = 256 // BATCH
    assert len(result.trials) == 4
    assert all(t.status == "COMPLETED" for t in result.trials)
    promoted = [t for t in result.trials if "tuner/trial_id" in t.values]
    first_rung = [t for t in result.trials if "tuner/trial_id" not in t.values]
    assert len(promoted) == 1 and len(first_rung) == 3
    for trial in first_rung:
        assert trial.epochs == 1
        assert trial.spec is not None and trial.spec.params["total_steps"] == steps_per_epoch
        assert trial.metrics[STEPS] == steps_per_epoch
    (child,) = promoted
    parent = next(t for t in result.trials if t.trial_id == child.values["tuner/trial_id"])
    assert child.values["tuner/initial_epoch"] == 1 and child.epochs == EPOCHS
    # The whole 3-epoch schedule ran from step 0 (a continuation would stop at 2 epochs' steps).
    assert child.spec is not None and child.spec.params["total_steps"] == EPOCHS * steps_per_epoch
    assert child.metrics[STEPS] == EPOCHS * steps_per_epoch
    # Same first batch loss as every first-rung trial: fresh weights, not the parent's.
    assert child.metrics[FIRST_LOSS] == pytest.approx(parent.metrics[FIRST_LOSS], rel=1e-6)
    # The promoted trial trains the parent's configuration, re-sized to its rung.
    assert child.spec.family == parent.family
    assert result.best is not None
    assert result.best.to_dict() == result.spec_for(EPOCHS * steps_per_epoch).to_dict()

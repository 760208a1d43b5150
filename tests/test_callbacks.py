"""LearningRateLogger reports the rate actually applied, for floats and schedules."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from finder.callbacks import LearningRateLogger
from finder.schedules import OneCycle

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


def fit(learning_rate, logger, epochs=3):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    x, y = np.ones((32, 2), "float32"), np.ones((32, 1), "float32")
    return model.fit(
        x, y, batch_size=8, epochs=epochs, verbose=0, shuffle=False, callbacks=[logger]
    )


def test_float_learning_rate_is_logged_per_epoch():
    history = fit(0.05, LearningRateLogger())
    assert history.history["learning_rate"] == pytest.approx([0.05] * 3)


def test_decayed_schedule_value_of_each_epochs_last_step():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    logger = LearningRateLogger(per_batch=True)
    history = fit(schedule, logger)
    # 4 steps per epoch: the last step of epoch e is step 4e + 3.
    expected = [0.1 * 0.5 ** ((4 * e + 3) / 4) for e in range(3)]
    assert history.history["learning_rate"] == pytest.approx(expected, rel=1e-5)
    assert logger.batch_learning_rates == pytest.approx(
        [0.1 * 0.5 ** (s / 4) for s in range(12)], rel=1e-5
    )


def test_one_cycle_per_batch_matches_the_schedule_and_writes_tensorboard(tmp_path):
    schedule = OneCycle(max_lr=0.2, total_steps=12)
    logger = LearningRateLogger(per_batch=True, log_dir=str(tmp_path / "tb"))
    fit(schedule, logger)
    assert logger.batch_learning_rates == pytest.approx(
        [float(schedule(s)) for s in range(12)], rel=1e-5
    )
    assert any((tmp_path / "tb").iterdir())


# One spec per family, sized for 4 epochs of 4 steps.
FAMILY_SPECS = [
    ("constant", {"learning_rate": 0.05}),
    ("one_cycle", {"max_lr": 0.2, "total_steps": 16}),
    ("cyclical", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "mode": "triangular2"}),
    ("cosine_warmup", {"max_lr": 0.1, "total_steps": 16, "warmup_steps": 4}),
    ("exponential", {"initial_lr": 0.1, "decay_steps": 4, "decay_rate": 0.5}),
    ("inverse_time", {"initial_lr": 0.1, "decay_steps": 4, "decay_rate": 1.0}),
    ("power", {"initial_lr": 0.1, "decay_steps": 16, "end_lr": 0.01, "power": 2.0}),
    ("piecewise_constant", {"boundaries": [5, 10], "values": [0.1, 0.05, 0.01]}),
    ("wsd", {"max_lr": 0.1, "total_steps": 16, "warmup_steps": 2, "decay_steps": 8}),
]


@pytest.mark.parametrize(("family", "params"), FAMILY_SPECS, ids=[f for f, _ in FAMILY_SPECS])
def test_logger_shows_each_familys_decayed_rate_per_epoch(family, params):
    from finder.schedules import ScheduleSpec

    spec = ScheduleSpec(family, params)
    history = fit(spec.to_keras(), LearningRateLogger(), epochs=4)
    last_steps = np.array([4 * e + 3 for e in range(4)])
    np.testing.assert_allclose(history.history["learning_rate"], spec.lr_at(last_steps), rtol=1e-5)


def test_logger_shows_plateau_cuts_in_the_epoch_they_apply_to():
    from finder.schedules import ScheduleSpec

    # min_delta=10 makes every epoch after the first (which sets the baseline) count as "no
    # improvement": with patience 1 the rate is cut at the end of epochs 1 and 2, and each cut
    # applies to the following epoch.
    spec = ScheduleSpec(
        "plateau",
        {"initial_lr": 0.1, "factor": 0.5, "patience": 1, "monitor": "loss", "min_delta": 10.0},
    )
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(spec.to_keras()), loss="mse")
    x, y = np.ones((32, 2), "float32"), np.ones((32, 1), "float32")
    history = model.fit(
        x, y, batch_size=8, epochs=4, verbose=0, callbacks=[*spec.callbacks(), LearningRateLogger()]
    )
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025])

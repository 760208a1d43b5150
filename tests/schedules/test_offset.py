"""StartingAt: a schedule counted from a later optimizer step, its serialization and checks."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import ops

from finder.errors import InvalidArgumentError
from finder.schedules import OneCycle, ScheduleSpec, StartingAt

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


def test_the_schedule_starts_at_its_step_and_holds_its_first_value_before():
    inner = OneCycle(0.1, total_steps=50)
    schedule = StartingAt(inner, 30)
    steps = np.arange(0, 120)
    got = ops.convert_to_numpy(schedule(steps))
    want = ops.convert_to_numpy(inner(np.maximum(steps - 30, 0)))
    np.testing.assert_array_equal(got, want)
    assert float(schedule(30)) == pytest.approx(0.1 / 25)
    assert float(schedule(30 + 14)) == pytest.approx(0.1)  # the peak, 15 steps into the cycle


def test_serialize_deserialize_round_trip():
    schedule = StartingAt(OneCycle(0.3, 500, pct_start=0.25), 120)
    serialized = keras.saving.serialize_keras_object(schedule)
    assert serialized["registered_name"] == "finder>StartingAt"
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert isinstance(restored, StartingAt) and isinstance(restored.schedule, OneCycle)
    steps = np.arange(0, 700, 7)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(restored(steps)), ops.convert_to_numpy(schedule(steps))
    )


def test_an_optimizer_with_it_saves_and_loads(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    schedule = StartingAt(OneCycle(0.1, total_steps=8), 4)
    model.compile(keras.optimizers.SGD(schedule), "mse")
    x, y = np.ones((16, 3), "float32"), np.ones((16, 1), "float32")
    model.fit(x, y, batch_size=4, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert float(loaded.optimizer.learning_rate) == pytest.approx(float(schedule(4)))


def test_the_spec_builds_it_only_for_a_later_start():
    spec = ScheduleSpec("one_cycle", {"max_lr": 0.1, "total_steps": 100, "cycle_momentum": True})
    assert isinstance(spec.to_keras(), OneCycle)
    later = spec.to_keras(start_step=40)
    assert isinstance(later, StartingAt) and later.start_step == 40
    assert spec.callbacks(start_step=40)[0].start_step == 40
    assert ScheduleSpec("constant", {"learning_rate": 0.1}).to_keras(start_step=40) == 0.1
    assert "start_step" not in spec.to_code()  # the code a user copies starts at step 0


@pytest.mark.parametrize(
    "args, message",
    [
        ((0.1, 3), "`schedule` must be a keras LearningRateSchedule"),
        ((OneCycle(0.1, 10), -1), "`start_step` must be an integer >= 0"),
    ],
)
def test_invalid_arguments_are_refused(args, message):
    with pytest.raises(InvalidArgumentError, match=message):
        StartingAt(*args)

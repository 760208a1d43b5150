"""WarmupStableDecay: the closed form at every step, checks, serialization, save and resume."""

from __future__ import annotations

import json
import math
import re

import keras
import numpy as np
import pytest
from keras import ops

from finder.errors import InvalidArgumentError, InvalidRangeError
from finder.schedules import ScheduleSpec, WarmupStableDecay, evaluate_learning_rate

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


def _closed_form(
    step,
    max_lr,
    total_steps,
    warmup_steps,
    decay_steps,
    initial_lr=0.0,
    final_lr=0.0,
    decay="linear",
):
    """The schedule as its docstring writes it, in float64."""
    decay_start = total_steps - decay_steps
    if step < warmup_steps:
        return initial_lr + (max_lr - initial_lr) * step / warmup_steps
    if step < decay_start:
        return max_lr
    p = min(1.0, (step - decay_start) / decay_steps)
    factor = {
        "linear": 1 - p,
        "cosine": 0.5 * (1 + math.cos(math.pi * p)),
        "sqrt": 1 - math.sqrt(p),
    }[decay]
    return final_lr + (max_lr - final_lr) * factor


PARAMETER_SETS = [
    # warm-up, a stable stretch, and a decay to 0
    {"max_lr": 0.1, "total_steps": 100, "warmup_steps": 10, "decay_steps": 20},
    # from and to non-zero rates, with a one-step warm-up
    {
        "max_lr": 0.5,
        "total_steps": 37,
        "warmup_steps": 1,
        "decay_steps": 9,
        "initial_lr": 0.01,
        "final_lr": 0.05,
    },
    # no warm-up: the peak from step 0
    {"max_lr": 0.2, "total_steps": 50, "warmup_steps": 0, "decay_steps": 10, "final_lr": 0.002},
    # no stable stretch: the decay starts where the warm-up ends
    {"max_lr": 0.3, "total_steps": 40, "warmup_steps": 15, "decay_steps": 25, "initial_lr": 0.03},
    # neither: a pure decay over the whole run
    {"max_lr": 1.0, "total_steps": 30, "warmup_steps": 0, "decay_steps": 30},
    # a one-step run
    {"max_lr": 0.1, "total_steps": 1, "warmup_steps": 0, "decay_steps": 1},
]


@pytest.mark.parametrize("decay", ["linear", "cosine", "sqrt"])
@pytest.mark.parametrize("params", PARAMETER_SETS)
def test_equals_the_closed_form_at_every_step(params, decay):
    schedule = WarmupStableDecay(**params, decay=decay)
    steps = np.arange(params["total_steps"] + 6)
    expected = [_closed_form(int(step), **params, decay=decay) for step in steps]
    actual = ops.convert_to_numpy(schedule(steps))
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-9)
    # Training evaluates one integer step at a time; so does evaluate_learning_rate.
    np.testing.assert_allclose(
        evaluate_learning_rate(schedule, steps), expected, rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize(
    ("kwargs", "step", "expected"),
    [
        # halfway through the warm-up
        ({"decay": "linear"}, 5, 0.05),
        # the peak, held from the end of the warm-up to the start of the decay (step 80)
        ({"decay": "linear"}, 10, 0.1),
        ({"decay": "linear"}, 80, 0.1),
        # a quarter into the decay: linear 0.75, cosine (1 + cos(pi / 4)) / 2, sqrt 1 - 0.5
        ({"decay": "linear"}, 85, 0.075),
        ({"decay": "cosine"}, 85, 0.1 * (1 + math.sqrt(0.5)) / 2),
        ({"decay": "sqrt"}, 85, 0.05),
        # the end and past it: final_lr
        ({"decay": "sqrt"}, 100, 0.0),
        ({"decay": "cosine", "final_lr": 0.001}, 10**6, 0.001),
    ],
)
def test_values_at_chosen_steps(kwargs, step, expected):
    schedule = WarmupStableDecay(0.1, 100, 10, 20, **kwargs)
    assert float(schedule(step)) == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_steps_as_int64_variable_like_optimizer_iterations():
    step = keras.Variable(50, dtype="int", trainable=False)  # int64 on TF, int32 on JAX
    value = WarmupStableDecay(0.1, 100, 10, 20)(step)
    assert ops.convert_to_numpy(value).dtype == np.float32
    assert float(value) == pytest.approx(0.1, rel=1e-6)


BASE = {"max_lr": 0.1, "total_steps": 100, "warmup_steps": 10, "decay_steps": 20}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {**BASE, "max_lr": 0.0},
            InvalidArgumentError,
            "Argument `max_lr` must be a number > 0. Received: max_lr=0.0",
        ),
        ({**BASE, "max_lr": "0.1"}, InvalidArgumentError, "Received: max_lr='0.1'"),
        (
            {**BASE, "total_steps": 0},
            InvalidArgumentError,
            "Argument `total_steps` must be an integer > 0. Received: total_steps=0",
        ),
        (
            {**BASE, "warmup_steps": -1},
            InvalidArgumentError,
            "Argument `warmup_steps` must be an integer >= 0. Received: warmup_steps=-1",
        ),
        ({**BASE, "warmup_steps": 2.0}, InvalidArgumentError, "Received: warmup_steps=2.0"),
        (
            {**BASE, "decay_steps": 0},
            InvalidArgumentError,
            "Argument `decay_steps` must be an integer > 0. Received: decay_steps=0",
        ),
        ({**BASE, "decay_steps": True}, InvalidArgumentError, "Received: decay_steps=True"),
        # the two phases must fit in the run
        (
            {**BASE, "warmup_steps": 81},
            InvalidRangeError,
            "`warmup_steps` + `decay_steps` must be <= `total_steps`. "
            "Received: warmup_steps=81, decay_steps=20, total_steps=100",
        ),
        (
            {**BASE, "warmup_steps": 0, "decay_steps": 101},
            InvalidRangeError,
            "Received: warmup_steps=0, decay_steps=101, total_steps=100",
        ),
        (
            {**BASE, "initial_lr": -0.01},
            InvalidArgumentError,
            "Argument `initial_lr` must be a number in [0, 0.1]. Received: initial_lr=-0.01",
        ),
        # a warm-up goes up to the peak, a decay down from it
        ({**BASE, "initial_lr": 0.2}, InvalidArgumentError, "Received: initial_lr=0.2"),
        (
            {**BASE, "final_lr": 0.2},
            InvalidArgumentError,
            "Argument `final_lr` must be a number in [0, 0.1]. Received: final_lr=0.2",
        ),
        ({**BASE, "final_lr": float("nan")}, InvalidArgumentError, "Received: final_lr=nan"),
        (
            {**BASE, "decay": "cos"},
            InvalidArgumentError,
            "Argument `decay` must be one of 'linear', 'cosine', 'sqrt'. Received: decay='cos'",
        ),
    ],
)
def test_invalid_arguments_name_the_argument_and_the_value(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        WarmupStableDecay(**kwargs)


def test_invalid_argument_error_is_a_value_error():
    with pytest.raises(ValueError):
        WarmupStableDecay(0.1, 10, 5, 6)


FULL = {**BASE, "initial_lr": 0.01, "final_lr": 0.001, "decay": "sqrt"}


def test_get_config_holds_exactly_the_constructor_arguments():
    schedule = WarmupStableDecay(**FULL)
    assert schedule.get_config() == FULL
    assert WarmupStableDecay.from_config(schedule.get_config()).get_config() == FULL
    assert WarmupStableDecay(**BASE).get_config() == {
        **BASE,
        "initial_lr": 0.0,
        "final_lr": 0.0,
        "decay": "linear",
    }


def test_serialize_deserialize_round_trip():
    schedule = WarmupStableDecay(**FULL)
    serialized = keras.saving.serialize_keras_object(schedule)
    assert serialized["registered_name"] == "finder>WarmupStableDecay"
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert isinstance(restored, WarmupStableDecay)
    assert restored.get_config() == schedule.get_config()
    steps = np.arange(0, 110)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(restored(steps)), ops.convert_to_numpy(schedule(steps))
    )


def test_schedule_spec_round_trips():
    spec = ScheduleSpec("wsd", FULL)
    data = spec.to_dict()
    assert data == {"family": "wsd", "params": FULL}
    assert ScheduleSpec.from_dict(json.loads(json.dumps(data))) == spec
    built = spec.to_keras()
    assert isinstance(built, WarmupStableDecay) and built.get_config() == FULL
    assert ScheduleSpec.from_keras(built) == spec
    assert ScheduleSpec.from_keras(WarmupStableDecay(**BASE)).to_keras().get_config() == {
        **BASE,
        "initial_lr": 0.0,
        "final_lr": 0.0,
        "decay": "linear",
    }
    steps = np.arange(110)
    np.testing.assert_allclose(
        spec.lr_at(steps), [_closed_form(int(s), **FULL) for s in steps], rtol=1e-6, atol=1e-9
    )


def test_schedule_spec_checks_wsd_params():
    with pytest.raises(InvalidArgumentError, match="Missing params for family 'wsd': decay_steps"):
        ScheduleSpec("wsd", {"max_lr": 0.1, "total_steps": 100, "warmup_steps": 10})
    with pytest.raises(InvalidArgumentError, match="Unknown params for family 'wsd': alpha"):
        ScheduleSpec("wsd", {**BASE, "alpha": 0.1})
    with pytest.raises(InvalidArgumentError, match="Received: decay='exp'"):
        ScheduleSpec("wsd", {**BASE, "decay": "exp"})


# 4 steps per epoch; the decay (steps 6..13) straddles the save after 2 epochs (step 8).
SAVE_PARAMS = {
    "max_lr": 0.05,
    "total_steps": 14,
    "warmup_steps": 3,
    "decay_steps": 8,
    "initial_lr": 0.005,
    "final_lr": 0.0005,
    "decay": "sqrt",
}


class _LearningRates(keras.callbacks.Callback):
    """The learning rate each step will use, read before the step."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.values.append(float(self.model.optimizer.learning_rate))


def _fit(model: keras.Model, epochs: int) -> list[float]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]])).astype("float32")
    recorder = _LearningRates()
    model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=[recorder])
    return recorder.values


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=WarmupStableDecay(**SAVE_PARAMS)),
        loss="mse",
    )
    return model


def test_survives_save_and_load_mid_training(tmp_path):
    uninterrupted = _fit(_model(), epochs=4)

    model = _model()
    first = _fit(model, epochs=2)
    path = tmp_path / "wsd.keras"
    model.save(path)
    # No custom_objects: importing finder.schedules registered the class by its name.
    loaded = keras.models.load_model(path)
    optimizer = loaded.optimizer
    saved_schedule = optimizer.get_config()["learning_rate"]
    assert saved_schedule["registered_name"] == "finder>WarmupStableDecay"
    assert saved_schedule["config"] == SAVE_PARAMS
    step = int(optimizer.iterations)
    assert step == 8
    assert float(optimizer.learning_rate) == pytest.approx(
        _closed_form(step, **SAVE_PARAMS), rel=1e-6
    )
    resumed = _fit(loaded, epochs=2)

    assert first + resumed == uninterrupted
    np.testing.assert_allclose(
        uninterrupted, [_closed_form(step, **SAVE_PARAMS) for step in range(16)], rtol=1e-6
    )

"""Factories for the Keras built-ins and PlateauPolicy: values, round trips, checks."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import keras
import numpy as np
import pytest

from finder.errors import InvalidArgumentError, InvalidRangeError
from finder.schedules import (
    OneCycle,
    PlateauPolicy,
    cosine_warmup,
    exponential,
    inverse_time,
    piecewise_constant,
    power,
)

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral

COSINE = {"max_lr": 0.1, "total_steps": 110, "warmup_steps": 10, "initial_lr": 0.01}


@pytest.mark.parametrize(
    ("factory", "kwargs", "step", "expected"),
    [
        # cosine_warmup: starts at initial_lr
        (cosine_warmup, COSINE, 0, 0.01),
        # cosine_warmup: halfway through the linear warm-up
        (cosine_warmup, COSINE, 5, 0.055),
        # cosine_warmup: the peak at the end of the warm-up
        (cosine_warmup, COSINE, 10, 0.1),
        # cosine_warmup: halfway through the 100 decay steps
        (cosine_warmup, COSINE, 60, 0.05),
        # cosine_warmup: the end, and past it: alpha * max_lr = 0
        (cosine_warmup, COSINE, 110, 0.0),
        (cosine_warmup, COSINE, 500, 0.0),
        # cosine_warmup with alpha: ends at alpha * max_lr; halfway is the mean
        (cosine_warmup, {**COSINE, "alpha": 0.1}, 60, 0.1 * (0.5 * 0.9 + 0.1)),
        (cosine_warmup, {**COSINE, "alpha": 0.1}, 300, 0.01),
        # cosine_warmup without warm-up: decays from max_lr at step 0
        (cosine_warmup, {"max_lr": 0.1, "total_steps": 100, "warmup_steps": 0}, 0, 0.1),
        (
            cosine_warmup,
            {"max_lr": 0.1, "total_steps": 100, "warmup_steps": 0},
            25,
            0.05 * (1 + math.cos(math.pi / 4)),
        ),
        # exponential: one decay_steps later, times decay_rate
        (exponential, {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 0.5}, 10, 0.05),
        # exponential: continuous in between
        (exponential, {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 0.5}, 5, 0.1 * 0.5**0.5),
        # exponential staircase: constant until the next multiple of decay_steps
        (
            exponential,
            {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": True},
            9,
            0.1,
        ),
        (
            exponential,
            {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": True},
            25,
            0.025,
        ),
        # inverse_time: initial / (1 + rate * step / decay_steps)
        (inverse_time, {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 1.0}, 10, 0.05),
        (inverse_time, {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 1.0}, 5, 0.1 / 1.5),
        # inverse_time staircase
        (
            inverse_time,
            {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 1.0, "staircase": True},
            19,
            0.05,
        ),
        # power: quadratic decay to end_lr, halfway: a quarter of the drop left
        (
            power,
            {"initial_lr": 0.1, "decay_steps": 100, "end_lr": 0.01, "power": 2.0},
            50,
            0.01 + 0.09 * 0.25,
        ),
        # power: holds end_lr after decay_steps
        (power, {"initial_lr": 0.1, "decay_steps": 100, "end_lr": 0.01, "power": 2.0}, 400, 0.01),
        # power defaults: linear to 0
        (power, {"initial_lr": 0.1, "decay_steps": 100}, 25, 0.075),
        # power with cycle: after decay_steps, decays again over 2 * decay_steps
        (power, {"initial_lr": 0.1, "decay_steps": 100, "cycle": True}, 150, 0.1 * 0.25),
        # piecewise_constant: boundaries belong to the earlier piece
        (piecewise_constant, {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]}, 10, 0.1),
        (piecewise_constant, {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]}, 11, 0.01),
        (piecewise_constant, {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]}, 20, 0.01),
        (piecewise_constant, {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]}, 21, 0.001),
    ],
)
def test_values_at_chosen_steps(factory, kwargs, step, expected):
    schedule = factory(**kwargs)
    # dtype "int" as optimizer.iterations: int64 on TensorFlow, int32 on JAX.
    step = keras.Variable(step, dtype="int", trainable=False)
    assert float(schedule(step)) == pytest.approx(expected, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(
    ("factory", "kwargs", "keras_class"),
    [
        (cosine_warmup, COSINE, keras.optimizers.schedules.CosineDecay),
        (
            exponential,
            {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 0.5},
            keras.optimizers.schedules.ExponentialDecay,
        ),
        (
            inverse_time,
            {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 0.5},
            keras.optimizers.schedules.InverseTimeDecay,
        ),
        (
            power,
            {"initial_lr": 0.1, "decay_steps": 10, "power": 3.0},
            keras.optimizers.schedules.PolynomialDecay,
        ),
        (
            piecewise_constant,
            {"boundaries": [3], "values": [0.1, 0.01]},
            keras.optimizers.schedules.PiecewiseConstantDecay,
        ),
    ],
)
def test_factories_return_plain_keras_objects_that_round_trip(factory, kwargs, keras_class):
    schedule = factory(**kwargs)
    assert type(schedule) is keras_class
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(schedule)))
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is keras_class
    assert restored.get_config() == schedule.get_config()
    for step in (0, 3, 7, 50):
        assert float(restored(step)) == float(schedule(step))


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (
            cosine_warmup,
            {**COSINE, "max_lr": 0.0},
            "Argument `max_lr` must be a number > 0. Received: max_lr=0.0",
        ),
        (
            cosine_warmup,
            {**COSINE, "warmup_steps": -1},
            "Argument `warmup_steps` must be an integer >= 0. Received: warmup_steps=-1",
        ),
        (cosine_warmup, {**COSINE, "initial_lr": -0.1}, "Received: initial_lr=-0.1"),
        (
            cosine_warmup,
            {**COSINE, "alpha": 2.0},
            "Argument `alpha` must be a number in [0, 1]. Received: alpha=2.0",
        ),
        (
            exponential,
            {"initial_lr": 0.1, "decay_steps": 0, "decay_rate": 0.5},
            "Argument `decay_steps` must be an integer > 0. Received: decay_steps=0",
        ),
        (
            exponential,
            {"initial_lr": 0.1, "decay_steps": 5, "decay_rate": 0.0},
            "Argument `decay_rate` must be a number > 0. Received: decay_rate=0.0",
        ),
        (
            exponential,
            {"initial_lr": 0.1, "decay_steps": 5, "decay_rate": 0.5, "staircase": "yes"},
            "Argument `staircase` must be a bool. Received: staircase='yes'",
        ),
        (
            inverse_time,
            {"initial_lr": 0.0, "decay_steps": 5, "decay_rate": 0.5},
            "Argument `initial_lr` must be a number > 0. Received: initial_lr=0.0",
        ),
        (
            inverse_time,
            {"initial_lr": 0.1, "decay_steps": 5, "decay_rate": -1.0},
            "Received: decay_rate=-1.0",
        ),
        (
            power,
            {"initial_lr": 0.1, "decay_steps": 5, "end_lr": 0.2},
            "Argument `end_lr` must be a number in [0, 0.1]. Received: end_lr=0.2",
        ),
        (
            power,
            {"initial_lr": 0.1, "decay_steps": 5, "power": 0},
            "Argument `power` must be a number > 0. Received: power=0",
        ),
        (
            piecewise_constant,
            {"boundaries": [], "values": [0.1]},
            "Argument `boundaries` must be a non-empty list. Received: boundaries=[]",
        ),
        (
            piecewise_constant,
            {"boundaries": [5, 5], "values": [0.1, 0.01, 0.001]},
            "Argument `boundaries` must be strictly increasing. Received: boundaries=[5, 5]",
        ),
        (
            piecewise_constant,
            {"boundaries": [5], "values": [0.1]},
            "Argument `values` must be 2 numbers, one more than `boundaries`. "
            "Received: values=[0.1]",
        ),
        (piecewise_constant, {"boundaries": [5], "values": [0.1, -1.0]}, "Received: values=-1.0"),
        (piecewise_constant, {"boundaries": "5", "values": [0.1, 0.2]}, "Received: boundaries='5'"),
    ],
)
def test_invalid_arguments_name_the_argument_and_the_value(factory, kwargs, message):
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        factory(**kwargs)


def test_warmup_as_long_as_the_schedule_is_an_invalid_range():
    message = (
        "Argument `warmup_steps` must be < `total_steps`. Received: warmup_steps=10, total_steps=10"
    )
    with pytest.raises(InvalidRangeError, match=re.escape(message)):
        cosine_warmup(0.1, 10, 10)


def test_plateau_callback_is_configured_from_the_policy():
    policy = PlateauPolicy(0.01, factor=0.5, patience=3, min_lr=1e-5, monitor="loss", cooldown=1)
    callback = policy.callback()
    assert isinstance(callback, keras.callbacks.ReduceLROnPlateau)
    assert (callback.monitor, callback.factor, callback.patience) == ("loss", 0.5, 3)
    assert (callback.min_lr, callback.cooldown, callback.min_delta) == (1e-5, 1, 1e-4)
    assert policy.callback() is not callback  # a fresh callback each time


def test_plateau_policy_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PlateauPolicy(0.01).factor = 0.5  # type: ignore[misc]


def test_plateau_policy_needs_a_float_learning_rate_not_a_schedule():
    # Why PlateauPolicy is no schedule: ReduceLROnPlateau assigns floats, and Keras refuses a
    # float on an optimizer built with a schedule.
    optimizer = keras.optimizers.SGD(learning_rate=OneCycle(0.1, 100))
    with pytest.raises(TypeError):
        optimizer.learning_rate = 0.01


def test_plateau_reduces_the_float_learning_rate_in_training():
    policy = PlateauPolicy(0.1, factor=0.5, patience=0, monitor="loss", min_delta=1e9)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate=policy.initial_lr), "mse", jit_compile=False)
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[policy.callback()])
    # The first epoch improves on "no loss yet"; with a min_delta this large no later epoch
    # does, so epochs 2 and 3 each halve the rate.
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1 / 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_lr": 0}, "Argument `initial_lr` must be a number > 0. Received: initial_lr=0"),
        (
            {"initial_lr": 0.1, "factor": 1.0},
            "Argument `factor` must be a number in (0, 1). Received: factor=1.0",
        ),
        (
            {"initial_lr": 0.1, "patience": -1},
            "Argument `patience` must be an integer >= 0. Received: patience=-1",
        ),
        (
            {"initial_lr": 0.1, "min_lr": 0.5},
            "Argument `min_lr` must be a number in [0, 0.1]. Received: min_lr=0.5",
        ),
        (
            {"initial_lr": 0.1, "monitor": ""},
            "Argument `monitor` must be a non-empty string. Received: monitor=''",
        ),
        (
            {"initial_lr": 0.1, "mode": "up"},
            "Argument `mode` must be one of 'auto', 'min', 'max'. Received: mode='up'",
        ),
        ({"initial_lr": 0.1, "min_delta": -1.0}, "Received: min_delta=-1.0"),
        ({"initial_lr": 0.1, "cooldown": 1.5}, "Received: cooldown=1.5"),
    ],
)
def test_plateau_policy_checks_its_fields(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        PlateauPolicy(**kwargs)

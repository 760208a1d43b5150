"""OneCycle: closed-form values at chosen steps, serialization, argument checks."""

from __future__ import annotations

import json
import math
import re

import keras
import numpy as np
import pytest
from keras import ops

from finder.errors import InvalidArgumentError
from finder.schedules import OneCycle

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


def _torch_one_cycle(
    step,
    max_lr,
    total_steps,
    pct_start=0.3,
    div_factor=25.0,
    final_div_factor=1e4,
    anneal="cos",
    three_phase=False,
):
    """PyTorch's OneCycleLR.get_lr, transcribed, in float64 (valid up to total_steps - 1)."""
    initial = max_lr / div_factor
    minimum = initial / final_div_factor
    if three_phase:
        phases = [
            (float(pct_start * total_steps) - 1, initial, max_lr),
            (float(2 * pct_start * total_steps) - 2, max_lr, initial),
            (total_steps - 1, initial, minimum),
        ]
    else:
        phases = [
            (float(pct_start * total_steps) - 1, initial, max_lr),
            (total_steps - 1, max_lr, minimum),
        ]
    start_step = 0.0
    for i, (end_step, start, end) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            pct = (step - start_step) / (end_step - start_step)
            if anneal == "cos":
                return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
            return (end - start) * pct + start
        start_step = end_step
    raise AssertionError("unreachable")


DEFAULT = {"max_lr": 0.1, "total_steps": 100}  # phases end at steps 29 and 99


@pytest.mark.parametrize(
    ("kwargs", "step", "expected"),
    [
        # cos, start: max_lr / div_factor
        (DEFAULT, 0, 0.004),
        # cos, end of warm-up (29 = float(0.3 * 100) - 1): the peak
        (DEFAULT, 29, 0.1),
        # cos, halfway through the anneal (29 -> 99): the mean of max_lr and min_lr
        (DEFAULT, 64, (0.1 + 4e-7) / 2),
        # cos, last step: min_lr = max_lr / 25 / 1e4
        (DEFAULT, 99, 4e-7),
        # cos, past the end: holds min_lr (PyTorch raises)
        (DEFAULT, 100, 4e-7),
        (DEFAULT, 10**6, 4e-7),
        # cos, a quarter into the warm-up (29 / 4 is not a step, so the formula)
        (DEFAULT, 7, _torch_one_cycle(7, **DEFAULT)),
        # linear, start
        ({**DEFAULT, "anneal": "linear"}, 0, 0.004),
        # linear, one third into a warm-up that ends at step 3 (= 0.1 * 40 - 1)
        (
            {"max_lr": 1.0, "total_steps": 40, "pct_start": 0.1, "anneal": "linear"},
            1,
            0.04 + 0.96 / 3,
        ),
        # linear, halfway through the anneal (29 -> 99)
        ({**DEFAULT, "anneal": "linear"}, 64, (0.1 + 4e-7) / 2),
        # linear, last step and past the end: min_lr (PyTorch would extrapolate below it)
        ({**DEFAULT, "anneal": "linear"}, 99, 4e-7),
        ({**DEFAULT, "anneal": "linear"}, 150, 4e-7),
        # three phases: ends at 29, 58, 99; back at initial_lr at 58
        ({**DEFAULT, "three_phase": True}, 0, 0.004),
        ({**DEFAULT, "three_phase": True}, 29, 0.1),
        ({**DEFAULT, "three_phase": True}, 58, 0.004),
        ({**DEFAULT, "three_phase": True}, 99, 4e-7),
        ({**DEFAULT, "three_phase": True}, 200, 4e-7),
        # three phases, linear, middle of the way down from the peak (29 -> 58)
        (
            {**DEFAULT, "three_phase": True, "anneal": "linear"},
            43,
            _torch_one_cycle(43, **DEFAULT, three_phase=True, anneal="linear"),
        ),
        # custom factors: initial 0.5 / 5, min 0.1 / 10
        ({"max_lr": 0.5, "total_steps": 10, "div_factor": 5.0, "final_div_factor": 10.0}, 0, 0.1),
        ({"max_lr": 0.5, "total_steps": 10, "div_factor": 5.0, "final_div_factor": 10.0}, 9, 0.01),
        # one step: the anneal phase starts before step 0, so step 0 is already min_lr
        ({"max_lr": 0.2, "total_steps": 1}, 0, 0.2 / 25 / 1e4),
        # pct_start * total_steps == 1: a zero-length warm-up (PyTorch divides by zero);
        # step 0 takes the warm-up's end value
        ({"max_lr": 0.2, "total_steps": 10, "pct_start": 0.1}, 0, 0.2),
    ],
)
def test_values_at_chosen_steps(kwargs, step, expected):
    assert float(OneCycle(**kwargs)(step)) == pytest.approx(expected, rel=1e-6)


def test_matches_the_pytorch_formula_at_every_step():
    for kwargs in (DEFAULT, {**DEFAULT, "anneal": "linear"}, {**DEFAULT, "three_phase": True}):
        schedule = OneCycle(**kwargs)
        expected = [_torch_one_cycle(step, **kwargs) for step in range(100)]
        actual = ops.convert_to_numpy(schedule(np.arange(100)))
        np.testing.assert_allclose(actual, expected, rtol=1e-5)


def test_steps_as_int64_variable_like_optimizer_iterations():
    step = keras.Variable(29, dtype="int", trainable=False)  # int64 on TF, int32 on JAX
    value = OneCycle(**DEFAULT)(step)
    assert ops.convert_to_numpy(value).dtype == np.float32
    assert float(value) == pytest.approx(0.1, rel=1e-6)


def test_serialize_deserialize_round_trip():
    schedule = OneCycle(0.3, 500, pct_start=0.25, anneal="linear", three_phase=True)
    serialized = keras.saving.serialize_keras_object(schedule)
    assert serialized["registered_name"] == "finder>OneCycle"
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert isinstance(restored, OneCycle)
    assert restored.get_config() == schedule.get_config()
    steps = np.arange(0, 600, 7)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(restored(steps)), ops.convert_to_numpy(schedule(steps))
    )


def test_get_config_holds_exactly_the_constructor_arguments():
    schedule = OneCycle(0.3, 500, pct_start=0.25)
    config = schedule.get_config()
    assert config == {
        "max_lr": 0.3,
        "total_steps": 500,
        "pct_start": 0.25,
        "div_factor": 25.0,
        "final_div_factor": 1e4,
        "anneal": "cos",
        "three_phase": False,
    }
    assert OneCycle.from_config(config).get_config() == config


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"max_lr": 0.0, "total_steps": 10},
            "Argument `max_lr` must be a number > 0. Received: max_lr=0.0",
        ),
        ({"max_lr": "0.1", "total_steps": 10}, "Received: max_lr='0.1'"),
        ({"max_lr": float("nan"), "total_steps": 10}, "Received: max_lr=nan"),
        (
            {"max_lr": 0.1, "total_steps": 0},
            "Argument `total_steps` must be an integer > 0. Received: total_steps=0",
        ),
        ({"max_lr": 0.1, "total_steps": 10.0}, "Received: total_steps=10.0"),
        ({"max_lr": 0.1, "total_steps": True}, "Received: total_steps=True"),
        (
            {"max_lr": 0.1, "total_steps": 10, "pct_start": 0.0},
            "Argument `pct_start` must be a number in (0, 1). Received: pct_start=0.0",
        ),
        ({"max_lr": 0.1, "total_steps": 10, "pct_start": 1.0}, "Received: pct_start=1.0"),
        # three phases need room for the symmetric way down
        (
            {"max_lr": 0.1, "total_steps": 10, "pct_start": 0.6, "three_phase": True},
            "Argument `pct_start` must be a number in (0, 0.5]. Received: pct_start=0.6",
        ),
        ({"max_lr": 0.1, "total_steps": 10, "div_factor": -1}, "Received: div_factor=-1"),
        ({"max_lr": 0.1, "total_steps": 10, "final_div_factor": 0}, "Received: final_div_factor=0"),
        (
            {"max_lr": 0.1, "total_steps": 10, "anneal": "cosine"},
            "Argument `anneal` must be one of 'cos', 'linear'. Received: anneal='cosine'",
        ),
        (
            {"max_lr": 0.1, "total_steps": 10, "three_phase": 1},
            "Argument `three_phase` must be a bool. Received: three_phase=1",
        ),
    ],
)
def test_invalid_arguments_name_the_argument_and_the_value(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        OneCycle(**kwargs)


def test_invalid_argument_error_is_a_value_error():
    with pytest.raises(ValueError):
        OneCycle(0.1, -5)

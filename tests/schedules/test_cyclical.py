"""CyclicalLearningRate: closed-form values, the paper's formula, serialization, checks."""

from __future__ import annotations

import json
import math
import re

import keras
import numpy as np
import pytest
from keras import ops

from finder.errors import InvalidArgumentError, InvalidRangeError
from finder.schedules import CyclicalLearningRate

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


def _clr_paper(step, base_lr, max_lr, step_size, mode="triangular", gamma=1.0):
    """Smith's formula (his CLR paper, as tensorflow-addons wrote it), symmetric cycles only."""
    cycle = math.floor(1 + step / (2 * step_size))
    x = abs(step / step_size - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**step}
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x) * scale[mode]


SYMMETRIC = {"base_lr": 0.001, "max_lr": 0.011, "step_size_up": 10}
ASYMMETRIC = {"base_lr": 0.001, "max_lr": 0.011, "step_size_up": 2, "step_size_down": 8}


@pytest.mark.parametrize(
    ("kwargs", "step", "expected"),
    [
        # triangular: base at 0, peak at step_size_up, base again after a full cycle
        (SYMMETRIC, 0, 0.001),
        (SYMMETRIC, 5, 0.006),
        (SYMMETRIC, 10, 0.011),
        (SYMMETRIC, 15, 0.006),
        (SYMMETRIC, 20, 0.001),
        # triangular: every cycle is the same
        (SYMMETRIC, 30, 0.011),
        # triangular2: the second cycle's peak is half as high above base_lr
        ({**SYMMETRIC, "mode": "triangular2"}, 10, 0.011),
        ({**SYMMETRIC, "mode": "triangular2"}, 30, 0.006),
        # triangular2: third cycle, a quarter
        ({**SYMMETRIC, "mode": "triangular2"}, 50, 0.0035),
        ({**SYMMETRIC, "mode": "triangular2"}, 40, 0.001),
        # exp_range: amplitude times gamma ** step (the step, not the cycle)
        ({**SYMMETRIC, "mode": "exp_range", "gamma": 0.9}, 10, 0.001 + 0.01 * 0.9**10),
        ({**SYMMETRIC, "mode": "exp_range", "gamma": 0.9}, 35, 0.001 + 0.005 * 0.9**35),
        # exp_range with gamma 1 is triangular
        ({**SYMMETRIC, "mode": "exp_range"}, 30, 0.011),
        # asymmetric: up in 2 steps, down in 8
        (ASYMMETRIC, 1, 0.006),
        (ASYMMETRIC, 2, 0.011),
        (ASYMMETRIC, 6, 0.006),
        (ASYMMETRIC, 10, 0.001),
        (ASYMMETRIC, 12, 0.011),
        # asymmetric triangular2: second cycle (steps 10-19) peaks at half height
        ({**ASYMMETRIC, "mode": "triangular2"}, 12, 0.006),
        ({**ASYMMETRIC, "mode": "triangular2"}, 16, 0.001 + 0.005 / 2),
        # asymmetric exp_range
        ({**ASYMMETRIC, "mode": "exp_range", "gamma": 0.99}, 12, 0.001 + 0.01 * 0.99**12),
        ({**ASYMMETRIC, "mode": "exp_range", "gamma": 0.99}, 16, 0.001 + 0.005 * 0.99**16),
        # base_lr may be 0
        ({"base_lr": 0.0, "max_lr": 1.0, "step_size_up": 4}, 3, 0.75),
    ],
)
def test_values_at_chosen_steps(kwargs, step, expected):
    assert float(CyclicalLearningRate(**kwargs)(step)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        # every mode; step_size_down equal to step_size_up or left out
        {**SYMMETRIC, "mode": "triangular"},
        {**SYMMETRIC, "mode": "triangular2", "step_size_down": 10},
        {**SYMMETRIC, "mode": "exp_range", "gamma": 0.995},
        # an odd step size
        {"base_lr": 1e-4, "max_lr": 3e-2, "step_size_up": 7, "mode": "triangular2"},
    ],
)
def test_symmetric_cycles_match_the_paper_formula(kwargs):
    schedule = CyclicalLearningRate(**kwargs)
    steps = np.arange(0, 200)
    paper_kwargs = {k: v for k, v in kwargs.items() if k != "step_size_down"}
    paper_kwargs["step_size"] = paper_kwargs.pop("step_size_up")
    expected = [_clr_paper(int(step), **paper_kwargs) for step in steps]
    np.testing.assert_allclose(ops.convert_to_numpy(schedule(steps)), expected, rtol=1e-5)


def test_exp_range_keeps_precision_over_long_runs():
    # A float32 gamma to the power 20250 would be off by ~1e-3 relative; the schedule is not.
    schedule = CyclicalLearningRate(1e-4, 1e-2, 250, mode="exp_range", gamma=0.99994)
    expected = 1e-4 + (1e-2 - 1e-4) * 0.99994**20250  # a peak: 20250 = 40.5 cycles of 500
    assert float(schedule(20250)) == pytest.approx(expected, rel=1e-5)
    naive = 1e-4 + (1e-2 - 1e-4) * float(np.float32(0.99994) ** np.float32(20250))
    assert naive != pytest.approx(expected, rel=1e-4)


def test_serialize_deserialize_round_trip():
    schedule = CyclicalLearningRate(0.001, 0.01, 3, 5, mode="exp_range", gamma=0.99)
    serialized = keras.saving.serialize_keras_object(schedule)
    assert serialized["registered_name"] == "finder>CyclicalLearningRate"
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert isinstance(restored, CyclicalLearningRate)
    assert restored.get_config() == schedule.get_config()
    steps = np.arange(0, 100)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(restored(steps)), ops.convert_to_numpy(schedule(steps))
    )


def test_get_config_holds_exactly_the_constructor_arguments():
    config = CyclicalLearningRate(0.001, 0.01, 3).get_config()
    assert config == {
        "base_lr": 0.001,
        "max_lr": 0.01,
        "step_size_up": 3,
        "step_size_down": None,
        "mode": "triangular",
        "gamma": 1.0,
    }
    assert CyclicalLearningRate.from_config(config).get_config() == config


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"base_lr": -0.1, "max_lr": 0.1, "step_size_up": 2},
            "Argument `base_lr` must be a number >= 0. Received: base_lr=-0.1",
        ),
        (
            {"base_lr": 0.1, "max_lr": 0, "step_size_up": 2},
            "Argument `max_lr` must be a number > 0. Received: max_lr=0",
        ),
        (
            {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 0},
            "Argument `step_size_up` must be an integer > 0. Received: step_size_up=0",
        ),
        ({"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 2.5}, "Received: step_size_up=2.5"),
        (
            {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 2, "step_size_down": -3},
            "Argument `step_size_down` must be an integer > 0. Received: step_size_down=-3",
        ),
        (
            {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 2, "mode": "exp"},
            "Argument `mode` must be one of 'triangular', 'triangular2', 'exp_range'. "
            "Received: mode='exp'",
        ),
        (
            {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 2, "gamma": 0.0},
            "Argument `gamma` must be a number in (0, 1]. Received: gamma=0.0",
        ),
        (
            {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 2, "gamma": 1.5},
            "Received: gamma=1.5",
        ),
    ],
)
def test_invalid_arguments_name_the_argument_and_the_value(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        CyclicalLearningRate(**kwargs)


def test_inverted_range_is_an_invalid_range_error():
    message = "Argument `base_lr` must be < `max_lr`. Received: base_lr=0.1, max_lr=0.01"
    with pytest.raises(InvalidRangeError, match=re.escape(message)):
        CyclicalLearningRate(0.1, 0.01, 5)

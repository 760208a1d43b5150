"""ScheduleSpec: JSON round trips, the keras round-trip guarantee, callbacks, code, checks."""

from __future__ import annotations

import json
import re

import keras
import numpy as np
import pytest

import finder.schedules
from finder.errors import InvalidArgumentError
from finder.schedules import (
    SCHEDULE_FAMILIES,
    MomentumCycler,
    OneCycle,
    PlateauPolicy,
    ScheduleSpec,
    WarmupStableDecay,
    evaluate_learning_rate,
)

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral

# One spec per family, and per mode where a family has modes.
EXAMPLES = {
    "constant": {"learning_rate": 0.01},
    "one_cycle": {"max_lr": 0.1, "total_steps": 100},
    "one_cycle, linear, three phases, momentum": {
        "max_lr": 0.1,
        "total_steps": 100,
        "pct_start": 0.25,
        "anneal": "linear",
        "three_phase": True,
        "cycle_momentum": True,
        "base_momentum": 0.8,
    },
    "cyclical, triangular": {
        "base_lr": 0.001,
        "max_lr": 0.01,
        "step_size_up": 10,
        "mode": "triangular",
    },
    "cyclical, triangular2, asymmetric": {
        "base_lr": 0.001,
        "max_lr": 0.01,
        "step_size_up": 5,
        "step_size_down": 15,
        "mode": "triangular2",
    },
    "cyclical, exp_range": {
        "base_lr": 0.001,
        "max_lr": 0.01,
        "step_size_up": 10,
        "mode": "exp_range",
        "gamma": 0.99,
    },
    "cosine_warmup": {
        "max_lr": 0.1,
        "total_steps": 100,
        "warmup_steps": 10,
        "initial_lr": 0.001,
        "alpha": 0.05,
    },
    "exponential": {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 0.8, "staircase": True},
    "inverse_time": {"initial_lr": 0.1, "decay_steps": 10, "decay_rate": 0.5},
    "power": {"initial_lr": 0.1, "decay_steps": 80, "end_lr": 0.001, "power": 2.0, "cycle": True},
    "piecewise_constant": {"boundaries": [30, 60], "values": [0.1, 0.01, 0.001]},
    "plateau": {"initial_lr": 0.01, "factor": 0.5, "patience": 2, "monitor": "loss"},
    "wsd": {"max_lr": 0.1, "total_steps": 100, "warmup_steps": 10, "decay_steps": 20},
    "wsd, sqrt, from and to non-zero": {
        "max_lr": 0.1,
        "total_steps": 100,
        "warmup_steps": 5,
        "decay_steps": 30,
        "initial_lr": 0.01,
        "final_lr": 0.001,
        "decay": "sqrt",
    },
}
SPECS = [
    pytest.param(ScheduleSpec(name.split(",")[0], params), id=name)
    for name, params in EXAMPLES.items()
]
STEPS = np.arange(0, 130)


def test_examples_cover_every_family():
    assert {name.split(",")[0] for name in EXAMPLES} == set(SCHEDULE_FAMILIES)


@pytest.mark.parametrize("spec", SPECS)
def test_dict_round_trip_is_exact(spec):
    data = spec.to_dict()
    assert set(data) == {"family", "params"}
    assert json.loads(json.dumps(data)) == data
    assert ScheduleSpec.from_dict(data) == spec
    assert ScheduleSpec.from_dict(data).to_dict() == data


@pytest.mark.parametrize("spec", SPECS)
def test_keras_round_trip_gives_identical_values_at_every_step(spec):
    first = spec.to_keras()
    again = ScheduleSpec.from_keras(first).to_keras()
    np.testing.assert_array_equal(
        evaluate_learning_rate(again, STEPS), evaluate_learning_rate(first, STEPS)
    )
    assert type(again) is type(first)


@pytest.mark.parametrize("spec", SPECS)
def test_lr_at_evaluates_the_keras_object(spec):
    values = spec.lr_at(STEPS)
    assert values.dtype == np.float64 and values.shape == STEPS.shape
    learning_rate = spec.to_keras()
    if isinstance(learning_rate, float):
        expected = [learning_rate] * len(STEPS)
    else:
        expected = [float(learning_rate(int(step))) for step in STEPS[::13]]
        values = values[::13]
    np.testing.assert_allclose(values, expected, rtol=1e-6)


@pytest.mark.parametrize("spec", SPECS)
def test_to_code_builds_the_same_schedule_and_callbacks(spec):
    namespace: dict = {}
    exec(spec.to_code(), namespace)  # noqa: S102 - our own generated snippet
    np.testing.assert_allclose(
        evaluate_learning_rate(namespace["learning_rate"], STEPS), spec.lr_at(STEPS), rtol=0
    )
    assert [type(c) for c in namespace["callbacks"]] == [type(c) for c in spec.callbacks()]


def test_to_code_for_a_keras_built_in_needs_only_keras():
    code = ScheduleSpec("exponential", EXAMPLES["exponential"]).to_code()
    assert code == (
        "import keras\n"
        "\n"
        "learning_rate = keras.optimizers.schedules.ExponentialDecay(\n"
        "    initial_learning_rate=0.1,\n"
        "    decay_steps=10,\n"
        "    decay_rate=0.8,\n"
        "    staircase=True,\n"
        ")\n"
        "callbacks = []\n"
    )


@pytest.mark.parametrize(
    ("family", "params", "expected"),
    [
        # the plateau family needs ReduceLROnPlateau; the optimizer gets the float
        ("plateau", EXAMPLES["plateau"], [keras.callbacks.ReduceLROnPlateau]),
        # momentum cycling asked for: a MomentumCycler
        ("one_cycle", {**EXAMPLES["one_cycle"], "cycle_momentum": True}, [MomentumCycler]),
        # momentum params without cycle_momentum=True: no callback
        ("one_cycle", {**EXAMPLES["one_cycle"], "base_momentum": 0.9}, []),
        ("one_cycle", EXAMPLES["one_cycle"], []),
        ("cyclical", EXAMPLES["cyclical, triangular"], []),
        ("constant", EXAMPLES["constant"], []),
    ],
)
def test_callbacks(family, params, expected):
    assert [type(c) for c in ScheduleSpec(family, params).callbacks()] == expected


def test_momentum_cycler_shares_the_one_cycle_phases():
    spec = ScheduleSpec("one_cycle", EXAMPLES["one_cycle, linear, three phases, momentum"])
    (cycler,) = spec.callbacks()
    assert cycler.get_config() == {
        "total_steps": 100,
        "base_momentum": 0.8,
        "max_momentum": 0.95,
        "pct_start": 0.25,
        "anneal": "linear",
        "three_phase": True,
        "start_step": 0,
    }


def test_plateau_to_keras_is_the_initial_float():
    spec = ScheduleSpec("plateau", EXAMPLES["plateau"])
    assert spec.to_keras() == 0.01
    (callback,) = spec.callbacks()
    assert (callback.factor, callback.patience, callback.monitor) == (0.5, 2, "loss")


@pytest.mark.parametrize(
    ("learning_rate", "family"),
    [
        (0.003, "constant"),
        (PlateauPolicy(0.01), "plateau"),
        (OneCycle(0.1, 50), "one_cycle"),
        (WarmupStableDecay(0.1, 100, 10, 20, decay="cosine"), "wsd"),
        # a CosineDecay without warm-up is a cosine_warmup with warmup_steps=0
        (keras.optimizers.schedules.CosineDecay(0.1, 100, alpha=0.1), "cosine_warmup"),
        (keras.optimizers.schedules.PolynomialDecay(0.1, 100), "power"),
        (keras.optimizers.schedules.PiecewiseConstantDecay([5], [0.1, 0.01]), "piecewise_constant"),
    ],
)
def test_from_keras_keeps_the_values(learning_rate, family):
    spec = ScheduleSpec.from_keras(learning_rate)
    assert spec.family == family
    if isinstance(learning_rate, PlateauPolicy):
        assert spec.to_keras() == learning_rate.initial_lr
        return
    np.testing.assert_allclose(
        spec.lr_at(STEPS), evaluate_learning_rate(learning_rate, STEPS), rtol=1e-6
    )


@pytest.mark.parametrize(
    "learning_rate",
    [
        keras.optimizers.schedules.CosineDecayRestarts(0.1, 10),
        "0.1",
        True,
    ],
)
def test_from_keras_refuses_what_it_cannot_describe(learning_rate):
    with pytest.raises(InvalidArgumentError, match="Cannot describe"):
        ScheduleSpec.from_keras(learning_rate)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # unknown family, named
        ({"family": "warm_restarts", "params": {}}, "Received: family='warm_restarts'"),
        # unknown params, named
        (
            {"family": "constant", "params": {"learning_rate": 0.1, "lr": 0.1, "beta": 1}},
            "Unknown params for family 'constant': beta, lr",
        ),
        # missing params, named
        (
            {"family": "one_cycle", "params": {"max_lr": 0.1}},
            "Missing params for family 'one_cycle': total_steps",
        ),
        # cyclical must say its mode
        (
            {"family": "cyclical", "params": {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 5}},
            "Missing params for family 'cyclical': mode",
        ),
        # values are checked when the spec is made
        (
            {
                "family": "exponential",
                "params": {"initial_lr": 0.1, "decay_steps": 0, "decay_rate": 0.5},
            },
            "Received: decay_steps=0",
        ),
        (
            {
                "family": "one_cycle",
                "params": {"max_lr": 0.1, "total_steps": 10, "base_momentum": 2.0},
            },
            "Received: base_momentum=2.0",
        ),
        (
            {
                "family": "one_cycle",
                "params": {"max_lr": 0.1, "total_steps": 10, "cycle_momentum": "yes"},
            },
            "Received: cycle_momentum='yes'",
        ),
        ({"family": "constant", "params": {"learning_rate": -1}}, "Received: learning_rate=-1"),
        # the JSON shape itself
        (
            {"family": "constant", "params": {"learning_rate": 0.1}, "version": 2},
            "Unknown keys in a schedule spec: version",
        ),
        ({"family": "constant"}, "needs keys family and params"),
        ({"family": "constant", "params": [0.1]}, "Argument `params` must be a dict"),
        ([("family", "constant")], "Argument `data` must be a dict"),
    ],
)
def test_from_dict_refuses_bad_specs_naming_the_problem(data, message):
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        ScheduleSpec.from_dict(data)


def test_spec_params_are_copied_not_shared():
    params = {"boundaries": [5], "values": [0.1, 0.01]}
    spec = ScheduleSpec("piecewise_constant", params)
    params["values"].append(0.5)
    spec.to_dict()["params"]["values"].append(0.5)
    assert spec.params["values"] == [0.1, 0.01]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([0, -1], "Received: steps=[0, -1]"),
        ([0.5], "Received: steps=[0.5]"),
        (["a"], "Received: steps=['a']"),
    ],
)
def test_lr_at_refuses_bad_steps(steps, message):
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        ScheduleSpec("one_cycle", EXAMPLES["one_cycle"]).lr_at(steps)


def test_lr_at_keeps_the_shape_of_steps():
    spec = ScheduleSpec("one_cycle", EXAMPLES["one_cycle"])
    assert spec.lr_at(np.zeros((2, 3), dtype=int)).shape == (2, 3)
    assert spec.lr_at([]).shape == (0,)
    assert spec.lr_at(np.array([0.0, 29.0]))[1] == pytest.approx(0.1, rel=1e-6)


def test_public_names_are_sorted_and_exist():
    assert finder.schedules.__all__ == sorted(finder.schedules.__all__)
    for name in finder.schedules.__all__:
        assert hasattr(finder.schedules, name)

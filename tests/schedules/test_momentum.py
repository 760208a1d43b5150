"""MomentumCycler: the momentum the compiled train step APPLIES changes, step by step.

Every check compares weights after real training steps against the update rule computed by
hand in float64, so a momentum that only changed on the Python attribute would fail.
"""

from __future__ import annotations

import json
import re

import keras
import numpy as np
import pytest
from keras import ops

from finder.errors import InvalidArgumentError
from finder.schedules import CycledHyperparameter, MomentumCycler
from tests.utils.backends import not_on_torch, tensorflow_only

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral

LR = 0.1
BATCH = 4


def _data(num_batches: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(BATCH * num_batches, 3)).astype("float32")
    y = rng.normal(size=(BATCH * num_batches, 1)).astype("float32")
    return x, y


def _model(
    optimizer: keras.optimizers.Optimizer, jit_compile: bool | str = False, **compile_kwargs
) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
    )
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile, **compile_kwargs)
    return model


def _fit(model: keras.Model, x: np.ndarray, y: np.ndarray, callbacks=()) -> None:
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=list(callbacks))


def _gradient(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean squared error of `x @ w` in float64."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    return 2.0 * x.T @ (x @ w - y) / len(x)


def _sgd(x: np.ndarray, y: np.ndarray, momentums: list[float], first_step: int = 0) -> np.ndarray:
    """Weights after SGD-with-momentum steps from all-ones weights (Keras' update rule)."""
    w, velocity = np.ones((3, 1)), np.zeros((3, 1))
    for step, momentum in enumerate(momentums):
        batch = slice(BATCH * step, BATCH * (step + 1))
        velocity = momentum * velocity - LR * _gradient(w, x[batch], y[batch])
        w = w + velocity
    return w


def _adam(x: np.ndarray, y: np.ndarray, beta_1s: list[float], beta_2: float = 0.999) -> np.ndarray:
    """Weights after Adam steps from all-ones weights (Keras' update rule, current beta_1)."""
    w, m, v = np.ones((3, 1)), np.zeros((3, 1)), np.zeros((3, 1))
    for step, beta_1 in enumerate(beta_1s):
        batch = slice(BATCH * step, BATCH * (step + 1))
        g = _gradient(w, x[batch], y[batch])
        t = step + 1
        alpha = LR * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        w = w - m * alpha / (np.sqrt(v) + 1e-7)
    return w


def _cycler() -> MomentumCycler:
    # Phases end at steps 1 and 3 (linear): momentum 0.9, 0.5, 0.7, 0.9 at steps 0..3.
    return MomentumCycler(
        total_steps=4, base_momentum=0.5, max_momentum=0.9, pct_start=0.5, anneal="linear"
    )


def test_cycler_values_used_below():
    values = [float(_cycler().momentum_at(step)) for step in range(5)]
    np.testing.assert_allclose(values, [0.9, 0.5, 0.7, 0.9, 0.9], rtol=1e-6)


@tensorflow_only("a fact of tf.function tracing; the JAX trainer ends elsewhere")
def test_keras_ignores_a_float_momentum_assigned_after_tracing():
    # The Keras 3 fact the cycler works around: the traced step holds the float it saw.
    x, y = _data(2)
    optimizer = keras.optimizers.SGD(LR, momentum=0.9)
    model = _model(optimizer)
    _fit(model, x[:BATCH], y[:BATCH])
    optimizer.momentum = 0.0
    _fit(model, x[BATCH:], y[BATCH:])
    np.testing.assert_allclose(model.get_weights()[0], _sgd(x, y, [0.9, 0.9]), rtol=1e-5)
    assert not np.allclose(model.get_weights()[0], _sgd(x, y, [0.9, 0.0]), rtol=1e-5)


# "auto", Keras's default: a jit-compiled step on JAX and TensorFlow, where JAX holds a
# variable outside the step's state as a constant (the module's docstring).
@pytest.mark.parametrize("jit_compile", [False, "auto"])
def test_sgd_applies_the_cycled_momentum_at_every_step(jit_compile):
    x, y = _data(4)
    model = _model(keras.optimizers.SGD(LR, momentum=0.9), jit_compile=jit_compile)
    _fit(model, x, y, [_cycler()])
    expected = _sgd(x, y, [0.9, 0.5, 0.7, 0.9])
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-5)
    # The plain 0.9 run ends elsewhere: the comparison above can tell them apart.
    assert not np.allclose(model.get_weights()[0], _sgd(x, y, [0.9] * 4), rtol=1e-5)


@pytest.mark.parametrize("jit_compile", [False, "auto"])
def test_adam_applies_the_cycled_beta_1_at_every_step(jit_compile):
    x, y = _data(4)
    model = _model(keras.optimizers.Adam(LR), jit_compile=jit_compile)
    _fit(model, x, y, [_cycler()])
    expected = _adam(x, y, [0.9, 0.5, 0.7, 0.9])
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-5)
    assert not np.allclose(model.get_weights()[0], _adam(x, y, [0.9] * 4), rtol=1e-5)


def test_adamw_is_driven_through_beta_1():
    model = _model(keras.optimizers.AdamW(LR))
    x, y = _data(2)
    _fit(model, x, y, [_cycler()])
    assert isinstance(model.optimizer.beta_1, CycledHyperparameter)
    assert float(model.optimizer.beta_1) == pytest.approx(0.5)


def test_a_train_function_traced_before_the_cycler_is_rebuilt():
    x, y = _data(4)
    model = _model(keras.optimizers.SGD(LR, momentum=0.9))
    _fit(model, x[: 2 * BATCH], y[: 2 * BATCH])  # traced with the float 0.9
    _fit(model, x[2 * BATCH :], y[2 * BATCH :], [_cycler()])  # steps 2 and 3
    np.testing.assert_allclose(model.get_weights()[0], _sgd(x, y, [0.9, 0.9, 0.7, 0.9]), rtol=1e-5)


def test_momentum_follows_optimizer_iterations_not_the_callback():
    x, y = _data(4)
    model = _model(keras.optimizers.SGD(LR, momentum=0.9))
    _fit(model, x[: 2 * BATCH], y[: 2 * BATCH], [_cycler()])
    # A new cycler instance continues from iterations == 2, as one would after a reload.
    _fit(model, x[2 * BATCH :], y[2 * BATCH :], [_cycler()])
    np.testing.assert_allclose(model.get_weights()[0], _sgd(x, y, [0.9, 0.5, 0.7, 0.9]), rtol=1e-5)


def test_a_cycler_from_a_later_step_runs_its_whole_cycle_from_there():
    """`start_step`: on an optimizer that took 2 steps before, the cycle's step 0 is the
    optimizer's step 2 (as `StartingAt` starts the learning rate)."""
    x, y = _data(6)
    model = _model(keras.optimizers.SGD(LR, momentum=0.9))
    _fit(model, x[: 2 * BATCH], y[: 2 * BATCH])
    cycler = MomentumCycler(
        total_steps=4,
        base_momentum=0.5,
        max_momentum=0.9,
        pct_start=0.5,
        anneal="linear",
        start_step=2,
    )
    _fit(model, x[2 * BATCH :], y[2 * BATCH :], [cycler])
    want = _sgd(x, y, [0.9, 0.9, 0.9, 0.5, 0.7, 0.9])
    np.testing.assert_allclose(model.get_weights()[0], want, rtol=1e-5)


def test_saving_keeps_the_optimizer_plain(tmp_path):
    x, y = _data(2)
    optimizer = keras.optimizers.SGD(LR, momentum=0.9)
    model = _model(optimizer)
    _fit(model, x, y)
    variables_before = len(optimizer.variables)
    _fit(model, x, y, [_cycler()])
    assert isinstance(optimizer.momentum, CycledHyperparameter)
    # Out of optimizer.variables (same file layout) and the config reports the built float.
    assert len(optimizer.variables) == variables_before
    config = optimizer.get_config()
    assert config["momentum"] == 0.9 and isinstance(config["momentum"], float)
    json.dumps(keras.saving.serialize_keras_object(optimizer))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.momentum == 0.9
    assert int(ops.convert_to_numpy(loaded.optimizer.iterations)) == 4
    np.testing.assert_array_equal(loaded.optimizer.variables[2], optimizer.variables[2])


def test_cycled_hyperparameter_answers_out_of_range_comparisons_in_python():
    variable = CycledHyperparameter(0.9, low=0.5, high=0.9, config_value=0.9)
    assert (variable != 0) is True  # SGD's trace-time `if self.momentum != 0`
    assert (variable == 0) is False
    assert bool(ops.convert_to_numpy(variable == 0.9))  # in range: elementwise, as usual


def _accumulated_sgd(
    x: np.ndarray, y: np.ndarray, momentums: list[float], accumulation: int
) -> np.ndarray:
    """Weights after SGD-with-momentum updates, each on the mean gradient of `accumulation`
    micro-batches taken at the same weights (Keras' gradient accumulation)."""
    w, velocity = np.ones((3, 1)), np.zeros((3, 1))
    for update, momentum in enumerate(momentums):
        micro = range(update * accumulation, (update + 1) * accumulation)
        gradients = [
            _gradient(w, x[BATCH * s : BATCH * (s + 1)], y[BATCH * s : BATCH * (s + 1)])
            for s in micro
        ]
        velocity = momentum * velocity - LR * np.mean(gradients, axis=0)
        w = w + velocity
    return w


def test_under_gradient_accumulation_the_cycle_counts_micro_batches_as_the_lr_schedule_does():
    # Keras evaluates a learning-rate schedule at the raw counter of micro-batches, so the
    # momentum does too: each update applies the momentum of its last micro-batch.
    x, y = _data(8)
    model = _model(keras.optimizers.SGD(LR, momentum=0.9, gradient_accumulation_steps=2))
    cycler = MomentumCycler(
        total_steps=8, base_momentum=0.5, max_momentum=0.9, pct_start=0.5, anneal="linear"
    )
    _fit(model, x, y, [cycler])
    at_micro_batches = [float(cycler.momentum_at(step)) for step in (1, 3, 5, 7)]
    expected = _accumulated_sgd(x, y, at_micro_batches, 2)
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-5)
    # A cycle over the 4 updates applies other values, and ends elsewhere.
    at_updates = [float(cycler.momentum_at(step)) for step in range(4)]
    assert not np.allclose(model.get_weights()[0], _accumulated_sgd(x, y, at_updates, 2), rtol=1e-5)


@not_on_torch("Keras's torch trainer refuses steps_per_execution > 1 itself")
@pytest.mark.parametrize("jit_compile", [False, "auto"])
def test_with_several_steps_per_execution_the_momentum_is_set_at_each_execution(jit_compile):
    # Callbacks run once per execution: steps 0-1 apply the momentum of step 0, steps 2-3 that
    # of step 2 (0.9, 0.5, 0.7, 0.9 over steps 0..3 for `_cycler`). A traced JAX step reads
    # the momentum from the step counter: there every step applies its own.
    x, y = _data(4)
    model = _model(
        keras.optimizers.SGD(LR, momentum=0.9), jit_compile=jit_compile, steps_per_execution=2
    )
    _fit(model, x, y, [_cycler()])
    traced = keras.backend.backend() == "jax" and jit_compile == "auto"
    expected = _sgd(x, y, [0.9, 0.5, 0.7, 0.9] if traced else [0.9, 0.9, 0.7, 0.7])
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("optimizer", "message"),
    [
        # RMSprop's momentum is another thing: refused.
        (lambda: keras.optimizers.RMSprop(LR), "optimizer=RMSprop"),
        # SGD without momentum has no velocity to apply a momentum to.
        (lambda: keras.optimizers.SGD(LR), "momentum=0.0"),
    ],
)
def test_unsupported_optimizers_are_refused(optimizer, message):
    x, y = _data(2)
    model = _model(optimizer())
    with pytest.raises(InvalidArgumentError, match=message):
        _fit(model, x, y, [_cycler()])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"total_steps": 0},
            "Argument `total_steps` must be an integer > 0. Received: total_steps=0",
        ),
        ({"total_steps": 10, "base_momentum": 0.0}, "Received: base_momentum=0.0"),
        ({"total_steps": 10, "max_momentum": 1.0}, "Received: max_momentum=1.0"),
        # max below base
        (
            {"total_steps": 10, "base_momentum": 0.9, "max_momentum": 0.8},
            "Received: max_momentum=0.8",
        ),
        ({"total_steps": 10, "anneal": "cosine"}, "Received: anneal='cosine'"),
        ({"total_steps": 10, "pct_start": 0.6, "three_phase": True}, "Received: pct_start=0.6"),
    ],
)
def test_invalid_arguments_are_refused(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        MomentumCycler(**kwargs)

"""The range test under mixed precision and with other stepping: loss scaling (and its skipped
steps), bfloat16, gradient accumulation, and `steps_per_execution > 1`. Real tiny training."""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np
import pytest

from finder.rangetest.result import RangeTestResult
from tests.utils.backends import not_on_torch
from tests.utils.linear import batch_losses, sweep_in_order

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral

BATCH = 32


@pytest.fixture
def policy(request: pytest.FixtureRequest) -> Iterator[str]:
    """Sets the global dtype policy for one test (models built in it take it) and puts it back."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(request.param)
    try:
        yield request.param
    finally:
        keras.config.set_dtype_policy(before)


class StepProbe(keras.callbacks.Callback):
    """For every batch: the weights before it, the step counter before and after it, and the
    learning rate the innermost optimizer gives it."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []
        self.counts: list[tuple[int, int]] = []
        self.lrs: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        self.weights.append([v.numpy().astype(np.float64) for v in self.model.trainable_variables])
        self.lrs.append(float(keras.ops.convert_to_numpy(inner.learning_rate)))
        self.counts.append((self._count(), -1))

    def on_train_batch_end(self, batch, logs=None):
        self.counts[-1] = (self.counts[-1][0], self._count())

    def _count(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def applied(self) -> np.ndarray:
        return np.array([after > before for before, after in self.counts])

    def batch_losses(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return batch_losses(self.weights, x, y, BATCH)


def linear_model(optimizer, **compile_args) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse", **compile_args)
    return model


def all_values(model: keras.Model) -> list[np.ndarray]:
    return [v.numpy().copy() for v in model.variables + model.optimizer.variables]


def sweep(model, x, y, probe, num_steps=16):
    """An explicit sweep that runs all its steps (no divergence stop) in batch order."""
    return sweep_in_order(model, x, y, [probe], num_steps=num_steps, divergence=1e6)


@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
def test_loss_scaling_sweeps_the_inner_optimizer_and_is_restored_exactly(policy, regression_data):
    x, y = regression_data
    model = linear_model(keras.optimizers.SGD(0.01, momentum=0.9))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    model.fit(x, y, batch_size=BATCH, epochs=1, steps_per_epoch=2, verbose=0)
    before = all_values(model)  # the loss scale and its step counter included
    probe = StepProbe()
    result = sweep(model, x, y, probe)
    assert result.steps_run == 16
    applied = probe.applied()
    np.testing.assert_allclose(np.array(probe.lrs)[applied], result.lrs, rtol=1e-6)
    for old, new in zip(before, all_values(model), strict=True):
        np.testing.assert_array_equal(old, new)
    assert model.optimizer.inner_optimizer.learning_rate.numpy() == pytest.approx(0.01)


@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
def test_steps_the_loss_scale_skips_are_not_recorded(policy, regression_data):
    x, y = regression_data
    # A scale of 2**24 overflows float16 gradients: the first steps are skipped while the
    # optimizer halves the scale, and the sweep's LR waits for them.
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(), initial_scale=2.0**24)
    model = linear_model(optimizer)
    probe = StepProbe()
    result = sweep(model, x, y, probe)
    applied = probe.applied()
    assert not applied.all() and applied.sum() == result.steps_run == 16
    # the skipped ones are counted in the result, and survive its JSON document
    assert result.skipped_steps == (~applied).sum() > 0
    assert RangeTestResult.from_dict(result.to_dict()).skipped_steps == result.skipped_steps
    expected = probe.batch_losses(x, y)
    # float16 forward pass: the recorded losses are those of the applied steps only.
    np.testing.assert_allclose(result.losses, expected[applied], rtol=1e-2)
    assert not np.allclose(result.losses, expected[:16], rtol=1e-2)
    np.testing.assert_allclose(np.array(probe.lrs)[applied], result.lrs, rtol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_bfloat16"], indirect=True)
def test_bfloat16_records_every_step_and_restores(policy, regression_data):
    x, y = regression_data
    model = linear_model(keras.optimizers.Adam(1e-3))
    assert not isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    model.fit(x, y, batch_size=BATCH, epochs=1, steps_per_epoch=2, verbose=0)
    before = all_values(model)
    probe = StepProbe()
    result = sweep(model, x, y, probe)
    assert probe.applied().all() and result.steps_run == 16 and result.skipped_steps == 0
    # bfloat16 keeps 8 bits of mantissa: the forward pass is within a few percent.
    np.testing.assert_allclose(result.losses, probe.batch_losses(x, y), rtol=5e-2)
    for old, new in zip(before, all_values(model), strict=True):
        np.testing.assert_array_equal(old, new)


@not_on_torch("Keras's torch trainer refuses steps_per_execution > 1 (in model.fit itself)")
def test_steps_per_execution_is_set_to_one_for_the_sweep_and_put_back(regression_data):
    # Keras calls batch hooks once per execution; a sweep at 4 steps per execution would see
    # a quarter of its losses. The sweep runs at 1 and the model gets its 4 back.
    x, y = regression_data
    model = linear_model("sgd", steps_per_execution=4)
    probe = StepProbe()
    result = sweep(model, x, y, probe)
    assert len(probe.weights) == result.steps_run == 16
    np.testing.assert_allclose(result.losses, probe.batch_losses(x, y), rtol=1e-5)
    assert model.steps_per_execution == 4
    history = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_gradient_accumulation_records_the_mean_over_each_optimizer_step(regression_data):
    x, y = regression_data
    model = linear_model(keras.optimizers.SGD(0.01, gradient_accumulation_steps=2))
    probe = StepProbe()
    result = sweep(model, x, y, probe, num_steps=8)
    assert len(probe.weights) == 16 and result.steps_run == 8
    # Weights change once per 2 micro-batches: the step's loss is the mean of its two.
    pairs = probe.batch_losses(x, y).reshape(8, 2)
    np.testing.assert_allclose(result.losses, pairs.mean(axis=1), rtol=1e-5)
    # Each optimizer step's LR: the LR the inner optimizer gave its first micro-batch.
    np.testing.assert_allclose(np.array(probe.lrs)[::2], result.lrs, rtol=1e-6)

"""Weights that an update turns NaN, behind a finite loss or a step before a NaN one: the range
test names them instead of reading a flat curve as a model that cannot see its data, or blaming
the data for the NaN loss.

Keras's Adafactor, with its default `epsilon_1=1e-30`, divides 0 by 0 in float32 where a kernel
entry gets no gradient along both its row (an input pixel that is zero across the batch, as
digits' border pixels are) and its column (a ReLU unit inactive for the whole batch). The first
layer's kernel then holds NaN after one step. What the loss shows depends on the CPU's kernels:
on some, TensorFlow's ReLU maps NaN to 0 and the loss sits at ln(10), finite and constant; on
others the NaN spreads through the kernel and the next step's loss is NaN. Either way the reason
names the weights. `epsilon_1=1e-20` trains the same model normally.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import finder
from finder.lr_finder.outcome import describe_handover
from finder.rangetest.model_state import non_finite_weights

NAN_WEIGHTS = "NaN or inf values"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return (data.data / 16.0).astype("float32"), data.target.astype("int32")


def make_model(optimizer: keras.optimizers.Optimizer) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def test_non_finite_weights_counts_nan_and_inf_entries():
    model = make_model(keras.optimizers.SGD())
    assert non_finite_weights(model) == 0
    kernel = model.layers[0].kernel
    values = kernel.numpy()
    values[0, :3] = np.nan
    values[1, 0] = np.inf
    kernel.assign(values)
    assert non_finite_weights(model) == 4


def test_range_test_names_nan_weights_behind_a_finite_loss(digits):
    x, y = digits
    model = make_model(keras.optimizers.Adafactor())
    before = [v.numpy().copy() for v in model.trainable_variables]
    result = finder.range_test(model, x, y, batch_size=32, plan_steps=600)
    assert all(np.isfinite(loss) for loss in result.losses)  # the loss never showed it
    assert result.bounds.max_lr is None
    assert result.reliability.verdict == "unreliable"
    reasons = " ".join(result.reliability.reasons)
    assert NAN_WEIGHTS in reasons and "epsilon_1" in reasons
    # The test restored the model it was given, NaN-free.
    for variable, value in zip(model.trainable_variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)


def test_the_in_fit_test_warns_with_the_same_reason(digits):
    x, y = digits
    model = make_model(keras.optimizers.Adafactor())
    callback = finder.LearningRateFinder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[callback])
    assert callback.result is not None
    assert NAN_WEIGHTS in " ".join(callback.result.reliability.reasons)
    assert any(NAN_WEIGHTS in str(w.message) for w in caught)
    # The line the callback prints at the handover names them too.
    assert callback.handover is not None
    assert NAN_WEIGHTS in describe_handover(callback.result, callback.handover, None)


def test_the_same_model_with_a_larger_epsilon_gets_bounds(digits):
    x, y = digits
    model = make_model(keras.optimizers.Adafactor(epsilon_1=1e-20))
    result = finder.range_test(model, x, y, batch_size=32, plan_steps=600)
    assert result.bounds.max_lr is not None
    assert NAN_WEIGHTS not in " ".join(result.reliability.reasons)


def test_weights_broken_by_a_first_update_with_a_finite_loss_are_named_when_the_loss_follows():
    """A square root at 0: the loss is finite, its gradient infinite, so the first update
    leaves inf in the kernel and the next loss is NaN. The reason names the weights and the
    gradient, not the data."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(1, kernel_initializer="zeros"),
            keras.layers.Lambda(keras.ops.sqrt),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(512, 4)).astype("float32")
    result = finder.range_test(model, x, np.ones((512, 1), "float32"), batch_size=16)
    reasons = " ".join(result.reliability.reasons)
    assert result.bounds.max_lr is None and result.steps_run < 50
    assert f"{NAN_WEIGHTS} after the first step" in reasons and "the next step's was not" in reasons
    assert "square root" in reasons and "the model or the data gives NaN" not in reasons

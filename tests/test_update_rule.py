"""Which update rule finder's calibration reads for an optimizer: a Keras class's own, through
loss scaling, and a subclass's parent when it keeps the parent's step."""

from __future__ import annotations

import keras
import pytest

import finder
from finder.host import update_rule
from finder.propose import has_momentum
from tests.utils.factories import dense_regressor

# Runs on TensorFlow and again under KERAS_BACKEND=jax and torch (.ci/run).
pytestmark = pytest.mark.backend_neutral


class QuietAdam(keras.optimizers.Adam):
    """Adam with another default and nothing else: Adam's update rule."""

    def __init__(self, learning_rate: float = 3e-4, **kwargs: object) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)


class SignDescent(keras.optimizers.SGD):
    """Its own update rule: moves each weight by the LR times the gradient's sign."""

    def update_step(self, gradient, variable, learning_rate):  # noqa: ANN001
        lr = keras.ops.cast(learning_rate, variable.dtype)
        self.assign_sub(variable, lr * keras.ops.sign(gradient))


@pytest.mark.parametrize(
    ("optimizer", "rule"),
    [
        (keras.optimizers.Adam(), "Adam"),
        (keras.optimizers.AdamW(), "AdamW"),  # its own Keras class, though it shares Adam's step
        (QuietAdam(), "Adam"),
        (SignDescent(), "SignDescent"),
        (keras.optimizers.LossScaleOptimizer(keras.optimizers.Ftrl()), "Ftrl"),
        (keras.optimizers.LossScaleOptimizer(QuietAdam()), "Adam"),
    ],
)
def test_the_rule_is_the_keras_class_whose_step_the_optimizer_runs(optimizer, rule):
    assert update_rule(optimizer) == rule


def test_momentum_is_read_through_loss_scaling_live_and_described():
    wrapped = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(momentum=0.9))
    assert has_momentum(wrapped)
    described = {
        "name": "LossScaleOptimizer",
        "update_rule": "SGD",
        "config": {"inner_optimizer": {"config": {"momentum": 0.9}}},
    }
    assert has_momentum(described)
    assert not has_momentum({**described, "config": {"inner_optimizer": {"config": {}}}})


def _auto_range_test(optimizer, problem):
    model = dense_regressor(optimizer=optimizer, inputs=problem.x.shape[1])
    return finder.range_test(model, problem.x, problem.y, batch_size=64)


def test_a_subclass_that_keeps_adams_step_is_read_as_adam(least_squares):
    validated = _auto_range_test(QuietAdam(), least_squares)
    assert validated.optimizer["name"] == "QuietAdam"
    assert validated.optimizer["update_rule"] == "Adam"
    assert not any("not validated" in r for r in validated.reliability.reasons)
    own = _auto_range_test(SignDescent(), least_squares)
    assert own.optimizer["update_rule"] == "SignDescent"
    assert any("not validated for SignDescent" in r for r in own.reliability.reasons)

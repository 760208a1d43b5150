"""The real configuration on the bundled Fashion-MNIST sample: fashion_cnn, plain SGD, tune's
own range test, Bayesian search inside the bounds."""

from __future__ import annotations

import keras
import pytest

from finder.data import load_fashion_mnist_sample
from finder.tuning import tune
from finder.zoo import build_model, compile_for_classification


def fashion_cnn() -> keras.Model:
    return compile_for_classification(build_model("fashion_cnn"), keras.optimizers.SGD())


@pytest.mark.slow
def test_bounded_search_on_fashion_sample_learns_in_every_trial() -> None:
    data = load_fashion_mnist_sample()
    result = tune(
        fashion_cnn,
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        # 378 steps: at 252, a trial at the low end of the space (cyclical 0.015..0.047, plain
        # SGD) had not started to learn yet.
        epochs=6,
        max_trials=5,
        objective="val_accuracy",
    )
    assert result.range_test is not None
    edge = result.range_test.bounds.edge_lr
    assert edge is not None and 0.1 < edge < 3.0  # ~0.5 on the full set
    assert [t.status for t in result.trials] == ["COMPLETED"] * 5
    assert result.outcome_counts()["ok"] == 5  # inside the bounds every trial learns
    best = result.trials[0]
    assert best.score is not None and best.score > 0.6  # chance is 0.1
    assert result.best is not None and result.best.family == best.family

"""Your own suggestion rules beside finder's: `range_test(..., suggestion_rules=[...])` and the
same option of `finder.LearningRateFinder`. Real range tests of a tiny classifier."""

from __future__ import annotations

import json

import keras
import matplotlib
import numpy as np
import pytest

import finder
from finder.cli import console
from finder.errors import InvalidArgumentError

matplotlib.use("Agg")


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1024, 8)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int32") + 2 * (x[:, 2] > 0.5)
    return x, y


def make_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def tenth_of_the_minimum(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai's old rule: a tenth of the LR at the loss's minimum."""
    return float(lrs[int(np.argmin(losses))] / 10)


def broken(lrs: np.ndarray, losses: np.ndarray) -> float:
    raise ZeroDivisionError("a bug in the user's rule")


@pytest.mark.backend_neutral
def test_a_user_rule_is_in_the_json_the_table_and_the_plot(tmp_path, capsys):
    x, y = make_data()
    result = finder.range_test(
        make_model(),
        x,
        y,
        batch_size=32,
        min_lr=1e-3,
        max_lr=10.0,
        num_steps=60,
        suggestion_rules=[tenth_of_the_minimum],
    )
    expected = result.lrs[int(np.argmin(result.smoothed_losses))] / 10
    assert result.suggestions["tenth_of_the_minimum"] == pytest.approx(expected)
    assert set(result.suggestions) >= {"steepest", "valley", "minimum"}
    document = json.loads(result.save(tmp_path / "result.json").read_text())
    assert document["suggestions"]["tenth_of_the_minimum"] == pytest.approx(expected)
    assert finder.RangeTestResult.load(tmp_path / "result.json").suggestions == result.suggestions
    console.print_summary(result)
    assert "tenth_of_the_minimum" in capsys.readouterr().out
    figure = result.plot()
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert any(label.startswith("tenth_of_the_minimum ") for label in labels)


@pytest.mark.backend_neutral
def test_a_failing_rule_costs_nothing_but_its_own_suggestion():
    x, y = make_data()
    result = finder.range_test(
        make_model(),
        x,
        y,
        batch_size=32,
        min_lr=1e-3,
        max_lr=10.0,
        num_steps=40,
        suggestion_rules={"buggy": broken, "nothing": lambda lrs, losses: None},
    )
    assert result.suggestions["buggy"] is None
    assert result.suggestion_notes["buggy"] == (
        "the rule raised ZeroDivisionError: a bug in the user's rule"
    )
    assert result.suggestions["nothing"] is None
    assert result.suggestions["valley"] is not None


@pytest.mark.backend_neutral
def test_the_callback_takes_rules_too():
    x, y = make_data()
    model = make_model()
    lr_finder = finder.LearningRateFinder(
        suggestion_rules={"tenth": tenth_of_the_minimum}, verbose=0
    )
    model.fit(x, y, epochs=4, batch_size=8, callbacks=[lr_finder], verbose=0)
    assert lr_finder.result.suggestions["tenth"] is not None


@pytest.mark.parametrize(
    "rules, message",
    [
        ([lambda lrs, losses: 1.0], "lambda"),
        ({"valley": tenth_of_the_minimum}, "built-in"),
        ([tenth_of_the_minimum, tenth_of_the_minimum], "repeated"),
        (["not a function"], "not callable"),
        (tenth_of_the_minimum, "list of functions"),
    ],
)
def test_bad_rules_are_refused_before_any_training(rules, message):
    x, y = make_data()
    model = make_model()
    with pytest.raises(InvalidArgumentError, match=message):
        finder.range_test(model, x, y, suggestion_rules=rules)
    assert int(model.optimizer.iterations) == 0

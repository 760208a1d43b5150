"""`hp_learning_rate` and `hp_schedule` inside a user's own keras-tuner search: real
`RandomSearch` runs of 2 trials on a tiny classifier, every value inside the bounds."""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner
import pytest

import finder
from finder.errors import InvalidArgumentError, TuningError
from finder.propose import Plan
from finder.suggest import Bounds
from finder.tuning import hp_learning_rate, hp_schedule
from finder.tuning.space import SearchSpace
from tests.tuning.models import tiny_classifier, tiny_data

PLAN = Plan(epochs=2, steps_per_epoch=8)  # 256 training samples at batch 32


@pytest.fixture(scope="module")
def result() -> Any:
    x, y, _, _ = tiny_data()
    return finder.range_test(
        tiny_classifier(), x, y, batch_size=32, min_lr=1e-3, max_lr=10.0, num_steps=40
    )


def search(tmp_path, build) -> keras_tuner.RandomSearch:
    x, y, x_val, y_val = tiny_data()
    tuner = keras_tuner.RandomSearch(
        build,
        objective="val_loss",
        max_trials=2,
        seed=3,
        directory=str(tmp_path),
        project_name="own",
    )
    tuner.search(x, y, epochs=PLAN.epochs, batch_size=32, validation_data=(x_val, y_val), verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2 and all(t.status == "COMPLETED" for t in trials)
    return tuner


def test_hp_learning_rate_in_a_random_search(tmp_path, result):
    low, high = result.bounds.min_lr, result.bounds.edge_lr
    used: list[float] = []

    def build(hp):
        model = tiny_classifier()
        learning_rate = hp_learning_rate(hp, result)
        model.optimizer.learning_rate = learning_rate
        used.append(float(model.optimizer.learning_rate))
        return model

    tuner = search(tmp_path, build)
    [declared] = tuner.oracle.hyperparameters.space
    assert (declared.name, declared.sampling) == ("learning_rate", "log")
    assert (declared.min_value, declared.max_value) == pytest.approx((low, high))
    values = [t.hyperparameters.get("learning_rate") for t in tuner.oracle.trials.values()]
    assert len(set(values)) == 2 and all(low <= v <= high for v in values)
    # Each trial's model trained at its trial's rate.
    assert all(any(v == pytest.approx(u, rel=1e-6) for u in used) for v in values)


def test_hp_schedule_in_a_random_search(tmp_path, result):
    space = SearchSpace.from_bounds(result.bounds)
    built: list[tuple[dict[str, Any], Any]] = []

    def build(hp):
        model = tiny_classifier()
        schedule = hp_schedule(hp, result, PLAN)
        model.compile(
            optimizer=keras.optimizers.SGD(schedule), loss="sparse_categorical_crossentropy"
        )
        built.append((dict(hp.values), schedule))
        return model

    tuner = search(tmp_path, build)
    assert tuner.oracle.hyperparameters.get("family") in space.families
    for trial in tuner.oracle.trials.values():
        values = trial.hyperparameters.values
        family = values["family"]
        low, high = space.lr_range(family)
        lr_name = f"{family}/{finder.families.FAMILIES[family].lr_param}"
        assert low <= values[lr_name] <= high
        # The schedule handed to the optimizer is the trial's, sized to the plan.
        [schedule] = [s for v, s in built if v == values]
        assert isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)
        expected = space.spec(values, PLAN.total_steps).to_keras()
        assert schedule.get_config() == expected.get_config()


@pytest.mark.parametrize(
    "call, error",
    [
        # plateau needs a callback: no schedule object to return
        (lambda hp, r: hp_schedule(hp, r, PLAN, families=["plateau"]), InvalidArgumentError),
        # the plan is a Plan, not a step count
        (lambda hp, r: hp_schedule(hp, r, 16), InvalidArgumentError),
        # a range test that never saw the loss fall has no bounds
        (lambda hp, r: hp_learning_rate(hp, Bounds(None, None, "flat", None)), TuningError),
        # neither a result nor bounds
        (lambda hp, r: hp_learning_rate(hp, 0.1), InvalidArgumentError),
    ],
)
def test_helpers_refuse_bad_input(result, call, error):
    with pytest.raises(error):
        call(keras_tuner.HyperParameters(), result)

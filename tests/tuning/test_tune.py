"""finder.tune on tiny real models and data with real keras-tuner (local searches)."""

from __future__ import annotations

import sys
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from finder.errors import DataError, InvalidArgumentError, ModelError, TuningError
from finder.rangetest.result import RangeTestResult
from finder.schedules import OneCycle, ScheduleSpec
from finder.tuning import SearchSpace, TrialProgress, TuningResult, tune
from finder.tuning.hypermodel import CLIPPED, FIRST_LOSS, CompileArgs, compile_with_schedule
from tests.tuning.models import TINY_SPACE, tiny_classifier, tiny_data
from tests.utils.factories import dense_regressor, least_squares_problem

EPOCHS = 2
BATCH = 32


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, ...]:
    return tiny_data()


@pytest.fixture(scope="module")
def searched(data: tuple[np.ndarray, ...]) -> tuple[TuningResult, list[TrialProgress]]:
    """A 3-trial random search whose space comes from tune's own range test."""
    x, y, x_val, y_val = data
    events: list[TrialProgress] = []
    result = tune(
        tiny_classifier,
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=EPOCHS,
        batch_size=BATCH,
        tuner="random",
        max_trials=3,
        range_test_options={"num_steps": 80, "repeats": 1},
        progress=events.append,
    )
    return result, events


def test_three_trial_search_completes_with_a_valid_best_spec(
    searched: tuple[TuningResult, list[TrialProgress]],
) -> None:
    result, _ = searched
    assert [t.status for t in result.trials] == ["COMPLETED"] * 3
    assert [t.rank for t in result.trials] == [1, 2, 3]
    scores = [t.score for t in result.trials]
    assert scores == sorted(scores)  # val_loss: lower is better
    steps_per_epoch = 256 // BATCH
    assert result.plan == {
        "epochs": EPOCHS,
        "steps_per_epoch": steps_per_epoch,
        "total_steps": EPOCHS * steps_per_epoch,
    }
    best = result.best
    assert isinstance(best, ScheduleSpec)
    assert best.family in result.space.families
    assert best == result.trials[0].spec == result.spec_for(EPOCHS * steps_per_epoch)
    assert result.best_trial is result.trials[0]
    for trial in result.trials:
        low, high = result.space.lr_range(trial.family or "")
        lr = trial.params.get("max_lr", trial.params.get("learning_rate"))
        assert low <= lr <= high
        # Each trial really trained its whole schedule, from step 0.
        assert trial.metrics["finder/steps"] == EPOCHS * steps_per_epoch


def test_space_comes_from_the_range_test_bounds(
    searched: tuple[TuningResult, list[TrialProgress]],
) -> None:
    result, _ = searched
    assert isinstance(result.range_test, RangeTestResult)
    assert result.range_test.bounds.max_lr is not None
    assert result.space == SearchSpace.from_bounds(result.range_test.bounds)


def test_every_trial_starts_from_the_same_weights_and_batches(
    searched: tuple[TuningResult, list[TrialProgress]],
) -> None:
    first_losses = [t.metrics[FIRST_LOSS] for t in searched[0].trials]
    assert first_losses == pytest.approx([first_losses[0]] * 3, rel=1e-6)


def test_progress_reports_each_trial_and_epoch_in_order(
    searched: tuple[TuningResult, list[TrialProgress]],
) -> None:
    result, events = searched
    trial_ids = sorted(t.trial_id for t in result.trials)
    expected = []
    for number, trial_id in enumerate(trial_ids, start=1):
        expected += [("trial_begin", trial_id, number, 0)]
        expected += [("epoch_end", trial_id, number, e) for e in range(1, EPOCHS + 1)]
        expected += [("trial_end", trial_id, number, EPOCHS)]
    assert [(e.event, e.trial_id, e.number, e.epoch) for e in events] == expected
    ends = [e for e in events if e.event == "trial_end"]
    assert all(e.record is not None and e.record.status == "COMPLETED" for e in ends)
    assert all(e.max_trials == 3 and e.spec is not None for e in events)


def test_json_round_trip(searched: tuple[TuningResult, list[TrialProgress]], tmp_path: Any) -> None:
    result, _ = searched
    document = result.to_dict()
    assert document["schema_version"] == 1 and document["kind"] == "tuning"
    assert document["range_test"]["kind"] == "range_test"
    again = TuningResult.from_json(result.to_json())
    assert again.to_dict() == document
    assert again.best == result.best
    assert TuningResult.load(result.save(tmp_path / "tuning.json")).to_dict() == document


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(kind="range_test"), "kind"),  # another document kind
        (lambda d: d.pop("trials"), "trials"),  # missing field
        (lambda d: d.update(extra=1), "extra"),  # unknown field
        (lambda d: d["trials"][0].update(status="DONE"), "trials/0/status"),  # bad status
        (lambda d: d["space"].update(peak_range=[0.1]), "space/peak_range"),  # not a pair
        (lambda d: d["range_test"].update(lrs="x"), "range_test"),  # bad embedded document
    ],
)
def test_schema_refuses_bad_documents(
    searched: tuple[TuningResult, list[TrialProgress]], change: Any, where: str
) -> None:
    from finder.errors import SchemaError

    document = searched[0].to_dict()
    change(document)
    with pytest.raises(SchemaError, match=where):
        TuningResult.from_dict(document)


def test_the_default_tuner_fits_its_gaussian_process(data: tuple[np.ndarray, ...]) -> None:
    # Bayesian optimization (the default) needs scipy, which keras-tuner does not install by
    # itself; with one initial point, the second trial comes from the fitted process.
    x, y, x_val, y_val = data
    result = tune(
        tiny_classifier,
        x,
        y,
        validation_data=(x_val, y_val),
        space=TINY_SPACE,
        epochs=1,
        batch_size=BATCH,
        max_trials=2,
        tuner_options={"num_initial_points": 1},
    )
    assert result.tuner == "bayesian"
    assert [t.status for t in result.trials] == ["COMPLETED"] * 2


def test_search_where_every_trial_fails_raises_with_the_cause(
    data: tuple[np.ndarray, ...],
) -> None:
    x, y, x_val, y_val = data
    bad_labels = y + 5  # outside the 3 classes: every training step fails
    with pytest.raises(TuningError, match=r"3 of 3 trials did not complete.*label value"):
        tune(
            tiny_classifier,
            x,
            bad_labels,
            validation_data=(x_val, y_val),
            space=TINY_SPACE,
            epochs=1,
            batch_size=BATCH,
            tuner="random",
            max_trials=5,
        )


def test_one_failed_trial_among_good_ones_still_raises(data: tuple[np.ndarray, ...]) -> None:
    x, y, x_val, y_val = data
    builds = []

    def build_model() -> keras.Model:
        builds.append(1)
        if len(builds) == 3:  # the pre-flight build, trial 0, then trial 1 breaks
            raise RuntimeError("the second trial's model broke")
        return tiny_classifier()

    with pytest.raises(TuningError, match=r"1 of 3 trials.*trial 1 .*second trial's model broke"):
        tune(
            build_model,
            x,
            y,
            validation_data=(x_val, y_val),
            space=TINY_SPACE,
            epochs=1,
            batch_size=BATCH,
            tuner="random",
            max_trials=3,
        )


def test_diverging_trials_are_flagged_and_score_as_the_untrained_model() -> None:
    problem = least_squares_problem(samples=256)
    x, y = problem.x[:192], problem.y[:192]
    validation = (problem.x[192:], problem.y[192:])
    lr = problem.divergence_lr
    kwargs: dict[str, Any] = {
        "validation_data": validation,
        "epochs": 2,
        "batch_size": 32,
        "tuner": "random",
        "max_trials": 1,
    }

    def build() -> keras.Model:
        return dense_regressor(inputs=x.shape[1])

    diverged = tune(build, x, y, space=SearchSpace.wide(8 * lr, 16 * lr, ["constant"]), **kwargs)
    stable = tune(build, x, y, space=SearchSpace.wide(lr / 8, lr / 4, ["constant"]), **kwargs)
    bad, good = diverged.trials[0], stable.trials[0]
    assert (bad.status, bad.outcome, bad.metrics[CLIPPED]) == ("COMPLETED", "diverged", 1.0)
    assert (good.status, good.outcome, good.metrics[CLIPPED]) == ("COMPLETED", "ok", 0.0)
    # The diverged score is the untrained model's val_loss: finite and worse than training.
    untrained = build().evaluate(*validation, verbose=0)
    assert bad.score == pytest.approx(untrained, rel=1e-5)
    assert good.score is not None and bad.score is not None and good.score < bad.score
    assert diverged.outcome_counts() == {"ok": 0, "diverged": 1, "no_progress": 0}


def test_uncompiled_model_takes_loss_metrics_and_optimizer(data: tuple[np.ndarray, ...]) -> None:
    x, y, x_val, y_val = data

    def build() -> keras.Model:
        model = tiny_classifier()
        return keras.Sequential(model.layers)  # same layers, not compiled

    with pytest.raises(ModelError, match="without a loss"):
        tune(build, x, y, validation_data=(x_val, y_val), space=TINY_SPACE, epochs=1, max_trials=1)
    result = tune(
        build,
        x,
        y,
        validation_data=(x_val, y_val),
        space=TINY_SPACE,
        epochs=1,
        batch_size=BATCH,
        tuner="random",
        max_trials=1,
        objective="val_accuracy",
        optimizer="sgd",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    assert result.objective == {"name": "val_accuracy", "direction": "max"}
    assert result.trials[0].score == result.trials[0].metrics["val_accuracy"]


def test_objective_the_model_does_not_log_fails_every_trial_with_the_reason(
    data: tuple[np.ndarray, ...],
) -> None:
    x, y, x_val, y_val = data
    with pytest.raises(TuningError, match="'val_auc' is not a metric of the model"):
        tune(
            tiny_classifier,
            x,
            y,
            validation_data=(x_val, y_val),
            space=TINY_SPACE,
            epochs=1,
            tuner="random",
            max_trials=3,
            objective="val_auc",
        )


def test_compile_with_schedule_keeps_the_users_optimizer_loss_and_metrics() -> None:
    model = tiny_classifier()
    model.compile(
        optimizer=keras.optimizers.SGD(0.5, momentum=0.9, nesterov=True, clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    schedule = OneCycle(max_lr=0.2, total_steps=10)
    compile_with_schedule(model, schedule, CompileArgs())
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert (optimizer.momentum, optimizer.nesterov, optimizer.clipnorm) == (0.9, True, 1.0)
    assert optimizer._learning_rate is schedule
    x, y, _, _ = tiny_data(40)
    logs = model.fit(x, y, epochs=1, verbose=0).history
    assert set(logs) >= {"loss", "accuracy"}


def test_dataset_input_sizes_schedules_from_its_cardinality(
    data: tuple[np.ndarray, ...],
) -> None:
    x, y, x_val, y_val = data
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    validation = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(64)
    result = tune(
        tiny_classifier,
        train,
        validation_data=validation,
        space=TINY_SPACE,
        epochs=1,
        tuner="random",
        max_trials=1,
    )
    assert result.plan["steps_per_epoch"] == 4
    assert result.trials[0].metrics["finder/steps"] == 4
    with pytest.raises(DataError, match="finite length"):
        tune(
            tiny_classifier, train.repeat(), validation_data=validation, space=TINY_SPACE, epochs=1
        )
    generator = (batch for batch in train.as_numpy_iterator())
    with pytest.raises(DataError, match="a Python generator gives its batches once"):
        tune(tiny_classifier, generator, validation_data=validation, space=TINY_SPACE, epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs"),  # no training
        ({"tuner": "grid"}, "tuner"),  # not a supported tuner
        ({"max_trials": None}, "max_trials"),  # only Hyperband sizes itself
        ({"max_trials": 0}, "max_trials"),  # no trial
        ({"objective": "loss"}, "validation metric"),  # scored on validation data
        ({"objective": "val_wiggle"}, "direction"),  # keras-tuner cannot tell min from max
        ({"families": ["one_cycle"]}, "inside `space`"),  # two sources of families
        ({"workers": -1}, "workers"),  # negative
        ({"validation_data": None}, "validation_data"),  # nothing to score trials on
        ({"tuner_options": {"warp": 9}}, "refused tuner options"),  # unknown keras-tuner option
    ],
)
def test_bad_arguments_are_refused(
    data: tuple[np.ndarray, ...], kwargs: dict[str, Any], match: str
) -> None:
    x, y, x_val, y_val = data
    arguments: dict[str, Any] = {
        "validation_data": (x_val, y_val),
        "space": TINY_SPACE,
        "epochs": 1,
        "tuner": "random",
        "max_trials": 1,
        **kwargs,
    }
    with pytest.raises(InvalidArgumentError, match=match):
        tune(tiny_classifier, x, y, **arguments)


def test_workers_cannot_combine_with_keras_tuner_variables(
    data: tuple[np.ndarray, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y, x_val, y_val = data
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "1")
    with pytest.raises(InvalidArgumentError, match="unset KERASTUNER"):
        tune(
            tiny_classifier,
            x,
            y,
            validation_data=(x_val, y_val),
            space=TINY_SPACE,
            epochs=1,
            workers=2,
        )
    with pytest.raises(InvalidArgumentError, match="same result= or space="):
        tune(tiny_classifier, x, y, validation_data=(x_val, y_val), epochs=1)


def test_missing_tensorboard_is_reported_before_any_trial(
    data: tuple[np.ndarray, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y, x_val, y_val = data
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monkeypatch.delitem(sys.modules, "tensorboard.plugins.hparams.api", raising=False)
    with pytest.raises(TuningError, match="needs the tensorboard package"):
        tune(tiny_classifier, x, y, validation_data=(x_val, y_val), space=TINY_SPACE, epochs=1)

"""The benchmark task registry: `bench/tasks.py`, `task_data.py`, `task_models.py`.

`bench/` is on the path through pytest's `pythonpath` (see pyproject.toml).

Fast checks only: every task builds, compiles and takes two finite steps; the data loaders
return the documented shapes; the fine-tuning task's freeze/thaw and pretraining cache; and
what `train` reports, on short runs of the scikit-learn tasks. Full runs are the benchmarks' job.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import keras
import numpy as np
import pytest
import task_data
import task_models
import tasks
from tasks import TASKS, UnfreezeAt, train

FASHION = (28, 28, 1)
# task -> (x_train shape, x_val shape, number of classes or None for regression)
EXPECTED_DATA = {
    "fashion_cnn_sgd": ((60000, *FASHION), (10000, *FASHION), 10),
    "mlp_adam": ((20000, *FASHION), (10000, *FASHION), 10),
    "resnet_bn_sgdm": ((12000, *FASHION), (2000, *FASHION), 10),
    "transformer_adamw": ((12000, *FASHION), (2000, *FASHION), 10),
    "diabetes_mse_adam": ((353, 10), (89, 10), None),
    "digits_rmsprop": ((1437, 64), (360, 64), 10),
    "finetune_sgdm": ((5000, *FASHION), (5000, *FASHION), 5),
}
ADAPTIVE = (keras.optimizers.Adam, keras.optimizers.AdamW, keras.optimizers.RMSprop)


@pytest.fixture
def untrained_base(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretraining takes half a minute; the fine-tuning wiring is the same with fresh weights.
    monkeypatch.setattr(task_models, "load_pretrained_base", task_models.fashion_base)


def weights_of(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v) for v in model.weights]


def test_registry_holds_seven_distinct_tasks() -> None:
    assert len(TASKS) >= 7
    assert all(name == task.name for name, task in TASKS.items())
    assert set(EXPECTED_DATA) <= set(TASKS)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_settings_are_consistent(name: str) -> None:
    task = TASKS[name]
    optimizer = task.make_optimizer(0.123)
    assert math.isclose(float(optimizer.learning_rate), 0.123, rel_tol=1e-6)
    # `default_lr` is the Keras default of the task's optimizer class.
    keras_default = float(type(optimizer)().learning_rate)
    assert math.isclose(task.default_lr, keras_default, rel_tol=1e-6)
    # The seven base tasks mark Adam-like families; the optimizer variants are all adaptive
    # but plain SGD.
    variant = name not in EXPECTED_DATA and type(optimizer) is not keras.optimizers.SGD
    assert task.adaptive == (isinstance(optimizer, ADAPTIVE) or variant)
    assert task.higher_is_better == (task.metric == "accuracy")
    assert task.epochs >= 1 and task.batch_size >= 1
    assert task.plan.total_steps == task.epochs * task.steps_per_epoch


@pytest.mark.parametrize("name", sorted(EXPECTED_DATA))
def test_data_has_documented_shapes(name: str) -> None:
    task = TASKS[name]
    train_shape, val_shape, classes = EXPECTED_DATA[name]
    data = task.load_data()
    assert data.x_train.shape == train_shape and data.x_val.shape == val_shape
    assert len(data.y_train) == train_shape[0] and len(data.y_val) == val_shape[0]
    assert task.load_data() is data  # cached: every run of a benchmark sees the same arrays
    assert task.steps_per_epoch == math.ceil(train_shape[0] / task.batch_size)
    if classes is None:
        assert data.y_train.shape == (train_shape[0], 1)
        assert np.isfinite(data.y_train).all() and np.isfinite(data.x_train).all()
    else:
        counts = np.bincount(data.y_train, minlength=classes)
        assert counts.size == classes and counts.min() > 0
        assert set(np.unique(data.y_val)) == set(range(classes))


def test_fashion_subsets_are_balanced_and_fixed() -> None:
    data = TASKS["resnet_bn_sgdm"].load_data()
    assert (np.bincount(data.y_train) == 1200).all() and (np.bincount(data.y_val) == 200).all()
    again = task_data.load_fashion_subset.__wrapped__(1200, 200)  # bypass the cache
    np.testing.assert_array_equal(again.x_train, data.x_train)
    np.testing.assert_array_equal(again.y_val, data.y_val)


def test_finetune_data_is_classes_5_to_9_relabelled() -> None:
    data = TASKS["finetune_sgdm"].load_data()
    full = task_data.load_fashion()
    assert (np.bincount(data.y_train) == 1000).all()
    # The validation set is every test image of classes 5-9, in order, relabelled 0-4.
    np.testing.assert_array_equal(data.y_val, full.y_val[full.y_val >= 5] - 5)


def test_diabetes_is_standardised_with_training_statistics() -> None:
    data = task_data.load_diabetes()
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1.0, atol=1e-4)
    assert abs(float(data.y_train.mean())) < 1e-5 and abs(float(data.y_train.std()) - 1) < 1e-4
    assert abs(float(data.y_val.mean())) > 1e-3  # the validation split was not refitted


@pytest.mark.usefixtures("untrained_base")
@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_builds_compiles_and_trains_two_batches(name: str) -> None:
    task = TASKS[name]
    data = task.load_data()
    model = task.build_model(0)
    assert not model.compiled
    task.compile(model, task.make_optimizer(task.default_lr))
    batch = 2 * task.batch_size
    history = model.fit(
        data.x_train[:batch], data.y_train[:batch], batch_size=task.batch_size, verbose=0
    )
    assert math.isfinite(history.history["loss"][-1])
    assert int(model.optimizer.iterations) == 2


def test_build_model_draws_weights_from_the_seed() -> None:
    task = TASKS["digits_rmsprop"]
    first, same, other = (weights_of(task.build_model(seed)) for seed in (0, 0, 1))
    assert all(np.array_equal(a, b) for a, b in zip(first, same, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.usefixtures("untrained_base")
def test_unfreeze_at_thaws_the_base_mid_fit() -> None:
    task = TASKS["finetune_sgdm"]
    data = task.load_data()
    model = task.build_model(0)
    base = model.get_layer(task.frozen_layer)
    assert not base.trainable
    optimizer = task.make_optimizer(0.05)
    task.compile(model, optimizer)
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(weights_of(base))
    )
    initial = weights_of(base)
    x, y = data.x_train[:128], data.y_train[:128]
    model.fit(
        x, y, batch_size=64, epochs=3, verbose=0, callbacks=[UnfreezeAt(1, base.name), record]
    )

    def moved(weights: list[np.ndarray]) -> bool:
        return not all(np.array_equal(a, b) for a, b in zip(weights, initial, strict=True))

    assert [moved(w) for w in snapshots] == [False, True, True]
    # One optimizer all along: the step count (which schedules read) went on through the thaw.
    assert int(optimizer.iterations) == 6
    assert task.callbacks(task.plan)[0].epoch == task.epochs // 3


def test_other_tasks_need_no_callbacks() -> None:
    for task in TASKS.values():
        if task.frozen_layer is None:
            assert task.callbacks(task.plan) == []


def test_pretraining_is_deterministic_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = (tmp_path / "a.keras", tmp_path / "b.keras")
    for path in (first, second):
        task_models.pretrain_base(path, samples_per_class=32, epochs=1)
    loaded = [keras.saving.load_model(path, compile=False) for path in (first, second)]
    assert all(np.array_equal(a, b) for a, b in zip(*map(weights_of, loaded), strict=True))
    # A cached file is loaded as it is, never retrained.
    monkeypatch.setenv("FINDER_BENCH_CACHE", str(tmp_path))
    (tmp_path / task_models.PRETRAIN_FILE).write_bytes(first.read_bytes())
    base = task_models.load_pretrained_base()
    assert base.name == "pretrained_base"
    assert all(
        np.array_equal(a, b) for a, b in zip(weights_of(base), weights_of(loaded[0]), strict=True)
    )


def short(name: str, epochs: int) -> tasks.Task:
    return dataclasses.replace(TASKS[name], epochs=epochs)


def test_train_reports_score_steps_and_time() -> None:
    task = short("digits_rmsprop", epochs=2)
    report = train(task, task.default_lr, seed=0)
    assert set(report) == {"score", "scores_per_epoch", "diverged", "train_steps", "wall_s"}
    assert len(report["scores_per_epoch"]) == 2
    assert report["score"] == report["scores_per_epoch"][-1] > 0.5
    assert not report["diverged"]
    assert report["train_steps"] == 2 * task.steps_per_epoch
    assert report["wall_s"] >= 0


def test_train_flags_a_diverged_run() -> None:
    report = train(short("diabetes_mse_adam", epochs=2), 1e4, seed=0)
    assert report["diverged"]


def test_train_takes_another_optimizer_and_a_schedule() -> None:
    task = short("digits_rmsprop", epochs=1)
    schedule = keras.optimizers.schedules.CosineDecay(0.01, task.plan.total_steps)
    report = train(task, schedule, seed=0, optimizer=keras.optimizers.ScheduleFreeAdamW)
    assert not report["diverged"] and report["train_steps"] == task.steps_per_epoch

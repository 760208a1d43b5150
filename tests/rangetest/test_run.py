"""The range test on real (tiny) Keras training: what it records, stops on, and restores."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import finder
from finder.errors import DataError, InvalidArgumentError, InvalidRangeError, ModelError
from finder.rangetest.recorder import held_out_loss, in_batches
from tests.utils.factories import dense_regressor, small_classifier

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


class WeightSnapshots(keras.callbacks.Callback):
    """Trainable weights at the start of every batch (runs after the recorder's reset)."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.weights.append([v.numpy().astype(np.float64) for v in self.model.trainable_variables])


def all_values(model: keras.Model) -> list[np.ndarray]:
    return [v.numpy().copy() for v in model.variables + model.optimizer.variables]


def test_recorded_loss_is_each_batch_loss_under_the_pre_step_weights(regression_data):
    x, y = regression_data
    snapshots = WeightSnapshots()
    result = finder.range_test(
        dense_regressor(),
        x,
        y,
        batch_size=32,
        min_lr=1e-3,
        max_lr=0.3,
        num_steps=20,
        shuffle=False,
        smoothing=0.0,
        callbacks=[snapshots],
    )
    assert len(result.losses) == 20
    expected = []
    for step, (kernel, bias) in enumerate(snapshots.weights):
        start = (step * 32) % len(x)  # shuffle=False: batches in order, cycling
        xb, yb = x[start : start + 32].astype(np.float64), y[start : start + 32]
        expected.append(np.mean((xb @ kernel + bias - yb) ** 2))
    np.testing.assert_allclose(result.losses, expected, rtol=1e-5)
    # The epoch's running mean (what Keras logs) is a different curve: the test can tell.
    running_mean = np.cumsum(expected) / np.arange(1, 21)
    assert not np.allclose(result.losses, running_mean, rtol=1e-2)


def test_adam_with_a_schedule_is_restored_exactly_and_trains_on_like_its_twin(classification_data):
    x, y = classification_data

    def trained_twin() -> keras.Model:
        schedule = keras.optimizers.schedules.CosineDecay(0.01, decay_steps=500)
        model = small_classifier(seed=3, optimizer=keras.optimizers.Adam(schedule))
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        return model

    tested, twin = trained_twin(), trained_twin()
    schedule = tested.optimizer._learning_rate
    before = all_values(tested)
    iterations = int(tested.optimizer.iterations.numpy())

    # Both twins' next fits start from the same global random state: on PyTorch an unseeded
    # Dropout draws from it, and the range test must leave it as it found it.
    keras.utils.set_random_seed(11)
    finder.range_test(tested, x, y, batch_size=32, min_lr=1e-4, max_lr=10.0, num_steps=40)

    after = all_values(tested)
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)
    assert tested.optimizer._learning_rate is schedule
    assert int(tested.optimizer.iterations.numpy()) == iterations
    # Training continues exactly as if the range test had never happened.
    tested.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    keras.utils.set_random_seed(11)
    twin.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(tested.variables, twin.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_float_learning_rate_variable_stays_tracked_and_unchanged(classification_data):
    x, y = classification_data
    optimizer = keras.optimizers.SGD(learning_rate=0.02, momentum=0.9)
    model = small_classifier(optimizer=optimizer)
    lr_variable = optimizer._learning_rate
    finder.range_test(model, x, y, batch_size=32, min_lr=1e-3, max_lr=1.0, num_steps=20)
    assert optimizer._learning_rate is lr_variable
    assert any(v is lr_variable for v in optimizer.variables)
    assert float(optimizer.learning_rate) == pytest.approx(0.02)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 0


def test_untrained_model_trains_like_its_twin_after_the_test(classification_data):
    x, y = classification_data
    tested, twin = small_classifier(seed=5), small_classifier(seed=5)
    # A model's first fit builds its train function, which draws from torch's global generator
    # on PyTorch; the sweeps did that for `tested`, a fit of no epochs does it for the twin.
    twin.fit(x, y, batch_size=32, epochs=0, verbose=0)
    keras.utils.set_random_seed(11)  # the same global random state for both fits (see above)
    finder.range_test(tested, x, y, batch_size=32, min_lr=1e-3, max_lr=3.0, num_steps=15)
    # The sweep's train step (metrics reset inside it) is gone: the class's method is back.
    assert "train_step" not in vars(tested)
    logged = tested.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    keras.utils.set_random_seed(11)
    expected = twin.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(tested.variables, twin.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    # Keras's epoch means again, not the last batch's loss.
    np.testing.assert_allclose(logged.history["loss"], expected.history["loss"], rtol=1e-6)


def test_a_train_step_set_on_the_instance_is_kept(classification_data):
    x, y = classification_data
    model = small_classifier(seed=5)
    calls: list[int] = []
    own_step = model.train_step

    # `*args`: JAX's train step also takes the state, `(state, data)`.
    def counting_train_step(*args):
        calls.append(1)
        return own_step(*args)

    model.train_step = counting_train_step
    result = finder.range_test(model, x, y, batch_size=32, min_lr=1e-3, max_lr=1.0, num_steps=10)
    assert result.steps_run == 10 and calls  # the sweep trained through the user's own step
    assert model.train_step is counting_train_step


@pytest.mark.parametrize(
    ("batch_size", "num_steps", "min_lr"),
    [
        (64, 300, 1e-4),  # the CLI's default sweep shape
        (64, 100, 1e-7),  # fastai's defaults: 8 decades in 100 steps
        (256, 100, 1e-4),  # a large batch sees nearly the full-batch curvature
    ],
)
def test_max_bound_sits_below_the_analytic_divergence_lr(
    least_squares, batch_size, num_steps, min_lr
):
    model = dense_regressor(inputs=least_squares.x.shape[1])
    result = finder.range_test(
        model,
        least_squares.x,
        least_squares.y,
        batch_size=batch_size,
        min_lr=min_lr,
        max_lr=10.0,
        num_steps=num_steps,
    )
    max_lr = result.bounds.max_lr
    assert max_lr is not None
    assert least_squares.divergence_lr / 10 < max_lr < least_squares.divergence_lr
    # The sweep itself ran into the divergence it was looking for.
    assert result.stop_reason == "diverged"
    assert result.stopped_at_lr > least_squares.divergence_lr


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_sweep_hits_min_lr_and_max_lr(regression_data, mode):
    x, y = regression_data
    result = finder.range_test(
        dense_regressor(), x, y, batch_size=32, min_lr=1e-4, max_lr=0.05, num_steps=25, mode=mode
    )
    assert result.stop_reason == "completed"
    assert result.lrs[0] == 1e-4 and result.lrs[-1] == 0.05
    assert len(result.lrs) == len(result.losses) == len(result.smoothed_losses) == 25
    steps = np.diff(result.lrs)
    if mode == "linear":
        np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    else:
        np.testing.assert_allclose(np.array(result.lrs[1:]) / result.lrs[:-1], (500) ** (1 / 24))


class ArrayBatches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, index):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]


def test_numpy_tf_data_and_pydataset_inputs_give_the_same_curve(regression_data):
    x, y = regression_data
    options = dict(min_lr=1e-3, max_lr=0.5, num_steps=20)
    from_numpy = finder.range_test(dense_regressor(), x, y, batch_size=32, shuffle=False, **options)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    from_dataset = finder.range_test(dense_regressor(), dataset, **options)
    from_pydataset = finder.range_test(dense_regressor(), ArrayBatches(x, y, 32), **options)
    np.testing.assert_allclose(from_dataset.losses, from_numpy.losses, rtol=1e-6)
    np.testing.assert_allclose(from_pydataset.losses, from_numpy.losses, rtol=1e-6)
    assert from_dataset.data["kind"] == "tf.data.Dataset"
    assert from_pydataset.data["kind"] == "PyDataset"


def batches_of(x, y, batch_size, passes=None):
    """A Python generator of (x, y) batches, cycling (`passes` times, or without end)."""
    count = len(x) // batch_size
    index = 0
    while passes is None or index < passes * count:
        part = slice((index % count) * batch_size, (index % count + 1) * batch_size)
        yield x[part], y[part]
        index += 1


def test_a_generator_gives_the_numpy_curve_and_goes_on_after_the_batches_it_gave(
    regression_data,
):
    x, y = regression_data  # 8 batches of 32: the sweep's 20 steps cycle them
    options = dict(min_lr=1e-3, max_lr=0.5, num_steps=20)
    from_numpy = finder.range_test(dense_regressor(), x, y, batch_size=32, shuffle=False, **options)
    generator = batches_of(x, y, 32)
    from_generator = finder.range_test(dense_regressor(), generator, **options)
    np.testing.assert_allclose(from_generator.losses, from_numpy.losses, rtol=1e-6)
    assert from_generator.data["kind"] == "generator"
    # The 20 batches the test trained on are gone from the generator: batch 20 (4 of 8) is next.
    np.testing.assert_array_equal(next(generator)[0], x[4 * 32 : 5 * 32])
    # A model built on the first batch, which stays in the generator for the sweep.
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    built = finder.range_test(model, batches_of(x, y, 32), **options)
    assert built.steps_run == 20 and np.isfinite(built.losses).all()


def test_a_generator_that_ends_before_the_sweep_or_validates_is_refused(regression_data):
    x, y = regression_data
    options = dict(min_lr=1e-3, max_lr=0.5, num_steps=20)
    with pytest.raises(DataError, match="ran out after 8 of the 20 batches"):
        finder.range_test(dense_regressor(), batches_of(x, y, 32, passes=1), **options)
    with pytest.raises(DataError, match="yields no batches"):
        finder.range_test(dense_regressor(), batches_of(x, y, 32, passes=0), **options)
    with pytest.raises(DataError, match="`validation_data` cannot be a Python generator"):
        finder.range_test(dense_regressor(), x, y, validation_data=batches_of(x, y, 32), **options)
    with pytest.raises(DataError, match="`y` must be None when `x` is a generator"):
        finder.range_test(dense_regressor(), batches_of(x, y, 32), y, **options)


def test_same_seed_gives_an_identical_curve(classification_data):
    x, y = classification_data
    options = dict(batch_size=32, min_lr=1e-3, max_lr=3.0, num_steps=30, seed=7)
    model = small_classifier(seed=1)  # has Dropout: its random state is restored too
    first = finder.range_test(model, x, y, **options)
    second = finder.range_test(model, x, y, **options)
    fresh = finder.range_test(small_classifier(seed=1), x, y, **options)
    assert first.losses == second.losses == fresh.losses
    other_seed = finder.range_test(model, x, y, **{**options, "seed": 8})
    assert other_seed.losses != first.losses


def test_repeats_report_median_curve_spread_and_suggestion_spread(regression_data):
    x, y = regression_data
    model = dense_regressor()
    before = all_values(model)
    result = finder.range_test(
        model, x, y, batch_size=16, min_lr=1e-4, max_lr=0.2, num_steps=40, repeats=3
    )
    stats = result.repeats
    assert stats["count"] == 3 and len(stats["runs"]) == 3
    assert result.steps_run == 120
    runs = np.array([run["losses"] for run in stats["runs"]])
    assert len({tuple(row) for row in runs}) == 3  # three different batch orders
    np.testing.assert_allclose(result.losses, np.median(runs, axis=0))
    np.testing.assert_allclose(stats["loss_lower"], np.percentile(runs, 25, axis=0))
    for name in ("steepest", "valley", "minimum", "max_lr", "min_lr"):
        spread = stats["suggestion_spread"][name]
        assert spread["count"] == 3
        assert spread["min"] <= spread["median"] <= spread["max"]
    for old, new in zip(before, all_values(model), strict=True):
        np.testing.assert_array_equal(old, new)


def test_median_curve_ends_where_most_repeats_had_diverged(least_squares):
    result = finder.range_test(
        dense_regressor(inputs=20),
        least_squares.x,
        least_squares.y,
        batch_size=64,
        min_lr=1e-3,
        max_lr=10.0,
        num_steps=60,
        repeats=3,
    )
    stopped = sorted(len(run["losses"]) for run in result.repeats["runs"])
    assert result.stop_reason == "diverged"
    assert len(result.losses) == stopped[1]  # the median run's length


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        # A gentle range: nothing blows up.
        (dict(min_lr=1e-4, max_lr=0.01), "completed"),
        # Far past 1/lambda_max: the smoothed loss passes 4x its minimum.
        (dict(min_lr=1e-3, max_lr=50.0), "diverged"),
        # No smoothing and no ratio stop: the loss overflows float32 first.
        (dict(min_lr=1e2, max_lr=1e12, smoothing=0.0, divergence=1e300), "non_finite"),
    ],
)
def test_every_stop_reason(regression_data, options, reason):
    x, y = regression_data
    result = finder.range_test(dense_regressor(), x, y, batch_size=32, num_steps=40, **options)
    assert result.stop_reason == reason
    if reason == "completed":
        assert result.stopped_at_lr is None and result.steps_run == 40
    else:
        assert result.steps_run < 40
        assert result.stopped_at_lr == pytest.approx(
            np.geomspace(options["min_lr"], options["max_lr"], 40)[result.steps_run - 1]
        )
        assert all(np.isfinite(result.losses))


def test_validation_curve_is_scored_every_n_steps(classification_data):
    x, y = classification_data
    result = finder.range_test(
        small_classifier(),
        x,
        y,
        batch_size=32,
        min_lr=1e-3,
        max_lr=0.5,
        num_steps=20,
        validation_data=(x[:64], y[:64]),
        validation_every=5,
    )
    assert len(result.val_losses) == len(result.val_lrs) == 5  # steps 0, 5, 10, 15 and the last
    assert result.val_lrs == [result.lrs[i] for i in (0, 5, 10, 15, 19)]
    assert result.config["validation_every"] == 5


def test_the_held_out_loss_is_the_one_evaluate_reports(classification_data):
    x, y = classification_data
    model = small_classifier()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # weights away from the start
    # 70 samples in batches of 32: two full batches and one of 6, weighted by their sizes.
    batches = in_batches((x[:70], y[:70]), 32)
    assert [len(batch[1]) for batch in batches] == [32, 32, 6]
    expected = model.evaluate(x[:70], y[:70], batch_size=32, verbose=0, return_dict=True)["loss"]
    assert held_out_loss(model, batches) == pytest.approx(expected, rel=1e-5)


class Frame:
    """The part of a pandas object `in_batches` meets: row slices and `to_numpy`."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.shape = values.shape

    def __getitem__(self, rows: slice) -> Frame:
        return Frame(self.values[rows])

    def to_numpy(self) -> np.ndarray:
        return self.values


def test_validation_batches_of_a_pandas_like_object_are_numpy_arrays():
    x = np.arange(10, dtype="float32").reshape(5, 2)
    batches = in_batches((Frame(x), Frame(np.arange(5))), 2)
    assert [type(part) for batch in batches for part in batch] == [np.ndarray] * 6
    np.testing.assert_array_equal(batches[2][0], x[4:])


def test_progress_sees_every_step_in_order(regression_data):
    x, y = regression_data
    events = []
    finder.range_test(
        dense_regressor(),
        x,
        y,
        batch_size=32,
        min_lr=1e-3,
        max_lr=0.1,
        num_steps=12,
        repeats=2,
        progress=events.append,
    )
    assert [(e.repeat, e.step) for e in events] == [(r, s) for r in range(2) for s in range(12)]
    assert all(e.num_steps == 12 and e.repeats == 2 for e in events)


def test_gradient_accumulation_counts_optimizer_steps(regression_data):
    x, y = regression_data
    optimizer = keras.optimizers.SGD(0.01, gradient_accumulation_steps=2)
    model = dense_regressor(optimizer=optimizer)
    plan = finder.Plan(epochs=4, steps_per_epoch=100)  # 400 batches: 200 optimizer steps
    result = finder.range_test(
        model, x, y, batch_size=16, min_lr=1e-3, max_lr=0.1, num_steps=10, plan=plan
    )
    assert result.steps_run == 10 and len(result.losses) == 10
    assert result.config["accumulation_steps"] == 2
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 0
    # The proposals' schedules count batches, as Keras evaluates a schedule at the
    # micro-batch counter.
    assert result.proposals[0].plan.total_steps == 400


def test_result_describes_model_optimizer_and_data(regression_data):
    x, y = regression_data
    result = finder.range_test(
        dense_regressor(optimizer=keras.optimizers.AdamW(1e-3)),
        x,
        y,
        batch_size=32,
        min_lr=1e-4,
        max_lr=0.1,
        num_steps=10,
        metadata={"dataset": "tiny"},
    )
    assert result.optimizer["name"] == "AdamW"
    assert result.optimizer["config"]["weight_decay"] == pytest.approx(0.004)
    assert result.model["params"] == 5
    assert result.data == {"kind": "numpy", "samples": 256, "input_shape": [4], "batch_size": 32}
    assert result.metadata == {"dataset": "tiny"}
    assert result.wall_time_s > 0 and result.steps_per_second > 0


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        (dict(min_lr=1.0, max_lr=1.0), InvalidRangeError),  # empty range
        (dict(min_lr=1.0, max_lr=0.1), InvalidRangeError),  # inverted range
        (dict(min_lr=0.0), InvalidRangeError),  # exp sweep needs lr > 0
        (dict(num_steps=1), InvalidRangeError),  # one step is not a sweep
        (dict(num_steps=0), InvalidRangeError),
        (dict(mode="cubic"), InvalidArgumentError),
        (dict(smoothing=1.0), InvalidArgumentError),
        (dict(divergence=1.0), InvalidArgumentError),
        (dict(repeats=0), InvalidArgumentError),
        (dict(batch_size=0), InvalidArgumentError),
        (dict(validation_every=0), InvalidArgumentError),
    ],
)
def test_bad_arguments_raise_before_training(regression_data, overrides, error):
    x, y = regression_data
    with pytest.raises(error) as excinfo:
        finder.range_test(dense_regressor(), x, y, **overrides)
    assert "Received" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_bad_models_and_data_are_refused(regression_data):
    x, y = regression_data
    uncompiled = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ModelError, match="not compiled"):
        finder.range_test(uncompiled, x, y)
    with pytest.raises(DataError, match="`y` is required"):
        finder.range_test(dense_regressor(), x)
    with pytest.raises(DataError, match="different numbers of samples"):
        finder.range_test(dense_regressor(), x, y[:10])
    with pytest.raises(DataError, match="must be None"):
        finder.range_test(dense_regressor(), tf.data.Dataset.from_tensor_slices((x, y)).batch(8), y)
    with pytest.raises(DataError, match="empty"):
        finder.range_test(dense_regressor(), tf.data.Dataset.from_tensor_slices((x, y)).take(0))

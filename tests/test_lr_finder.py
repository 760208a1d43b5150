"""`finder.LearningRateFinder`: the range test as the warm-up of the user's own `fit`.

Real training of a small classifier on scikit-learn's digits (1,500 samples, batch 32: 47
steps an epoch), a few epochs, so that each test takes seconds.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

import finder
from finder.errors import InvalidArgumentError
from finder.propose import SHORT_PLAN_PEAK_MULTIPLE, SHORT_PLAN_STEPS
from finder.rangetest.sweep import SweepSchedule
from finder.schedules import OneCycle
from tests.utils.factories import digits_mlp as make_model
from tests.utils.factories import digits_split as digits

EPOCHS, BATCH = 4, 32


def steps_per_epoch(samples: int) -> int:
    return -(-samples // BATCH)


@pytest.mark.backend_neutral
def test_the_callback_on_arrays_ends_with_a_proposal_and_a_trained_model(tmp_path):
    x, y, x_val, y_val = digits()
    model = make_model()
    lr_finder = finder.LearningRateFinder(save_dir=tmp_path, verbose=0)
    history = model.fit(
        x, y, epochs=EPOCHS, batch_size=BATCH, validation_data=(x_val, y_val),
        callbacks=[lr_finder], shuffle=False, verbose=0,
    )  # fmt: skip
    result, proposal, handover = lr_finder.result, lr_finder.proposal, lr_finder.handover
    plan = EPOCHS * steps_per_epoch(len(x))
    assert result is not None and handover is not None
    # The ramp: at most half the plan and the 100-step minimum budget.
    assert 2 <= handover.ramp_steps == result.steps_run <= min(100, plan // 2)
    assert (
        result.extra_steps
        == handover.discarded_steps
        == (handover.ramp_steps - handover.rollback_step)
    )
    assert handover.remaining_steps == plan - handover.ramp_steps
    assert result.auto["handover"]["discarded_steps"] == result.extra_steps
    # It trains on with the 1cycle, resumed at the peak of the first proposal.
    assert proposal is not None and proposal.family == "one_cycle"
    multiple = SHORT_PLAN_PEAK_MULTIPLE if plan < SHORT_PLAN_STEPS else 1.0
    assert proposal.spec.params["max_lr"] == pytest.approx(result.bounds.edge_lr * multiple)
    total = handover.rollback_step + handover.remaining_steps
    assert proposal.spec.params["total_steps"] == total
    assert isinstance(model.optimizer._learning_rate, OneCycle)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == total
    # The proposals of the record are for the whole plan.
    assert result.proposals[0].plan.total_steps == plan
    # A trained model, far above chance (10 classes), and the fit's own History.
    assert len(history.history["val_accuracy"]) == EPOCHS
    assert history.history["val_accuracy"][-1] > 0.8
    assert (tmp_path / "result.json").exists() and (tmp_path / "proposal.json").exists()
    assert finder.RangeTestResult.load(tmp_path / "result.json").extra_steps == result.extra_steps


@pytest.mark.backend_neutral
def test_the_callback_with_validation_split():
    x, y, _, _ = digits()
    model = make_model()
    lr_finder = finder.LearningRateFinder(verbose=0)
    history = model.fit(
        x, y, epochs=EPOCHS, batch_size=BATCH, validation_split=0.2, callbacks=[lr_finder],
        verbose=0,
    )  # fmt: skip
    train_steps = steps_per_epoch(len(x) - int(0.2 * len(x)))
    assert lr_finder.handover.remaining_steps == EPOCHS * train_steps - lr_finder.result.steps_run
    assert lr_finder.proposal is not None
    assert history.history["val_accuracy"][-1] > 0.8


def test_the_callback_on_a_batched_tf_data_dataset():
    import tensorflow as tf

    x, y, x_val, y_val = digits()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    model = make_model()
    lr_finder = finder.LearningRateFinder(verbose=0)
    history = model.fit(
        dataset,
        epochs=EPOCHS,
        validation_data=(x_val, y_val),
        callbacks=[lr_finder],
        shuffle=False,
        verbose=0,
    )
    assert lr_finder.proposal is not None
    assert lr_finder.result.data["steps_per_epoch"] == steps_per_epoch(len(x))
    assert history.history["val_accuracy"][-1] > 0.8


@pytest.mark.backend_neutral
def test_finder_fit_is_the_callback_around_model_fit():
    # 11 epochs of 47 steps: a plan long enough (>= 500 steps) for the test inside the fit.
    epochs = 11
    x, y, x_val, y_val = digits()
    fitted = make_model()
    history = finder.fit(
        fitted, x, y, epochs=epochs, batch_size=BATCH, validation_data=(x_val, y_val),
        shuffle=False, verbose=0,
    )  # fmt: skip
    assert "handover" in history.range_test_result.auto
    by_hand = make_model()
    lr_finder = finder.LearningRateFinder(
        validation_data=(x_val, y_val),
        chance_loss=finder.rangetest.verdict.chance_loss(by_hand.loss, y),
        verbose=0,
    )
    by_hand.fit(
        x, y, epochs=epochs, batch_size=BATCH, validation_data=(x_val, y_val),
        callbacks=[lr_finder], shuffle=False, verbose=0,
    )  # fmt: skip
    assert history.proposal.spec == lr_finder.proposal.spec
    assert history.range_test_result.losses == lr_finder.result.losses
    for got, want in zip(fitted.get_weights(), by_hand.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.backend_neutral
@pytest.mark.parametrize("steps_before", [0, 20])
def test_the_model_equals_a_plain_fit_from_the_rollback_snapshot(steps_before):
    """The rollback: the model after the callback's fit equals one trained by plain `fit`s
    through the ramp's first `rollback_step` steps (the sweep schedule), then with the resumed
    1cycle over the batches the fit had left. Plain SGD: no momentum cycler. An optimizer
    that took `steps_before` steps before: the ramp and the cycle start with the fit
    (`finder.schedules.StartingAt`)."""
    x, y, _, _ = digits()
    batch = 8  # 188 steps an epoch: the ramp (at most 100 steps) ends within the first
    model = make_model(keras.optimizers.SGD(learning_rate=0.05))
    before = steps_before * batch
    if before:
        model.fit(x[:before], y[:before], batch_size=batch, shuffle=False, verbose=0)
    lr_finder = finder.LearningRateFinder(verbose=0)
    model.fit(
        x, y, epochs=EPOCHS, batch_size=batch, callbacks=[lr_finder], shuffle=False, verbose=0
    )
    handover, window = lr_finder.handover, lr_finder.result.auto["window"]
    assert 0 < handover.rollback_step < handover.ramp_steps <= 100

    replay = make_model(keras.optimizers.SGD(learning_rate=0.05))
    if before:
        replay.fit(x[:before], y[:before], batch_size=batch, shuffle=False, verbose=0)
    replay.optimizer.learning_rate = SweepSchedule(
        window["min_lr"], window["max_lr"], window["num_steps"], "exp", steps_before
    )
    replay.make_train_function(force=True)  # one traced before read the constant rate
    kept = handover.rollback_step * batch
    replay.fit(x[:kept], y[:kept], batch_size=batch, shuffle=False, verbose=0)
    replay.optimizer.learning_rate = lr_finder.proposal.to_keras(steps_before)
    replay.make_train_function(force=True)
    used = handover.ramp_steps * batch
    replay.fit(x[used:], y[used:], batch_size=batch, shuffle=False, verbose=0)
    replay.fit(x, y, epochs=EPOCHS - 1, batch_size=batch, shuffle=False, verbose=0)

    assert int(replay.optimizer.iterations) == int(model.optimizer.iterations)
    for got, want in zip(model.get_weights(), replay.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


@pytest.mark.backend_neutral
def test_without_bounds_the_fit_goes_on_at_the_optimizers_own_rate_and_warns():
    """320 samples at batch 32: 10 batches a pass, too few for a curve to trust."""
    x, y, _, _ = digits()
    x, y = x[:320], y[:320]
    model = make_model(keras.optimizers.SGD(learning_rate=0.05))
    lr_finder = finder.LearningRateFinder(verbose=0)
    # Recorded rather than `pytest.warns`, which would raise Keras's own numpy-2 deprecation
    # warning on PyTorch (its logs' conversion) along with finder's.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=5, batch_size=BATCH, callbacks=[lr_finder], verbose=0)
    messages = [str(w.message) for w in caught if w.category is finder.UnreliableAnswerWarning]
    assert len(messages) == 1 and "own learning rate (0.05)" in messages[0]
    result = lr_finder.result
    assert result.bounds.max_lr is None and "too little data" in result.bounds.note
    assert lr_finder.proposal is None
    # The ramp climbed only to the optimizer's own LR, a warm-up kept whole: nothing discarded.
    assert result.lrs[-1] < 0.05 and result.auto["handover"]["rollback_step"] == result.steps_run
    assert result.extra_steps == 0
    rate = keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    assert float(rate) == pytest.approx(0.05)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 50


@pytest.mark.parametrize(
    "compile_args, message",
    [({"steps_per_execution": 4}, "steps_per_execution=1")],
)
def test_the_callback_refuses_what_it_cannot_follow(compile_args, message):
    x, y, _, _ = digits()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **compile_args,
    )
    with pytest.raises(InvalidArgumentError, match=message):
        model.fit(x, y, epochs=1, callbacks=[finder.LearningRateFinder(verbose=0)], verbose=0)


@pytest.mark.backend_neutral
def test_bad_arguments_are_refused_when_the_callback_is_made():
    with pytest.raises(InvalidArgumentError, match="budget"):
        finder.LearningRateFinder(budget=0)
    with pytest.raises(InvalidArgumentError, match="divergence"):
        finder.LearningRateFinder(divergence=1.0)
    with pytest.raises(InvalidArgumentError, match="progress must be a callable"):
        finder.LearningRateFinder(progress=False)  # type: ignore[arg-type]


def test_thinning_keeps_the_last_decade_whole_and_the_rest_at_growing_spacing():
    from finder.lr_finder.ramp import Snapshot, thin

    snapshots = [Snapshot(step, [], []) for step in range(0, 200, 8)]  # 25 snapshots
    kept = thin(snapshots, keep_last=10)
    steps = [snapshot.step for snapshot in kept]
    assert steps[-10:] == list(range(120, 200, 8))
    assert steps[:-10] == list(range(0, 120, 16))

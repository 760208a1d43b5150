"""`finder.fit`: range test, first proposal, then `model.fit` with that schedule, in one call.

Real training of a tiny classifier: 256 samples, batch 32 (8 steps per epoch), 2 epochs, and
an explicit 40-step sweep (the route with a range test before the fit) so that every test
takes seconds; the last tests run the default route, the test inside the fit
(`tests/test_lr_finder.py` tests the callback itself).
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import keras
import numpy as np
import pytest

import finder
from finder.errors import InvalidArgumentError, ModelError
from finder.host import micro_batch_count
from finder.propose import SHORT_PLAN_PEAK_MULTIPLE
from finder.schedules import MomentumCycler, OneCycle
from tests.utils.factories import mlp_classifier

SWEEP = {"min_lr": 1e-3, "max_lr": 10.0, "num_steps": 40}
EPOCHS, STEPS_PER_EPOCH = 2, 8


def make_data(seed: int = 0, samples: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, 8)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int32") + 2 * (x[:, 2] > 0.5)
    return x, y


def make_model(optimizer: keras.optimizers.Optimizer | None = None) -> keras.Model:
    return mlp_classifier(8, 16, 4, optimizer or keras.optimizers.SGD())


class EpochCounter(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def test_fit_trains_with_the_first_proposal_and_keeps_user_callbacks(tmp_path):
    x, y = make_data()
    model = make_model(keras.optimizers.SGD(momentum=0.9))
    counter = EpochCounter()
    logger = finder.LearningRateLogger(per_batch=True)
    history = finder.fit(
        model,
        x,
        y,
        epochs=EPOCHS,
        batch_size=32,
        validation_data=make_data(1),
        callbacks=[counter, logger],
        range_test_options=SWEEP,
        save_dir=tmp_path / "fit",
        shuffle=False,
        verbose=0,
    )
    result, proposal = history.range_test_result, history.proposal
    assert isinstance(result, finder.RangeTestResult)
    assert proposal.rank == 1 and proposal.family == "one_cycle"
    assert proposal.plan.total_steps == EPOCHS * STEPS_PER_EPOCH
    # A 16-step plan is short: the cycle peaks at a multiple of the edge.
    peak = result.bounds.edge_lr * SHORT_PLAN_PEAK_MULTIPLE
    assert proposal.spec.params["max_lr"] == pytest.approx(peak)
    # The optimizer holds the proposal's schedule, and every step used its value.
    schedule = model.optimizer._learning_rate
    assert isinstance(schedule, OneCycle)
    assert schedule.get_config() == proposal.to_keras().get_config()
    expected = proposal.spec.lr_at(np.arange(EPOCHS * STEPS_PER_EPOCH))
    np.testing.assert_allclose(logger.batch_learning_rates, expected, rtol=1e-6)
    assert int(model.optimizer.iterations) == EPOCHS * STEPS_PER_EPOCH
    # The user's callbacks ran; the proposal's momentum cycler too (momentum ends at its max).
    assert counter.epochs == EPOCHS
    assert any(isinstance(c, MomentumCycler) for c in proposal.callbacks())
    assert float(keras.ops.convert_to_numpy(model.optimizer.momentum)) == pytest.approx(0.95)
    # validation_data reached fit.
    assert len(history.history["val_loss"]) == EPOCHS
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    saved = json.loads((tmp_path / "fit" / "proposal.json").read_text())
    assert saved["spec"] == proposal.spec.to_dict()
    assert len(json.loads((tmp_path / "fit" / "result.json").read_text())["proposals"]) == 6
    assert (tmp_path / "fit" / "curve.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("fitted_before", [False, True])
def test_fit_ends_where_the_manual_route_ends(fitted_before: bool):
    """finder.fit == range_test + first proposal + compile + fit, weight for weight.

    `fitted_before`: the model was trained (so its train function traced with a constant
    LR, and its step counter is at 8) before finder.fit, whose schedule still starts with the
    fit (`finder.schedules.offset`), as the schedule of a new optimizer does.
    """
    x, y = make_data()
    model = make_model()
    if fitted_before:
        model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
        assert micro_batch_count(model.optimizer) == STEPS_PER_EPOCH
    start = model.get_weights()
    history = finder.fit(
        model, x, y, epochs=EPOCHS, range_test_options=SWEEP, shuffle=False, verbose=0
    )

    manual = make_model()
    manual.set_weights(start)
    result = finder.range_test(manual, x, y, batch_size=32, **SWEEP)
    best = finder.propose_schedules(result, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)[0]
    manual.compile(
        optimizer=keras.optimizers.SGD(best.to_keras()),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    manual_history = manual.fit(
        x, y, epochs=EPOCHS, batch_size=32, shuffle=False, verbose=0, callbacks=best.callbacks()
    )

    assert history.proposal.spec == best.spec
    for got, want in zip(model.get_weights(), manual.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history.history["loss"], manual_history.history["loss"], rtol=1e-5)


@pytest.mark.parametrize(
    "change, error, message",
    [
        # no epochs to train
        ({"epochs": 0}, InvalidArgumentError, "epochs"),
        # no epochs left after initial_epoch
        ({"initial_epoch": EPOCHS}, InvalidArgumentError, "no epochs to train"),
        # the range test must run at fit's batch size
        ({"range_test_options": {"batch_size": 8}}, InvalidArgumentError, "batch_size"),
        # a flag where the progress callable goes, on either route
        ({"range_test_options": {"progress": False}}, InvalidArgumentError, "progress must be"),
        (
            {"range_test_options": {**SWEEP, "progress": True}},
            InvalidArgumentError,
            "progress must be",
        ),
        # an uncompiled model
        ({"compiled": False}, ModelError, "not compiled"),
        # callbacks that set the learning rate, which Keras refuses once a schedule drives it
        (
            {"callbacks": [keras.callbacks.ReduceLROnPlateau()]},
            InvalidArgumentError,
            "ReduceLROnPlateau in callbacks sets the learning rate",
        ),
        (
            {"callbacks": [keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr)]},
            InvalidArgumentError,
            "LearningRateScheduler in callbacks",
        ),
    ],
)
def test_fit_refuses_bad_input(change, error, message):
    x, y = make_data()
    model = make_model()
    if not change.pop("compiled", True):
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    arguments = {"epochs": EPOCHS, "range_test_options": SWEEP, "verbose": 0, **change}
    with pytest.raises(error, match=message):
        finder.fit(model, x, y, **arguments)
    optimizer = getattr(model, "optimizer", None)
    assert optimizer is None or int(optimizer.iterations) == 0


def test_finder_run_train_trains_and_saves_the_model(tmp_path):
    """`finder run --train`: the CLI's thin shell over finder.fit (through jobs.train_spec)."""
    from click.testing import CliRunner

    from finder.cli import cli

    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    x = rng.integers(0, 255, size=(160, 28, 28, 1)).astype("uint8")
    np.savez(data, x_train=x, y_train=np.arange(160) % 10, x_val=x[:40], y_val=np.arange(40) % 10)
    out = tmp_path / "out"
    arguments = ["run", "--model", "mlp", "--data", str(data), "--lr-range", "1e-3", "3"]
    arguments += ["--steps", "20", "--repeats", "1", "--epochs", "2", "--train", "--out", str(out)]
    outcome = CliRunner().invoke(cli, arguments)
    assert outcome.exit_code == 0, outcome.output
    assert "trained 2 epochs with proposal 1: one_cycle" in outcome.output
    assert "epoch 2  loss" in outcome.output and "val_loss" in outcome.output
    model = keras.models.load_model(out / "model.keras")
    assert isinstance(model.optimizer._learning_rate, OneCycle)
    assert int(model.optimizer.iterations) == 2 * 3  # 160 samples at batch 64: 3 steps an epoch
    result = finder.RangeTestResult.load(out / "result.json")
    # A 6-step plan is short: the cycle peaks at a multiple of the edge.
    assert model.optimizer._learning_rate.get_config()["max_lr"] == pytest.approx(
        result.bounds.edge_lr * SHORT_PLAN_PEAK_MULTIPLE
    )


def test_the_readme_model_on_a_three_epoch_plan_trains_with_a_proposal_for_100_steps():
    """The quick start's model and data, `finder.fit(epochs=3)`: a 189-step plan, under 500
    steps, so the auto test (100 steps, its minimum) runs before the fit rather than as its
    warm-up, and the fit trains all 189 steps with the first proposal. Plain SGD's loss on this
    CNN barely starts falling in 100 steps, so on one machine the test reads an edge and on
    another it falls back to a prior it labels as one: either way it answers, costs at most
    100 steps, and warns exactly when its verdict is "unreliable"."""
    from finder.data import load_fashion_mnist_sample
    from finder.zoo import build_model

    data = load_fashion_mnist_sample()
    model = build_model("fashion_cnn", seed=0)
    model.compile(optimizer=keras.optimizers.SGD(), loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", finder.UnreliableAnswerWarning)
        history = finder.fit(model, data.x_train, data.y_train, epochs=3, batch_size=64, verbose=0)
    result = history.range_test_result
    warned = [w for w in caught if issubclass(w.category, finder.UnreliableAnswerWarning)]
    assert bool(warned) == (result.reliability.verdict == "unreliable")
    if result.bounds.note and "prior" in result.bounds.note:
        assert warned
    # A test of its own: every step it ran is extra, and no handover took place.
    assert result.extra_steps == result.steps_run <= 100
    assert "handover" not in (result.auto or {})
    assert history.proposal is not None and history.proposal.family == "one_cycle"
    assert history.proposal.plan.total_steps == 3 * 63
    assert int(model.optimizer.iterations) == 3 * 63
    assert len(history.history["loss"]) == 3


@pytest.mark.parametrize(
    "optimizer_kwargs, compile_kwargs, accumulation",
    [({"gradient_accumulation_steps": 2}, {}, 2), ({}, {"steps_per_execution": 2}, 1)],
    ids=["gradient_accumulation", "steps_per_execution"],
)
def test_a_fit_whose_steps_the_ramp_cannot_read_runs_the_test_before_it_and_trains_the_plan(
    optimizer_kwargs, compile_kwargs, accumulation
):
    """The in-fit ramp reads the loss of every optimizer step, which gradient accumulation (a
    step spans two batches) and two steps per execution (batch hooks fire once per execution)
    hide. On a 512-batch plan, long enough for the ramp otherwise, finder.fit then runs the
    test before the fit, its budget counted in optimizer steps, and trains the whole plan with
    SGD's 1cycle and its cycled momentum."""
    x, y = make_data(samples=2048)
    model = make_model(keras.optimizers.SGD(momentum=0.9, **optimizer_kwargs))
    model.compile(
        optimizer=model.optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **compile_kwargs,
    )
    history = finder.fit(model, x, y, epochs=8, batch_size=32, verbose=0)
    result = history.range_test_result
    # A test of its own: every step is extra, at most max(10% of the plan's steps, 100).
    assert result.extra_steps == result.steps_run <= 100
    assert result.config["plan_steps"] == 512 // accumulation
    proposal = history.proposal
    assert proposal is not None and proposal.plan.total_steps == 512
    assert any(isinstance(callback, MomentumCycler) for callback in proposal.callbacks())
    # Restored exactly, then the whole plan: 512 batches on the counter the schedule reads.
    assert micro_batch_count(model.optimizer) == 512
    assert model.steps_per_execution == compile_kwargs.get("steps_per_execution", 1)
    assert len(history.history["loss"]) == 8 and np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize(
    "optimizer, epochs",
    [
        (lambda: keras.optimizers.ScheduleFreeAdamW(), 2),
        (lambda: keras.optimizers.ScheduleFreeAdamW(), 8),
    ],
    ids=["schedule_free_short_plan", "schedule_free_long_plan"],
)
def test_an_optimizer_that_takes_no_schedule_trains_at_its_own_rate_after_its_warm_up(
    optimizer, epochs
):
    """ScheduleFreeAdamW takes no schedule: on either plan length the test is the fit's
    warm-up, climbing to the optimizer's own LR, kept whole (nothing discarded), and the fit
    goes on at that LR with a warning that says why."""
    x, y = make_data(samples=2048)
    model = make_model(optimizer())
    own_lr = float(model.optimizer.learning_rate)
    with pytest.warns(finder.UnreliableAnswerWarning, match="takes no learning-rate schedule"):
        history = finder.fit(model, x, y, epochs=epochs, batch_size=32, verbose=0)
    result = history.range_test_result
    assert history.proposal is None and result.bounds.max_lr is None
    handover = result.auto["handover"]
    assert 0 < handover["ramp_steps"] == handover["rollback_step"] and result.extra_steps == 0
    assert float(model.optimizer.learning_rate) == pytest.approx(own_lr)
    assert int(model.optimizer.iterations) == epochs * 64  # every step of the plan trained
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize(
    "plan_steps, fit_kwargs, short",
    [
        (499, {}, True),  # the 100-step floor is over a fifth of the plan
        (500, {}, False),
        # left by finder.fit only on data that are not arrays, which only the fit can split
        (499, {"validation_split": 0.1}, False),
        (499, {"initial_epoch": 1}, True),  # the plan is of the epochs left
    ],
)
def test_a_plan_under_500_steps_runs_the_test_before_the_fit(plan_steps, fit_kwargs, short):
    from finder.train import _short_plan

    x = np.zeros((plan_steps, 8), dtype="float32")
    y = np.zeros(plan_steps, dtype="int32")
    assert _short_plan(x, y, 1, 1, None, fit_kwargs) == short
    # A budget given is what the ramp would take.
    assert not _short_plan(x, y, 1, 1, 99, {})
    # The ramp of an optimizer that takes no schedule is a warm-up the fit keeps: inside the
    # fit on any plan. Ftrl's constant-LR trials each restart from the initial state: before
    # the fit on any plan, where that route can run.
    assert not _short_plan(x, y, 1, 1, None, fit_kwargs, "ScheduleFreeAdamW")
    trials_can_run = "validation_split" not in fit_kwargs
    assert _short_plan(x, y, 1, 1, None, fit_kwargs, "Ftrl") == trials_can_run


def test_ftrl_trains_at_the_constant_lr_its_trials_pick_as_a_plain_fit_from_the_start():
    """On a plan long enough for the test inside the fit, Ftrl's constant-LR trials run before
    it (at most 100 steps, all of them extra), and the fit is a plain fit at their pick from the
    initial state, weight for weight."""
    x, y = make_data(samples=2048)
    x_val, y_val = make_data(seed=1, samples=256)
    model = make_model(keras.optimizers.Ftrl())
    start = model.get_weights()
    history = finder.fit(
        model, x, y, epochs=8, batch_size=32, validation_data=(x_val, y_val), shuffle=False,
        verbose=0,
    )  # fmt: skip
    result = history.range_test_result
    assert result.auto["stop"] == "constant_trials" and 0 < result.extra_steps <= 100
    pick = result.auto["trials"]["pick"]
    assert history.proposal.spec == finder.ScheduleSpec("constant", {"learning_rate": pick})
    assert pick > 0.001  # Keras's default left this model far behind the pick

    manual = make_model(keras.optimizers.Ftrl(learning_rate=pick))
    manual.set_weights(start)
    manual.fit(x, y, epochs=8, batch_size=32, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), manual.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_fit_warns_when_the_labels_do_not_depend_on_the_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8)).astype("float32")
    y = rng.integers(0, 2, size=2000)  # drawn independently of x: nothing generalises
    x_val = rng.normal(size=(500, 8)).astype("float32")
    y_val = rng.integers(0, 2, size=500)
    model = make_model(keras.optimizers.Adam())
    with pytest.warns(finder.UnreliableAnswerWarning, match="predicting the labels"):
        history = finder.fit(
            model, x, y, epochs=2, batch_size=32, validation_data=(x_val, y_val), verbose=0
        )
    assert history.range_test_result.reliability.verdict == "unreliable"
    assert history.range_test_result.extra_steps <= 100


def test_fit_on_a_loss_that_is_nan_from_the_start_stops_the_test_at_once_and_says_why():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = rng.normal(size=(512, 1)).astype("float32")
    y[::7] = np.nan  # every batch of 32 holds a NaN target
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    result = finder.range_test(model, x, y, batch_size=32, plan_steps=1000)
    assert result.steps_run <= 50
    assert result.bounds.max_lr is None
    reason = result.reliability.reasons[0]
    assert reason.startswith("non-finite loss at step 1, lr ")
    assert result.auto["stop"] == "not_finite" and result.auto["sweeps"] == 1


def test_on_too_little_data_fit_keeps_the_optimizers_own_rate_and_warns():
    """320 samples at batch 32: 10 batches a pass, so a sweep of at most 4 passes is too sparse
    for a curve to trust. No bounds; the model trains with the LR it was compiled with."""
    x, y = make_data()
    x, y = np.concatenate([x, x[:64]]), np.concatenate([y, y[:64]])
    model = make_model(keras.optimizers.SGD(learning_rate=0.05))
    with pytest.warns(finder.UnreliableAnswerWarning, match="own learning rate \\(0.05\\)"):
        history = finder.fit(model, x, y, epochs=3, batch_size=32, verbose=0)
    result = history.range_test_result
    assert result.bounds.max_lr is None and "too little data" in result.bounds.note
    assert result.reliability.reasons[0].startswith("too little data")
    assert history.proposal is None and result.proposals == []
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    # A 30-step plan: the test ran before the fit, which trained all its steps.
    assert result.extra_steps == result.steps_run > 0
    assert int(model.optimizer.iterations) == 3 * 10


def test_without_bounds_the_warning_gives_the_rate_an_own_schedule_goes_on_at():
    """An optimizer whose own schedule has run 20 steps (0.05 halved every 10 steps): the fit
    goes on with it at step 20, and the warning says so, not the schedule's first value."""
    x, y = make_data()
    x, y = np.concatenate([x, x[:64]]), np.concatenate([y, y[:64]])
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 10, 0.5, staircase=True)
    model = make_model(keras.optimizers.SGD(learning_rate=schedule))
    model.fit(x[:320], y[:320], epochs=2, batch_size=32, verbose=0)
    with pytest.warns(finder.UnreliableAnswerWarning) as caught:
        finder.fit(model, x, y, epochs=3, batch_size=32, verbose=0)
    message = str(caught[0].message)
    assert "own learning-rate schedule (ExponentialDecay, at 0.0125 for its next step)" in message


def test_finder_run_train_in_auto_mode_runs_the_test_inside_the_fit(tmp_path):
    """`finder run --train` without a range: the job's auto range runs inside the fit."""
    from click.testing import CliRunner

    from finder.cli import cli

    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    x = rng.integers(0, 255, size=(640, 28, 28, 1)).astype("uint8")
    y = np.arange(640) % 10
    np.savez(data, x_train=x, y_train=y, x_val=x[:64], y_val=y[:64])
    out = tmp_path / "out"
    # 13 epochs of 40 steps: a plan long enough (>= 500 steps) for the test inside the fit.
    arguments = ["run", "--model", "mlp", "--data", str(data), "--batch-size", "16"]
    arguments += ["--epochs", "13", "--train", "--out", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", finder.UnreliableAnswerWarning)
        outcome = CliRunner().invoke(cli, arguments)
    assert outcome.exit_code == 0, outcome.output
    assert "of the fit's steps thrown away" in outcome.output
    result = finder.RangeTestResult.load(out / "result.json")
    handover = result.auto["handover"]
    assert handover["ramp_steps"] == result.steps_run <= 100  # the budget's floor
    model = keras.models.load_model(out / "model.keras")
    assert int(model.optimizer.iterations) == 520 - result.extra_steps


def test_ftrl_with_validation_split_trains_as_keras_splits_it_at_the_trials_pick():
    """finder.fit splits `validation_split` off array data as Keras does (the last samples,
    before shuffling), so the trials run before the fit with it: the fit equals a plain fit
    with the same split at their pick, weight for weight."""
    x, y = make_data(samples=2048)
    model = make_model(keras.optimizers.Ftrl())
    start = model.get_weights()
    history = finder.fit(
        model, x, y, epochs=4, batch_size=32, validation_split=0.1, shuffle=False, verbose=0
    )
    result = history.range_test_result
    assert result.auto["trials"]["source"] == "validation"
    pick = result.auto["trials"]["pick"]
    assert history.proposal.spec.params == {"learning_rate": pick}

    manual = make_model(keras.optimizers.Ftrl(learning_rate=pick))
    manual.set_weights(start)
    plain = manual.fit(
        x, y, epochs=4, batch_size=32, validation_split=0.1, shuffle=False, verbose=0
    )
    for got, want in zip(model.get_weights(), manual.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history.history["val_loss"], plain.history["val_loss"], rtol=1e-5)


def test_ftrl_from_a_later_epoch_picks_its_rate_with_trials_for_the_epochs_left():
    """A fit from a later epoch trains epochs initial_epoch to epochs - 1: the trials run
    before it, and the plan counts the epochs left."""
    x, y = make_data(samples=2048)
    model = make_model(keras.optimizers.Ftrl(learning_rate=0.1))
    history = finder.fit(model, x, y, epochs=3, initial_epoch=1, batch_size=32, verbose=0)
    assert "trials" in history.range_test_result.auto
    assert history.proposal.plan.total_steps == 2 * 64 == micro_batch_count(model.optimizer)
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize("epochs", [EPOCHS, 11])  # the test before the fit, then inside it
def test_validation_split_of_arrays_is_split_off_as_keras_splits_it_and_scores_the_test(epochs):
    """On either route the range test's validation curve is the split Keras would hold out, and
    the fit trains on the rest; sample weights are split with the samples."""
    x, y = make_data(samples=2048)
    model = make_model()
    weights = np.linspace(0.5, 1.5, len(y)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", finder.UnreliableAnswerWarning)
        history = finder.fit(
            model, x, y, epochs=epochs, batch_size=32, validation_split=0.25,
            sample_weight=weights, verbose=0,
        )  # fmt: skip
    result = history.range_test_result
    assert result.val_losses is not None and np.isfinite(result.val_losses).any()
    assert ("handover" in result.auto) == (epochs == 11)
    # 1,536 samples train (48 steps an epoch); the last 512 are the validation, as in Keras.
    assert history.proposal.plan.steps_per_epoch == 48
    assert len(history.history["val_loss"]) == epochs


def test_validation_split_of_a_dataset_with_a_test_before_the_fit_says_what_to_pass():
    import tensorflow as tf

    x, y = make_data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    with pytest.raises(InvalidArgumentError, match="pass validation_data instead"):
        finder.fit(
            make_model(), dataset, epochs=EPOCHS, range_test_options=SWEEP,
            validation_split=0.2, verbose=0,
        )  # fmt: skip


@pytest.mark.parametrize("explicit", [True, False])
def test_after_earlier_training_the_schedule_and_momentum_start_with_the_fit(explicit):
    """An optimizer that took 8 steps before finder.fit: the proposal's 1cycle and its
    momentum cycle run from the fit's first step (or, inside the fit, from the ramp's first,
    which it stands in for) to its last, on either route."""
    samples = 256 if explicit else 2048  # 16 steps: before the fit; 128 steps x 4: inside
    x, y = make_data(samples=samples)
    model = make_model(keras.optimizers.SGD(momentum=0.9))
    model.fit(x[:256], y[:256], batch_size=32, verbose=0)
    rates = RateLog()
    epochs = EPOCHS if explicit else 4
    options = SWEEP if explicit else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", finder.UnreliableAnswerWarning)
        history = finder.fit(
            model, x, y, epochs=epochs, batch_size=16, range_test_options=options,
            callbacks=[rates], shuffle=False, verbose=0,
        )  # fmt: skip
    proposal, result = history.proposal, history.range_test_result
    plan = epochs * samples // 16
    handover = (result.auto or {}).get("handover")
    # The steps the proposal runs: all of the plan, or the ones after the ramp, which resume at
    # the rollback snapshot's step of the cycle.
    ran = 0 if handover is None else handover["ramp_steps"]
    first = 0 if handover is None else handover["rollback_step"]
    assert (handover is None) == explicit and "climb" not in (result.auto or {})
    steps = np.arange(first, first + plan - ran)
    np.testing.assert_allclose(rates.rates[ran:], proposal.spec.lr_at(steps), rtol=1e-5)
    (cycler,) = proposal.callbacks()
    want = keras.ops.convert_to_numpy(cycler.momentum_at(steps))
    np.testing.assert_allclose(rates.momenta[ran:], want, rtol=1e-6)
    assert micro_batch_count(model.optimizer) == 8 + first + plan - ran


class RateLog(keras.callbacks.Callback):
    """The learning rate and momentum each step trains with."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []
        self.momenta: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        # The rate the schedule gives the step about to run.
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    def on_train_batch_end(self, batch, logs=None):
        # The momentum the step ran with: the cycler sets it before the step, after this
        # callback's batch begin.
        self.momenta.append(float(keras.ops.convert_to_numpy(self.model.optimizer.momentum)))


@pytest.mark.parametrize("epochs", [EPOCHS, 8])  # the test before the fit, then inside it
def test_a_generator_of_batches_with_steps_per_epoch_trains_with_a_proposal(epochs):
    """A Python generator, as Keras's fit takes one: the test trains on its next batches
    (before the fit, or as the fit's ramp), and the fit on the batches after them."""
    x, y = make_data(samples=2048)

    def batches():
        while True:
            for start in range(0, 2048, 32):
                yield x[start : start + 32], y[start : start + 32]

    generator = batches()
    model = make_model(keras.optimizers.SGD(momentum=0.9))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", finder.UnreliableAnswerWarning)
        history = finder.fit(
            model, generator, epochs=epochs, steps_per_epoch=64, shuffle=False, verbose=0
        )
    result = history.range_test_result
    inside = epochs == 8
    assert history.proposal is not None and ("handover" in result.auto) == inside
    assert result.data["kind"] == ("model.fit" if inside else "generator")
    assert history.proposal.plan.total_steps == epochs * 64 and result.extra_steps <= 100
    # Every step of the plan trained (less the ramp's steps thrown away).
    assert micro_batch_count(model.optimizer) == epochs * 64 - (result.extra_steps if inside else 0)
    assert len(history.history["loss"]) == epochs and np.isfinite(history.history["loss"]).all()


def _stopper(start_from_epoch: int = 0) -> keras.callbacks.EarlyStopping:
    # No epoch improves the loss by 1e9 on the first monitored one: the fit stops at the end
    # of the epoch after it.
    return keras.callbacks.EarlyStopping(
        monitor="loss", min_delta=1e9, patience=1, start_from_epoch=start_from_epoch
    )


def _fit_with_stopper(epochs: int, stopper: keras.callbacks.EarlyStopping) -> tuple[Any, list]:
    x, y = make_data(samples=2048)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = finder.fit(
            make_model(), x, y, epochs=epochs, batch_size=32, callbacks=[stopper], verbose=0
        )
    cut = [str(w.message) for w in caught if w.category is finder.ScheduleCutShortWarning]
    return history, cut


def test_an_early_stop_at_the_schedules_high_rates_warns_and_says_when_to_start_monitoring():
    """Inside the fit (a 768-step plan): EarlyStopping stops it after epoch 2 of 12 at the
    1cycle's peak; the warning's start_from_epoch is the first epoch that ends at a tenth of
    the peak, so a stop after it is not warned about, and a stop at the end of the epoch
    before it is."""
    history, cut = _fit_with_stopper(12, _stopper())
    assert history.epoch == [0, 1] and "handover" in history.range_test_result.auto
    assert len(cut) == 1 and "stopped the fit after epoch 2 of 12" in cut[0]
    start = int(re.search(r"start_from_epoch=(\d+)", cut[0]).group(1))
    assert 2 < start < 11
    history, cut = _fit_with_stopper(12, _stopper(start))
    assert history.epoch[-1] == start + 1 and cut == []
    history, cut = _fit_with_stopper(12, _stopper(start - 2))
    assert history.epoch[-1] == start - 1 and len(cut) == 1


def test_an_early_stop_before_a_short_plans_anneal_warns():
    """The test before the fit (a 320-step plan): the stop after epoch 2 of 5 comes at the
    1cycle's high rates; no epoch of so short a plan starts at a tenth of its peak."""
    history, cut = _fit_with_stopper(5, _stopper())
    assert history.epoch == [0, 1] and "handover" not in history.range_test_result.auto
    assert len(cut) == 1 and "after epoch 2 of 5" in cut[0]
    assert "Train without EarlyStopping" in cut[0]


@pytest.mark.parametrize("epochs", [3, 50], ids=["test before the fit", "test inside the fit"])
def test_a_second_fit_without_bounds_trains_at_the_users_rate_not_the_spent_cycle(epochs):
    """After a `finder.fit` that installed its 1cycle, the optimizer runs that cycle, spent at
    its end. A second `finder.fit` on data too few for bounds (10 batches a pass) trains at
    the rate the user compiled (0.05), as the first would have, on either route, and leaves
    it in place."""
    x, y = make_data()
    model = make_model(keras.optimizers.SGD(learning_rate=0.05))
    first = finder.fit(model, x, y, epochs=EPOCHS, batch_size=32, range_test_options=SWEEP)
    assert first.proposal is not None
    assert rate(model) < 0.01  # the cycle's end
    x, y = np.concatenate([x, x[:64]]), np.concatenate([y, y[:64]])
    with pytest.warns(finder.UnreliableAnswerWarning, match="own learning rate \\(0.05\\)"):
        history = finder.fit(model, x, y, epochs=epochs, batch_size=32, verbose=0)
    result = history.range_test_result
    assert history.proposal is None and result.bounds.max_lr is None
    assert bool(result.config.get("in_fit")) == (epochs == 50)
    assert rate(model) == pytest.approx(0.05)


def rate(model: keras.Model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))

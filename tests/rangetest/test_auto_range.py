"""The auto range test on real (tiny) Keras training: no range given, a budget kept, a verdict."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

import finder
from finder.defaults import DEFAULT_BUDGET, MIN_PLAN_BUDGET
from finder.errors import InvalidArgumentError
from finder.rangetest.auto_range import (
    ANCHOR_DECADES_BELOW,
    CEILING_LR,
    MAX_STEPS_PER_DECADE,
    anchor_start,
    limits,
)
from finder.rangetest.reliability import jackknife_interval, median_edge
from finder.rangetest.result import RangeTestResult
from finder.suggest import smith_bounds
from tests.utils.backends import tensorflow_only
from tests.utils.factories import dense_regressor, small_classifier

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral

DATA = Path(__file__).resolve().parent / "data"
# How closely float32 curves recorded on one x86 machine match another's (see their test).
CURVE_RTOL = 1e-4
CURVE_ATOL = 1e-6


def all_values(model: keras.Model) -> list[np.ndarray]:
    return [v.numpy().copy() for v in model.variables + model.optimizer.variables]


def test_auto_mode_brackets_the_analytic_divergence_lr_from_no_range(least_squares):
    model = dense_regressor(inputs=least_squares.x.shape[1])
    before = all_values(model)
    result = finder.range_test(model, least_squares.x, least_squares.y, batch_size=64)
    max_lr = result.bounds.max_lr
    assert max_lr is not None
    assert least_squares.divergence_lr / 10 < max_lr < least_squares.divergence_lr
    auto = result.auto
    # It started two decades below SGD's own LR (0.01) and ran until the loss diverged, past
    # 1 / lambda_max, within the default budget and so without a plan.
    assert auto["coarse"]["lrs"][0] == pytest.approx(0.01 / 10**ANCHOR_DECADES_BELOW)
    assert auto["anchor_lr"] == pytest.approx(0.01)
    assert auto["coarse"]["stop_reason"] == "diverged"
    assert auto["coarse"]["stopped_at_lr"] > least_squares.divergence_lr
    assert auto["budget"] == DEFAULT_BUDGET
    assert result.config["min_lr"] == "auto" and result.config["num_steps"] == "auto"
    # Every sweep restarted from, and the test ended at, the model as it was given.
    for old, new in zip(before, all_values(model), strict=True):
        np.testing.assert_array_equal(old, new)
    reliability = result.reliability
    assert reliability.steps == result.steps_run == result.extra_steps <= DEFAULT_BUDGET


def test_a_model_that_cannot_learn_is_unreliable_and_any_number_is_a_labelled_prior():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4096, 16)).astype("float32")
    y = rng.integers(0, 4, size=4096)  # labels independent of the inputs, balanced
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(4, activation="softmax", kernel_initializer="zeros"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    held_out = (rng.normal(size=(512, 16)).astype("float32"), rng.integers(0, 4, size=512))
    result = finder.range_test(model, x, y, batch_size=64, budget=600, validation_data=held_out)
    # The loss neither fell nor diverged: the bounds are a prior, and say so.
    assert result.bounds.edge_lr == pytest.approx(10 * 0.01)
    assert "prior" in result.bounds.note
    assert result.reliability.verdict == "unreliable"
    reasons = " ".join(result.reliability.reasons)
    assert "neither fell nor diverged" in reasons
    assert "predicting the labels' frequencies" in reasons
    assert result.steps_run <= 600


@pytest.mark.parametrize("budget", [90, 250, 700])
def test_the_budget_is_never_exceeded(least_squares, budget):
    model = dense_regressor(inputs=least_squares.x.shape[1])
    result = finder.range_test(
        model, least_squares.x, least_squares.y, batch_size=64, budget=budget
    )
    assert result.steps_run <= budget
    assert result.reliability.steps == result.steps_run
    assert result.auto["budget"] == budget


def test_a_training_plan_caps_the_budget_and_the_verdict_says_why(least_squares):
    model = dense_regressor(inputs=least_squares.x.shape[1])
    result = finder.range_test(
        model, least_squares.x, least_squares.y, batch_size=64, plan_steps=3000
    )
    assert result.steps_run == result.extra_steps <= 300
    assert result.auto["reason"] == "10% of the 3000-step training plan"
    # However short the plan, the test gets the 100 steps an LR finder needs.
    short = finder.range_test(
        dense_regressor(inputs=least_squares.x.shape[1]),
        least_squares.x, least_squares.y, batch_size=64, plan_steps=120,
    )  # fmt: skip
    assert short.steps_run <= MIN_PLAN_BUDGET
    assert short.auto["reason"] == "the minimum of 100 steps for a 120-step plan"
    assert short.bounds.max_lr is not None


def test_limits_respect_budget_plan_and_data_passes():
    assert limits(None, None, 100).budget == DEFAULT_BUDGET == 300
    assert limits(None, 800, 100).budget == MIN_PLAN_BUDGET == 100
    assert limits(None, 9380, 100).budget == 938  # a tenth of the plan
    assert limits(400, 8000, None).budget == 400
    # A budget asked for is a budget given, whatever the plan.
    assert limits(1500, 189, None).budget == 1500
    assert limits(None, None, 22).sweep_cap == 88  # 4 passes of 22 batches
    with pytest.raises(InvalidArgumentError, match="budget"):
        limits(0, None, 10)


def test_explicit_range_reproduces_the_old_curve_exactly_and_rejects_a_budget(regression_data):
    x, y = regression_data
    options = dict(batch_size=32, min_lr=1e-3, max_lr=0.5, num_steps=30, seed=3, repeats=2)
    result = finder.range_test(dense_regressor(), x, y, **options)
    assert result.auto is None and len(result.lrs) == 30
    np.testing.assert_allclose(result.lrs, np.geomspace(1e-3, 0.5, 30))
    # The same sweep by hand: one fit per repeat at the grid's LRs from the same weights.
    again = finder.range_test(dense_regressor(), x, y, **options)
    assert again.losses == result.losses
    with pytest.raises(InvalidArgumentError, match="auto range only"):
        finder.range_test(dense_regressor(), x, y, budget=100, **options)


def test_partial_auto_uses_the_given_ceiling_and_steps(least_squares):
    model = dense_regressor(inputs=least_squares.x.shape[1])
    result = finder.range_test(
        model, least_squares.x, least_squares.y, batch_size=64, max_lr=3.0, num_steps=60
    )
    assert result.auto["coarse"]["lrs"][-1] <= 3.0
    assert result.auto["window"]["num_steps"] == 60
    assert result.auto["window"]["max_lr"] <= 3.0


def test_auto_result_round_trips_through_json_and_v1_documents_still_load(least_squares, tmp_path):
    model = dense_regressor(inputs=least_squares.x.shape[1])
    result = finder.range_test(model, least_squares.x, least_squares.y, batch_size=64, budget=500)
    loaded = RangeTestResult.load(result.save(tmp_path / "r.json"))
    assert loaded.reliability == result.reliability
    assert loaded.auto == result.auto
    document = result.to_dict()
    document["schema_version"] = 1
    del document["reliability"], document["auto"]
    document["config"] = {**document["config"], "min_lr": 1e-4, "max_lr": 1.0, "num_steps": 50}
    old = RangeTestResult.from_dict(document)
    assert old.reliability is None and old.auto is None


def test_jackknife_interval_shrinks_with_agreeing_sweeps():
    lrs = np.geomspace(1e-3, 10, 200)
    base = np.concatenate([np.linspace(2.0, 0.5, 120), np.linspace(0.5, 3.0, 80)])
    rng = np.random.default_rng(0)
    quiet = [list(base + rng.normal(0, 0.01, 200)) for _ in range(6)]
    noisy = [list(base + rng.normal(0, 0.4, 200)) for _ in range(6)]
    quiet_low, quiet_high = jackknife_interval(lrs, quiet)
    noisy_low, noisy_high = jackknife_interval(lrs, noisy)
    assert quiet_high / quiet_low < noisy_high / noisy_low
    edge = median_edge(lrs, quiet)
    assert quiet_low <= edge <= quiet_high
    assert jackknife_interval(lrs, quiet[:3]) is None  # too few sweeps to judge


def test_the_grid_starts_two_decades_below_the_optimizers_own_rate():
    assert CEILING_LR >= 1e3
    assert anchor_start(1e-3) == pytest.approx(1e-5)
    assert anchor_start(None) == anchor_start(float("nan")) == pytest.approx(1e-5)
    assert MAX_STEPS_PER_DECADE == 80


def test_restore_holds_across_every_auto_sweep_for_a_stateful_model(classification_data):
    x, y = classification_data
    # BatchNormalization statistics, Dropout's seed, Adam's slots and a schedule object.
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.9)
    model = small_classifier(seed=2, optimizer=keras.optimizers.Adam(schedule))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # slots and iterations not at zero
    before = all_values(model)
    result = finder.range_test(model, x, y, batch_size=16, budget=400)
    assert result.auto["sweeps"] >= 1 and result.steps_run <= 400
    for old, new in zip(before, all_values(model), strict=True):
        np.testing.assert_array_equal(old, new)
    assert model.optimizer.learning_rate is not None
    assert model.optimizer._learning_rate is schedule


@tensorflow_only("written on TensorFlow; seeded initialisers draw other weights on JAX")
def test_explicit_ranges_reproduce_the_curves_written_before_the_auto_range(
    regression_data, classification_data
):
    # tests/rangetest/data/explicit_curves_before_auto.json was written by the range test as it was
    # before the auto range existed (commit 734cb9c), with exactly these calls.
    golden = json.loads((DATA / "explicit_curves_before_auto.json").read_text())
    x, y = regression_data
    sgd = finder.range_test(
        dense_regressor(), x, y, batch_size=32, min_lr=1e-3, max_lr=3.0, num_steps=40,
        repeats=2, seed=5,
    )  # fmt: skip
    xc, yc = classification_data
    adam = finder.range_test(
        small_classifier(seed=1, optimizer="adam"), xc, yc, batch_size=32, min_lr=1e-5,
        max_lr=1.0, num_steps=30, seed=2,
    )  # fmt: skip
    # float32 training is not bit-for-bit across x86 machines: its kernels pick other vector
    # paths and summation orders per CPU, and each step's ~1e-7 rounding grows over tens of
    # steps (2.2e-6 seen). A real change to what is recorded (a wrong step, another batch
    # order) moves the curves by far more than 1e-4.
    for name, result in (("sgd_regressor", sgd), ("adam_classifier", adam)):
        np.testing.assert_allclose(
            result.losses, golden[name]["losses"], rtol=CURVE_RTOL, atol=CURVE_ATOL
        )
        np.testing.assert_allclose(
            result.smoothed_losses, golden[name]["smoothed"], rtol=CURVE_RTOL, atol=CURVE_ATOL
        )
        assert result.stop_reason == golden[name]["stop"]
        # The bounds were read with the rule of that time (+-3% mean, floor at 10% of the drop);
        # the same curve read with it gives the same bounds (as close as the curves are).
        then = smith_bounds(
            np.asarray(result.lrs), np.asarray(result.losses),
            half_width_fraction=0.03, floor_fraction=0.1, lag_steps=0,
        )  # fmt: skip
        for key, value in golden[name]["bounds"].items():
            got = then.to_dict()[key]
            assert (
                got == value
                if value is None or isinstance(value, str)
                else (got == pytest.approx(value, rel=CURVE_RTOL))
            )


def test_lions_peak_is_capped_at_its_own_lr_a_reading_the_suite_validated(least_squares):
    model = dense_regressor(inputs=least_squares.x.shape[1], optimizer=keras.optimizers.Lion())
    result = finder.range_test(model, least_squares.x, least_squares.y, batch_size=64)
    assert result.bounds.edge_lr is not None
    assert result.bounds.edge_lr <= 1e-3 * (1 + 1e-9)  # at most Lion's own LR
    assert "capped" in result.bounds.note
    assert not any("not validated" in reason for reason in result.reliability.reasons)


def test_an_accumulator_methods_grid_spreads_its_budget_over_more_decades(least_squares):
    # Adagrad's step is its LR over the root of the accumulated squared gradients: its useful
    # LRs sit decades above other optimizers', so the same budget covers 6.5 decades, not 4.5.
    def window(optimizer):
        model = dense_regressor(inputs=least_squares.x.shape[1], optimizer=optimizer)
        result = finder.range_test(
            model, least_squares.x, least_squares.y, batch_size=16, budget=100
        )
        return result.auto["window"]["steps_per_decade"]

    assert window(keras.optimizers.Adagrad()) == pytest.approx(99 / 6.5, rel=0.02)
    assert window(keras.optimizers.SGD()) == pytest.approx(99 / 4.5, rel=0.02)


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW"])
def test_an_optimizer_that_takes_no_schedule_gets_its_curve_and_no_schedule(least_squares, name):
    # ScheduleFreeAdamW averages its iterates in place of a schedule: one sweep shows the
    # curve, and the answer is "no bounds" with the reason, so no schedule is proposed on top
    # of it. (Ftrl, which takes none either, gets constant-LR trials: tests/rangetest/
    # test_trials.py.)
    optimizer = getattr(keras.optimizers, name)()
    model = dense_regressor(inputs=least_squares.x.shape[1], optimizer=optimizer)
    model.optimizer.build(model.trainable_variables)
    before = all_values(model)
    result = finder.range_test(
        model, least_squares.x, least_squares.y, batch_size=16, plan=finder.Plan(10, 50)
    )
    assert result.auto["stop"] == "schedule_free" and result.auto["sweeps"] == 1
    assert len(result.losses) > 1
    assert result.bounds.max_lr is None and result.bounds.edge_lr is None
    assert f"{name} takes no learning-rate schedule" in result.bounds.note
    assert result.proposals == []
    assert result.reliability.verdict == "unreliable"
    assert result.reliability.reasons == [result.bounds.note]
    for got, want in zip(all_values(model), before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_ftrl_sets_every_weight_in_proportion_to_the_current_learning_rate(least_squares):
    # Why Ftrl takes no schedule (`finder.rangetest.calibration`): FTRL-Proximal computes each
    # weight from its accumulators times the current LR (up to a term that fades as they grow),
    # so the same steps ending at half the LR end with half the weights.
    def weights_after(learning_rates: list[float]) -> list[np.ndarray]:
        model = dense_regressor(inputs=least_squares.x.shape[1], optimizer=keras.optimizers.Ftrl())
        for learning_rate in learning_rates:
            model.optimizer.learning_rate = learning_rate
            model.train_on_batch(least_squares.x[:16], least_squares.y[:16])
        return [np.asarray(w) for w in model.trainable_weights]

    constant = weights_after([0.1] * 20)
    halved = weights_after([0.1] * 19 + [0.05])
    for full, half in zip(constant, halved, strict=True):
        assert np.abs(full).min() > 1e-3
        np.testing.assert_allclose(half, full / 2, rtol=0.03)

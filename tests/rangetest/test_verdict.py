"""The verdict's rules, the optimizer calibration and the lag correction, on hand-made curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from finder.rangetest.calibration import capped_bounds, validated
from finder.rangetest.recorder import SweepRun
from finder.rangetest.trials import Trial, TrialOutcome
from finder.rangetest.trials import decide as decide_trials
from finder.rangetest.verdict import (
    CHANCE_MARGIN,
    EARLY_FALL,
    assess_result,
    assess_trials,
    chance_loss,
    floored_bounds,
    learned_nothing,
    loss_name,
)
from finder.suggest import Bounds, lag_factor

pytestmark = pytest.mark.backend_neutral
# The entropy of two classes at 1:3.
ONE_TO_THREE = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))


@pytest.mark.parametrize(
    ("loss", "y", "expected"),
    [
        # four balanced classes: ln 4
        ("sparse_categorical_crossentropy", np.arange(400) % 4, math.log(4)),
        # one-hot, two classes at 1:3
        ("categorical_crossentropy", np.eye(2)[[0] + [1] * 3], ONE_TO_THREE),
        ("binary_crossentropy", np.array([0, 1, 1, 1]), ONE_TO_THREE),
        ("mse", np.array([[1.0], [3.0]]), 1.0),  # variance of the targets
        ("mae", np.array([0.0, 1.0, 2.0]), 2 / 3),  # mean distance to the median
    ],
)  # fmt: skip
def test_chance_loss_is_the_loss_of_predicting_the_label_frequencies(loss, y, expected):
    assert chance_loss(loss, y) == pytest.approx(expected)


def test_chance_loss_is_unknown_for_other_losses_and_unreadable_labels():
    assert chance_loss("hinge", np.arange(4)) is None
    assert chance_loss("sparse_categorical_crossentropy", np.array(["cat", "dog"])) is None
    assert chance_loss("mse", None) is None


def test_loss_names_come_from_strings_loss_objects_and_functions():
    import keras

    assert loss_name("mse") == "mse"
    assert loss_name(keras.losses.SparseCategoricalCrossentropy()) == (
        "sparse_categorical_crossentropy"
    )
    assert loss_name(keras.losses.mean_squared_error) == "mean_squared_error"


def curve_verdict(**overrides):
    """A clean curve's verdict: a turn at lr 0.1, validation well below chance."""
    values = dict(
        edge_lr=0.1, max_lr=0.05, bounds_note=None, sweep_edges=[0.1], interval=None,
        val_losses=[2.3, 1.5, 0.9, 2.5], first_lrs=np.geomspace(1e-4, 10, 100),
        first_losses=list(np.linspace(2.3, 0.9, 100)), chance=math.log(10),
        steps_per_pass=1000, steps=100,
    )  # fmt: skip
    values.update(overrides)
    return assess_result(**values)


def test_a_clean_curve_is_reliable_and_keeps_the_numbers_it_read():
    verdict = curve_verdict(update_rule="SGD")
    assert verdict.verdict == "reliable" and verdict.reasons == []
    assert verdict.signals["held_out_floor"] == 0.9
    assert verdict.signals["held_out_source"] == "validation"


def test_a_held_out_loss_at_chance_is_unreliable():
    at_chance = [math.log(10) * f for f in (1.0, 0.99, 1.01)]
    verdict = curve_verdict(val_losses=at_chance)
    assert verdict.verdict == "unreliable"
    assert "predicting the labels' frequencies" in verdict.reasons[0]
    # A model whose labels are right may simply not have started to learn: the reason says so,
    # with what to try, rather than only doubting the labels.
    assert "labels do not follow from its inputs" in verdict.reasons[0]
    assert "had not started to learn" in verdict.reasons[0]
    assert "a peak a few times higher" in verdict.reasons[0]
    # 4% below chance is clearly below it: the model learned, but too little to read the edge.
    below = curve_verdict(val_losses=[math.log(10) * (CHANCE_MARGIN - 0.01)])
    assert len(below.reasons) == 1 and below.reasons[0].startswith("the edge was read early")


def test_an_edge_read_before_the_held_out_loss_fell_a_quarter_below_chance_is_unreliable():
    chance = math.log(10)
    early = curve_verdict(val_losses=[chance * (1 - EARLY_FALL + 0.01)], update_rule="SGD")
    assert early.verdict == "unreliable"
    assert early.reasons[0].startswith("the edge was read early: the validation loss had fallen")
    assert "a peak a few times higher" in early.reasons[0]
    later = curve_verdict(val_losses=[chance * (1 - EARLY_FALL - 0.01)], update_rule="SGD")
    assert later.verdict == "reliable"
    # The rule reads the curve, whatever the update rule.
    adaptive = curve_verdict(val_losses=[chance * (1 - EARLY_FALL + 0.01)], update_rule="Adam")
    assert adaptive.verdict == "unreliable" and "read early" in adaptive.reasons[0]


def test_without_validation_the_first_pass_counts_only_once_it_reached_the_edge():
    flat = [math.log(10)] * 100
    # The first pass (20 steps) ends at lr ~1e-3, long before the edge at 0.1: no evidence.
    early = curve_verdict(val_losses=None, first_losses=flat, steps_per_pass=20)
    assert early.verdict == "reliable" and early.signals["held_out_source"] == "none"
    # A first pass that covers the whole sweep and stays at chance: nothing generalised.
    whole = curve_verdict(val_losses=None, first_losses=flat, steps_per_pass=1000)
    assert whole.verdict == "unreliable"
    assert whole.signals["held_out_source"] == "first pass"


def test_disagreeing_sweeps_and_an_unvalidated_update_rule_are_unreliable():
    assert "sweeps disagree" in curve_verdict(sweep_edges=[0.01, 0.01, 0.1, 0.1]).reasons[0]
    own = curve_verdict(update_rule="MyOptimizer")
    assert own.verdict == "unreliable" and "not validated for MyOptimizer" in own.reasons[0]
    assert "no suite task" in own.reasons[0]
    assert validated("SGD") and validated("Adam") and validated("Lamb")
    assert not validated("Ftrl") and not validated("ScheduleFreeAdamW")
    # The accumulators' misses on the suite were all edges read early (rule 6), which flags
    # them whatever the update rule; a curve that learned well before turning is reliable.
    chance = math.log(10)
    for name in ("Adagrad", "Adadelta"):
        learned = curve_verdict(val_losses=[chance * (1 - EARLY_FALL - 0.01)], update_rule=name)
        assert learned.verdict == "reliable", learned.reasons
        early = curve_verdict(val_losses=[chance * (1 - EARLY_FALL + 0.01)], update_rule=name)
        assert early.verdict == "unreliable" and "read early" in early.reasons[0]
    # A validated rule with a cap (its reading was validated with the cap).
    assert curve_verdict(update_rule="Lamb").verdict == "reliable"


def test_no_bound_is_unreliable_and_the_sweeps_reason_is_kept():
    verdict = curve_verdict(edge_lr=None, max_lr=None, bounds_note="the loss never fell")
    assert verdict.reasons == ["no bound: the loss never fell"]
    nan = curve_verdict(edge_lr=None, max_lr=None, extra_reasons=["non-finite loss at step 1"])
    assert nan.reasons == ["non-finite loss at step 1"]


def test_the_peak_of_a_fixed_size_update_is_capped_at_a_multiple_of_its_lr():
    bounds = Bounds(min_lr=0.01, max_lr=0.04, note=None, edge_lr=0.08)
    capped = capped_bounds(bounds, "Lamb", anchor_lr=1e-3)
    assert capped.edge_lr == pytest.approx(0.01)
    assert capped.max_lr == pytest.approx(0.005) and capped.min_lr == pytest.approx(0.00125)
    assert "capped at 0.01" in capped.note and "0.08" in capped.note
    # Lion's sign update: at most its own LR.
    assert capped_bounds(bounds, "Lion", anchor_lr=1e-3).edge_lr == pytest.approx(1e-3)
    assert capped_bounds(bounds, "Lamb", anchor_lr=0.1) == bounds  # below the cap: unchanged
    assert capped_bounds(bounds, "Lamb", anchor_lr=None) == bounds  # unknown LR: no cap
    # No cap where the reading undershoots (Adagrad) or nothing is known (a user's own).
    assert capped_bounds(bounds, "Adagrad", anchor_lr=1e-3) == bounds
    assert capped_bounds(bounds, "MyOptimizer", anchor_lr=1e-3) == bounds


def test_a_reading_below_the_optimizers_lr_from_a_curve_that_learned_nothing_rises_to_it():
    chance = math.log(10)
    nothing = curve_verdict(val_losses=[chance, chance * 0.99]).signals
    learned = curve_verdict().signals
    assert learned_nothing(nothing) and not learned_nothing(learned)
    low = Bounds(min_lr=1e-5, max_lr=4e-5, note=None, edge_lr=8e-5)
    completed, diverged = SweepRun(seed=0), SweepRun(seed=0, stop_reason="diverged")
    raised = floored_bounds(low, nothing, completed, reached_lr=0.3, anchor_lr=1e-3)
    assert raised.edge_lr == pytest.approx(1e-3)
    assert raised.max_lr == pytest.approx(5e-4) and raised.min_lr == pytest.approx(1.25e-4)
    assert "raised to the optimizer's LR 0.001 from a reading of 8e-05" in raised.note
    # A model that learned, a sweep that diverged, or one that stopped below the optimizer's
    # LR, gave a reading to keep; so does one at or above that LR, or without a known LR.
    assert floored_bounds(low, learned, completed, 0.3, 1e-3) == low
    assert floored_bounds(low, nothing, diverged, 0.3, 1e-3) == low
    assert floored_bounds(low, nothing, completed, 5e-4, 1e-3) == low
    assert floored_bounds(low, nothing, completed, 0.3, 1e-5) == low
    assert floored_bounds(low, nothing, completed, 0.3, None) == low


@pytest.mark.parametrize(
    ("lrs", "factor"),
    [
        (np.geomspace(1e-4, 1.0, 4 * 80 + 1), 1.0),  # the reference density
        (np.geomspace(1e-4, 1.0, 4 * 22 + 1), 10 ** (-5 * (1 / 22 - 1 / 80))),
        (np.geomspace(1e-4, 1.0, 4 * 12 + 1), 10 ** (-5 * (1 / 20 - 1 / 80))),  # clamped at 20
        (np.linspace(1e-3, 1.0, 50), 1.0),  # a linear grid has no constant density
    ],
)
def test_a_fast_sweeps_edge_is_brought_back_to_the_reference_density(lrs, factor):
    assert lag_factor(lrs) == pytest.approx(factor, rel=1e-3)


def trial_outcome(scores: list[float | None], lrs: list[float]) -> TrialOutcome:
    outcome = TrialOutcome(
        grid=np.asarray(lrs), steps_per_trial=11, source="validation", reference=2.3,
        trials=[Trial(lr, s, 11, "completed") for lr, s in zip(lrs, scores, strict=True)],
    )  # fmt: skip
    decide_trials(outcome)
    return outcome


@pytest.mark.parametrize(
    "scores, verdict, pick, reason",
    [
        ([2.3, 2.1, 2.4], "reliable", 0.01, None),  # one trial learned, the next did worse
        ([2.3, 2.25, 2.4], "unreliable", None, "no constant-LR trial learned"),  # under 3%
        ([2.3, 2.2, 2.0], "unreliable", 0.1, "the best trial was the highest LR tried"),
        ([None, None, None], "unreliable", None, "no constant-LR trial gave a finite loss"),
    ],
)
def test_constant_lr_trials_are_reliable_when_one_learned_below_the_top_of_the_grid(
    scores, verdict, pick, reason
):
    outcome = trial_outcome(scores, [0.001, 0.01, 0.1])
    assert outcome.pick == pick
    reliability = assess_trials(outcome, chance=2.3, steps=33)
    assert reliability.verdict == verdict
    if reason is None:
        assert reliability.reasons == [] and outcome.bounds().max_lr == pick
        assert outcome.bounds().min_lr < pick < outcome.bounds().edge_lr
    else:
        assert reliability.reasons[0].startswith(reason)
    assert TrialOutcome.from_dict(outcome.to_dict()).to_dict() == outcome.to_dict()


def test_the_result_reports_the_raised_edge_and_a_verdict_that_names_it():
    """`assemble_result`, which `range_test` and the in-fit test share, on a hand-made sweep:
    the training loss dips and turns near lr 1e-4, a tenth of the optimizer's own, while the
    held-out loss stays at chance and the sweep runs on to 0.3 without diverging."""
    from finder.rangetest.run import Reading, Sweeps, assemble_result

    chance = math.log(2)
    lrs = np.geomspace(1e-5, 0.3, 100)
    dip = 0.03 * np.exp(-((np.log10(lrs) + 4.3) ** 2) / 0.05)
    losses = [float(v) for v in chance - dip + 0.002 * np.cos(np.arange(100))]
    losses[30:] = [chance + 0.0005 * i for i in range(70)]  # the turn: it rises on from there
    run = SweepRun(seed=0, losses=losses, smoothed_losses=losses, steps_run=100)
    run.val_lrs, run.val_losses = list(lrs[::10]), [chance * 1.001] * 10
    result = assemble_result(
        Sweeps(lrs, [run], None, steps_run=100, wall_time=1.0),
        optimizer={"name": "Adam"}, model={}, data={}, config={}, metadata={},
        reading=Reading(update_rule="Adam", anchor=1e-3, chance=chance, steps_per_pass=1000),
    )  # fmt: skip
    assert result.bounds.edge_lr == pytest.approx(1e-3)
    assert "raised to the optimizer's LR 0.001" in result.bounds.note
    assert result.reliability.verdict == "unreliable"
    assert "learned nothing" in result.reliability.reasons[0]
    assert result.reliability.signals["bounds_note"] == result.bounds.note

"""Constant-LR trials (`finder.rangetest.trials`) on real (tiny) Keras training with Ftrl."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import finder
from finder.rangetest.result import validate
from finder.rangetest.trials import DECADES_ABOVE, DECADES_BELOW, TRIALS_PER_DECADE, trial_grid
from tests.utils.factories import dense_regressor

# Runs on TensorFlow and again under KERAS_BACKEND=jax and torch (.ci/run).
pytestmark = pytest.mark.backend_neutral


def all_values(model: keras.Model) -> list[np.ndarray]:
    return [np.array(v.numpy(), copy=True) for v in model.variables + model.optimizer.variables]


def ftrl_regressor(least_squares, learning_rate: float = 0.001) -> keras.Model:
    model = dense_regressor(
        inputs=least_squares.x.shape[1],
        optimizer=keras.optimizers.Ftrl(learning_rate=learning_rate),
    )
    model.optimizer.build(model.trainable_variables)
    return model


def validation(least_squares):
    return least_squares.x[-256:], least_squares.y[-256:]


def test_the_grid_spans_half_a_decade_below_to_three_and_a_half_above_the_optimizers_lr():
    lrs = trial_grid(0.001)
    assert len(lrs) == round(TRIALS_PER_DECADE * (DECADES_BELOW + DECADES_ABOVE)) + 1 == 9
    np.testing.assert_allclose(lrs[[0, 3, -1]], [0.001 / 10**0.5, 0.01, 0.001 * 10**3.5])
    np.testing.assert_allclose(np.diff(np.log10(lrs)), 0.5)
    # An LR that cannot be read falls back to the auto range's anchor.
    np.testing.assert_allclose(trial_grid(None), lrs)


def test_ftrl_gets_constant_lr_trials_and_a_constant_proposal_at_their_pick(
    least_squares, tmp_path
):
    model = ftrl_regressor(least_squares)
    before = all_values(model)
    result = finder.range_test(
        model,
        least_squares.x,
        least_squares.y,
        batch_size=16,
        plan=finder.Plan(10, 50),
        plan_steps=500,
        validation_data=validation(least_squares),
    )
    trials = result.auto["trials"]
    assert result.auto["stop"] == "constant_trials"
    assert trials["steps_per_trial"] == 100 // 9 and trials["source"] == "validation"
    # Every trial ran from the same initial state: the model is back exactly as it was.
    for got, want in zip(all_values(model), before, strict=True):
        np.testing.assert_array_equal(got, want)
    scores = {t["lr"]: t["score"] for t in trials["trials"] if t["score"] is not None}
    pick = trials["pick"]
    assert pick == min(scores, key=scores.get) and scores[pick] < trials["threshold"]
    assert result.steps_run == sum(t["steps_run"] for t in trials["trials"]) <= 100
    assert result.extra_steps == result.steps_run
    # The curve is the trials' scores, one point per scored trial.
    assert result.lrs == pytest.approx(list(scores)) and result.losses == list(scores.values())
    assert result.bounds.max_lr == pick
    assert result.bounds.min_lr < pick < result.bounds.edge_lr
    (proposal,) = result.proposals
    assert proposal.spec.family == "constant"
    assert proposal.spec.params["learning_rate"] == pytest.approx(pick)
    assert result.reliability.verdict == "reliable", result.reliability.reasons
    validate(result.to_dict())
    assert finder.RangeTestResult.from_dict(result.to_dict()).auto["trials"] == trials
    # No sweep-reading rule applies to one point per trial.
    assert set(result.suggestions.values()) == {None}
    # The plot shows the trials' scores, the learning threshold and the pick.
    figure = result.plot(tmp_path / "trials.png")
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert f"pick {pick:.2g} (constant LR)" in labels
    assert any(label.startswith("validation loss after 11 steps") for label in labels)
    assert (tmp_path / "trials.png").read_bytes().startswith(b"\x89PNG")


def test_trials_stop_climbing_once_past_their_pick(least_squares):
    # From an LR of 0.1 the grid climbs to 316, past where this problem's trials break.
    result = finder.range_test(
        ftrl_regressor(least_squares, learning_rate=0.1),
        least_squares.x,
        least_squares.y,
        batch_size=16,
        plan_steps=500,
        validation_data=validation(least_squares),
    )
    trials = result.auto["trials"]["trials"]
    last, pick = trials[-1], result.auto["trials"]["pick"]
    assert last["lr"] > pick and len(trials) < len(result.auto["trials"]["grid"])
    # The last trial broke, or scored above the loss the pick fell below.
    reference = result.auto["trials"]["reference_loss"]
    assert last["score"] is None or last["stop_reason"] != "completed" or last["score"] > reference
    assert all(t["score"] is not None for t in trials[:-1])


def test_trials_refuse_when_no_lr_learns_and_say_why(least_squares):
    # Labels drawn independently of the inputs: no held-out loss can fall below the chance
    # loss (their variance), at any LR.
    rng = np.random.default_rng(0)
    y = rng.normal(size=least_squares.y.shape).astype("float32")
    model = ftrl_regressor(least_squares)
    result = finder.range_test(
        model,
        least_squares.x,
        y,
        batch_size=16,
        plan=finder.Plan(10, 50),
        validation_data=(least_squares.x[-256:], y[-256:]),
    )
    assert result.auto["trials"]["pick"] is None
    assert result.bounds.max_lr is None and result.proposals == []
    assert result.reliability.verdict == "unreliable"
    (reason,) = result.reliability.reasons
    assert reason.startswith("no constant-LR trial learned") and "budget=" in reason
    assert result.steps_run <= 300  # the default budget without a plan


def test_a_non_finite_loss_ends_the_trials_at_once(least_squares):
    x = least_squares.x.copy()
    x[:] = np.nan
    result = finder.range_test(ftrl_regressor(least_squares), x, least_squares.y, batch_size=16)
    assert result.auto["stop"] == "not_finite"
    assert len(result.auto["trials"]["trials"]) == 1 and result.steps_run <= 2
    assert result.reliability.reasons[0].startswith("non-finite loss at step")


def test_an_explicit_range_sweeps_ftrl_and_proposes_no_schedule(least_squares):
    # Trials need the whole range to themselves: with a bound given, the test is a sweep, whose
    # curve is there to see, and Ftrl takes no schedule on top of it.
    result = finder.range_test(
        ftrl_regressor(least_squares),
        least_squares.x,
        least_squares.y,
        batch_size=16,
        min_lr=1e-4,
        plan=finder.Plan(10, 50),
    )
    assert result.auto["stop"] == "schedule_free" and "trials" not in result.auto
    assert result.proposals == [] and "Ftrl takes no learning-rate schedule" in result.bounds.note

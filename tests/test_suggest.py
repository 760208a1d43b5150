"""Suggestion rules and bounds on synthetic curves whose answers are known (pure numpy)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from finder.suggest import (
    SUGGESTION_NAMES,
    floor_span,
    minimum,
    smith_bounds,
    steepest,
    suggest,
    trim_window,
    valley,
    zero_lag_curve,
)

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral

LRS = np.geomspace(1e-4, 10, 200)
X = np.log10(LRS)


def bowl(turn_lr: float = 0.1, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Loss falling as a logistic in log10(lr), steepest at turn_lr / 10, then blowing up
    quadratically past turn_lr."""
    fall = 2.0 - 1.5 / (1 + np.exp(-4 * (X - np.log10(turn_lr / 10))))
    rise = np.where(X > np.log10(turn_lr), 3 * (X - np.log10(turn_lr)) ** 2, 0.0)
    return fall + rise + noise * np.random.default_rng(seed).normal(size=X.size)


def test_steepest_finds_the_inflection_of_a_logistic_fall():
    losses = 2.0 - 1.0 / (1 + np.exp(-5 * (X - np.log10(0.01))))
    assert steepest(LRS, losses) == pytest.approx(0.01, rel=0.07)


def test_minimum_is_a_tenth_of_the_lowest_point():
    losses = (X - np.log10(0.3)) ** 2
    assert minimum(LRS, losses) == pytest.approx(0.03, rel=0.07)


def test_valley_sits_inside_the_longest_descent():
    losses = bowl(turn_lr=0.1)
    found = valley(LRS, losses)
    descent_start, descent_end = LRS[0], LRS[int(np.argmin(losses))]
    assert descent_start < found < descent_end
    # Just under halfway down the descent in index terms: start + 1/3 + 1/6 of its length.
    end = int(np.argmin(losses))
    assert found == pytest.approx(LRS[int(end / 3) + int(end / 6)], rel=1e-9)


def test_no_descent_gives_no_valley_and_no_steepest():
    rising = np.linspace(1.0, 2.0, 50)
    assert valley(LRS[:50], rising) is None
    assert steepest(LRS[:50], rising) is None


def test_zero_lag_curve_has_no_lag_unlike_an_ema():
    step = np.where(np.arange(100) < 60, 1.0, 3.0)
    centred = zero_lag_curve(step, half_width_fraction=0.03)  # +-3 points
    assert np.all(centred[:57] == 1.0) and np.all(centred[63:] == 3.0)
    # Its half-way crossing is at the step itself.
    assert np.argmax(centred >= 2.0) in (59, 60)


def test_bounds_read_the_turn_of_the_raw_curve():
    losses = bowl(turn_lr=0.1, noise=0.02)
    bounds = smith_bounds(LRS, losses)
    # The floor's centre: below the turn where the blow-up starts, and within 2x of it (the
    # floor's left part is the fall's slow approach to its bottom).
    assert 0.05 < bounds.edge_lr < 0.1
    assert bounds.max_lr == pytest.approx(bounds.edge_lr / 2)
    assert bounds.min_lr == pytest.approx(bounds.max_lr / 4)
    assert bounds.note is None


def test_ema_lag_would_have_put_the_bound_past_the_turn():
    """Why the bounds do not read the EMA: its minimum lands well after the real turn."""
    losses = bowl(turn_lr=0.1, noise=0.02)
    beta, average, ema = 0.98, 0.0, []
    for i, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        ema.append(average / (1 - beta ** (i + 1)))
    assert LRS[int(np.argmin(ema))] > 1.5 * smith_bounds(LRS, losses).edge_lr


@pytest.mark.parametrize(
    ("losses", "expected_note"),
    [
        # Flat: the model is not learning at all, and more steps would not change that.
        (np.full(200, np.log(10.0)), "not learning from its data"),
        # Flat up to float noise, as a model fed NaN-cleaned or constant inputs gives.
        (np.log(10.0) + 1e-7 * np.sin(np.arange(200)), "not learning from its data"),
        # Rising from the start.
        (np.linspace(2.0, 5.0, 200), "never fell"),
        # Too short to say anything.
        (np.array([2.0, 1.0, 0.5]), "too short"),
    ],
)
def test_curves_without_a_turn_give_none_with_a_reason(losses, expected_note):
    found = suggest(LRS[: len(losses)], losses, losses)
    assert found.bounds.max_lr is None and found.bounds.min_lr is None
    assert expected_note in found.bounds.note
    assert all(found.values[name] is None for name in SUGGESTION_NAMES)
    assert all(expected_note in found.notes[name] for name in SUGGESTION_NAMES)


def test_a_curve_that_falls_to_the_end_gives_lower_estimates_with_a_note():
    losses = np.linspace(3.0, 1.0, 200)
    found = suggest(LRS, losses, losses)
    assert found.bounds.max_lr is not None
    assert "still falling" in found.bounds.note
    assert "still falling" in found.notes["minimum"]
    assert found.values["steepest"] is not None


def test_suggest_trims_both_ends():
    assert trim_window(200, 0.1, 0.05) == (20, 190)
    losses = bowl(turn_lr=0.1)
    # A huge spike in the trimmed start must not change anything.
    spiked = losses.copy()
    spiked[:5] = 100.0
    assert suggest(LRS, spiked, spiked).values == suggest(LRS, losses, losses).values


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="differ in length"):
        suggest(LRS, np.ones(10), np.ones(10))


def test_suggest_module_does_not_import_keras():
    code = "import sys, finder.suggest, finder.rangetest.repeats; print('keras' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "False"


def test_floor_centre_is_stable_where_the_argmin_wanders():
    """A flat, noisy bottom: the argmin jumps between seeds, the floor's centre does not."""
    base = np.concatenate([np.linspace(2.0, 1.0, 80), np.full(60, 1.0), np.linspace(1.0, 3.0, 60)])
    argmins, centres = [], []
    for seed in range(6):
        noisy = base + 0.003 * np.random.default_rng(seed).normal(size=base.size)
        argmins.append(LRS[int(np.argmin(noisy))])
        centres.append(smith_bounds(LRS, noisy).edge_lr)
    assert max(argmins) / min(argmins) > 1.5
    assert max(centres) / min(centres) < 1.1
    # Where the floor's level (20% of the drop above the bottom) crosses the two slopes: the
    # fall reaches 1.2 at index 64, the rise leaves it at index 145.
    assert np.median(centres) == pytest.approx(np.sqrt(LRS[64] * LRS[145]), rel=0.1)


def test_floor_span_reaches_both_ends_of_the_flat_bottom():
    curve = np.array([5.0, 4.0, 3.0, 1.05, 1.0, 1.02, 1.04, 2.0, 4.0])
    # drop 4.0, floor level 1.0 + 0.2 * 4.0 = 1.8: indices 3..6
    assert floor_span(curve) == (3, 6)

"""The auto range test: no range to guess, steps spent where the answer is, a stated certainty.

`finder.range_test` runs this when `min_lr`, `max_lr` or `num_steps` is `"auto"` (the
default). It needs no range from the user and works in two phases, inside a step budget:

1. **Coarse pass.** One fast sweep from `START_LR` (1e-7, below any optimizer's useful rate)
   upwards at `COARSE_STEPS_PER_DECADE` (20) steps per decade, with no upper end but the
   safety `CEILING_LR` (1e4), until the loss has clearly diverged: non-finite, the EMA
   (beta `COARSE_SMOOTHING` = 0.9, a lag of ~9 steps, half a decade) above 4x its minimum,
   or a DEAD network (the recorder's dead rule: back within 25% of its starting level after
   falling by >= 30%, as a classifier stuck at chance level). A range too narrow or too wide
   cannot happen: the sweep ends where this model and optimizer diverge.
2. **Refining sweeps.** From the LR `d` where the coarse pass diverged and its turn `t` (its
   `edge_lr`, never above `d / 10`; `d / 10` when its loss never fell, as happens when a fast
   sweep runs past the edge before the model has learned anything), every further sweep
   restarts from the restored model and covers

   ```
   lo = t / 10 ** DECADES_BELOW        (2.5 decades below the turn: the loss must fall first)
   hi = d * 10 ** DECADES_ABOVE        (half a decade past the coarse divergence)
   n  = ceil(log10(hi / lo) * REFINE_STEPS_PER_DECADE) + 1     (80 per decade)
   ```

   each stopped at its own divergence, in a fresh batch order. A sweep this dense measures the
   edge nearly the way the reference sweeps that calibrated the proposals did (125 steps per
   decade, see BENCHMARKS.md); 80 rather than 125 buys more sweeps inside the budget, and the
   spread of the edge shrinks with the square root of their number. After each sweep, the
   jackknife over the sweeps so far gives the 80% interval of the median curve's edge
   (`finder.rangetest.reliability`); sweeping stops once at least `MIN_SWEEPS` (4) sweeps put it
   within +-15%, or when the budget cannot pay for another.

The budget (optimizer steps, all sweeps together) is `DEFAULT_BUDGET` (1,500: `fashion_cnn` +
SGD on full Fashion-MNIST finishes within it), never more than `PLAN_FRACTION` (1x) of the
training plan when one is given: a range test that costs more than the run it prepares is a
training run in disguise (the issue that asked for this cap saw 1,500 steps, seven times a
220-step plan, on scikit-learn's digits). When the budget cannot pay for a single refining
sweep, the coarse pass is the curve, and the verdict says so. No refining sweep reads more than
`MAX_SWEEP_PASSES` (4) passes over the training data: past that, on small data the training
loss measures memorisation, not the learning rate (scikit-learn's digits: the training loss
was 0.01 by lr 2e-3 while the validation loss fell until 0.018). On such data the sweeps get
fewer steps per decade; below `MIN_STEPS_PER_DECADE` (40) the verdict says the data was too
small for a trustworthy curve.
The validation curve (when validation data is given) is scored during the first refining sweep.
A refining sweep is cut short only if it outlasts every earlier one when the budget is nearly
spent; it then counts as stopped where it was cut in the median curve.

Explicit values replace their part of the plan: `min_lr` is the coarse pass's start,
`max_lr` its ceiling (and the refining sweeps' upper end), `num_steps` the steps of each
refining sweep.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finder.defaults import DEFAULT_BUDGET
from finder.errors import InvalidArgumentError
from finder.rangetest.recorder import SweepRun
from finder.rangetest.reliability import TOLERANCE, is_tight, jackknife_interval, median_edge
from finder.rangetest.session import SweepSession
from finder.rangetest.sweep import sweep_lrs
from finder.suggest import smith_bounds

START_LR = 1e-7
CEILING_LR = 1e4
PLAN_FRACTION = 1.0
MAX_SWEEP_PASSES = 4
COARSE_STEPS_PER_DECADE = 20
COARSE_SMOOTHING = 0.9
REFINE_STEPS_PER_DECADE = 80
MIN_STEPS_PER_DECADE = 40
DECADES_BELOW = 2.5
DECADES_ABOVE = 0.5
MIN_SWEEPS = 4
# Share of the budget the coarse pass may use, and the fewest steps a sweep is worth running.
COARSE_SHARE = 0.4
MIN_SWEEP_STEPS = 16
# Window of the dead-network rule: a tenth of a decade of the sweep, at least 10 steps (the
# mean of fewer noisy batch losses wanders too far).
DEAD_WINDOW_DECADES = 0.1
DEAD_WINDOW_MIN = 10


@dataclass(frozen=True)
class Limits:
    """What the auto range test may spend: `budget` steps, `sweep_cap` steps per sweep."""

    budget: int
    sweep_cap: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "sweep_cap": self.sweep_cap, "reason": self.reason}


def limits(budget: int | None, plan_steps: int | None, steps_per_pass: int | None) -> Limits:
    """The budget and the per-sweep cap for a test (see the module docstring).

    Raises:
        InvalidArgumentError: `budget` or `plan_steps` is not a positive integer.
    """
    for name, value in (("budget", budget), ("plan_steps", plan_steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidArgumentError(
                f"Argument `{name}` must be an integer or None. Received: {name}={value!r}"
            )
        if value is not None and value < 1:
            raise InvalidArgumentError(f"Argument `{name}` must be >= 1. Received: {value}")
    total = DEFAULT_BUDGET if budget is None else budget
    reason = "default budget" if budget is None else "budget given"
    if plan_steps is not None and math.floor(PLAN_FRACTION * plan_steps) < total:
        total = max(1, math.floor(PLAN_FRACTION * plan_steps))
        reason = f"{PLAN_FRACTION:.0%} of the {plan_steps}-step training plan"
    cap = MAX_SWEEP_PASSES * steps_per_pass if steps_per_pass else None
    return Limits(budget=total, sweep_cap=cap, reason=reason)


@dataclass
class AutoOutcome:
    """The sweeps of an auto range test and what decided them."""

    coarse_lrs: np.ndarray
    coarse: SweepRun
    lrs: np.ndarray
    runs: list[SweepRun]
    edges: list[float | None]
    limits: Limits
    reasons: list[str] = field(default_factory=list)
    stop: str = "tight"

    def to_dict(self) -> dict[str, Any]:
        """The `auto` section of the result JSON."""
        steps = len(self.lrs)
        return {
            **self.limits.to_dict(),
            "stop": self.stop,
            "coarse": {
                "lrs": [float(v) for v in self.coarse_lrs[: len(self.coarse.losses)]],
                "losses": list(self.coarse.losses),
                "stop_reason": self.coarse.stop_reason,
                "stopped_at_lr": self.coarse.stopped_at_lr,
                "steps_run": self.coarse.steps_run,
            },
            "window": {
                "min_lr": float(self.lrs[0]),
                "max_lr": float(self.lrs[-1]),
                "num_steps": steps,
                "steps_per_decade": steps_per_decade(self.lrs),
            },
            "sweeps": len(self.runs),
        }


def steps_per_decade(lrs: Sequence[float] | np.ndarray) -> float:
    """Steps per decade of a sweep's grid (infinite for a grid that spans none)."""
    decades = math.log10(float(lrs[-1]) / float(lrs[0]))
    return (len(lrs) - 1) / decades if decades > 0 else float("inf")


def _dead_window(lrs: np.ndarray) -> int:
    return max(DEAD_WINDOW_MIN, round(steps_per_decade(lrs) * DEAD_WINDOW_DECADES))


def _tight(lrs: np.ndarray, runs: list[SweepRun], tolerance: float) -> bool:
    losses = [run.losses for run in runs]
    return is_tight(jackknife_interval(lrs, losses), median_edge(lrs, losses), tolerance)


def sweep_edge(lrs: np.ndarray, run: SweepRun) -> float | None:
    """The `edge_lr` of one sweep's raw losses, None when its loss never fell."""
    return smith_bounds(lrs[: len(run.losses)], np.asarray(run.losses)).edge_lr


def coarse_grid(start_lr: float, ceiling_lr: float, limit: Limits) -> np.ndarray:
    """The coarse pass's grid: 20 steps per decade, fewer when the budget demands it.

    The pass cap does not apply: one fast sweep that only locates the divergence cannot learn
    the data by heart."""
    steps = math.ceil(math.log10(ceiling_lr / start_lr) * COARSE_STEPS_PER_DECADE) + 1
    return sweep_lrs(
        start_lr, ceiling_lr, max(2, min(steps, math.floor(COARSE_SHARE * limit.budget)))
    )


def refine_grid(
    coarse_lrs: np.ndarray,
    coarse: SweepRun,
    *,
    start_lr: float,
    ceiling_lr: float,
    num_steps: int | None,
    limit: Limits,
) -> np.ndarray:
    """The refining sweeps' grid around the coarse pass's turn (module docstring)."""
    diverged_at = coarse.stopped_at_lr if coarse.stopped_at_lr is not None else ceiling_lr
    turn = sweep_edge(coarse_lrs, coarse) if len(coarse.losses) else None
    turn = min(turn if turn is not None else diverged_at, diverged_at / 10)
    low = max(start_lr, turn / 10**DECADES_BELOW)
    high = min(ceiling_lr, diverged_at * 10**DECADES_ABOVE)
    if high <= low * 1.01:
        low, high = max(start_lr, high / 10**DECADES_BELOW), max(high, low * 10)
    steps = num_steps or math.ceil(math.log10(high / low) * REFINE_STEPS_PER_DECADE) + 1
    if limit.sweep_cap is not None:
        steps = min(steps, max(2, limit.sweep_cap))
    return sweep_lrs(low, high, max(2, steps))


def affords_sweep(remaining: int, earlier: Sequence[int], expected: int, grid_steps: int) -> bool:
    """Whether `remaining` steps pay for another refining sweep: one as long as the longest
    `earlier` sweep (before the first, `expected`: where the coarse pass diverged), never more
    than the `grid_steps`, and at least `MIN_SWEEP_STEPS`."""
    needed = max(earlier) if earlier else expected
    return remaining >= max(MIN_SWEEP_STEPS, min(needed, grid_steps))


def run_auto(
    session: SweepSession,
    *,
    start_lr: float,
    ceiling_lr: float,
    num_steps: int | None,
    limit: Limits,
    smoothing: float,
    divergence: float,
    min_sweeps: int = MIN_SWEEPS,
    tolerance: float = TOLERANCE,
) -> AutoOutcome:
    """Run the coarse pass and the refining sweeps on `session` (module docstring)."""
    coarse_lrs = coarse_grid(start_lr, ceiling_lr, limit)
    coarse = session.sweep(
        coarse_lrs,
        mode="exp",
        repeat=0,
        repeats=1,
        smoothing=COARSE_SMOOTHING,
        divergence=divergence,
        score_validation=False,
        dead_window=_dead_window(coarse_lrs),
        phase="coarse",
        budget=limit.budget,
        limit=limit.budget,
    )
    lrs = refine_grid(
        coarse_lrs,
        coarse,
        start_lr=start_lr,
        ceiling_lr=ceiling_lr,
        num_steps=num_steps,
        limit=limit,
    )
    outcome = AutoOutcome(coarse_lrs, coarse, lrs, [], [], limit)
    if coarse.stop_reason == "completed" and len(coarse.losses) == len(coarse_lrs):
        outcome.reasons.append(
            f"the loss did not diverge up to lr {ceiling_lr:g}: the edge may lie higher"
        )
    density = steps_per_decade(lrs)
    if limit.sweep_cap is not None and density < MIN_STEPS_PER_DECADE and not num_steps:
        outcome.reasons.append(
            f"too little data for a trustworthy curve: {limit.sweep_cap // MAX_SWEEP_PASSES} "
            f"batches per pass allow only {density:.0f} steps per decade in a sweep of at "
            f"most {MAX_SWEEP_PASSES} passes (want >= {MIN_STEPS_PER_DECADE}); use a smaller "
            "batch size or more data"
        )
    expected = int(np.searchsorted(lrs, coarse.stopped_at_lr or lrs[-1])) + 1
    while True:
        remaining = limit.budget - session.steps_run
        earlier = [run.steps_run for run in outcome.runs]
        if not affords_sweep(remaining, earlier, expected, len(lrs)):
            outcome.stop = "budget"
            break
        run = session.sweep(
            lrs,
            mode="exp",
            repeat=len(outcome.runs) + 1,
            repeats=0,
            smoothing=smoothing,
            divergence=divergence,
            score_validation=not outcome.runs,
            dead_window=_dead_window(lrs),
            phase="refine",
            budget=limit.budget,
            limit=remaining,
        )
        outcome.runs.append(run)
        outcome.edges.append(sweep_edge(lrs, run))
        if len(outcome.runs) >= min_sweeps and _tight(lrs, outcome.runs, tolerance):
            outcome.stop = "tight"
            break
    if not outcome.runs:
        outcome.lrs, outcome.runs = coarse_lrs, [coarse]
        outcome.edges = [sweep_edge(coarse_lrs, coarse)]
        outcome.reasons.append(
            f"the step budget ({limit.budget}, {limit.reason}) paid only for the coarse pass: "
            "its fast sweep reads the edge too late; give a larger budget or plan"
        )
    elif outcome.stop == "budget":
        outcome.reasons.append(
            f"the step budget ({limit.budget}, {limit.reason}) was spent after "
            f"{len(outcome.runs)} refining sweep(s), before the 80% interval of edge_lr was "
            f"within +-{100 * tolerance:.0f}%"
        )
    return outcome

"""The auto range test: no range to guess, priced like a warm-up, always a stated outcome.

`finder.range_test` runs this when `min_lr`, `max_lr` or `num_steps` is `"auto"` (the
default). It needs no range from the user and spends a step budget sized to the run it
prepares:

```
budget = budget                          when given (larger budgets on request)
       = max(0.1 * plan_steps, 100)      with a training plan (finder.fit, finder run, jobs)
       = 300                             without one
```

fastai's `lr_find` and Lightning's `Tuner.lr_find` spend 100 steps; a test that costs more
than a tenth of the run it prepares is a second training run in disguise.

**One grid, as dense as the budget allows.** Every sweep climbs the same geometric grid

```
start = anchor / 10 ** ANCHOR_DECADES_BELOW       (anchor: the optimizer's own LR, 2 decades)
d     = min(MAX_STEPS_PER_DECADE, (budget - 1) / SPAN_DECADES)   steps per decade (<= 80)
grid  = start .. ceiling (1e4) at d steps per decade
```

and stops at its own divergence (non-finite loss, the EMA 4x its minimum, or a dead network).
The anchor is the learning rate the model was compiled with (a schedule's initial value):
Keras's defaults, which most users keep, are each optimizer's authors' "works generally"
value, and on every task of the benchmark suite the edge of stability sat 1.5x to 60x above
it (BENCHMARKS.md), so two decades below leaves room for the loss to fall before it turns,
while the 1e-7 of fastai's test spends half its steps in decades where no optimizer moves.
`SPAN_DECADES` (4.5) covers the start up to 300x the anchor, past every suite task's divergence
but those of the accumulator methods (Adagrad, Adadelta), whose grid spreads over more decades
(`finder.rangetest.calibration.span_decades`).

When the first sweep leaves enough budget for another as long, further sweeps climb the same
grid in fresh batch orders; the median curve of all sweeps is read, and with four or more the
jackknife interval of its edge (`finder.rangetest.reliability`) stops the test once within
+-15%. On a budget of 100 steps there is one sweep of ~22 steps per decade; on 300, one of ~66;
the full Fashion-MNIST plan (938 steps) pays for two or three at 80.

**The edge of a fast sweep is read late.** A loss takes a few steps at an unstable LR to turn
up visibly, and a geometric sweep raises the LR by a factor 10 ** (1 / d) per step, so the
turn is seen about `LAG_STEPS / d` decades past the edge. `finder.suggest.smith_bounds` takes
that lag out (see `finder.suggest.lag_factor`).

**Never empty-handed, never wasteful.**
- A non-finite loss before the loss fell stops the test at once, with the step and LR.
- A loss that never fell over weights that went NaN or inf (the recorder counts them when the
  sweep ends; a ReLU can hide NaN weights behind a finite, constant loss) gives no bound, and
  says the optimizer's update broke the weights.
- A first sweep that diverged within its first decade without falling started too high (an
  anchor far above this model's edge): one more sweep starts `RETRY_DECADES` (3) lower.
- A loss that never fell says so, with what to try (`budget=`, `min_lr=`).
- A loss that neither fell nor diverged within the budget (plain SGD on a CNN can take a
  hundred steps to start learning) still gets bounds, from a prior, not a measurement:

  ```
  edge_lr = min(PRIOR_PEAK_MULTIPLE * anchor, survived / PRIOR_SURVIVAL_MARGIN)
  ```

  with `survived` the last LR the sweep reached without diverging. `PRIOR_PEAK_MULTIPLE` (10)
  is the median, over the suite's seven tasks, of the best 1cycle peak of the grid oracle
  divided by the optimizer's default LR (1x to 100x; BENCHMARKS.md); the survival margin
  (10) keeps it a decade below anything the sweep saw. The bounds' note and the verdict say it
  is a prior, and `finder.fit` warns.
- No sweep reads more than `MAX_SWEEP_PASSES` (4) passes over the training data: past that,
  on small data the training loss measures memorisation, not the learning rate (scikit-learn's
  digits: the training loss was 0.01 by lr 2e-3 while the validation loss fell until 0.018).
  When that cap leaves a sweep sparser than the smallest budget's (100 steps over the span,
  `MIN_TRUSTED_STEPS_PER_DECADE`: fewer than 25 batches per pass), the data is too small for a
  curve to trust, and the test gives no bounds but that reason: acting on such a curve
  cost the suite's 353-sample regression 8% against the optimizer's own LR, which `finder.fit`
  then keeps (never worse than the default, by construction).

Explicit values replace their part: `min_lr` is the grid's start, `max_lr` its ceiling,
`num_steps` the steps of the grid from start to ceiling.

An optimizer whose model scales with its current LR (Ftrl) gets no ramp: with `min_lr` and
`max_lr` both "auto", the same budget pays for constant-LR trials instead
(`finder.rangetest.trials`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finder.defaults import (
    DEFAULT_BUDGET,
    MAX_STEPS_PER_DECADE,
    MIN_PLAN_BUDGET,
    PLAN_FRACTION,
)
from finder.errors import InvalidArgumentError
from finder.rangetest.recorder import SweepRun
from finder.rangetest.reliability import TOLERANCE, is_tight, jackknife_interval, median_edge
from finder.rangetest.session import SweepSession
from finder.rangetest.sweep import sweep_lrs
from finder.suggest import NOT_LEARNING, smith_bounds

CEILING_LR = 1e4
# When the optimizer's LR cannot be read (a custom schedule that fails at step 0).
FALLBACK_ANCHOR = 1e-3
ANCHOR_DECADES_BELOW = 2.0
SPAN_DECADES = 4.5
MIN_STEPS_PER_DECADE = 5
RETRY_DECADES = 3.0
MAX_SWEEP_PASSES = 4
MIN_SWEEPS = 4
# The fewest steps a further sweep is worth running.
MIN_SWEEP_STEPS = 16
# Window of the dead-network rule: a tenth of a decade of the sweep, at least 10 steps (the
# mean of fewer noisy batch losses wanders too far).
DEAD_WINDOW_DECADES = 0.1
DEAD_WINDOW_MIN = 10
# The stop rule's EMA lags by beta / (1 - beta) steps; on a fast sweep that many steps span
# decades, so its beta is capped to keep the lag within this many decades of the grid.
STOP_LAG_DECADES = 0.25
PRIOR_PEAK_MULTIPLE = 10.0
# The sparsest grid whose curve is trusted: what the smallest budget pays for over the span.
MIN_TRUSTED_STEPS_PER_DECADE = (MIN_PLAN_BUDGET - 1) / SPAN_DECADES
PRIOR_SURVIVAL_MARGIN = 10.0


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
    if budget is not None:
        total, reason = budget, "budget given"
    elif plan_steps is not None:
        total = max(MIN_PLAN_BUDGET, math.floor(PLAN_FRACTION * plan_steps))
        reason = (
            f"{PLAN_FRACTION:.0%} of the {plan_steps}-step training plan"
            if total > MIN_PLAN_BUDGET
            else f"the minimum of {MIN_PLAN_BUDGET} steps for a {plan_steps}-step plan"
        )
    else:
        total, reason = DEFAULT_BUDGET, "default budget"
    cap = MAX_SWEEP_PASSES * steps_per_pass if steps_per_pass else None
    return Limits(budget=total, sweep_cap=cap, reason=reason)


def usable_anchor(anchor: float | None) -> float:
    """The optimizer's LR, or `FALLBACK_ANCHOR` when it is unknown or not a positive number."""
    usable = anchor if anchor is not None and math.isfinite(anchor) and anchor > 0 else None
    return usable or FALLBACK_ANCHOR


def anchor_start(anchor: float | None) -> float:
    """The grid's first LR: `ANCHOR_DECADES_BELOW` decades below the optimizer's LR."""
    return usable_anchor(anchor) / 10**ANCHOR_DECADES_BELOW


def density(
    limit: Limits,
    num_steps: int | None,
    start: float,
    ceiling: float,
    *,
    cap: bool = True,
    span: float = SPAN_DECADES,
) -> float:
    """Steps per decade of the grid: what the budget (and, with `cap`, the data's pass cap)
    pays for over `span` decades (`SPAN_DECADES`), at most `MAX_STEPS_PER_DECADE`;
    `num_steps` over start..ceiling when given."""
    if num_steps is not None:
        return (num_steps - 1) / math.log10(ceiling / start)
    steps = limit.budget
    if cap and limit.sweep_cap is not None:
        steps = min(steps, limit.sweep_cap)
    return max(MIN_STEPS_PER_DECADE, min(MAX_STEPS_PER_DECADE, (steps - 1) / span))


def grid(start: float, ceiling: float, per_decade: float) -> np.ndarray:
    """A geometric grid from `start` to `ceiling` at `per_decade` steps per decade."""
    steps = max(2, math.ceil(math.log10(ceiling / start) * per_decade) + 1)
    return sweep_lrs(start, ceiling, steps)


def stop_smoothing(smoothing: float, per_decade: float) -> float:
    """The stop rule's EMA beta: the caller's, capped so its lag spans at most
    `STOP_LAG_DECADES` of the grid (module docstring)."""
    lag_steps = max(1.0, STOP_LAG_DECADES * per_decade)
    return min(smoothing, lag_steps / (lag_steps + 1))


@dataclass
class AutoOutcome:
    """The sweeps of an auto range test and what decided them."""

    lrs: np.ndarray
    runs: list[SweepRun]
    edges: list[float | None]
    limits: Limits
    reasons: list[str] = field(default_factory=list)
    stop: str = "tight"
    retried: bool = False
    anchor_lr: float | None = None
    prior_edge: float | None = None
    too_little_data: str | None = None
    # Why no schedule suits this optimizer (`finder.rangetest.calibration.schedule_free_reason`).
    schedule_free: str | None = None
    # The constant-LR trials run instead of sweeps (`finder.rangetest.trials.TrialOutcome`).
    trials: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The `auto` section of the result JSON."""
        first = self.runs[0]
        trials = {} if self.trials is None else {"trials": self.trials.to_dict()}
        return {
            **trials,
            **self.limits.to_dict(),
            "stop": self.stop,
            "retried": self.retried,
            "anchor_lr": self.anchor_lr,
            "prior_edge_lr": self.prior_edge,
            "coarse": {
                "lrs": [float(v) for v in self.lrs[: len(first.losses)]],
                "losses": list(first.losses),
                "stop_reason": first.stop_reason,
                "stopped_at_lr": first.stopped_at_lr,
                "steps_run": first.steps_run,
            },
            "window": {
                "min_lr": float(self.lrs[0]),
                "max_lr": float(self.lrs[-1]),
                "num_steps": len(self.lrs),
                "steps_per_decade": steps_per_decade(self.lrs),
            },
            "sweeps": len(self.runs),
        }


def steps_per_decade(lrs: Sequence[float] | np.ndarray) -> float:
    """Steps per decade of a sweep's grid (infinite for a grid that spans none)."""
    decades = math.log10(float(lrs[-1]) / float(lrs[0]))
    return (len(lrs) - 1) / decades if decades > 0 else float("inf")


def dead_window(lrs: np.ndarray) -> int:
    return max(DEAD_WINDOW_MIN, round(steps_per_decade(lrs) * DEAD_WINDOW_DECADES))


def _tight(lrs: np.ndarray, runs: list[SweepRun], tolerance: float) -> bool:
    losses = [run.losses for run in runs]
    return is_tight(jackknife_interval(lrs, losses), median_edge(lrs, losses), tolerance)


def sweep_edge(lrs: np.ndarray, run: SweepRun) -> float | None:
    """The `edge_lr` of one sweep's raw losses, None when its loss never fell."""
    return smith_bounds(lrs[: len(run.losses)], np.asarray(run.losses)).edge_lr


def affords_sweep(remaining: int, earlier: Sequence[int], grid_steps: int) -> bool:
    """Whether `remaining` steps pay for another sweep as long as the longest `earlier` one
    (never more than the `grid_steps`), and at least `MIN_SWEEP_STEPS`."""
    needed = max(earlier) if earlier else grid_steps
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
    anchor_lr: float | None = None,
    span: float = SPAN_DECADES,
    min_sweeps: int = MIN_SWEEPS,
    tolerance: float = TOLERANCE,
    schedule_free: str | None = None,
) -> AutoOutcome:
    """Run the sweeps of the auto range test on `session` (module docstring); `anchor_lr` is
    the optimizer's own LR (None when unknown: `FALLBACK_ANCHOR`), `span` the decades the
    budget spreads the grid over (`finder.rangetest.calibration.span_decades`),
    `schedule_free` why no schedule suits the optimizer (one sweep, no bounds) or None."""
    per_decade = density(limit, num_steps, start_lr, ceiling_lr, span=span)
    lrs = grid(start_lr, ceiling_lr, per_decade)
    beta = stop_smoothing(smoothing, per_decade)
    outcome = AutoOutcome(lrs, [], [], limit, anchor_lr=anchor_lr, schedule_free=schedule_free)
    first = _sweep(session, lrs, outcome, beta, divergence, score_validation=True)
    if _started_too_high(lrs, first, outcome.edges[0]) and _affordable(session, limit):
        # The loss blew up before it could fall: the anchor sits above this model's edge.
        lrs = grid(start_lr / 10**RETRY_DECADES, ceiling_lr, per_decade)
        outcome = AutoOutcome(
            lrs, [], [], limit, retried=True, anchor_lr=anchor_lr, schedule_free=schedule_free
        )
        first = _sweep(session, lrs, outcome, beta, divergence, score_validation=True)
    if judge_first_sweep(
        outcome,
        first,
        num_steps=num_steps,
        per_decade=per_decade,
        start_lr=start_lr,
        ceiling_lr=ceiling_lr,
        span=span,
    ):
        return outcome
    while True:
        remaining = limit.budget - session.steps_run
        earlier = [run.steps_run for run in outcome.runs]
        if len(outcome.runs) >= min_sweeps and _tight(lrs, outcome.runs, tolerance):
            outcome.stop = "tight"
            break
        if not affords_sweep(remaining, earlier, len(lrs)):
            outcome.stop = "budget"
            break
        _sweep(session, lrs, outcome, beta, divergence, score_validation=False)
    # A sweep the budget ended after its loss turned has its edge; one whose loss was still
    # falling says so in the bounds' note.
    if first.stop_reason == "completed" and len(first.losses) == len(lrs):
        outcome.reasons.append(
            f"the loss did not diverge up to lr {ceiling_lr:g}: the edge may lie higher"
        )
    return outcome


def judge_first_sweep(
    outcome: AutoOutcome,
    first: SweepRun,
    *,
    num_steps: int | None,
    per_decade: float,
    start_lr: float,
    ceiling_lr: float,
    span: float,
) -> bool:
    """Whether the first sweep ends the test (a non-finite loss before the loss fell, too
    little data, or a loss that never fell); sets the outcome's stop, reasons and prior edge
    as the module docstring says. Shared with the in-fit test (`finder.lr_finder`)."""
    lrs, limit, anchor_lr = outcome.lrs, outcome.limits, outcome.anchor_lr
    if first.stop_reason == "non_finite" and outcome.edges[0] is None:
        outcome.stop = "not_finite"
        broken = first.broken_by_first_update  # the first update broke the weights: its reason
        why = non_finite_weights_reason if broken else not_finite_reason
        outcome.reasons.append(why(lrs, first))
        return True
    if first.non_finite_weights and outcome.edges[0] is None:
        # A loss that never fell over NaN weights is no curve to read: the update broke them.
        outcome.stop = "not_finite"
        outcome.reasons.append(non_finite_weights_reason(lrs, first))
        return True
    if outcome.schedule_free is not None:
        # The curve is there to see, but no schedule is proposed for this optimizer.
        outcome.stop = "schedule_free"
        outcome.reasons.append(outcome.schedule_free)
        return True
    outcome.too_little_data = too_little_data(
        limit, num_steps, per_decade, start_lr, ceiling_lr, span
    )
    if outcome.too_little_data is not None:
        # One sweep shows the curve; more would measure the same memorisation again.
        outcome.stop = "too_little_data"
        outcome.reasons.append(outcome.too_little_data)
        return True
    if outcome.edges[0] is not None:
        return False
    outcome.stop = "never_fell"
    reason = never_fell_reason(lrs, first, limit)
    outcome.reasons.append(reason)
    # A flat curve will stay flat at any LR: no prior stands in for a model that does not see
    # its inputs.
    if first.stop_reason == "completed" and first.losses and reason != NOT_LEARNING:
        survived = float(lrs[len(first.losses) - 1])
        anchor = start_lr * 10**ANCHOR_DECADES_BELOW if anchor_lr is None else anchor_lr
        outcome.prior_edge = min(PRIOR_PEAK_MULTIPLE * anchor, survived / PRIOR_SURVIVAL_MARGIN)
    return True


def too_little_data(
    limit: Limits,
    num_steps: int | None,
    per_decade: float,
    start: float,
    ceiling: float,
    span: float = SPAN_DECADES,
) -> str | None:
    """The reason a grid is too sparse to trust, or None: the data's pass cap (not the budget)
    made it sparser than `MIN_TRUSTED_STEPS_PER_DECADE` (module docstring)."""
    cap = limit.sweep_cap
    if num_steps is not None or cap is None or per_decade >= MIN_TRUSTED_STEPS_PER_DECADE:
        return None
    if per_decade >= density(limit, None, start, ceiling, cap=False, span=span):
        return None  # the budget, not the data, set the density
    return (
        f"too little data: {cap // MAX_SWEEP_PASSES} batches per pass allow only "
        f"{per_decade:.0f} steps per decade in a sweep of at most {MAX_SWEEP_PASSES} passes, "
        "so the curve measures memorisation as much as the learning rate; use a smaller "
        "batch size or more data"
    )


def _sweep(
    session: SweepSession,
    lrs: np.ndarray,
    outcome: AutoOutcome,
    smoothing: float,
    divergence: float,
    *,
    score_validation: bool,
) -> SweepRun:
    remaining = outcome.limits.budget - session.steps_run
    cap = outcome.limits.sweep_cap
    run = session.sweep(
        lrs,
        mode="exp",
        repeat=len(outcome.runs),
        repeats=0,
        smoothing=smoothing,
        divergence=divergence,
        score_validation=score_validation,
        dead_window=dead_window(lrs),
        phase="sweep",
        budget=outcome.limits.budget,
        limit=remaining if cap is None else min(remaining, cap),
    )
    outcome.runs.append(run)
    outcome.edges.append(sweep_edge(lrs, run))
    return run


def _affordable(session: SweepSession, limit: Limits) -> bool:
    return limit.budget - session.steps_run >= MIN_SWEEP_STEPS


def _started_too_high(lrs: np.ndarray, run: SweepRun, edge: float | None) -> bool:
    """Diverged within the grid's first decade without the loss falling first (a non-finite
    first loss is not the LR's doing: nothing had been trained yet)."""
    within_first_decade = run.steps_run <= steps_per_decade(lrs) + 1
    return (
        edge is None and run.stop_reason != "completed" and within_first_decade and bool(run.losses)
    )


def not_finite_reason(lrs: np.ndarray, run: SweepRun) -> str:
    """The reason for a test stopped by a non-finite loss before the loss fell."""
    step = run.steps_run  # the recorder counts the non-finite step but keeps only finite losses
    lr = run.stopped_at_lr if run.stopped_at_lr is not None else float(lrs[max(0, step - 1)])
    return (
        f"non-finite loss at step {step}, lr {lr:.3g}, before the loss fell: the model or "
        "the data gives NaN or inf (check the inputs and labels for NaN, the loss for the "
        "labels' format, and layers that divide or take logs); lower LRs will not help"
    )


def non_finite_weights_reason(lrs: np.ndarray, run: SweepRun) -> str:
    """The reason for a first sweep whose weights went NaN or inf: after its first update,
    whose loss was finite (the loss may turn non-finite a step later), or while its loss
    stayed finite and never fell."""
    hidden = "a ReLU or a max hides NaN from the loss"
    if run.broken_by_first_update:
        count = run.broken_by_first_update
        later = "the next step's was not" if run.stop_reason == "non_finite" else hidden
        where = f"after the first step, at lr {lrs[0]:.3g}, whose loss was finite ({later})"
    else:
        count = run.non_finite_weights
        last = float(lrs[max(0, run.steps_run - 1)])
        where = f"after {run.steps_run} steps up to lr {last:.3g}, while the loss stayed finite"
        where += f" ({hidden})"
    return (
        f"the weights held {count:,} NaN or inf values {where}: the update produced them, "
        "so no bound can be read and training would not learn; check for a gradient that is "
        "not finite where the loss is (a square root or a log at 0) and the optimizer's "
        "epsilon settings (Keras's Adafactor, with its default epsilon_1=1e-30, divides 0 by "
        "0 in float32 where a weight gets no gradient along both its row and its column; "
        "epsilon_1=1e-20 avoids it)"
    )


def never_fell_reason(lrs: np.ndarray, run: SweepRun, limit: Limits) -> str:
    """What a first sweep whose loss never fell shows, and what to try."""
    last = float(lrs[max(0, run.steps_run - 1)])
    note = smith_bounds(lrs[: len(run.losses)], np.asarray(run.losses)).note
    if note == NOT_LEARNING:
        return note
    if run.stop_reason == "completed":
        return (
            f"the loss neither fell nor diverged in {run.steps_run} steps up to lr {last:.3g}: "
            "the model needs more steps before it starts learning (plain SGD on a CNN can "
            f"take a hundred); give the test more, e.g. budget={4 * limit.budget}"
        )
    return (
        f"the loss diverged at lr {last:.3g} before it fell, from lr {float(lrs[0]):.3g} on: "
        f"start lower, e.g. min_lr={float(lrs[0]) / 10**RETRY_DECADES:.1g}"
    )

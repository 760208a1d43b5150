"""Constant-LR trials: the auto range's test for an optimizer whose model scales with its LR.

Keras's `Ftrl` (FTRL-Proximal) sets every weight from its accumulated gradients times the
current learning rate (`finder.rangetest.calibration`), so a range test's ramp rescales the
whole model at each step and its curve says nothing about the constant LR the optimizer needs.
What a user would do by hand, finder does within the same budget: from the same initial state
and the same batches, a few steps at each constant LR of a half-decade grid, each scored by the
held-out loss after them; the lowest score is the pick.

```
grid   = anchor * 10 ** (k / TRIALS_PER_DECADE),   k = -TRIALS_PER_DECADE * DECADES_BELOW
                                                       .. TRIALS_PER_DECADE * DECADES_ABOVE
steps  = max(MIN_TRIAL_STEPS, budget // len(grid))          per trial
score  = the validation subset's loss after the trial, else the mean of the batch losses
         over the second half of the trial's first pass over the data (each read before the
         model trained on that batch, so held out as well)
pick   = the LR with the lowest score, if it fell below CHANCE_MARGIN x the chance loss (the
         loss of predicting the labels' frequencies; the initial loss when it is unknown)
```

The climb stops early, which only saves steps: at a trial whose loss was not finite or
diverged (higher LRs go further), and past a pick at a trial that scored above the reference
(the chance or initial loss). A non-finite loss in the very first trial, at the grid's lowest
LR, ends the test with the step and LR, as the ramp's test does.

Why these numbers (`bench/constant_trials.py`, BENCHMARKS.md):
- The grid spans `DECADES_BELOW` (half a decade) below the optimizer's LR to `DECADES_ABOVE`
  (3.5) above it: nine trials. On the suite's MLP host Ftrl trained best at a constant 0.316,
  2.5 decades above Keras's default of 0.001, which leaves the model at chance; the grid leaves
  a decade above that, and half a decade below the optimizer's LR for a user who set it higher
  than the best. Half a decade is also the grid oracle's spacing.
- On a budget of 100 steps that is 11 steps a trial. On the MLP host's three seeds (its two
  plan lengths share the trials: same model, data and LRs), 11 steps at 0.316 brought the
  validation loss 5% to 10% below chance while every other LR stayed within 1% of it or
  above; at 5 and 8 steps the pick was the same LR but under 3% below chance, too close to
  the margin the verdict reads as "learned nothing" (`finder.rangetest.verdict`), and at 20
  steps 10% to 27%. A longer budget buys longer trials, not more LRs.
- On the suite's CNN host Ftrl trained at no LR (every full run of the grid ended at chance),
  and no trial at any of those lengths fell below the margin: the test refuses, and
  `finder.fit` keeps the optimizer's own LR, which is what the grid's best amounts to there.
- Each trial starts from the initial state, as the run does, and sees what the run's first
  steps will see. Only Ftrl's evidence backs these numbers, and it is the only optimizer that
  gets trials.
- The same batches for every trial: the trials differ by their LR alone.

The test reports the trials as its curve (one point per trial: the LR and its score), the
pick as `max_lr`, the tried LRs either side of it as `min_lr` and `edge_lr`, and a single
proposal: a constant LR at the pick (`finder.propose`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finder.rangetest.auto_range import not_finite_reason, usable_anchor
from finder.rangetest.recorder import SweepRun, held_out_loss, in_batches
from finder.rangetest.reliability import CHANCE_MARGIN
from finder.rangetest.session import CONSTANT, SweepSession
from finder.suggest import Bounds

TRIALS_PER_DECADE = 2
DECADES_BELOW = 0.5
DECADES_ABOVE = 3.5
MIN_TRIAL_STEPS = 2
# Why a result of trials holds no suggestions (each curve point is a trial, not a sweep's step).
TRIALS_NOTE = "constant-LR trials: no sweep to read; their pick is bounds.max_lr"


def trial_grid(anchor: float | None) -> np.ndarray:
    """The trials' LRs, lowest first (module docstring); `anchor` the optimizer's own LR."""
    base = usable_anchor(anchor)
    low = round(-TRIALS_PER_DECADE * DECADES_BELOW)
    high = round(TRIALS_PER_DECADE * DECADES_ABOVE)
    return np.asarray([base * 10 ** (k / TRIALS_PER_DECADE) for k in range(low, high + 1)])


@dataclass
class Trial:
    """One constant-LR trial: its LR, its score (None: not finite), the steps it ran and why
    it ended (the recorder's stop reason)."""

    lr: float
    score: float | None
    steps_run: int
    stop_reason: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrialOutcome:
    """The trials of one test and what they decided."""

    grid: np.ndarray
    steps_per_trial: int
    source: str  # "validation" or "training": what each trial's score is read from
    reference: float | None  # the chance loss, else the initial loss
    trials: list[Trial] = field(default_factory=list)
    pick: float | None = None
    reason: str | None = None  # why there is no pick, or why it may lie higher

    @property
    def threshold(self) -> float | None:
        """The loss a trial must fall below to count as learning (module docstring)."""
        return None if self.reference is None else CHANCE_MARGIN * self.reference

    @property
    def tried(self) -> list[float]:
        return [trial.lr for trial in self.trials]

    def best(self) -> Trial | None:
        """The trial with the lowest finite score, None when none has one."""
        scored = [trial for trial in self.trials if trial.score is not None]
        return min(scored, key=lambda trial: trial.score) if scored else None  # type: ignore[arg-type, return-value]

    def bounds(self) -> Bounds:
        """The pick as `max_lr`, its neighbours on the grid as `min_lr` and `edge_lr`; none
        without a pick (the note says why)."""
        if self.pick is None:
            return Bounds(None, None, self.reason or "no constant-LR trial trained")
        step = 10 ** (1 / TRIALS_PER_DECADE)
        note = (
            f"constant-LR trials: {self.steps_per_trial} steps at each LR, the {self.source} loss "
            f"lowest at {self.pick:.3g}"
        )
        if self.reason is not None:
            note = f"{note}; {self.reason}"
        return Bounds(self.pick / step, self.pick, note, self.pick * step)

    @property
    def non_finite_at_start(self) -> bool:
        """Whether the first trial, at the grid's lowest LR, gave no finite loss at all."""
        return bool(self.trials) and self.trials[0].score is None and self.pick is None

    def curve_run(self) -> SweepRun:
        """The trials as one curve for the result: each scored trial's LR and its score, on
        the grid's first LRs (a trial without a score ends the climb, so the scored ones come
        first); on a validation score, the same points are the validation curve."""
        scored = [trial for trial in self.trials if trial.score is not None]
        run = SweepRun(seed=0)
        run.losses = [float(trial.score) for trial in scored]  # type: ignore[arg-type]
        run.smoothed_losses = list(run.losses)
        if self.source == "validation" and scored:
            run.val_lrs = [trial.lr for trial in scored]
            run.val_losses = list(run.losses)
        run.steps_run = sum(trial.steps_run for trial in self.trials)
        last = self.trials[-1] if self.trials else None
        if last is not None and last.stop_reason != "completed":
            run.stop_reason, run.stopped_at_lr = last.stop_reason, last.lr
        return run

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> TrialOutcome:
        """The trials as `to_dict` wrote them (the verdict can be recomputed from them)."""
        return cls(
            grid=np.asarray(document["grid"], dtype=np.float64),
            steps_per_trial=int(document["steps_per_trial"]),
            source=document["source"],
            reference=document["reference_loss"],
            trials=[Trial(**trial) for trial in document["trials"]],
            pick=document["pick"],
            reason=document["reason"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The `auto.trials` section of the result JSON."""
        return {
            "grid": [float(v) for v in self.grid],
            "steps_per_trial": self.steps_per_trial,
            "source": self.source,
            "reference_loss": self.reference,
            "threshold": self.threshold,
            "trials": [trial.to_dict() for trial in self.trials],
            "pick": self.pick,
            "reason": self.reason,
        }


def run_trials(
    session: SweepSession,
    *,
    anchor_lr: float | None,
    budget: int,
    chance: float | None,
    smoothing: float,
    divergence: float,
    steps_per_pass: int | None,
) -> TrialOutcome:
    """The constant-LR trials on `session` within `budget` steps (module docstring)."""
    lrs = trial_grid(anchor_lr)
    steps = max(MIN_TRIAL_STEPS, budget // len(lrs))
    batches = in_batches(session.validation, session.batch_size) if session.validation else None
    reference = chance
    if batches is not None and reference is None:
        reference = held_out_loss(session.model, batches)
    outcome = TrialOutcome(
        grid=lrs,
        steps_per_trial=steps,
        source="validation" if batches is not None else "training",
        reference=reference,
    )
    for index, lr in enumerate(lrs):
        run = session.sweep(
            np.full(steps, lr),
            mode=CONSTANT,
            repeat=0,
            repeats=0,
            smoothing=smoothing,
            divergence=divergence,
            score_validation=False,
            phase=f"trial {index + 1}/{len(lrs)} at lr {lr:.3g}",
            budget=steps * len(lrs),
        )
        if index == 0 and outcome.reference is None and run.losses:
            # No chance loss and no validation: the initial weights' loss on the first batch.
            outcome.reference = run.losses[0]
        score = _score(session, run, batches, steps_per_pass)
        outcome.trials.append(Trial(float(lr), score, run.steps_run, run.stop_reason))
        if index == 0 and run.stop_reason == "non_finite" and not run.losses:
            outcome.reason = not_finite_reason(np.full(steps, lr), run)
            return outcome
        if _climb_ends(outcome, run, score):
            break
    decide(outcome)
    return outcome


def _score(
    session: SweepSession,
    run: SweepRun,
    batches: list[tuple[Any, Any]] | None,
    steps_per_pass: int | None,
) -> float | None:
    """A trial's score (module docstring); None for a loss or weights that went non-finite."""
    if run.stop_reason == "non_finite" or run.non_finite_weights:
        return None
    if batches is not None:
        loss = held_out_loss(session.model, batches)
    else:
        first_pass = run.losses[: steps_per_pass or len(run.losses)]
        tail = first_pass[len(first_pass) // 2 :]
        loss = float(np.mean(tail)) if tail else math.nan
    return loss if math.isfinite(loss) else None


def _climb_ends(outcome: TrialOutcome, run: SweepRun, score: float | None) -> bool:
    """Whether higher LRs are not worth trying: this one broke, or it scored above the
    reference after an earlier trial learned."""
    if score is None or run.stop_reason == "diverged":
        return True
    best = outcome.best()
    learned = best is not None and _learned(outcome, best.score)
    return learned and outcome.reference is not None and score > outcome.reference


def _learned(outcome: TrialOutcome, score: float | None) -> bool:
    return score is not None and outcome.threshold is not None and score < outcome.threshold


def decide(outcome: TrialOutcome) -> None:
    """The pick, or why there is none; and a note when it is the highest LR of the grid."""
    best = outcome.best()
    if best is None or outcome.threshold is None or outcome.reference is None:
        outcome.reason = (
            "no constant-LR trial gave a finite loss; finder keeps the optimizer's own LR"
        )
        return
    if not _learned(outcome, best.score):
        held_out = (
            "validation_data= for a score after each trial, "
            if outcome.source == "training"
            else ""
        )
        outcome.reason = (
            f"no constant-LR trial learned: {outcome.steps_per_trial} steps at each LR from "
            f"{outcome.grid[0]:.3g} to {outcome.tried[-1]:.3g} left the {outcome.source} loss "
            f"above {outcome.threshold:.4g}, {1 - CHANCE_MARGIN:.0%} under "
            f"{outcome.reference:.4g} (the lowest {best.score:.4g}); finder keeps the "
            "optimizer's own LR. Either nothing in the inputs predicts the labels, or this "
            "model does not train with this optimizer at a constant rate (on the benchmark "
            "suite, Ftrl trained a small MLP but no CNN at any LR): try "
            f"{held_out}a larger budget= for longer trials, a linear or shallow model, or "
            "another optimizer"
        )
        return
    outcome.pick = best.lr
    if best.lr >= float(outcome.grid[-1]):
        outcome.reason = (
            f"the best trial was the highest LR tried ({best.lr:.3g}): a higher one may train "
            "better; compile the optimizer with a higher learning_rate, which the trials' grid is "
            "centred on"
        )

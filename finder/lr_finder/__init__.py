"""`finder.LearningRateFinder`: the range test as the warm-up of the user's own `model.fit`.

```python
model.fit(x, y, epochs=10, callbacks=[finder.LearningRateFinder()])
```

A Keras callback never sees the data, only the batches `fit` feeds it, and it cannot add
steps to a fit. So the test runs on the fit's first batches, as its warm-up:

```
plan   = (epochs - initial_epoch) * steps            (self.params, when the first epoch begins)
budget = budget given, else max(0.1 * plan, 100)     (finder.rangetest.auto_range.limits)
ramp   = the auto range's grid (two decades below the optimizer's own LR, as dense as the
         budget pays for), over at most min(budget, 4 passes, plan / 2) steps
         (a budget given is not held to plan / 2)
```

During the ramp the learning rate climbs the grid while the model really trains, the true
loss of every batch is recorded (`SweepRecorder`), and every tenth of a decade the training
state (weights, optimizer slots, `iterations`) is copied to host memory. When the loss
diverges (or the ramp ends), the curve is read as `finder.range_test` reads it (same bounds,
same verdict), and the fit rolls back to the last snapshot taken at or below the first
proposal's peak (1cycle at `edge_lr`). The steps up to the snapshot were real training and
are kept; only the steps past it are thrown away (`result.extra_steps`). From there the
1cycle resumes at its peak and anneals over the batches left (`finder.propose.
resume_after_ramp`): the ramp was its warm-up. The cycle counts its steps from the fit's
first batch, whatever the optimizer's step counter was then (`finder.schedules.StartingAt`).

Why the rollback is sound: a warm-up exists to bring the weights to where the peak rate is
stable (Goyal et al., 2017; Smith & Topin, 2018), and the ramp is one, geometric rather than
linear. The state at the snapshot was trained only at rates below the peak, so the proposed
cycle could have produced it. Why resume at the peak rather than keep the cycle's own linear
warm-up (30% of the run) after the ramp: on the benchmark suite (16 tasks x 3 seeds,
BENCHMARKS.md, designs `in_fit` and `in_fit_cycle`) the two are within seed noise of each other
on most tasks, and resuming at the peak met the quality targets on more of them; a ramp is
already a warm-up, and a second one spends steps below the peak.

Where the verdict reads the edge early (rule 6 of `finder.rangetest.verdict`), the 1cycle keeps
its own linear warm-up after the ramp, towards four times the edge, and `PeakClimb` watches it:
where the smoothed training loss rises a fifth above its lowest, or dies back three quarters of
the way to the chance loss, the fit rolls back to the snapshot at the rate of that lowest and
anneals from there (`finder.lr_finder.climb` says why).

When the test found no bounds, the fit rolls back to its start and trains with the optimizer's
own learning rate over the batches left, with an `UnreliableAnswerWarning` naming the reason,
as `finder.fit` does (`finder.fit` is this callback around `model.fit`). One case is known
before the ramp starts: data too small for a curve to trust (fewer than 25 batches a pass;
`finder.rangetest.auto_range.too_little_data`), whose answer is "no bounds" whatever the curve.
There the ramp climbs only to the optimizer's own LR, a warm-up to the rate the fit goes on
with, and nothing is rolled back.

What it needs: `steps_per_execution=1` and no gradient accumulation (it reads every step's
loss; `finder.fit` runs the test before the fit where they do not hold), and data of known
length (the plan is epochs x steps). During the ramp the fit's logged loss and metrics are
those of single batches; they are reset at the handover, so the first epoch's logs cover the
batches after it (an epoch that ends with the ramp logs its last batch's). Other callbacks see
the ramp's batches as ordinary training batches (an `EarlyStopping` or checkpoint callback may
act on them); list this callback before `TerminateOnNaN`, which would otherwise end the fit on
the ramp's last, rolled-back step when its loss is not finite. Callbacks that set the learning
rate themselves (`ReduceLROnPlateau`, `LearningRateScheduler`) cannot share its fit: after the
handover a schedule drives the rate, which Keras does not let them set (`finder.fit` refuses
them before anything runs).

Memory: at most `KEPT_SNAPSHOTS` host copies of the weights and optimizer slots, plus one of
the state at the start. When they fill up, every other snapshot older than the last decade is
dropped, so the last decade before the turn stays at full resolution and the rest of the ramp
at coarser and coarser spacing.
"""

from __future__ import annotations

from finder.lr_finder.callback import LearningRateFinder
from finder.lr_finder.climb import (
    PeakClimb,
    climb_after_test,
    climbing_proposal,
    climbs,
    settled,
    with_climb,
)
from finder.lr_finder.early_stop import warn_if_cut_short
from finder.lr_finder.outcome import (
    Handover,
    reinstate_own_learning_rate,
    save,
    use_schedule,
    warn_if_unreliable,
)
from finder.lr_finder.ramp import ramp_follows_every_step

__all__ = [
    "Handover",
    "LearningRateFinder",
    "PeakClimb",
    "climb_after_test",
    "climbing_proposal",
    "climbs",
    "with_climb",
    "ramp_follows_every_step",
    "reinstate_own_learning_rate",
    "save",
    "settled",
    "use_schedule",
    "warn_if_cut_short",
    "warn_if_unreliable",
]

"""The guarded climb: where the range test read its edge early, the fit's 1cycle warms up
towards a peak `CLIMB_MULTIPLE` times the edge, and stops climbing where the training loss
rises.

Why: an edge read early (the verdict's rule 6, `finder.rangetest.verdict`) was read while the
network was still near chance, where the initial curvature makes the loss spike at rates the
network takes once it has learned (the catapult phase: Lewkowycz et al., 2020). A warm-up is
what lets a run reach those rates: it brings the weights to flatter ground before the rate
is high (Goyal et al., 2017; Gilmer et al., 2022, "A loss curvature perspective on training
instability"; Kalra & Barkeshli, 2024, "Why warmup the learning rate?"): the curvature falls
as the rate rises slowly enough for the weights to follow, which a sweep of tens of steps a
decade does not give them, even one run again once the network has learned. So the test
cannot tell how high the run can go; the run's own warm-up can, if it is watched.

What: the 1cycle's linear warm-up aims at `CLIMB_MULTIPLE` times the edge (on the suite the best
1cycle peaks of these runs sat up to several times above the edge. Unguarded, of two, three and
four times the edge, three had the best mean, as four collapsed more runs
(`bench/read_early_peaks.py`); guarded, four raised the mean of most tasks where it and three
differed, and stopped the one collapse it met, while five, against four, lowered more tasks' means
than it raised, and one run that the guard stopped at five still collapsed as it annealed:
`bench/climb_targets.py`, BENCHMARKS.md). While the rate climbs, the training loss is smoothed (an
EMA over about `1 / (1 - SMOOTHING)` steps, bias-corrected). Inside the fit the climb goes on from
the ramp's rollback, at a rate near the edge, and its smoothed loss starts from the ramp's losses
up to that snapshot (`history`), so the rules watch from the climb's first step: judged from its
own steps alone, the loss is blind for two windows (about 40 steps), and at the edge a network can
fall back to chance inside them and then look as if it had never fallen (on the small CNN with
plain SGD, one run aimed at four times the edge did). Before the fit the climb starts from the
cycle's low first rate, where nothing is missed in those steps. Where the smoothed loss rises
`RISE` above its lowest value, or gives back `DEAD_RETURN` (three quarters) of its fall below the
loss it started from (the chance loss where it is known), the rate has passed what this run can
take: the climb stops, the fit rolls back to the last snapshot taken at or below the rate of that
lowest value, and the cycle anneals from that rate over the steps left, as an automatic warm-up
that ends where the loss stops improving (Kim et al., 2021, "Automated learning rate scheduler for
large-batch training"). The rollback matters: past the lowest loss the weights have already been
pushed towards where a network can collapse (on full Fashion-MNIST a 1cycle at twice the edge went
back to chance and stayed there), and annealing from the weights of the lowest loss starts from a
state the rate had not yet harmed. The climb only ever raises the peak: after a stop below the
first proposal's peak, the cycle anneals from that peak, which the run would have trained at
without the climb (a rise in a warm-up can be a transient spike that passes, and below the edge the
reading that every other run trusts stands). `RISE` sits well above the smoothed loss's
step-to-step noise in a healthy warm-up (a few percent) and well below a collapse (the loss back at
chance) of a run that has learned. A run whose edge was read early has often learned little when
the climb starts, and there a collapse back to chance is a smaller rise than `RISE`: on the small
CNN with plain SGD, one run's lowest smoothed loss sat only a little below chance when the climb
took the network back to chance for the rest of the fit, and `RISE` never saw it (BENCHMARKS.md,
which target the climb aims at). So the climb also stops where the loss gives back most of its
fall, as the range test's `DeadNetwork` rule reads a network that died
(`finder.rangetest.stop_rules`, the same three quarters). That rule asks for a fall of 30% first,
as a window of a few raw batch losses moves by 10-15% on its own; the smoothed loss moves by a few
percent, so here a fall of `MIN_FALL` (5%) below the start will do, enough to tell a loss that had
learned from one that had not yet moved (a fall within the noise gives back three quarters of
itself by chance).

The verdict after the fit: where the climb stopped above the first proposal's peak, the run
found the rate it can take by training into it, once it had learned, which is the doubt an edge
read early raises (not where the loss died back towards chance: a run that had learned that
little is the one whose limit an edge read early cannot tell); that reason is dropped from the
result's verdict (`settled`), and the verdict is "reliable" if no other reason remains. A climb
that reached its target, or stopped at or below the first proposal's peak, leaves the verdict as
it was, and its reason says where the run trained: the best peak may lie higher still, or the run
trained at the edge read early. On the benchmark suite the runs whose climb stopped above the
first peak were few, and all trained within 1% of the best schedule, while those that reached
the target missed it more often than the runs called reliable (BENCHMARKS.md, the guarded climb
and the verdict's confusion table).

Cost: the steps past the rollback snapshot are thrown away, and they count in the result's
`extra_steps` with the ramp's; the climb rolls back only as far as the test's cap (max(10% of
the plan, 100), or the budget given) still allows, and otherwise anneals from that rate
without a rollback. A cycle that also cycles momentum keeps its peak: its momentum runs on
the cycle's phases, which a stop would move. An optimizer whose edge is capped
(`finder.rangetest.calibration.PEAK_CAPS`) keeps its peak too: its cap exists because its edge
reads too high, not too low. So does an explicit range (its sweep is the user's own reading),
and a fit whose steps the guard cannot follow one by one (gradient accumulation, or
`steps_per_execution > 1`, where batch hooks fire once per execution).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import keras

from finder.host import accumulation_steps, innermost_optimizer, micro_batch_count
from finder.lr_finder.outcome import describe_climb, use_schedule
from finder.lr_finder.ramp import Snapshot
from finder.propose import Proposal
from finder.rangetest.calibration import PEAK_CAPS
from finder.rangetest.reliability import Reliability
from finder.rangetest.result import RangeTestResult
from finder.rangetest.stop_rules import DEAD_RETURN
from finder.rangetest.verdict import EARLY_EDGE
from finder.schedules import ScheduleSpec

CLIMB_MULTIPLE = 4.0
RISE = 0.2
# The least fall below the start (a share of it) that a loss dying back can give back.
MIN_FALL = 0.05
SMOOTHING = 0.95
WINDOW = 1 / (1 - SMOOTHING)  # the steps the smoothed loss spans
# Snapshots during the climb: one every plan / SNAPSHOTS_PER_PLAN steps, the last KEPT kept.
SNAPSHOTS_PER_PLAN = 40
KEPT = 12


def climbs(
    result: RangeTestResult, proposal: Proposal | None, model: keras.Model | None = None
) -> bool:
    """Whether the fit of `model` climbs past `proposal`'s peak (module docstring): the
    verdict of the auto range read the edge early, the proposal is a 1cycle that cycles no
    momentum, the edge is not capped, and each batch of `model`'s fit is one optimizer step
    whose loss Keras tracks (not checked without a model)."""
    reliability = result.reliability
    if proposal is None or reliability is None or result.bounds.edge_lr is None:
        return False
    if result.auto is None:  # an explicit range: the user's own sweep, trained as proposed
        return False
    if model is not None and (
        accumulation_steps(model.optimizer) > 1
        or getattr(model, "steps_per_execution", 1) > 1  # batch hooks once per execution
        or getattr(model, "_loss_tracker", None) is None
    ):
        return False
    early = any(reason.startswith(EARLY_EDGE) for reason in reliability.reasons)
    rule = (result.optimizer or {}).get("update_rule") or (result.optimizer or {}).get("name")
    return (
        early
        and proposal.family == "one_cycle"
        and not proposal.callbacks()
        and rule not in PEAK_CAPS
        and CLIMB_MULTIPLE * result.bounds.edge_lr > float(proposal.spec.params["max_lr"])
    )


def climbing_proposal(result: RangeTestResult, proposal: Proposal) -> Proposal:
    """`proposal` with its peak at `CLIMB_MULTIPLE` times the edge, the climb's target."""
    edge = result.bounds.edge_lr
    assert edge is not None
    params = dict(proposal.spec.params, max_lr=CLIMB_MULTIPLE * edge)
    return Proposal(
        rank=proposal.rank,
        spec=ScheduleSpec("one_cycle", params),
        rationale=(
            f"{proposal.rationale}; the edge was read early, so the warm-up climbs towards "
            f"{CLIMB_MULTIPLE:g}x the edge and stops where the training loss rises"
        ),
        rule=proposal.rule,
        plan=proposal.plan,
    )


def climb_after_test(
    result: RangeTestResult,
    proposal: Proposal | None,
    *,
    batches: int,
    model: keras.Model | None = None,
    start_step: int = 0,
) -> tuple[Proposal, PeakClimb] | None:
    """For a fit of `batches` batches after `result`'s test (`finder.fit` before the fit),
    from optimizer step `start_step`: the climbing 1cycle and its guard, which rolls back no
    further than the test's budget leaves; None where the fit trains `proposal` itself
    (`climbs`)."""
    if proposal is None or not climbs(result, proposal, model):
        return None
    climbing = climbing_proposal(result, proposal)
    budget = int((result.auto or {}).get("budget") or 0)
    signals = result.reliability.signals if result.reliability is not None else {}
    guard = PeakClimb(
        climbing,
        batches_left=batches,
        allowance=budget - (result.extra_steps or 0),
        floor=float(proposal.spec.params["max_lr"]),
        start_step=start_step,
        chance=signals.get("chance_loss"),
    )
    return climbing, guard


class PeakClimb(keras.callbacks.Callback):
    """Watches the warm-up of the 1cycle the optimizer runs (`proposal`, installed) and stops
    it where the training loss rises (module docstring).

    Args:
        proposal: the climbing 1cycle the optimizer runs (`climbing_proposal`).
        batches_left: int. The fit's batches from the first one this callback sees.
        allowance: int. Most steps a rollback may throw away.
        floor: float. The lowest rate the cycle anneals from after a stop: the first
            proposal's peak, which the run would have trained at without the climb.
        start_step: int. The optimizer step the fit, and the cycle, start at. Defaults to
            `0`.
        chance: float or None. The chance loss of the labels, the level a collapse returns
            to; None (unknown): the smoothed loss of the first steps watched. Defaults to
            `None`.
        history: sequence of float. The training losses of the steps that led to the climb's
            first one, oldest first: inside the fit, the ramp's up to the rollback. The
            smoothed loss starts from them, so the rules watch from the climb's first step.
            Defaults to none.

    Attributes:
        outcome: dict or None; once the warm-up ended or stopped: `target_lr`, `reached`,
            `peak_lr` (the highest rate trained at before the anneal), `stopped_at_step`,
            `rollback_step`, `discarded_steps`, `stop_rule` (`"rise"`, `"died_back"`,
            `"not_finite"`, or None) and `found_peak` (stopped above `floor`, not by a loss
            that died back).
    """

    def __init__(
        self,
        proposal: Proposal,
        *,
        batches_left: int,
        allowance: int,
        floor: float,
        start_step: int = 0,
        chance: float | None = None,
        history: Sequence[float] = (),
    ) -> None:
        super().__init__()
        self.floor = floor
        self._start_level = chance
        self.start_step = start_step
        self._proposal = proposal
        self._cycle = dict(proposal.spec.params)
        total = int(self._cycle["total_steps"])
        self.warm_end = math.floor(float(self._cycle.get("pct_start", 0.3)) * total)
        self.batches_left = batches_left
        self.allowance = max(0, allowance)
        self.every = max(1, (total // SNAPSHOTS_PER_PLAN))
        self.outcome: dict[str, Any] | None = None
        self._snapshots: list[tuple[Snapshot, float]] = []  # each with the rate of its step
        self._seen = 0
        self._average = 0.0
        self._lowest = math.inf
        self._lowest_lr: float | None = None
        self._last = (0.0, 0.0)
        for loss in history:
            if math.isfinite(loss):
                self._smooth(loss, None)  # a lowest before the climb: its first snapshot's rate

    def _smooth(self, loss: float, lr: float | None) -> float:
        """Fold `loss`, trained at `lr`, into the smoothed loss (inf if `loss` is not finite),
        and note the start level and the lowest value once a window of steps is in."""
        self._seen += 1
        finite = math.isfinite(loss)
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * (loss if finite else 0.0)
        smoothed = self._average / (1 - SMOOTHING**self._seen) if finite else math.inf
        if self._seen >= WINDOW and self._start_level is None:
            self._start_level = smoothed  # no chance loss: where the watch started
        if self._seen >= WINDOW and smoothed < self._lowest:
            self._lowest, self._lowest_lr = smoothed, lr
        return smoothed

    def _step(self) -> int:
        """The cycle's step: the optimizer's, counted from the fit's first."""
        return micro_batch_count(self.model.optimizer) - self.start_step

    def _lr(self) -> float:
        rate = innermost_optimizer(self.model.optimizer).learning_rate
        return float(keras.ops.convert_to_numpy(rate))

    def _batch_loss(self) -> float:
        """The last batch's loss, from the running mean Keras keeps (`total` and `count`)."""
        tracker = self.model._loss_tracker
        total = float(keras.ops.convert_to_numpy(tracker.total))
        count = float(keras.ops.convert_to_numpy(tracker.count))
        before_total, before_count = self._last
        self._last = (total, count)
        if count > before_count:
            return (total - before_total) / (count - before_count)
        return total / count if 0 < count < before_count else math.nan  # reset, or not tracked

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._last = (0.0, 0.0)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.outcome is not None:
            return
        step = self._step()
        if step % self.every == 0 or not self._snapshots:
            self._snapshots.append((Snapshot.take(self.model, step), self._lr()))
            self._snapshots = self._snapshots[-KEPT:]

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.batches_left -= 1
        if self.outcome is not None:  # the rest of the fit: nothing to watch
            return
        loss = self._batch_loss()
        step = self._step()
        if step >= self.warm_end:
            self._end(reached=True, step=step)
            return
        if math.isnan(loss) and not math.isnan(self._last[0]):
            return  # a step whose loss Keras did not track (its running total is finite)
        smoothed = self._smooth(loss, self._lr())
        if not math.isfinite(loss):
            self._stop(step, rule="not_finite")
        elif self._seen > 2 * WINDOW and smoothed > (1 + RISE) * self._lowest:
            self._stop(step, rule="rise")
        elif self._seen > 2 * WINDOW and self._died_back(smoothed):
            self._stop(step, rule="died_back")

    def _died_back(self, smoothed: float) -> bool:
        """Whether the smoothed loss went back `DEAD_RETURN` of the way from its lowest to the
        level it started from (module docstring)."""
        start = self._start_level
        if start is None or start - self._lowest <= MIN_FALL * abs(start):
            return False  # a fall within the noise: nothing learned to give back
        return smoothed >= self._lowest + DEAD_RETURN * (start - self._lowest)

    def _end(self, *, reached: bool, step: int, **more: Any) -> None:
        peak = float(self._cycle["max_lr"]) if reached else float(more["peak_lr"])
        self.outcome = {
            "target_lr": float(self._cycle["max_lr"]),
            "reached": reached,
            "peak_lr": peak,
            "stopped_at_step": None if reached else step,
            "rollback_step": more.get("rollback_step"),
            "discarded_steps": more.get("discarded_steps", 0),
            # What stopped it: "rise", "died_back" or "not_finite"; None when it did not stop.
            "stop_rule": more.get("rule"),
            # Stopped by a rise above the first proposal's peak: the run found its own limit.
            # A network that died back towards chance had not learned enough for that.
            "found_peak": more.get("rule") in ("rise", "not_finite") and peak > self.floor,
        }
        self._snapshots = []

    def _stop(self, step: int, rule: str) -> None:
        """Roll back to the last snapshot at or below the rate of the lowest smoothed loss that
        the allowance reaches, and anneal from that rate, or from `floor` if higher, over the
        batches left."""
        limit = self._lowest_lr if self._lowest_lr is not None else self._snapshots[0][1]
        chosen = None
        for snapshot, lr in self._snapshots:
            if lr <= limit and step - snapshot.step <= self.allowance:
                chosen = snapshot, lr
        model = self.model
        if chosen is not None:
            chosen[0].restore(model)
            start, peak = chosen[0].step, chosen[1]
        else:
            start, peak = step, limit
        peak = max(peak, self.floor)
        total = start + max(1, self.batches_left)
        # The cycle anneals from `start` (its warm-up would end there; it needs one > 0).
        pct_start = max(start / total, 1e-9)
        params = dict(self._cycle, max_lr=peak, total_steps=total, pct_start=pct_start)
        use_schedule(
            model,
            dataclasses.replace(self._proposal, spec=ScheduleSpec("one_cycle", params)),
            self.start_step,
        )
        self._end(
            reached=False,
            step=step,
            rule=rule,
            peak_lr=peak,
            rollback_step=None if chosen is None else start,
            discarded_steps=step - start,
        )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.outcome is None:  # the fit ended during the warm-up
            self._end(reached=False, step=self._step(), peak_lr=self._lr())


def settled(reliability: Reliability, outcome: dict[str, Any] | None) -> Reliability:
    """`reliability` once the climb is over: where it found the run's peak above the first
    proposal's (`outcome["found_peak"]`), an edge read early is no longer a reason, since the
    peak the run trained at was read from the run itself once it had learned (module
    docstring); "reliable" if no other reason remains. Otherwise the reason stays, and says
    what the climb did, so that its advice (a run at a higher peak) is read against the peak
    the run already trained at."""
    if outcome is None:
        return reliability
    if not outcome.get("found_peak"):
        note = _what_the_climb_did(outcome)
        return dataclasses.replace(
            reliability,
            reasons=[
                f"{reason}; {note}" if reason.startswith(EARLY_EDGE) else reason
                for reason in reliability.reasons
            ],
        )
    reasons = [reason for reason in reliability.reasons if not reason.startswith(EARLY_EDGE)]
    return dataclasses.replace(
        reliability,
        verdict="unreliable" if reasons else "reliable",
        reasons=reasons,
        signals={**reliability.signals, "climb_found_peak": True},
    )


# How the clause `settled` adds to an edge read early begins: the reason up to it is the one the
# warning at the handover named.
INSIDE_THE_FIT = "inside the fit, "


def _what_the_climb_did(outcome: dict[str, Any]) -> str:
    """One clause on a climb that found no peak above the first proposal's: where the run's
    peak ended up."""
    clause = f"{INSIDE_THE_FIT}{describe_climb(outcome)}"
    return f"{clause}: the best peak may lie higher still" if outcome["reached"] else clause


def with_climb(result: RangeTestResult, climb: PeakClimb) -> RangeTestResult:
    """`result` with what the climb did (`auto["climb"]`, its `outcome`), the steps a rollback
    threw away added to `extra_steps`, and the verdict `settled`."""
    outcome = climb.outcome
    if outcome is None:
        return result
    return dataclasses.replace(
        result,
        extra_steps=(result.extra_steps or 0) + int(outcome["discarded_steps"]),
        auto={**(result.auto or {}), "climb": dict(outcome)},
        reliability=(
            settled(result.reliability, outcome) if result.reliability is not None else None
        ),
    )

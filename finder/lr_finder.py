"""`LearningRateFinder`: the range test as the warm-up of the user's own `model.fit`.

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
are kept; only the steps past it are thrown away (`result.extra_steps`). From there the run
follows the 1cycle (`finder.propose.resume_after_ramp`): a cycle over the whole run, the ramp
standing in for its first steps, so it goes on along the cycle's own warm-up (or, after a ramp
longer than that warm-up, from its peak) and anneals to the end of the fit.

Why the rollback is sound: a warm-up exists to bring the weights to where the peak rate is
stable (Goyal et al., 2017; Smith & Topin, 2018), and the ramp is one, geometric rather than
linear. The state at the snapshot was trained only at rates below the peak, so the proposed
cycle could have produced it. The cycle keeps its validated shape (`pct_start` 0.3) rather than
resuming at its peak after a short ramp: on the benchmark suite, resuming at the peak after a
ramp of 3% of the run left plain SGD on Fashion-MNIST 1-2% below the proposal trained from the
start, while the other tasks were within noise (BENCHMARKS.md, designs `in_fit_peak` and
`in_fit`).

When the test found no bounds, the fit rolls back to its start and trains with the optimizer's
own learning rate over the batches left, with an `UnreliableAnswerWarning` naming the reason,
as `finder.fit` does (`finder.fit` is this callback around `model.fit`). One case is known
before the ramp starts: data too small for a curve to trust (fewer than 25 batches a pass;
`finder.rangetest.auto_range.too_little_data`), whose answer is "no bounds" whatever the curve.
There the ramp climbs only to the optimizer's own LR, a warm-up to the rate the fit goes on
with, and nothing is rolled back.

What it needs: `steps_per_execution=1` and no gradient accumulation (it reads every step's
loss), and data of known length (the plan is epochs x steps). During the ramp the fit's
logged loss and metrics are those of single batches; they are reset at the handover, so the
first epoch's logs cover the batches after it (an epoch that ends with the ramp logs its last
batch's). Other callbacks see the ramp's batches as
ordinary training batches (an `EarlyStopping` or checkpoint callback may act on them); list
this callback before `TerminateOnNaN`, which would otherwise end the fit on the ramp's last,
rolled-back step when its loss is not finite.

Memory: at most `KEPT_SNAPSHOTS` host copies of the weights and optimizer slots, plus one of
the state at the start. When they fill up, every other snapshot older than the last decade is
dropped, so the last decade before the turn stays at full resolution and the rest of the ramp
at coarser and coarser spacing.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from finder.defaults import BATCH_SIZE, DIVERGENCE, SMOOTHING
from finder.errors import InvalidArgumentError, UnreliableAnswerWarning
from finder.plot import plot_range_test
from finder.propose import Proposal, attach_proposals, resume_after_ramp
from finder.rangetest import batches as batch_sources
from finder.rangetest.auto_range import (
    ANCHOR_DECADES_BELOW,
    CEILING_LR,
    AutoOutcome,
    anchor_start,
    dead_window,
    density,
    grid,
    judge_first_sweep,
    limits,
    stop_smoothing,
    sweep_edge,
    too_little_data,
)
from finder.rangetest.calibration import span_decades
from finder.rangetest.checks import validate_options
from finder.rangetest.model_state import (
    ModelState,
    host_copies,
    initial_learning_rate,
    innermost_optimizer,
    install_learning_rate,
    install_train_step,
    micro_batch_count,
    require_compiled,
    skips_steps,
)
from finder.rangetest.recorder import (
    SweepProgress,
    SweepRecorder,
    SweepRun,
    resets_in_step,
    resetting_train_step,
)
from finder.rangetest.result import RangeTestResult
from finder.rangetest.run import (
    VALIDATION_POINTS,
    assemble_result,
    conclude,
    describe_model,
    describe_optimizer,
)
from finder.rangetest.sweep import SweepSchedule
from finder.suggest import SuggestionRule, named_rules

# The ramp may take at most this share of the fit: the rest is the run it prepares.
MAX_PLAN_SHARE = 0.5
# Snapshots per decade of the ramp, and how many are kept (module docstring): the ramp stops
# when the smoothed loss has risen 4x, on Fashion-MNIST with plain SGD a decade past the turn,
# and the peak (`edge_lr`) sits below the turn.
SNAPSHOTS_PER_DECADE = 10
KEPT_SNAPSHOTS = 24


@dataclass
class _Snapshot:
    """The training state after `step` steps of the ramp (the last at `lrs[step - 1]`)."""

    step: int
    model_values: list[np.ndarray]
    optimizer_values: list[np.ndarray]

    @classmethod
    def take(cls, model: keras.Model, step: int) -> _Snapshot:
        return cls(step, host_copies(model.variables), host_copies(model.optimizer.variables))

    def restore(self, model: keras.Model) -> None:
        for variable, value in zip(model.variables, self.model_values, strict=True):
            variable.assign(value)
        for variable, value in zip(model.optimizer.variables, self.optimizer_values, strict=True):
            variable.assign(value)


@dataclass(frozen=True)
class Handover:
    """Where the ramp handed the fit over to the proposal."""

    ramp_steps: int
    rollback_step: int
    remaining_steps: int
    peak_lr: float | None

    @property
    def discarded_steps(self) -> int:
        """The ramp's steps past the rollback snapshot: the test's cost to the run."""
        return self.ramp_steps - self.rollback_step

    def to_dict(self) -> dict[str, Any]:
        return {
            "ramp_steps": self.ramp_steps,
            "rollback_step": self.rollback_step,
            "discarded_steps": self.discarded_steps,
            "remaining_steps": self.remaining_steps,
            "peak_lr": self.peak_lr,
        }


class LearningRateFinder(keras.callbacks.Callback):
    """Runs the range test as the warm-up of this `fit` and trains on with finder's proposal.

    ```python
    lr_finder = finder.LearningRateFinder()
    model.fit(x, y, epochs=10, validation_split=0.1, callbacks=[lr_finder])
    lr_finder.result.bounds, lr_finder.proposal.spec
    ```

    The module docstring says what happens step by step.

    Args:
        budget: int or None. Most steps the ramp may take; None gives a tenth of the fit's
            steps (at least 100), never more than half of them; a budget given may take all
            but the fit's last step. Defaults to `None`.
        validation_data: (x_val, y_val), a `tf.data.Dataset`, a `PyDataset` or None. A subset
            (`validation_samples`) is scored about 20 times during the ramp; the verdict reads
            it. Defaults to `None` (the verdict reads the first pass's losses instead).
        validation_samples: int. Size of that subset. Defaults to `512`.
        smoothing: float. EMA coefficient of the stop rule, in [0, 1). Defaults to `0.98`.
        divergence: float. The ramp stops when the smoothed loss exceeds this multiple of its
            minimum; > 1. Defaults to `4.0`.
        chance_loss: float or None. The loss of a model that ignores its inputs
            (`finder.rangetest.verdict.chance_loss` of the labels); with it the verdict checks
            that the model learns more than the labels' frequencies. `finder.fit` passes it.
            Defaults to `None`.
        save_dir: str, Path or None. Where to write `result.json`, `curve.png` and
            `proposal.json` (the schedule trained with) at the handover. Defaults to `None`.
        verbose: int. 1 prints one line at the handover. Defaults to `1`.
        progress: callable or None. Called with a `SweepProgress` after each ramp step.
        suggestion_rules: your own suggestion rules, as `finder.range_test` takes them.

    Attributes:
        result: the `RangeTestResult` (with all proposals for the fit's plan), after the
            handover; None before.
        proposal: the `Proposal` the fit trains with after the handover (the first proposal,
            resumed at its peak), None when the test found no bounds.
        handover: `Handover` (ramp steps, rollback step, steps discarded and left).

    Warns:
        UnreliableAnswerWarning: the verdict is "unreliable", or there are no bounds and the
            fit goes on with the optimizer's own learning rate.

    Raises:
        InvalidArgumentError: a bad argument; a fit with `steps_per_execution > 1`, gradient
            accumulation, or data of unknown length (pass `steps_per_epoch`).
        ModelError: the model is not compiled.
    """

    def __init__(
        self,
        *,
        budget: int | None = None,
        validation_data: Any = None,
        validation_samples: int = 512,
        smoothing: float = SMOOTHING,
        divergence: float = DIVERGENCE,
        chance_loss: float | None = None,
        save_dir: str | Path | None = None,
        verbose: int = 1,
        progress: Callable[[SweepProgress], None] | None = None,
        suggestion_rules: Sequence[SuggestionRule] | Mapping[str, SuggestionRule] | None = None,
    ) -> None:
        super().__init__()
        self.rules = named_rules(suggestion_rules)
        validate_options(smoothing, divergence, 1, None, validation_samples)
        limits(budget, None, None)  # checks `budget`
        self.budget = budget
        self.validation_data = validation_data
        self.validation_samples = validation_samples
        self.smoothing = smoothing
        self.divergence = divergence
        self.chance_loss = chance_loss
        self.save_dir = None if save_dir is None else Path(save_dir)
        self.verbose = verbose
        self.progress = progress
        self.result: RangeTestResult | None = None
        self.proposal: Proposal | None = None
        self.handover: Handover | None = None
        self._ramp: _Ramp | None = None
        self._after: list[keras.callbacks.Callback] = []
        self._started = False

    # The 1cycle keeps its own warm-up after the ramp (`resume_after_ramp`); the benchmark's
    # design `in_fit_peak` turns it off.
    keep_warmup = True

    # The ramp starts when the first epoch begins: only then is `initial_epoch` known.
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._started = False
        self._ramp = None
        self._after = []

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._started:
            self._started = True
            self._ramp = _Ramp.start(self, epoch)
        for callback in self._after:
            callback.on_epoch_begin(epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._ramp is not None:
            self._ramp.before_step(batch, logs)
            return
        for callback in self._after:
            callback.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        ramp = self._ramp
        if ramp is not None:
            ramp.after_step(batch, logs)
            if ramp.recorder.finished:
                if logs is not None and not math.isfinite(float(logs.get("loss", 0.0))):
                    # The step is rolled back: its non-finite loss must not end the fit
                    # (`TerminateOnNaN` listed after this callback reads the same logs).
                    logs.pop("loss")
                self._hand_over(ramp, epoch_ends=batch + 1 >= ramp.steps_per_epoch)
            return
        for callback in self._after:
            callback.on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for callback in self._after:
            callback.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._ramp is not None:  # the fit ended before the ramp did
            self._hand_over(self._ramp, epoch_ends=True)
        for callback in self._after:
            callback.on_train_end(logs)

    def _hand_over(self, ramp: _Ramp, *, epoch_ends: bool) -> None:
        """Read the ramp's curve, roll back, and go on with the proposal (module docstring).
        The metrics restart with the batches after the ramp; an epoch that ends with the ramp
        logs its last batch's loss and metrics (not empty means, which Keras reports as 0)."""
        self._ramp = None
        model = self.model
        result = ramp.conclude()
        remaining = ramp.plan - ramp.batches
        first = Proposal.from_dict(result.proposals[0]) if result.proposals else None
        peak = float(first.spec.params["max_lr"]) if first is not None else None
        snapshot: _Snapshot | None = None
        if ramp.warmup_only and ramp.run.stop_reason == "completed":
            snapshot = _Snapshot.take(model, ramp.run.steps_run)  # a warm-up: keep it all
        elif first is not None and remaining > 0:
            snapshot = ramp.rollback_snapshot(peak)
        last_metrics = host_copies(model.metrics_variables) if epoch_ends else None
        ramp.state.restore(model)  # the user's LR object, train step and start values
        warmed_up = 0
        if snapshot is not None:
            snapshot.restore(model)
            warmed_up = snapshot.step
        self.proposal = (
            resume_after_ramp(
                first, warmed_up=warmed_up, remaining=remaining, keep_warmup=self.keep_warmup
            )
            if first is not None and remaining > 0
            else None
        )
        if self.proposal is not None:
            innermost_optimizer(model.optimizer).learning_rate = self.proposal.to_keras()
        model.make_train_function(force=True)
        if last_metrics is None:
            model.reset_metrics()
        else:  # the epoch's logs: its last batch's, not empty means
            for variable, value in zip(model.metrics_variables, last_metrics, strict=False):
                variable.assign(value)
        self.handover = Handover(ramp.batches, warmed_up, remaining, peak)
        result.extra_steps = self.handover.discarded_steps
        result.auto = {**(result.auto or {}), "handover": self.handover.to_dict()}
        self.result = result
        self._after = self.proposal.callbacks() if self.proposal is not None else []
        for callback in self._after:
            callback.set_model(model)
            callback.set_params(self.params)
            callback.on_train_begin()
        warn_if_unreliable(result, model, "finder.LearningRateFinder")
        if self.save_dir is not None:
            save(result, self.proposal, self.save_dir)
        if self.verbose:
            print(describe_handover(result, self.handover, self.proposal))


class _Ramp:
    """The range test while it runs inside the fit: the grid, the recorder, the snapshots."""

    def __init__(
        self,
        owner: LearningRateFinder,
        *,
        plan: int,
        steps_per_epoch: int,
        epochs: int,
        lrs: np.ndarray,
        steps: int,
        outcome: AutoOutcome,
        per_decade: float,
        span: float,
        update_rule: str,
        warmup_only: bool = False,
    ) -> None:
        model = owner.model
        self.warmup_only = warmup_only
        self.owner = owner
        self.plan = plan
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.lrs = lrs
        self.outcome = outcome
        self.per_decade = per_decade
        self.span = span
        self.update_rule = update_rule
        self.state = ModelState.capture(model)
        self.started = time.perf_counter()
        self.batches = 0
        self.every = max(1, round(per_decade / SNAPSHOTS_PER_DECADE))
        self.snapshots: list[_Snapshot] = []
        validation = (
            batch_sources.take_samples(owner.validation_data, owner.validation_samples)
            if owner.validation_data is not None
            else None
        )
        in_step_reset = resets_in_step(1)
        self.run = SweepRun(seed=0)
        self.recorder = SweepRecorder(
            lrs[:steps],
            self.run,
            smoothing=stop_smoothing(owner.smoothing, per_decade),
            divergence=owner.divergence,
            validation=validation,
            validation_every=max(1, round(steps / VALIDATION_POINTS)),
            validation_batch_size=BATCH_SIZE,
            progress=owner.progress,
            repeats=0,
            reset_metrics=not in_step_reset,
            dead_window=dead_window(lrs),
            budget=steps,
            iteration_counter=(
                (lambda m: micro_batch_count(m.optimizer)) if skips_steps(model.optimizer) else None
            ),
            stop_fit=False,
        )
        install_learning_rate(
            model,
            SweepSchedule(lrs[0], lrs[-1], len(lrs), "exp", micro_batch_count(model.optimizer)),
        )
        if in_step_reset:
            install_train_step(model, resetting_train_step(model, model.train_step))
        model.make_train_function(force=True)
        self.recorder.set_model(model)
        self.recorder.on_train_begin()

    @classmethod
    def start(cls, owner: LearningRateFinder, initial_epoch: int) -> _Ramp:
        """Size the ramp from the fit's plan and install it (module docstring)."""
        model = require_compiled(owner.model)
        _check_fit(model, owner.params)
        steps_per_epoch = int(owner.params["steps"])
        epochs = int(owner.params["epochs"]) - initial_epoch
        plan = epochs * steps_per_epoch
        optimizer = innermost_optimizer(model.optimizer)
        update_rule = type(optimizer).__name__
        anchor = initial_learning_rate(model.optimizer)
        span = span_decades(update_rule)
        limit = limits(owner.budget, plan, steps_per_epoch)
        start = anchor_start(anchor)
        per_decade = density(limit, None, start, CEILING_LR, span=span)
        lrs = grid(start, CEILING_LR, per_decade)
        cap = limit.sweep_cap if limit.sweep_cap is not None else limit.budget
        # A budget given is taken as given, up to the fit's last step but one.
        share = math.floor(MAX_PLAN_SHARE * plan) if owner.budget is None else plan - 1
        steps = max(2, min(limit.budget, cap, len(lrs), share))
        warmup_only = too_little_data(limit, None, per_decade, start, CEILING_LR, span) is not None
        if warmup_only:
            # "No bounds" whatever the curve: climb only to the LR the fit goes on with.
            steps = max(2, min(steps, int(np.searchsorted(lrs, lrs[0] * 10**ANCHOR_DECADES_BELOW))))
        outcome = AutoOutcome(lrs, [], [], limit, anchor_lr=anchor)
        return cls(
            owner,
            plan=plan,
            steps_per_epoch=steps_per_epoch,
            epochs=epochs,
            lrs=lrs,
            steps=steps,
            outcome=outcome,
            per_decade=per_decade,
            span=span,
            update_rule=update_rule,
            warmup_only=warmup_only,
        )

    def before_step(self, batch: int, logs: dict[str, Any] | None) -> None:
        step = self.run.steps_run
        if step % self.every == 0 and (not self.snapshots or self.snapshots[-1].step != step):
            self.snapshots.append(_Snapshot.take(self.owner.model, step))
            if len(self.snapshots) > KEPT_SNAPSHOTS:
                self.snapshots = thin(self.snapshots, keep_last=SNAPSHOTS_PER_DECADE)
        self.recorder.on_train_batch_begin(batch, logs)

    def after_step(self, batch: int, logs: dict[str, Any] | None) -> None:
        self.batches += 1
        self.recorder.on_train_batch_end(batch, logs)

    def rollback_snapshot(self, peak: float | None) -> _Snapshot | None:
        """The last snapshot whose steps all ran at or below `peak`; None: the start."""
        chosen = None
        for snapshot in self.snapshots:
            if snapshot.step > 0 and (peak is None or self.lrs[snapshot.step - 1] <= peak):
                chosen = snapshot
        return chosen

    def conclude(self) -> RangeTestResult:
        """The result, read as `finder.range_test` reads a single auto sweep."""
        model = self.owner.model
        run, outcome, lrs = self.run, self.outcome, self.lrs
        outcome.runs.append(run)
        outcome.edges.append(sweep_edge(lrs, run))
        if not judge_first_sweep(
            outcome,
            run,
            num_steps=None,
            per_decade=self.per_decade,
            start_lr=float(lrs[0]),
            ceiling_lr=CEILING_LR,
            span=self.span,
        ):
            outcome.stop = "budget"
        wall_time = time.perf_counter() - self.started
        result = assemble_result(
            lrs=lrs,
            runs=[run],
            steps_run=run.steps_run,
            wall_time=wall_time,
            optimizer=describe_optimizer(model.optimizer),
            model=describe_model(model),
            data={
                "kind": "model.fit",
                "epochs": self.epochs,
                "steps_per_epoch": self.steps_per_epoch,
            },
            config={
                "min_lr": "auto",
                "max_lr": "auto",
                "num_steps": "auto",
                "mode": "exp",
                "smoothing": self.owner.smoothing,
                "divergence": self.owner.divergence,
                "repeats": 1,
                "seed": 0,
                "budget": self.owner.budget,
                "plan_steps": self.plan,
                "in_fit": True,
            },
            metadata={},
            rules=self.owner.rules,
        )
        result.skipped_steps = run.skipped_steps
        conclude(
            result,
            lrs,
            [run],
            outcome,
            update_rule=self.update_rule,
            anchor=outcome.anchor_lr,
            chance=self.owner.chance_loss,
            steps_per_pass=self.steps_per_epoch,
        )
        attach_proposals(result, epochs=self.epochs, steps_per_epoch=self.steps_per_epoch)
        return result


def thin(snapshots: list[_Snapshot], *, keep_last: int) -> list[_Snapshot]:
    """Every other snapshot of those before the last `keep_last` (the newest of them kept),
    then the last `keep_last` (module docstring)."""
    older, newest = snapshots[:-keep_last], snapshots[-keep_last:]
    return [*older[::-1][::2][::-1], *newest]


def _check_fit(model: keras.Model, params: dict[str, Any]) -> None:
    if params.get("steps") is None:
        raise InvalidArgumentError(
            "LearningRateFinder sizes the range test from the fit's plan, and this fit's data "
            "has no known length: pass steps_per_epoch= to fit."
        )
    if getattr(model, "steps_per_execution", 1) > 1:
        raise InvalidArgumentError(
            "LearningRateFinder reads the loss of every step: compile with "
            f"steps_per_execution=1. Received: steps_per_execution={model.steps_per_execution}"
        )
    if innermost_optimizer(model.optimizer).gradient_accumulation_steps:
        raise InvalidArgumentError(
            "LearningRateFinder cannot ramp over micro-batches: use finder.range_test with "
            "gradient accumulation."
        )


def warn_if_unreliable(result: RangeTestResult, model: keras.Model, caller: str) -> None:
    """Warn (`UnreliableAnswerWarning`) when the model trains on an answer the test calls
    unreliable, or, with no bounds, on the optimizer's own learning rate."""
    reliability = result.reliability
    if reliability is None or reliability.reliable:
        return
    reasons = "; ".join(reliability.reasons)
    if result.bounds.max_lr is None:
        rate = initial_learning_rate(model.optimizer)
        message = (
            f"{caller}: the range test found no bounds, so the model trains with the "
            f"optimizer's own learning rate ({rate:.3g}) as compiled: {reasons}"
            if rate is not None
            else f"{caller}: the range test found no bounds; the optimizer is unchanged: " + reasons
        )
    else:
        message = f"{caller}: training on an unreliable range test: {reasons}"
    warnings.warn(message, UnreliableAnswerWarning, stacklevel=4)


def describe_handover(
    result: RangeTestResult, handover: Handover, proposal: Proposal | None
) -> str:
    """One line on what the ramp found and how the fit goes on."""
    verdict = result.reliability.verdict if result.reliability is not None else "?"
    head = f"finder: range test over the first {handover.ramp_steps} steps ({verdict})"
    if proposal is None:
        return (
            f"{head}: no bounds ({result.bounds.note}); training on with the optimizer's own "
            f"learning rate, {handover.remaining_steps} steps left"
        )
    return (
        f"{head}: 1cycle peaking at {handover.peak_lr:.3g}, resumed from step "
        f"{handover.rollback_step} ({handover.discarded_steps} steps discarded), "
        f"{handover.remaining_steps} steps left"
    )


def save(result: RangeTestResult, proposal: Proposal | None, directory: Path) -> list[Path]:
    """Write `result.json`, `curve.png` and `proposal.json` (when there is one) into
    `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [result.save(directory / "result.json"), directory / "curve.png"]
    plot_range_test(result, path=paths[1])
    if proposal is not None:
        paths.append(directory / "proposal.json")
        paths[2].write_text(json.dumps(proposal.to_dict(), indent=2))
    return paths

"""The ramp: the range test while it runs inside the fit (the grid, the recorder, the
snapshots of the training state), and what it needs from the fit."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import keras
import numpy as np

from finder.defaults import BATCH_SIZE
from finder.errors import InvalidArgumentError
from finder.host import accumulation_steps, micro_batch_count
from finder.host import update_rule as update_rule_of
from finder.propose import Plan
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
from finder.rangetest.calibration import schedule_free_reason, span_decades
from finder.rangetest.model_state import (
    ModelState,
    assign_weights,
    host_copies,
    initial_learning_rate,
    install_learning_rate,
    install_train_step,
    require_compiled,
    skips_steps,
)
from finder.rangetest.progress import SweepProgress
from finder.rangetest.recorder import (
    SweepRecorder,
    SweepRun,
    resets_in_step,
    resetting_train_step,
)
from finder.rangetest.result import RangeTestResult
from finder.rangetest.run import (
    VALIDATION_POINTS,
    Reading,
    Sweeps,
    assemble_result,
    describe_model,
    describe_optimizer,
)
from finder.rangetest.sweep import SweepSchedule
from finder.suggest import SuggestionRule


class RampOwner(Protocol):
    """What the ramp reads from the callback that runs it (`LearningRateFinder`)."""

    model: keras.Model
    params: dict[str, Any]
    budget: int | None
    validation_data: Any
    validation_samples: int
    smoothing: float
    divergence: float
    progress: Callable[[SweepProgress], None] | None
    rules: Mapping[str, SuggestionRule]
    chance_loss: float | None


# The ramp may take at most this share of the fit: the rest is the run it prepares.
MAX_PLAN_SHARE = 0.5
# Snapshots per decade of the ramp, and how many are kept (module docstring): the ramp stops
# when the smoothed loss has risen 4x, on Fashion-MNIST with plain SGD a decade past the turn,
# and the peak (`edge_lr`) sits below the turn.
SNAPSHOTS_PER_DECADE = 10
KEPT_SNAPSHOTS = 24


@dataclass
class Snapshot:
    """The training state after `step` steps of the ramp (the last at `lrs[step - 1]`)."""

    step: int
    model_values: list[np.ndarray]
    optimizer_values: list[np.ndarray]

    @classmethod
    def take(cls, model: keras.Model, step: int) -> Snapshot:
        return cls(step, host_copies(model.variables), host_copies(model.optimizer.variables))

    def restore(self, model: keras.Model) -> None:
        assign_weights(model, self.model_values, self.optimizer_values)


class Ramp:
    """The range test while it runs inside the fit: the grid, the recorder, the snapshots."""

    def __init__(
        self,
        owner: RampOwner,
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
        self.snapshots: list[Snapshot] = []
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
    def start(cls, owner: RampOwner, initial_epoch: int) -> Ramp:
        """Size the ramp from the fit's plan and install it (module docstring)."""
        model = require_compiled(owner.model)
        check_fit(model, owner.params)
        steps_per_epoch = int(owner.params["steps"])
        epochs = int(owner.params["epochs"]) - initial_epoch
        plan = epochs * steps_per_epoch
        update_rule = update_rule_of(model.optimizer)
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
        schedule_free = schedule_free_reason(update_rule)
        too_little = too_little_data(limit, None, per_decade, start, CEILING_LR, span)
        warmup_only = too_little is not None or schedule_free is not None
        if warmup_only:
            # "No bounds" whatever the curve: climb only to the LR the fit goes on with.
            steps = max(2, min(steps, int(np.searchsorted(lrs, lrs[0] * 10**ANCHOR_DECADES_BELOW))))
        outcome = AutoOutcome(lrs, [], [], limit, anchor_lr=anchor, schedule_free=schedule_free)
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
            self.snapshots.append(Snapshot.take(self.owner.model, step))
            if len(self.snapshots) > KEPT_SNAPSHOTS:
                self.snapshots = thin(self.snapshots, keep_last=SNAPSHOTS_PER_DECADE)
        self.recorder.on_train_batch_begin(batch, logs)

    def after_step(self, batch: int, logs: dict[str, Any] | None) -> None:
        self.batches += 1
        self.recorder.on_train_batch_end(batch, logs)

    def rollback_snapshot(self, peak: float | None) -> Snapshot | None:
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
        return assemble_result(
            Sweeps(lrs, [run], outcome, steps_run=run.steps_run, wall_time=wall_time),
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
            reading=Reading(
                update_rule=self.update_rule,
                anchor=outcome.anchor_lr,
                chance=self.owner.chance_loss,
                steps_per_pass=self.steps_per_epoch,
            ),
            plan=Plan(self.epochs, self.steps_per_epoch),
            skipped_steps=run.skipped_steps,
        )


def thin(snapshots: list[Snapshot], *, keep_last: int) -> list[Snapshot]:
    """Every other snapshot of those before the last `keep_last` (the newest of them kept),
    then the last `keep_last` (module docstring)."""
    older, newest = snapshots[:-keep_last], snapshots[-keep_last:]
    return [*older[::-1][::2][::-1], *newest]


def ramp_follows_every_step(model: keras.Model) -> bool:
    """Whether the ramp can read every optimizer step's loss in this model's fit: not with
    several steps per execution (batch hooks fire once per execution) or with gradient
    accumulation (a step spans several batches); `check_fit` refuses those fits."""
    one_per_execution = getattr(model, "steps_per_execution", 1) == 1
    return one_per_execution and accumulation_steps(model.optimizer) == 1


def check_fit(model: keras.Model, params: dict[str, Any]) -> None:
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
    if accumulation_steps(model.optimizer) > 1:
        raise InvalidArgumentError(
            "LearningRateFinder cannot ramp over micro-batches: use finder.range_test with "
            "gradient accumulation."
        )

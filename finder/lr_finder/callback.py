"""`LearningRateFinder`, the Keras callback, and `Handover`, where its ramp handed the fit
over to the proposal (the package docstring says how)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras

from finder.defaults import DIVERGENCE, SMOOTHING, VALIDATION_SAMPLES
from finder.host import micro_batch_count
from finder.lr_finder.climb import PeakClimb, climbing_proposal, climbs, with_climb
from finder.lr_finder.outcome import (
    Handover,
    describe_climb,
    describe_handover,
    reinstate_own_learning_rate,
    save,
    use_schedule,
    warn_if_unreliable,
)
from finder.lr_finder.ramp import Ramp, Snapshot
from finder.propose import Proposal, first_proposal, resume_after_ramp
from finder.rangetest.config import RangeTestConfig
from finder.rangetest.model_state import host_copies
from finder.rangetest.progress import SweepProgress, checked_progress
from finder.rangetest.result import RangeTestResult
from finder.suggest import SuggestionRule, named_rules


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
        verbose: int. 1 prints one line at the handover, and one at the end of the fit on
            what a climb did. Defaults to `1`.
        progress: callable or None. Called with a `SweepProgress` after each ramp step.
        suggestion_rules: your own suggestion rules, as `finder.range_test` takes them.

    Attributes:
        result: the `RangeTestResult` (with all proposals for the fit's plan), after the
            handover; None before.
        proposal: the `Proposal` the fit trains with after the handover (the first proposal,
            resumed at its peak; where the edge was read early, the climbing cycle), None when
            the test found no bounds.
        handover: `Handover` (ramp steps, rollback step, steps discarded and left).
        climb: the `PeakClimb` guarding the warm-up where the edge was read early, else None
            (`finder.lr_finder.climb`); once the fit ends, `result` holds what it did
            (`auto["climb"]`, `extra_steps`, the verdict settled).

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
        validation_samples: int = VALIDATION_SAMPLES,
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
        # The settings the ramp shares with `finder.range_test`, checked as it checks them.
        RangeTestConfig(
            budget=budget,
            smoothing=smoothing,
            divergence=divergence,
            validation_samples=validation_samples,
        )
        self.budget = budget
        self.validation_data = validation_data
        self.validation_samples = validation_samples
        self.smoothing = smoothing
        self.divergence = divergence
        self.chance_loss = chance_loss
        self.save_dir = None if save_dir is None else Path(save_dir)
        self.verbose = verbose
        self.progress = checked_progress(progress)
        self.result: RangeTestResult | None = None
        self.proposal: Proposal | None = None
        self.handover: Handover | None = None
        self._ramp: Ramp | None = None
        self.climb: PeakClimb | None = None
        self._after: list[keras.callbacks.Callback] = []
        self._started = False
        self._start_step = 0

    # After the ramp the 1cycle resumes at its peak (`resume_after_ramp`); the benchmark's
    # design `in_fit_cycle` keeps the cycle's own warm-up instead.
    keep_warmup = False

    # The ramp starts when the first epoch begins: only then is `initial_epoch` known.
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._started = False
        self._ramp = None
        self._after = []
        self.climb = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._started:
            self._started = True
            # The proposal counts from the fit's first step (`finder.schedules.offset`).
            self._start_step = micro_batch_count(self.model.optimizer)
            reinstate_own_learning_rate(self.model)  # not an earlier fit's spent cycle
            self._ramp = Ramp.start(self, epoch)
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
        if self.climb is not None and self.result is not None:
            self.result = with_climb(self.result, self.climb)
            if self.verbose and self.climb.outcome is not None:
                print(f"finder: {describe_climb(self.climb.outcome)}")
            if self.save_dir is not None:
                save(self.result, self.proposal, self.save_dir)

    def _hand_over(self, ramp: Ramp, *, epoch_ends: bool) -> None:
        """Read the ramp's curve, roll back, and go on with the proposal (module docstring).
        The metrics restart with the batches after the ramp; an epoch that ends with the ramp
        logs its last batch's loss and metrics (not empty means, which Keras reports as 0)."""
        self._ramp = None
        model = self.model
        result = ramp.conclude()
        remaining = ramp.plan - ramp.batches
        first = first_proposal(result)
        peak = float(first.spec.params["max_lr"]) if first is not None else None
        snapshot: Snapshot | None = None
        if ramp.warmup_only and ramp.run.stop_reason == "completed":
            snapshot = Snapshot.take(model, ramp.run.steps_run)  # a warm-up: keep it all
        elif first is not None and remaining > 0:
            snapshot = ramp.rollback_snapshot(peak)
        last_metrics = host_copies(model.metrics_variables) if epoch_ends else None
        ramp.state.restore(model)  # the user's LR object, train step and start values
        warmed_up = 0
        if snapshot is not None:
            snapshot.restore(model)
            warmed_up = snapshot.step
        climbing = first is not None and remaining > 0 and climbs(result, first, model)
        if climbing:  # the cycle's own warm-up climbs on from the ramp (`finder.lr_finder.climb`)
            assert first is not None
            trained = climbing_proposal(result, first)
            self.proposal = resume_after_ramp(
                trained, warmed_up=warmed_up, remaining=remaining, keep_warmup=True
            )
        else:
            self.proposal = (
                resume_after_ramp(
                    first, warmed_up=warmed_up, remaining=remaining, keep_warmup=self.keep_warmup
                )
                if first is not None and remaining > 0
                else None
            )
        if self.proposal is not None:
            use_schedule(model, self.proposal, self._start_step)
        else:  # the user's own LR object is back: retrace with it
            model.make_train_function(force=True)
        if last_metrics is None:
            model.reset_metrics()
        else:  # the epoch's logs: its last batch's, not empty means
            for variable, value in zip(model.metrics_variables, last_metrics, strict=False):
                variable.assign(value)
        self.handover = Handover(ramp.batches, warmed_up, remaining, peak)
        # The ramp's result, with what the handover decided: its cost and the handover itself.
        result = dataclasses.replace(
            result,
            extra_steps=self.handover.discarded_steps,
            auto={**(result.auto or {}), "handover": self.handover.to_dict()},
        )
        self.result = result
        self._after = self.proposal.callbacks(self._start_step) if self.proposal is not None else []
        self.climb = None
        if climbing and self.proposal is not None:
            self.climb = PeakClimb(
                self.proposal,
                batches_left=remaining,
                allowance=ramp.outcome.limits.budget - self.handover.discarded_steps,
                floor=float(first.spec.params["max_lr"]) if first is not None else 0.0,
                start_step=self._start_step,
                chance=self.chance_loss,
                history=ramp.run.losses[:warmed_up],  # the ramp's steps the run keeps
            )
            self._after.append(self.climb)
        for callback in self._after:
            callback.set_model(model)
            callback.set_params(self.params)
            callback.on_train_begin()
        warn_if_unreliable(
            result, model, "finder.LearningRateFinder", climb=self.proposal if climbing else None
        )
        if self.save_dir is not None:
            save(result, self.proposal, self.save_dir)
        if self.verbose:
            print(describe_handover(result, self.handover, self.proposal))

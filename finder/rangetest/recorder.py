"""The Keras callback that records one sweep: true per-batch loss, EMA, stops, validation.

Keras 3 reports `logs["loss"]` in `on_train_batch_end` as the running mean of the epoch so far,
not the loss of the batch. Finders that read it see a lagged, flattened curve and pick
learning rates that are too high. The model's metrics are reset at the start of every
optimizer step, so the logged loss IS that batch's loss, computed by the train step under the
weights before the update (regularisation losses included, as in training).

On TensorFlow and JAX the reset runs inside the compiled train step (`resetting_train_step`):
resetting from Python costs one eager assignment per metric variable, about 0.45 ms a step on
`fashion_cnn` on TensorFlow, 7% of the step; on JAX a callback that so much as reads
`self.model` makes Keras copy the whole training state back onto the model's variables, every
step. JAX's train step is a pure function of `(state, data)`, so there the reset is zeroing the
metric variables of the state it is given, which is Keras's default `Metric.reset_state`. With
gradient accumulation (reset once per optimizer step, not per micro-batch) and on other
backends, the recorder resets from `on_train_batch_begin`.

Every recorded step costs one device-to-host copy: the recorder reads the step's loss as a
Python float (and Keras copies all the logs, since a callback with a batch hook is not
asynchronous), because the stop rules below decide after each step whether the next one runs.
On an accelerator that copy waits for the step to finish before the next is queued, so the
device idles for the host's part of each step; `bench/overhead.py` measures what that costs
(BENCHMARKS.md).

The smoothed curve is the debiased exponential moving average

```
avg_i = beta * avg_{i-1} + (1 - beta) * loss_i,   avg_{-1} = 0
smoothed_i = avg_i / (1 - beta ** (i + 1))
```

and the sweep stops at the first non-finite loss, or when
`smoothed_i > divergence * min(smoothed_0..i)` (only while that minimum is positive: a ratio
means nothing for losses that go below zero).

The auto range test (`finder.rangetest.auto_range`) also stops a sweep whose network DIED instead of
blowing up: a classifier whose loss jumps back to chance level and stays there never passes
4x its minimum. With `dead_window = w`, after step `w`,

```
start = mean(loss_0 .. loss_{w-1})           # the level the sweep started from
best  = min over i of mean(loss_{i-w+1} .. loss_i)
stop ("diverged") when  start - best >= DEAD_MIN_DROP * |start|      # it had learned (30%)
                  and   mean(last w losses) >= best + DEAD_RETURN * (start - best)   # 75%
```

a raw-loss window rather than the EMA, whose lag (up to 49 steps at beta 0.98) would spend a
decade of a fast sweep on a dead network.

Skipped steps. Under `mixed_float16` Keras wraps the optimizer in a `LossScaleOptimizer`, which
skips the update of a step whose scaled gradients are not finite (and halves the scale); the
inner optimizer's step counter does not advance, so the sweep schedule gives the next batch the
same learning rate again. Such a step's loss says nothing about its learning rate, so the
recorder is given the optimizer's counter (`iteration_counter`) and records only steps that
advanced it; `SweepRun.skipped_steps` counts the others. Reading the counter is one more
device-to-host copy per step, so it is only read when the optimizer scales losses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

# A dead network: it had fallen by >= 30% of its start and climbed back >= 75% of the way.
# 30%, because the mean of a few noisy batch losses moves by 10-15% on its own (least squares
# with noisy targets tripped a 10% rule within nine steps of the start).
DEAD_MIN_DROP = 0.3
DEAD_RETURN = 0.75


@dataclass(frozen=True)
class SweepProgress:
    """One recorded step, as handed to a `progress` callable.

    `steps_done` out of `steps_total`, with `label` for the sweep, is the progress every
    consumer shows (the CLI's bar, the service's job rows). `steps_total` is a bound, not a
    count: sweeps stop early, so a test that ended ran `RangeTestResult.steps_run` steps.
    """

    repeat: int
    repeats: int
    step: int
    num_steps: int
    lr: float
    loss: float
    smoothed_loss: float
    phase: str = "sweep"
    steps_before: int = 0
    budget: int | None = None

    @property
    def steps_done(self) -> int:
        """Steps the range test has run up to this one, over all its sweeps."""
        # `steps_before` counts what earlier sweeps ran, not their grids' lengths: a sweep
        # that stopped early leaves no gap in the count.
        return self.steps_before + self.step + 1

    @property
    def steps_total(self) -> int:
        """The most steps the range test may run: the auto range's budget, else every
        sweep's grid."""
        return self.budget if self.budget is not None else self.repeats * self.num_steps

    @property
    def label(self) -> str:
        """Which sweep this step belongs to, in words: "sweep 2/3", "sweep 2" (the auto range,
        which decides as it goes how many it runs: `repeats` 0), or the phase's name."""
        if self.phase == "sweep":
            count = f"/{self.repeats}" if self.repeats > 0 else ""
            return f"sweep {self.repeat + 1}{count}"
        return self.phase


@dataclass
class SweepRun:
    """The curves and outcome of one sweep."""

    seed: int
    losses: list[float] = field(default_factory=list)
    smoothed_losses: list[float] = field(default_factory=list)
    val_lrs: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    stop_reason: str = "completed"
    stopped_at_lr: float | None = None
    steps_run: int = 0
    skipped_steps: int = 0


def resets_in_step(accumulation_steps: int) -> bool:
    """Whether the train step can reset the metrics itself (see the module docstring)."""
    return accumulation_steps == 1 and keras.backend.backend() in ("tensorflow", "jax")


def resetting_train_step(model: keras.Model, train_step: Callable[..., Any]) -> Callable[..., Any]:
    """`train_step` (the model's own) preceded by a reset of every metric, traced into one
    function. A new function on every call: JAX keeps what it compiled per function object,
    so a sweep that reused the previous sweep's wrapper would run the previous schedule."""
    if keras.backend.backend() == "jax":

        def reset_then_train_stateless(state: Any, data: Any) -> Any:
            trainable, non_trainable, optimizer_values, metric_values = state
            zeroed = [keras.ops.zeros_like(value) for value in metric_values]
            return train_step((trainable, non_trainable, optimizer_values, zeroed), data)

        return reset_then_train_stateless

    def reset_then_train(data: Any) -> Any:
        model.reset_metrics()
        return train_step(data)

    return reset_then_train


class SweepRecorder(keras.callbacks.Callback):
    """Records one sweep of a range test; stops training on divergence or a non-finite loss.

    After each optimizer step it adds `lr`, `batch_loss`, `smoothed_loss` and `sweep_step` to
    the batch logs, so callbacks listed after it can show progress.

    Args:
        lrs: numpy array. The learning rate of every optimizer step of the sweep.
        run: SweepRun. Where the curves are written.
        smoothing: float. EMA coefficient `beta` in [0, 1); 0 turns smoothing off.
        divergence: float. Stop when the smoothed loss exceeds this multiple of its minimum.
        accumulation_steps: int. Micro-batches per optimizer step (gradient accumulation).
        validation: (x, y) or None. Fixed validation subset scored every `validation_every` steps.
        validation_every: int. Steps between validation scores.
        validation_batch_size: int. Batch size for scoring the validation subset.
        progress: callable or None. Called with a `SweepProgress` after every step.
        repeat: int. Index of this sweep among `repeats`.
        repeats: int. Number of sweeps in the range test; 0 when the test decides as it goes.
        reset_metrics: bool. Reset the metrics before every optimizer step from Python;
            False when the train step resets them itself (`resetting_train_step`).
        dead_window: int or None. Window of the dead-network stop (module docstring);
            None turns it off. Defaults to `None`.
        phase: str. Shown in progress (`SweepProgress.label`): "sweep", or another name.
        steps_before: int. Steps the test used before this sweep (for progress).
        budget: int or None. The test's step budget (for progress).
        iteration_counter: callable or None. Called with the model, returns its optimizer's
            step counter; given when the optimizer may skip steps (loss scaling), so that
            skipped steps are not recorded (module docstring). Defaults to `None`.
        stop_fit: bool. End the `fit` when the sweep ends; False when the sweep is only the
            start of a longer fit (`finder.lr_finder`), which reads `finished`.
            Defaults to `True`.
    """

    def __init__(
        self,
        lrs: np.ndarray,
        run: SweepRun,
        *,
        smoothing: float,
        divergence: float,
        accumulation_steps: int = 1,
        validation: tuple[Any, Any] | None = None,
        validation_every: int = 1,
        validation_batch_size: int = 256,
        progress: Callable[[SweepProgress], None] | None = None,
        repeat: int = 0,
        repeats: int = 1,
        reset_metrics: bool = True,
        dead_window: int | None = None,
        phase: str = "sweep",
        steps_before: int = 0,
        budget: int | None = None,
        iteration_counter: Callable[[keras.Model], int] | None = None,
        stop_fit: bool = True,
    ) -> None:
        super().__init__()
        self.lrs = lrs
        self.run = run
        self.smoothing = smoothing
        self.divergence = divergence
        self.accumulation_steps = accumulation_steps
        self.validation = validation
        self.validation_every = validation_every
        self.validation_batch_size = validation_batch_size
        self.progress = progress
        self.repeat = repeat
        self.repeats = repeats
        self.reset_metrics = reset_metrics
        self.dead_window = dead_window
        self.phase = phase
        self.steps_before = steps_before
        self.budget = budget
        self.iteration_counter = iteration_counter
        self.stop_fit = stop_fit
        self.finished = False
        self._last_count: int | None = None
        self._window_best = math.inf
        self._pending_micro_batches = 0
        self._average = 0.0
        self._best = math.inf

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.reset_metrics and self._pending_micro_batches == 0:
            self.model.reset_metrics()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs if logs is not None else {}
        # Metrics were reset before the step's first micro-batch, so the logged mean covers
        # exactly the micro-batches of this optimizer step.
        self._pending_micro_batches += 1
        if self._pending_micro_batches < self.accumulation_steps:
            return
        self._pending_micro_batches = 0
        run = self.run
        if self._skipped():
            run.skipped_steps += 1
            return
        loss = float(logs["loss"])
        step = run.steps_run
        lr = float(self.lrs[step])
        run.steps_run += 1
        if not math.isfinite(loss):
            self._stop("non_finite", lr)
            return
        smoothed = self._smooth(loss, step)
        run.losses.append(loss)
        run.smoothed_losses.append(smoothed)
        logs.update(lr=lr, batch_loss=loss, smoothed_loss=smoothed, sweep_step=step)
        if self.validation is not None and (
            step % self.validation_every == 0 or step == len(self.lrs) - 1
        ):
            self._score_validation(lr)
        if self.progress is not None:
            self.progress(
                SweepProgress(
                    repeat=self.repeat,
                    repeats=self.repeats,
                    step=step,
                    num_steps=len(self.lrs),
                    lr=lr,
                    loss=loss,
                    smoothed_loss=smoothed,
                    phase=self.phase,
                    steps_before=self.steps_before,
                    budget=self.budget,
                )
            )
        self._best = min(self._best, smoothed)
        if self._best > 0 and smoothed > self.divergence * self._best:
            self._stop("diverged", lr)
        elif self._died():
            self._stop("diverged", lr)
        elif run.steps_run >= len(self.lrs):
            self._finish()

    def _skipped(self) -> bool:
        """Whether the optimizer skipped this step's update (its counter did not move)."""
        if self.iteration_counter is None:
            return False
        # Through `self.model`: on JAX that attaches the step's state to the model's variables.
        count = self.iteration_counter(self.model)
        skipped = count == self._last_count
        self._last_count = count
        return skipped

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.iteration_counter is not None:
            self._last_count = self.iteration_counter(self.model)

    def _died(self) -> bool:
        """The dead-network rule of the module docstring."""
        window = self.dead_window
        losses = self.run.losses
        if window is None or len(losses) < window:
            return False
        recent = sum(losses[-window:]) / window
        self._window_best = min(self._window_best, recent)
        if len(losses) < 2 * window:
            return False
        start = sum(losses[:window]) / window
        drop = start - self._window_best
        return drop >= DEAD_MIN_DROP * abs(start) and recent >= (
            self._window_best + DEAD_RETURN * drop
        )

    def _smooth(self, loss: float, step: int) -> float:
        if self.smoothing == 0:
            return loss
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        return self._average / (1 - self.smoothing ** (step + 1))

    def _score_validation(self, lr: float) -> None:
        assert self.validation is not None
        x_val, y_val = self.validation
        scores = self.model.evaluate(
            x_val, y_val, batch_size=self.validation_batch_size, verbose=0, return_dict=True
        )
        val_loss = float(scores["loss"])
        if math.isfinite(val_loss):
            self.run.val_lrs.append(lr)
            self.run.val_losses.append(val_loss)

    def _stop(self, reason: str, lr: float) -> None:
        self.run.stop_reason = reason
        self.run.stopped_at_lr = lr
        self._finish()

    def _finish(self) -> None:
        self.finished = True
        if self.stop_fit:
            self.model.stop_training = True

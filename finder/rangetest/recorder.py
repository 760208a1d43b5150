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
asynchronous), because the stop rules decide after each step whether the next one runs.
On an accelerator that copy waits for the step to finish before the next is queued, so the
device idles for the host's part of each step; `bench/overhead.py` measures what that costs
(BENCHMARKS.md).

The curve is smoothed, and the sweep stopped, by the rules of `finder.rangetest.stop_rules`:
a non-finite loss, the smoothed loss 4x its minimum (`Divergence`), and with `dead_window` a
network that died back to its starting loss (`DeadNetwork`); each is a small object the
recorder feeds every step. After the first step, and when the sweep ends, the recorder counts
the model's NaN or inf weights (`SweepRun.broken_by_first_update`, `non_finite_weights`: two host
copies of the weights per sweep). A network whose weights went NaN can still report a finite,
constant loss (a ReLU maps NaN to 0 on some CPUs), and only the weights show why; where the NaN
reaches the loss a step later instead, the count after a first step with a finite loss tells an
update that broke the weights from data or a model that gives NaN.

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

from finder.rangetest.model_state import non_finite_weights
from finder.rangetest.progress import SweepProgress
from finder.rangetest.stop_rules import DeadNetwork, DebiasedEma, Divergence, StopRule


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
    # NaN or inf weights when the sweep ended (`model_state.non_finite_weights`).
    non_finite_weights: int = 0
    # NaN or inf weights after the sweep's first update, whose loss was finite: the update
    # itself broke them, whatever the loss does next.
    broken_by_first_update: int = 0


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
        self._validation_batches: list[tuple[Any, Any]] | None = None
        self._pending_micro_batches = 0
        self._smooth = DebiasedEma(smoothing)
        self._rules: list[StopRule] = [Divergence(divergence)]
        if dead_window is not None:
            self._rules.append(DeadNetwork(dead_window))

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
        smoothed = self._smooth(loss)
        run.losses.append(loss)
        run.smoothed_losses.append(smoothed)
        logs.update(lr=lr, batch_loss=loss, smoothed_loss=smoothed, sweep_step=step)
        if step == 0:
            run.broken_by_first_update = non_finite_weights(self.model)
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
        if any(rule.fires(smoothed, run.losses) for rule in self._rules):
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

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if not self.finished:  # the data ran out before the grid did
            self.run.non_finite_weights = non_finite_weights(self.model)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.iteration_counter is not None:
            self._last_count = self.iteration_counter(self.model)

    def _score_validation(self, lr: float) -> None:
        assert self.validation is not None
        if self._validation_batches is None:
            self._validation_batches = in_batches(self.validation, self.validation_batch_size)
        val_loss = held_out_loss(self.model, self._validation_batches)
        if math.isfinite(val_loss):
            self.run.val_lrs.append(lr)
            self.run.val_losses.append(val_loss)

    def _stop(self, reason: str, lr: float) -> None:
        self.run.stop_reason = reason
        self.run.stopped_at_lr = lr
        self._finish()

    def _finish(self) -> None:
        self.finished = True
        self.run.non_finite_weights = non_finite_weights(self.model)
        if self.stop_fit:
            self.model.stop_training = True


def in_batches(data: tuple[Any, Any], batch_size: int) -> list[tuple[Any, Any]]:
    """`(x, y)` arrays (or nested structures of them) cut into batches of `batch_size`; a
    pandas object becomes its numpy array, which `test_on_batch` takes where it may not."""

    def cut(array: Any, start: int) -> Any:
        part = array[start : start + batch_size]
        return part.to_numpy() if hasattr(part, "to_numpy") else part

    x, y = data
    size = int(keras.tree.flatten(x)[0].shape[0])
    return [
        keras.tree.map_structure(lambda a, start=start: cut(a, start), (x, y))
        for start in range(0, size, batch_size)
    ]


def held_out_loss(model: keras.Model, batches: list[tuple[Any, Any]]) -> float:
    """The model's compiled loss over `batches`, each weighted by its size: the loss
    `model.evaluate` reports, scored batch by batch with `test_on_batch`. `evaluate` builds a
    new input pipeline on every call, which on a subset this small, scored about 20 times a
    sweep, took most of its time (`bench/fit.py` times the test's whole cost)."""
    total = 0.0
    count = 0
    for x, y in batches:
        size = int(keras.tree.flatten(x)[0].shape[0])
        scores = model.test_on_batch(x, y, return_dict=True)
        total += float(scores["loss"]) * size
        count += size
    return total / count

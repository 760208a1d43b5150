"""`SweepSession`: one range test's hold on the model, from capture to exact restore.

A range test may run several sweeps over one model: the repeats of an explicit range, or the
sweeps of the auto range (`finder.rangetest.auto_range`). The session captures the
model once, installs each sweep's learning-rate schedule, runs the sweep through `model.fit` with a
`SweepRecorder`, puts the weights and optimizer state back between sweeps, and restores everything
(weights, slots, `iterations`, the LR object, the train step) when it closes, also when a sweep
fails.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import keras
import numpy as np

from finder.host import micro_batch_count
from finder.rangetest import batches as batch_sources
from finder.rangetest.model_state import (
    ModelState,
    install_learning_rate,
    install_train_step,
    skips_steps,
)
from finder.rangetest.progress import SweepProgress
from finder.rangetest.recorder import (
    SweepRecorder,
    SweepRun,
    resets_in_step,
    resetting_train_step,
)
from finder.rangetest.sweep import ConstantRate, SweepSchedule

# Spare batches for the steps a loss-scaling optimizer skips: halving Keras's initial scale
# (2**15) down to 1 takes 15 skips; a scale set higher, or overflows at high LRs, take more.
SKIP_ALLOWANCE = 64
# The `mode` of a sweep that holds one LR (`lrs` all equal): a constant-LR trial.
CONSTANT = "constant"


class SweepSession:
    """Runs the sweeps of one range test on `model`; use it as a context manager.

    Args:
        model: keras.Model. A compiled, built model.
        x, y: the training input, as `finder.range_test` takes it.
        batch_size: int. Samples per step for array input.
        shuffle: bool. Shuffle array input.
        seed: int. Seed of the batch order; sweep `r` reads the data in order `seed + r`.
        accumulation: int. Micro-batches per optimizer step.
        validation: (x, y) subset scored during the first sweep that asks for it, or None.
        validation_every: int. Steps between validation scores.
        progress: callable or None. Called with a `SweepProgress` after every step.
        callbacks: extra Keras callbacks run during every sweep.
    """

    def __init__(
        self,
        model: keras.Model,
        x: Any,
        y: Any,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int,
        accumulation: int,
        validation: tuple[Any, Any] | None,
        validation_every: int,
        progress: Callable[[SweepProgress], None] | None,
        callbacks: Sequence[keras.callbacks.Callback],
    ) -> None:
        self.model = model
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.accumulation = accumulation
        self.validation = validation
        self.validation_every = validation_every
        self.progress = progress
        self.callbacks = list(callbacks)
        self.sweeps_run = 0
        self.steps_run = 0
        self.skipped_steps = 0
        self._state: ModelState | None = None
        self._start_iteration = 0
        self._in_step_reset = False
        self._installed: tuple[float, float, int, str] | None = None
        self._train_step: Any = None

    def __enter__(self) -> SweepSession:
        self._state = ModelState.capture(self.model)
        self._start_iteration = micro_batch_count(self.model.optimizer)
        self._in_step_reset = resets_in_step(self.accumulation)
        self._train_step = self.model.train_step
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._state is not None
        self._state.restore(self.model)

    def sweep(
        self,
        lrs: np.ndarray,
        *,
        mode: str,
        repeat: int,
        repeats: int,
        smoothing: float,
        divergence: float,
        score_validation: bool,
        dead_window: int | None = None,
        phase: str = "sweep",
        budget: int | None = None,
        limit: int | None = None,
    ) -> SweepRun:
        """One sweep over `lrs` (a geometric or linear grid, or one LR repeated with `mode`
        `CONSTANT`), from the captured state.

        `repeat` picks the batch order (`seed + repeat`) and is reported in the run's seed.
        `limit` cuts the sweep after that many steps (the grid, and so every step's LR, stay
        those of the whole of `lrs`).
        """
        assert self._state is not None, "use SweepSession as a context manager"
        model = self.model
        if self.sweeps_run > 0:
            self._state.reset_weights(model)
        grid = (float(lrs[0]), float(lrs[-1]), len(lrs), mode)
        if grid != self._installed:
            install_learning_rate(
                model,
                ConstantRate(grid[0])
                if mode == CONSTANT
                else SweepSchedule(*grid, self._start_iteration, self.accumulation),
            )
            if self._in_step_reset:
                install_train_step(model, resetting_train_step(model, self._train_step))
            model.steps_per_execution = 1
            self._installed = grid
        steps = len(lrs) if limit is None else max(1, min(limit, len(lrs)))
        run = SweepRun(seed=self.seed + repeat)
        # A loss-scaling optimizer's skipped steps are not recorded (see the recorder), so it
        # gets batches to spare; the recorder stops the fit after `steps` recorded steps.
        skipping = skips_steps(model.optimizer)
        spare = max(steps, SKIP_ALLOWANCE) if skipping else 0
        batches = (steps + spare) * self.accumulation
        recorder = SweepRecorder(
            lrs[:steps],
            run,
            smoothing=smoothing,
            divergence=divergence,
            accumulation_steps=self.accumulation,
            validation=self.validation if score_validation else None,
            validation_every=self.validation_every,
            validation_batch_size=self.batch_size,
            progress=self.progress,
            repeat=repeat,
            repeats=repeats,
            reset_metrics=not self._in_step_reset,
            dead_window=dead_window,
            phase=phase,
            steps_before=self.steps_run,
            budget=budget,
            iteration_counter=(lambda m: micro_batch_count(m.optimizer)) if skipping else None,
        )
        sweep = batch_sources.sweep_batches(
            self.x,
            self.y,
            batch_size=self.batch_size,
            num_batches=batches,
            shuffle=self.shuffle,
            seed=self.seed,
            repeat=repeat,
        )
        try:
            with warnings.catch_warnings():
                # A generator that ends early gets finder's error (`sweep.check`), which says
                # how many batches it gave, in place of Keras's warning.
                warnings.filterwarnings("ignore", message="Your input ran out of data")
                model.fit(
                    sweep.data,
                    epochs=1,
                    steps_per_epoch=sweep.steps,
                    shuffle=False,
                    verbose=0,
                    callbacks=[*self._state.sweep_callbacks(), recorder, *self.callbacks],
                )
            sweep.check()
        finally:
            self.sweeps_run += 1
            self.steps_run += run.steps_run
            self.skipped_steps += run.skipped_steps
        return run

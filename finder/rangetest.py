"""Leslie Smith's learning-rate range test on a compiled Keras 3 model.

The test trains the user's model for `num_steps` optimizer steps while the learning rate grows
from `min_lr` to `max_lr` (see `finder.sweep`), records each step's true batch loss (see
`finder.recorder`), stops on divergence, then puts the model back exactly as it was and reads
suggestions and bounds off the curve (see `finder.suggest`). With `repeats > 1` it sweeps
several times over different batch orders and reports the median curve with its spread (see
`finder.repeats`).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata as package_metadata
from typing import Any

import keras
import numpy as np

from finder import batches as batch_sources
from finder import repeats as repeat_stats
from finder.errors import InvalidArgumentError
from finder.model_state import (
    ModelState,
    innermost_optimizer,
    install_learning_rate,
    install_train_step,
    micro_batch_count,
    require_compiled,
)
from finder.recorder import (
    SweepProgress,
    SweepRecorder,
    SweepRun,
    resets_in_step,
    resetting_train_step,
)
from finder.result import RangeTestResult, jsonable
from finder.suggest import SUGGESTION_NAMES, suggest
from finder.sweep import SweepSchedule, sweep_lrs, validate_sweep

DEFAULT_VALIDATION_POINTS = 20
DEFAULT_VALIDATION_SAMPLES = 512


def range_test(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    batch_size: int = 64,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exp",
    smoothing: float = 0.98,
    divergence: float = 4.0,
    repeats: int = 1,
    seed: int = 0,
    validation_data: Any = None,
    validation_every: int | None = None,
    validation_samples: int = DEFAULT_VALIDATION_SAMPLES,
    shuffle: bool = True,
    progress: Callable[[SweepProgress], None] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    metadata: Mapping[str, Any] | None = None,
) -> RangeTestResult:
    """Run the learning-rate range test and return the curve, suggestions and bounds.

    The model must be compiled (any optimizer, with a float learning rate or a
    `LearningRateSchedule`). It is trained during the test and then restored: weights,
    random-seed and metric state, optimizer slots, `iterations`, and the original learning
    rate or schedule object are all exactly as before.

    ```python
    model = finder.zoo.build_model("fashion_cnn", seed=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    result = finder.range_test(model, x_train, y_train, num_steps=200)
    result.bounds.max_lr
    ```

    Args:
        model: keras.Model. A compiled model.
        x: numpy array (or nest of arrays) with `y`, a `tf.data.Dataset` of batches, or a
            `keras.utils.PyDataset`. Cycled when it has fewer batches than needed.
        y: numpy array of targets when `x` is an array, else None.
        batch_size: int. Samples per step for array input (datasets bring their own).
            Defaults to `64`.
        min_lr: float. First learning rate of the sweep. Defaults to `1e-7`.
        max_lr: float. Last learning rate of the sweep. Defaults to `10.0`.
        num_steps: int. Optimizer steps per sweep, >= 2. Defaults to `100`.
        mode: str. `"exp"` (geometric steps) or `"linear"`. Defaults to `"exp"`.
        smoothing: float. EMA coefficient in [0, 1); 0 turns smoothing off. Defaults to `0.98`.
        divergence: float. Stop when the smoothed loss exceeds this multiple of its minimum
            so far; > 1. Defaults to `4.0`.
        repeats: int. Sweeps over different batch orders; > 1 gives the median curve and the
            spread of every suggestion. Defaults to `1`.
        seed: int. Seed of the batch order (repeat `r` uses `seed + r`). Defaults to `0`.
        validation_data: (x_val, y_val), a `tf.data.Dataset` or a `PyDataset`, or None. A fixed
            subset of it (`validation_samples`) is scored every `validation_every` steps of the
            first sweep and kept as a second curve. Defaults to `None`.
        validation_every: int or None. Steps between validation scores; None gives about 20
            points per sweep. Defaults to `None`.
        validation_samples: int. Size of the validation subset. Defaults to `512`.
        shuffle: bool. Shuffle array input (with `seed`); datasets keep their order in the
            first sweep. Defaults to `True`.
        progress: callable or None. Called with a `SweepProgress` after every step.
        callbacks: Keras callbacks run during the sweeps; after each step the logs hold `lr`,
            `batch_loss`, `smoothed_loss` and `sweep_step`.
        metadata: JSON-ready mapping copied into the result (e.g. the dataset's name).

    Returns:
        A `RangeTestResult`.

    Raises:
        InvalidRangeError: an empty or inverted LR range, or `num_steps < 2`.
        InvalidArgumentError: another argument out of range.
        ModelError: the model is not compiled.
        DataError: the data cannot be read or cycled.
    """
    validate_sweep(min_lr, max_lr, num_steps, mode)
    _validate_options(smoothing, divergence, repeats, validation_every, validation_samples)
    batch_sources.validate_input(x, y, batch_size)
    require_compiled(model)

    lrs = sweep_lrs(min_lr, max_lr, num_steps, mode)
    accumulation = int(innermost_optimizer(model.optimizer).gradient_accumulation_steps or 1)
    validation = (
        batch_sources.take_samples(validation_data, validation_samples)
        if validation_data is not None
        else None
    )
    every = validation_every or max(1, num_steps // DEFAULT_VALIDATION_POINTS)
    optimizer_description = _describe_optimizer(model.optimizer)
    if not model.built:
        _build_on_first_batch(model, x, y, batch_size)

    state = ModelState.capture(model)
    start_iteration = micro_batch_count(model.optimizer)
    started = time.perf_counter()
    runs: list[SweepRun] = []
    try:
        install_learning_rate(
            model,
            SweepSchedule(min_lr, max_lr, num_steps, mode, start_iteration, accumulation),
        )
        in_step_reset = resets_in_step(accumulation)
        if in_step_reset:
            install_train_step(model, resetting_train_step(model))
        model.steps_per_execution = 1
        for repeat in range(repeats):
            if repeat > 0:
                state.reset_weights(model)
            run = SweepRun(seed=seed + repeat)
            recorder = SweepRecorder(
                lrs,
                run,
                smoothing=smoothing,
                divergence=divergence,
                accumulation_steps=accumulation,
                validation=validation if repeat == 0 else None,
                validation_every=every,
                validation_batch_size=batch_size,
                progress=progress,
                repeat=repeat,
                repeats=repeats,
                reset_metrics=not in_step_reset,
            )
            sweep = batch_sources.sweep_batches(
                x,
                y,
                batch_size=batch_size,
                num_batches=num_steps * accumulation,
                shuffle=shuffle,
                seed=seed,
                repeat=repeat,
            )
            model.fit(
                sweep.data,
                epochs=1,
                steps_per_epoch=sweep.steps,
                shuffle=False,
                verbose=0,
                callbacks=[recorder, *callbacks],
            )
            runs.append(run)
    finally:
        state.restore(model)
    wall_time = time.perf_counter() - started

    config = {
        "batch_size": batch_size,
        "min_lr": min_lr,
        "max_lr": max_lr,
        "num_steps": num_steps,
        "mode": mode,
        "smoothing": smoothing,
        "divergence": divergence,
        "repeats": repeats,
        "seed": seed,
        "shuffle": shuffle,
        "validation_every": every if validation is not None else None,
        "validation_samples": validation_samples if validation is not None else None,
        "accumulation_steps": accumulation,
    }
    return _assemble(
        lrs=lrs,
        runs=runs,
        wall_time=wall_time,
        optimizer=optimizer_description,
        model=_describe_model(model),
        data=batch_sources.describe_input(x, y, batch_size),
        config=config,
        metadata=dict(metadata or {}),
    )


def _validate_options(
    smoothing: float,
    divergence: float,
    repeats: int,
    validation_every: int | None,
    validation_samples: int,
) -> None:
    if not (isinstance(smoothing, (int, float)) and 0 <= smoothing < 1):
        raise InvalidArgumentError(
            f"Argument `smoothing` must be in [0, 1). Received: smoothing={smoothing!r}"
        )
    if not (isinstance(divergence, (int, float)) and math.isfinite(divergence) and divergence > 1):
        raise InvalidArgumentError(
            "Argument `divergence` must be a finite number > 1. "
            f"Received: divergence={divergence!r}"
        )
    for name, value in (("repeats", repeats), ("validation_samples", validation_samples)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgumentError(
                f"Argument `{name}` must be an integer >= 1. Received: {name}={value!r}"
            )
    if validation_every is not None and (
        isinstance(validation_every, bool)
        or not isinstance(validation_every, int)
        or validation_every < 1
    ):
        raise InvalidArgumentError(
            "Argument `validation_every` must be an integer >= 1 or None. "
            f"Received: validation_every={validation_every!r}"
        )


def _build_on_first_batch(model: keras.Model, x: Any, y: Any, batch_size: int) -> None:
    """Build an unbuilt model by calling it on one batch (inference mode, no randomness)."""
    first = batch_sources.take_samples(x if y is None else (x, y), batch_size)[0]
    model(first, training=False)


def _describe_optimizer(optimizer: keras.optimizers.Optimizer) -> dict[str, Any]:
    return {"name": type(optimizer).__name__, "config": jsonable(optimizer.get_config())}


def _describe_model(model: keras.Model) -> dict[str, Any]:
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    total = sum(int(np.prod(v.shape)) for v in model.weights)
    description: dict[str, Any] = {
        "name": model.name,
        "class": type(model).__name__,
        "params": total,
        "trainable_params": trainable,
    }
    try:
        description["input_shape"] = jsonable(model.input_shape)
    except (AttributeError, ValueError):
        description["input_shape"] = None
    return description


def _assemble(
    *,
    lrs: np.ndarray,
    runs: list[SweepRun],
    wall_time: float,
    optimizer: dict[str, Any],
    model: dict[str, Any],
    data: dict[str, Any],
    config: dict[str, Any],
    metadata: dict[str, Any],
) -> RangeTestResult:
    steps_run = sum(run.steps_run for run in runs)
    first = runs[0]
    if len(runs) == 1:
        losses = np.asarray(first.losses)
        smoothed = np.asarray(first.smoothed_losses)
        stop_reason, stopped_at_lr = first.stop_reason, first.stopped_at_lr
        repeats = None
    else:
        combined = repeat_stats.combine(
            [r.losses for r in runs], [r.smoothed_losses for r in runs], len(lrs)
        )
        losses, smoothed = combined.losses, combined.smoothed_losses
        stop_reason, stopped_at_lr = _combined_stop(runs, len(losses), len(lrs), lrs)
        per_run = [suggest(lrs[: len(r.losses)], r.losses, r.smoothed_losses) for r in runs]
        spreads = {
            name: repeat_stats.spread([s.values[name] for s in per_run])
            for name in SUGGESTION_NAMES
        }
        spreads["max_lr"] = repeat_stats.spread([s.bounds.max_lr for s in per_run])
        spreads["min_lr"] = repeat_stats.spread([s.bounds.min_lr for s in per_run])
        repeats = {
            "count": len(runs),
            "loss_lower": combined.lower,
            "loss_upper": combined.upper,
            "suggestion_spread": spreads,
            "runs": [
                {
                    "seed": run.seed,
                    "stop_reason": run.stop_reason,
                    "stopped_at_lr": run.stopped_at_lr,
                    "steps_run": run.steps_run,
                    "losses": run.losses,
                    "smoothed_losses": run.smoothed_losses,
                    "suggestions": found.values,
                    "bounds": found.bounds.to_dict(),
                }
                for run, found in zip(runs, per_run, strict=True)
            ],
        }
    found = suggest(lrs[: len(smoothed)], losses, smoothed)
    return RangeTestResult(
        lrs=[float(v) for v in lrs[: len(losses)]],
        losses=[float(v) for v in losses],
        smoothed_losses=[float(v) for v in smoothed],
        val_lrs=list(first.val_lrs) if first.val_lrs else None,
        val_losses=list(first.val_losses) if first.val_losses else None,
        stop_reason=stop_reason,
        stopped_at_lr=stopped_at_lr,
        steps_run=steps_run,
        wall_time_s=wall_time,
        steps_per_second=steps_run / wall_time if wall_time > 0 else 0.0,
        optimizer=optimizer,
        model=model,
        data=data,
        config=config,
        repeats=jsonable(repeats),
        suggestions=found.values,
        suggestion_notes=found.notes,
        bounds=found.bounds,
        metadata=metadata,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        finder_version=_finder_version(),
    )


def _combined_stop(
    runs: list[SweepRun], length: int, num_steps: int, lrs: np.ndarray
) -> tuple[str, float | None]:
    """The median curve completed, or stopped where most runs had stopped (and why)."""
    if length == num_steps:
        return "completed", None
    reasons = [r.stop_reason for r in runs if r.stop_reason != "completed"]
    reason = max(set(reasons), key=reasons.count)
    return reason, float(lrs[length]) if length < num_steps else None


def _finder_version() -> str:
    try:
        return package_metadata.version("finder")
    except package_metadata.PackageNotFoundError:
        return "0+unknown"

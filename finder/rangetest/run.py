"""Leslie Smith's learning-rate range test on a compiled Keras 3 model.

The test trains the user's model while the learning rate grows geometrically (see
`finder.rangetest.sweep`), records each step's true batch loss (see
`finder.rangetest.recorder`), stops each sweep on divergence, then puts the model back exactly as
it was (see `finder.rangetest.session`) and reads suggestions and bounds off the curve (see
`finder.suggest`) and a verdict on how sure they are (see `finder.rangetest.reliability`).

By default the range is automatic (see `finder.rangetest.auto_range`): sweeps climb from two
decades below the optimizer's own LR until the loss diverges, as densely as a budget priced
like a warm-up allows (a tenth of the training plan, at least 100 steps; 300 without a plan).
With an explicit `min_lr`, `max_lr` and `num_steps` the test sweeps exactly that range `repeats`
times, over different batch orders, and reports the median curve with its spread (see
`finder.rangetest.repeats`). The verdict (`finder.rangetest.verdict`) says whether the first
proposal can be trusted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from finder.defaults import AUTO
from finder.document import finder_version, jsonable
from finder.host import accumulation_steps, update_rule
from finder.propose import Plan, proposals_for
from finder.rangetest import batches as batch_sources
from finder.rangetest import repeats as repeat_stats
from finder.rangetest.auto_range import (
    MIN_SWEEPS,
    AutoOutcome,
    density,
    limits,
    run_auto,
)
from finder.rangetest.calibration import (
    capped_bounds,
    runs_trials,
    schedule_free_reason,
    span_decades,
)
from finder.rangetest.checks import AutoPlan, check_range
from finder.rangetest.config import RangeTestConfig
from finder.rangetest.distribution import check_strategy
from finder.rangetest.generators import is_generator, peeked
from finder.rangetest.input_checks import check_data, check_validation_data
from finder.rangetest.model_state import (
    initial_learning_rate,
    require_compiled,
)
from finder.rangetest.progress import SweepProgress, checked_progress
from finder.rangetest.recorder import SweepRun
from finder.rangetest.result import RangeTestResult
from finder.rangetest.session import SweepSession
from finder.rangetest.sweep import sweep_lrs
from finder.rangetest.trials import TRIALS_NOTE, run_trials
from finder.rangetest.verdict import (
    assess_sweeps,
    assess_trials,
    chance_loss,
    floored_bounds,
    learned_nothing,
)
from finder.suggest import (
    SUGGESTION_NAMES,
    Bounds,
    SuggestionRule,
    apply_rules,
    named_rules,
    prior_bounds,
    suggest,
)

# Validation scores per sweep (each costs a pass over `validation_samples`).
VALIDATION_POINTS = 20


def range_test(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    config: RangeTestConfig | None = None,
    plan: Plan | None = None,
    plan_steps: int | None = None,
    validation_data: Any = None,
    progress: Callable[[SweepProgress], None] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    metadata: Mapping[str, Any] | None = None,
    suggestion_rules: Sequence[SuggestionRule] | Mapping[str, SuggestionRule] | None = None,
    **settings: Any,
) -> RangeTestResult:
    """Run the learning-rate range test and return the curve, suggestions, bounds and verdict.

    The model must be compiled (any optimizer, with a float learning rate or a
    `LearningRateSchedule`). It is trained during the test and then restored: weights,
    random-seed and metric state, optimizer slots, `iterations`, and the original learning
    rate or schedule object are all exactly as before.

    By default the range is found automatically (`finder.rangetest.auto_range`): sweeps from two
    decades below the optimizer's own LR up to where the loss diverges, within a step budget of
    a tenth of `plan_steps` (at least 100; 300 without a plan). With `min_lr`, `max_lr` and
    `num_steps` all given, the test sweeps exactly that range `repeats` times. For Ftrl, whose
    model scales with its LR, the auto range runs constant-LR trials instead and proposes a
    constant LR (`finder.rangetest.trials`). Either way `result.reliability` says whether the
    first proposal can be trusted, and why not.

    ```python
    model = finder.zoo.build_model("fashion_cnn", seed=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    result = finder.range_test(model, x_train, y_train)
    result.bounds.max_lr, result.reliability.verdict
    ```

    Args:
        model: keras.Model. A compiled model.
        x: numpy array (or nest of arrays) with `y`, a `tf.data.Dataset` of batches, or a
            `keras.utils.PyDataset`. Cycled when it has fewer batches than needed. A list of
            lists or a pandas DataFrame/Series is converted to an array. A Python generator
            of batches is read as it comes: the test trains on its next batches, which are
            then gone from it (`finder.rangetest.generators`).
        y: numpy array of targets when `x` is an array, else None.
        config: `RangeTestConfig` or None. The test's settings; None gives the defaults.
        plan: `finder.propose.Plan` or None. The training this test prepares: the result then
            holds the schedule proposals for it (`result.proposals`). Defaults to `None`.
        plan_steps: int or None. Auto mode: optimizer steps of the training run this test
            prepares, which sizes the default budget. Defaults to `None`.
        validation_data: (x_val, y_val), a `tf.data.Dataset` or a `PyDataset`, or None. A fixed
            subset of it (`validation_samples`) is scored every `validation_every` steps of the
            first sweep and kept as a second curve; the verdict reads it. Defaults to `None`.
        progress: callable or None. Called with a `SweepProgress` after every step.
        callbacks: Keras callbacks run during the sweeps; after each step the logs hold `lr`,
            `batch_loss`, `smoothed_loss` and `sweep_step`.
        metadata: JSON-ready mapping copied into the result (e.g. the dataset's name).
        suggestion_rules: your own suggestion rules, beside the built-in ones: functions
            `(lrs, losses) -> lr` (numpy arrays of the curve's LRs and smoothed losses; a
            float, or None for no suggestion), as a list (named by `__name__`) or a dict by
            name. Their suggestions go into `result.suggestions` (so the JSON, the CLI table
            and the plot); a rule that raises or returns no positive LR gives None and a note.
            Defaults to `None`.
        **settings: any field of `RangeTestConfig` by name, over `config`: `batch_size`,
            `min_lr`, `max_lr`, `num_steps`, `budget`, `mode`, `smoothing`, `divergence`,
            `repeats`, `seed`, `shuffle`, `validation_every`, `validation_samples`. Each
            field's help text, default and bounds are in `RangeTestConfig`.

    Returns:
        A `RangeTestResult`.

    Raises:
        InvalidRangeError: an empty or inverted LR range, or `num_steps < 2`.
        InvalidArgumentError: another argument out of range.
        TypeError: a setting that `RangeTestConfig` does not have.
        ModelError: the model is not compiled.
        DataError: the data cannot be read or cycled, or does not fit the model or its loss
            (string labels, an unbatched dataset, ...: `finder.rangetest.input_checks`).
    """
    config = RangeTestConfig.build(config, settings)
    batch_size, repeats = config.batch_size, config.sweeps
    rules = named_rules(suggestion_rules)
    progress = checked_progress(progress)
    require_compiled(model)
    # Lists and pandas become arrays; the common mistakes get finder's errors, not TF's.
    x, y = check_data(model, x, y, batch_size=batch_size)
    validation_data = check_validation_data(model, validation_data, batch_size=batch_size)
    anchor = initial_learning_rate(model.optimizer)
    budget = config.budget
    if config.auto and budget is None and repeats > 1:
        # Repeats are asked for: they are paid for, never taken from the default budget.
        budget = repeats * limits(None, plan_steps, None).budget
    auto_plan = check_range(x, y, config, budget, plan_steps, anchor_lr=anchor)
    update_rule_name = update_rule(model.optimizer)
    if auto_plan is not None:
        auto_plan = dataclasses.replace(
            auto_plan,
            span=span_decades(update_rule_name),
            schedule_free=schedule_free_reason(update_rule_name),
            # Trials need the whole range to themselves: an explicit bound asks for a sweep.
            trials=runs_trials(update_rule_name) and config.min_lr == config.max_lr == AUTO,
        )
    check_strategy(model)

    accumulation = accumulation_steps(model.optimizer)
    validation = (
        batch_sources.take_samples(validation_data, config.validation_samples)
        if validation_data is not None
        else None
    )
    every = config.validation_every or max(
        1, round(_sweep_length(auto_plan, config.num_steps) / VALIDATION_POINTS)
    )
    optimizer_description = describe_optimizer(model.optimizer)
    if not model.built:
        x = _build_on_first_batch(model, x, y, batch_size)
    reading = Reading(
        update_rule=update_rule_name,
        anchor=anchor,
        chance=chance_loss(model.loss, y) if y is not None else None,
        steps_per_pass=batch_sources.steps_per_pass(x, y, batch_size),
    )

    session = SweepSession(
        model,
        x,
        y,
        batch_size=batch_size,
        shuffle=config.shuffle,
        seed=config.seed,
        accumulation=accumulation,
        validation=validation,
        validation_every=every,
        progress=progress,
        callbacks=callbacks,
    )
    started = time.perf_counter()
    with session:
        lrs, runs, outcome = _sweep(session, auto_plan, config, reading)
    wall_time = time.perf_counter() - started

    recorded = {
        "batch_size": batch_size,
        "min_lr": config.min_lr,
        "max_lr": config.max_lr,
        "num_steps": config.num_steps,
        "mode": config.mode,
        "smoothing": config.smoothing,
        "divergence": config.divergence,
        "repeats": repeats,
        "seed": config.seed,
        "shuffle": config.shuffle,
        "validation_every": every if validation is not None else None,
        "validation_samples": config.validation_samples if validation is not None else None,
        "accumulation_steps": accumulation,
    }
    if config.auto:
        recorded.update(budget=budget, plan_steps=plan_steps)
    return assemble_result(
        Sweeps(lrs, runs, outcome, steps_run=session.steps_run, wall_time=wall_time),
        optimizer=optimizer_description,
        model=describe_model(model),
        data=batch_sources.describe_input(x, y, batch_size),
        config=recorded,
        metadata=dict(metadata or {}),
        rules=rules,
        reading=reading,
        plan=plan,
        skipped_steps=session.skipped_steps,
    )


@dataclass(frozen=True)
class Sweeps:
    """What the sweeps measured: the LR grid, the runs over it, the auto range's outcome (None
    for an explicit range), the optimizer steps run and the seconds they took."""

    lrs: np.ndarray
    runs: list[SweepRun]
    outcome: AutoOutcome | None
    steps_run: int
    wall_time: float


@dataclass(frozen=True)
class Reading:
    """What the verdict reads beside the curve: the update rule (its validation and peak cap,
    `finder.rangetest.calibration`), the optimizer's own LR, the loss of a model that ignores
    its inputs (`verdict.chance_loss`), the steps of one pass over the data."""

    update_rule: str
    anchor: float | None
    chance: float | None
    steps_per_pass: int | None


def final_bounds(
    bounds: Bounds, outcome: AutoOutcome | None, update_rule: str, anchor: float | None
) -> Bounds:
    """The curve's bounds as the result reports them: the auto outcome's prior, or none for
    too little data or an optimizer that takes no schedule, capped for an update rule with a
    fixed-size step (`finder.rangetest.calibration.PEAK_CAPS`); constant-LR trials' own."""
    if outcome is not None and outcome.trials is not None:
        return outcome.trials.bounds()
    if outcome is not None and outcome.prior_edge is not None:
        bounds = prior_bounds(outcome.prior_edge)
    empty = (outcome.too_little_data or outcome.schedule_free) if outcome is not None else None
    if empty is not None:
        bounds = Bounds(None, None, empty)
    return capped_bounds(bounds, update_rule, anchor)


def _sweep(
    session: SweepSession, plan: AutoPlan | None, config: RangeTestConfig, reading: Reading
) -> tuple[Any, list[SweepRun], AutoOutcome | None]:
    """The sweeps: the auto range's `plan` (its constant-LR trials for an optimizer that takes
    them), or `repeats` sweeps of the explicit range; returns the LR grid, the runs and the auto
    range's outcome (None for an explicit range)."""
    if plan is not None and plan.trials:
        trials = run_trials(
            session,
            anchor_lr=plan.anchor,
            budget=plan.limit.budget,
            chance=reading.chance,
            smoothing=config.smoothing,
            divergence=config.divergence,
            steps_per_pass=reading.steps_per_pass,
        )
        stop = "not_finite" if trials.non_finite_at_start else "constant_trials"
        outcome = AutoOutcome(
            trials.grid, [trials.curve_run()], [None], plan.limit, stop=stop, trials=trials
        )
        outcome.anchor_lr = plan.anchor
        return outcome.lrs, outcome.runs, outcome
    if plan is not None:
        outcome = run_auto(
            session,
            start_lr=plan.start,
            ceiling_lr=plan.ceiling,
            num_steps=plan.steps,
            limit=plan.limit,
            smoothing=config.smoothing,
            divergence=config.divergence,
            anchor_lr=plan.anchor,
            span=plan.span,
            min_sweeps=max(MIN_SWEEPS, config.sweeps),
            schedule_free=plan.schedule_free,
        )
        return outcome.lrs, outcome.runs, outcome
    lrs = sweep_lrs(config.min_lr, config.max_lr, config.num_steps, config.mode)  # type: ignore[arg-type]
    runs = [
        session.sweep(
            lrs,
            mode=config.mode,
            repeat=repeat,
            repeats=config.sweeps,
            smoothing=config.smoothing,
            divergence=config.divergence,
            score_validation=repeat == 0,
        )
        for repeat in range(config.sweeps)
    ]
    return lrs, runs, None


def _sweep_length(plan: AutoPlan | None, num_steps: int | str) -> float:
    """Steps of a sweep up to its divergence, as the validation curve's spacing expects them:
    an explicit sweep's, or the auto grid's over its span."""
    if plan is None:
        return float(num_steps)
    per_decade = density(plan.limit, plan.steps, plan.start, plan.ceiling, span=plan.span)
    return min(plan.limit.budget, per_decade * plan.span)


def _build_on_first_batch(model: keras.Model, x: Any, y: Any, batch_size: int) -> Any:
    """Build an unbuilt model by calling it on one batch (inference mode, no randomness);
    `x` to read from then on (a generator's first batch is put back in front)."""
    if is_generator(x):
        batch, x = peeked(x)
        first = batch[0]
    else:
        first = batch_sources.take_samples(x if y is None else (x, y), batch_size)[0]
    model(first, training=False)
    return x


def describe_optimizer(optimizer: keras.optimizers.Optimizer) -> dict[str, Any]:
    """The optimizer's class name, the update rule finder's calibration read for it
    (`finder.host.update_rule`: the inner optimizer's under loss scaling, a subclass's Keras
    parent when it keeps the parent's step), and its config."""
    with warnings.catch_warnings():
        # Keras reads a rate variable with `Variable.numpy()`, whose `__array__` numpy 2 warns
        # about on JAX and PyTorch: Keras's own deprecation, nothing the user can act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        config = optimizer.get_config()
    return {
        "name": type(optimizer).__name__,
        "update_rule": update_rule(optimizer),
        "config": jsonable(config),
    }


def describe_model(model: keras.Model) -> dict[str, Any]:
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


def assemble_result(
    sweeps: Sweeps,
    *,
    optimizer: dict[str, Any],
    model: dict[str, Any],
    data: dict[str, Any],
    config: dict[str, Any],
    metadata: dict[str, Any],
    reading: Reading,
    rules: Mapping[str, SuggestionRule] | None = None,
    plan: Plan | None = None,
    skipped_steps: int = 0,
) -> RangeTestResult:
    """The result of `sweeps`, built once: one sweep's curve, or the median of several with
    their spread; the suggestions (built-in, then `rules`' on the same curve); the bounds
    (`final_bounds`), the verdict, the auto section, and the proposals for `plan` (none without
    a plan or bounds). Shared by `range_test` and the in-fit test (`finder.lr_finder`)."""
    lrs, runs, outcome = sweeps.lrs, sweeps.runs, sweeps.outcome
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
        repeats = _repeats_section(lrs, runs, combined)
    found = suggest(lrs[: len(smoothed)], losses, smoothed)
    own = apply_rules(rules or {}, np.asarray(lrs[: len(smoothed)]), np.asarray(smoothed))
    suggestions = {**found.values, **own.values}
    notes = {**found.notes, **own.notes}
    if outcome is not None and outcome.trials is not None:
        # One point per constant-LR trial is no sweep: no rule reads it, the pick is the answer.
        suggestions = dict.fromkeys(suggestions)
        notes = dict.fromkeys(suggestions, TRIALS_NOTE)
    bounds = final_bounds(found.bounds, outcome, reading.update_rule, reading.anchor)
    val_losses = list(first.val_losses) if first.val_losses else None
    if outcome is not None and outcome.trials is not None:
        reliability = assess_trials(outcome.trials, chance=reading.chance, steps=sweeps.steps_run)
    else:
        assess = functools.partial(
            assess_sweeps,
            lrs,
            runs,
            val_losses=val_losses,
            steps=sweeps.steps_run,
            chance=reading.chance,
            steps_per_pass=reading.steps_per_pass,
            update_rule=reading.update_rule,
            edges=outcome.edges if outcome else None,
            extra_reasons=outcome.reasons if outcome else (),
        )
        reliability = assess(bounds)
        reached = float(lrs[max(0, len(first.losses) - 1)])
        floored = floored_bounds(bounds, reliability.signals, first, reached, reading.anchor)
        if floored is not bounds:
            # Read up to the raised edge, the held-out curve must still show nothing learned;
            # the verdict's signals then name the bounds the result reports.
            again = assess(floored)
            if learned_nothing(again.signals):
                bounds, reliability = floored, again
    wall_time = sweeps.wall_time
    return RangeTestResult(
        lrs=[float(v) for v in lrs[: len(losses)]],
        losses=[float(v) for v in losses],
        smoothed_losses=[float(v) for v in smoothed],
        val_lrs=list(first.val_lrs) if first.val_lrs else None,
        val_losses=val_losses,
        stop_reason=stop_reason,
        stopped_at_lr=stopped_at_lr,
        steps_run=sweeps.steps_run,
        skipped_steps=skipped_steps,
        wall_time_s=wall_time,
        steps_per_second=sweeps.steps_run / wall_time if wall_time > 0 else 0.0,
        optimizer=optimizer,
        model=model,
        data=data,
        config=config,
        repeats=jsonable(repeats),
        suggestions=suggestions,
        suggestion_notes=notes,
        bounds=bounds,
        metadata=metadata,
        proposals=proposals_for(bounds, optimizer, plan) if plan is not None else [],
        reliability=reliability,
        auto=jsonable(outcome.to_dict()) if outcome else None,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        finder_version=finder_version(),
    )


def _repeats_section(
    lrs: np.ndarray, runs: list[SweepRun], combined: repeat_stats.CombinedCurve
) -> dict[str, Any]:
    """The repeats' part of the result: each run's curve and suggestions, the spread band and
    every suggestion's spread across the runs."""
    per_run = [suggest(lrs[: len(r.losses)], r.losses, r.smoothed_losses) for r in runs]
    spreads = {
        name: repeat_stats.spread([s.values[name] for s in per_run]) for name in SUGGESTION_NAMES
    }
    spreads["max_lr"] = repeat_stats.spread([s.bounds.max_lr for s in per_run])
    spreads["min_lr"] = repeat_stats.spread([s.bounds.min_lr for s in per_run])
    return {
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


def _combined_stop(
    runs: list[SweepRun], length: int, num_steps: int, lrs: np.ndarray
) -> tuple[str, float | None]:
    """The median curve completed, or stopped where most runs had stopped (and why)."""
    if length == num_steps:
        return "completed", None
    reasons = [r.stop_reason for r in runs if r.stop_reason != "completed"]
    if not reasons:  # every sweep was cut by the step budget, none reached its end
        return "completed", None
    reason = max(set(reasons), key=reasons.count)
    return reason, float(lrs[length]) if length < num_steps else None

"""`finder.fit`: `model.fit` with the learning-rate schedule finder proposes, in one call.

By default it is `model.fit` with a `finder.LearningRateFinder` callback: the range test is the
fit's own warm-up (`finder.lr_finder`), and the fit trains on with the first proposal
from the snapshot at its peak.

On a short plan the test runs before the fit instead, as with an explicit range below. The
ramp takes at least `MIN_PLAN_BUDGET` (100) steps whatever the plan, and inside the fit it
stands in for the 1cycle's warm-up: an exponential ramp spends most of its steps far below the
peak, where a linear warm-up would already be training at a good rate, and the steps past the
peak are thrown away, so the run after the handover has less learning-rate "mass" and fewer
steps than the plan. Both losses grow with the ramp's share of the plan. On the benchmark
suite (BENCHMARKS.md, the frontier's `in_fit` and `anchored_10pct` rows) the two routes
trained about equally well where the ramp took a tenth to an eighth of the plan (the
digits, transformer, ResNet and fine-tuning tasks, and nine optimizers on digits), and the
in-fit route lost on ten of the twelve optimizers that learn on the small CNN's 376-step plan,
where it took a quarter: `MAX_RAMP_SHARE` sits between the two. Before the fit the test costs
all its steps, at most max(10% of the plan, 100) as inside it; on a short plan that is the
100-step floor either way. An optimizer whose constant LR short trials pick (Ftrl:
`finder.rangetest.trials`) takes the test before the fit on any plan, as each trial starts
again from the initial state; a `validation_split` of array data is split off first, as Keras
splits it (the last samples, before shuffling), and passed as `validation_data`.

With an explicit range it is the manual route of README's Python API, as one function:

```
result   = range_test(model, x, y, batch_size, min_lr, max_lr, num_steps, repeats, ...)
proposal = propose_schedules(result, epochs, steps_per_epoch)[0]      # finder's first pick
optimizer.learning_rate = proposal.to_keras()                        # the schedule object
history  = model.fit(x, y, epochs, callbacks = user callbacks + proposal.callbacks())
```

The range test restores the model exactly (weights, optimizer slots, `iterations`), so the
model then trains from the state it was handed, as a plain `fit` would, only with the
proposed schedule. Keras evaluates a schedule at `optimizer.iterations`, which an optimizer
that trained before carries on, so the schedule is installed counted from the fit's first step
(`finder.schedules.StartingAt`); the plan is sized from the training data the way Keras
batches it, over the epochs from `initial_epoch`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from finder.defaults import AUTO, is_auto
from finder.errors import InvalidArgumentError
from finder.host import accumulation_steps, micro_batch_count, update_rule
from finder.lr_finder import (
    LearningRateFinder,
    climb_after_test,
    ramp_follows_every_step,
    reinstate_own_learning_rate,
    save,
    use_schedule,
    warn_if_cut_short,
    warn_if_unreliable,
    with_climb,
)
from finder.propose import Plan, first_proposal
from finder.rangetest import range_test
from finder.rangetest.auto_range import limits
from finder.rangetest.batches import steps_per_pass
from finder.rangetest.calibration import runs_trials, schedule_free_reason
from finder.rangetest.input_checks import check_data, check_validation_data
from finder.rangetest.model_state import require_compiled
from finder.rangetest.verdict import chance_loss

KERAS_BATCH_SIZE = 32  # model.fit's own default for arrays
# Callbacks that set the optimizer's learning rate themselves: Keras refuses to set the rate of an
# optimizer driven by a schedule, so they would fail the fit after the range test.
LR_SETTING_CALLBACKS = (keras.callbacks.ReduceLROnPlateau, keras.callbacks.LearningRateScheduler)
# The largest share of the plan the in-fit ramp may take; above it the test runs before the fit
# (module docstring).
MAX_RAMP_SHARE = 0.2


def fit(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    epochs: int,
    validation_data: Any = None,
    batch_size: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    range_test_options: Mapping[str, Any] | None = None,
    save_dir: str | Path | None = None,
    **fit_kwargs: Any,
) -> keras.callbacks.History:
    """Range-test `model`, set its optimizer to finder's first proposal, and train it.

    ```python
    model.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="mse")
    history = finder.fit(model, x, y, epochs=10, validation_data=(x_val, y_val))
    history.range_test_result.bounds, history.proposal.spec
    ```

    By default the range test is the warm-up of this very fit: `model.fit` with a
    `finder.LearningRateFinder` callback (`finder.lr_finder`), which ramps the LR over
    the fit's first batches, rolls back to the snapshot at the proposal's peak and anneals over
    the batches left, so the test costs only the steps it throws away. With an explicit range
    in `range_test_options` (`min_lr`, `max_lr`, `num_steps`, or `repeats > 1`), on a
    short plan, where the ramp would take more than a fifth of it (`MAX_RAMP_SHARE`: under
    500 steps with the default budget, unless the optimizer takes no schedule: its ramp is
    a warm-up it keeps), or where the ramp cannot read every step
    (`steps_per_execution > 1`, gradient accumulation), the test runs before the fit instead
    (`finder.range_test`, repeats need passes of their own), and the fit trains the whole plan
    with the first proposal. On either route, where the auto range read the edge early, the
    1cycle's warm-up climbs towards four times the edge and stops where the training loss
    rises (`finder.lr_finder.climb`).

    Args:
        model: keras.Model. Compiled, with an optimizer and a loss.
        x, y: the training data, as for `model.fit` (arrays, `tf.data.Dataset`, `PyDataset`,
            a generator of batches with `steps_per_epoch`; a list of lists or a pandas
            DataFrame/Series is converted to an array).
        epochs: int. Epochs to train; the proposal is sized for them.
        validation_data: as for `model.fit`; also the range test's validation curve.
            Defaults to `None`.
        batch_size: int or None. As for `model.fit` (32 for arrays when `None`); the range
            test runs at the same batch size. Defaults to `None`.
        callbacks: Keras callbacks for `model.fit`; finder's run before them. Defaults to `()`.
        range_test_options: the callback's options (`budget`, `smoothing`, `divergence`,
            `validation_samples`, `progress`, `suggestion_rules`), or an explicit range for
            `finder.range_test` (`min_lr`, `max_lr`, `num_steps`, `repeats`, `seed`, ...).
            Defaults to the auto range inside the fit.
        save_dir: str, Path or None. Where to write `result.json` (the range test with all
            proposals), `curve.png` and `proposal.json` (the schedule used). Defaults to `None`.
        **fit_kwargs: the rest of `model.fit`'s arguments (`verbose`, `shuffle`,
            `steps_per_epoch`, `validation_split`, ...).

    Returns:
        The `History` of `model.fit`, with `range_test_result` (`RangeTestResult`) and
        `proposal` (the `Proposal` trained with: the climbing cycle after an edge read early;
        None when the test found no bounds and the model trained with the optimizer's own
        learning rate: the one it was compiled with, also after an earlier `finder.fit`
        installed its schedule in its place) attached; `range_test_result` says what a climb did
        (`auto["climb"]`, its rollback in `extra_steps`, the verdict settled).

    Warns:
        UnreliableAnswerWarning: the test's verdict is "unreliable" (the warning names the
            reasons), or it found no bounds and the optimizer keeps its own learning rate.
        ScheduleCutShortWarning: an `EarlyStopping` in `callbacks` stopped the fit while the
            schedule's rate was still above a tenth of its peak (`finder.lr_finder.early_stop`);
            the warning gives the `start_from_epoch` from which every epoch ends below that.

    Raises:
        InvalidArgumentError: `epochs < 1`, a refused argument, a callback that sets the
            learning rate itself (`ReduceLROnPlateau`, `LearningRateScheduler`), or data of
            unknown length without `steps_per_epoch`.
        ModelError: the model is not compiled.
        DataError: the data does not fit the model or its loss (string labels, an unbatched
            dataset, ...: `finder.rangetest.input_checks`).
    """
    _check(model, epochs, callbacks)
    # Before model.fit sees the data: lists and pandas become arrays, and the common mistakes
    # (string labels, an unbatched dataset, ...) get finder's errors, not TensorFlow's.
    checked_batch_size = batch_size or KERAS_BATCH_SIZE
    x, y = check_data(model, x, y, batch_size=checked_batch_size)
    if validation_data is None:
        # Split off here, as Keras would split it: the test before the fit and the ramp's
        # validation curve then see the held-out samples too, and never train on them.
        x, y, validation_data = _split_off_validation(x, y, fit_kwargs)
    else:
        fit_kwargs.pop("validation_split", None)  # Keras ignores it beside validation_data
    validation_data = check_validation_data(model, validation_data, batch_size=checked_batch_size)
    options = dict(range_test_options or {})
    if "batch_size" in options:
        raise InvalidArgumentError(
            "Pass batch_size to finder.fit itself: the range test runs at fit's batch size."
        )
    explicit = _explicit(options)
    if not explicit:
        # Values that say what the test inside the fit does anyway are accepted and dropped.
        options = {k: v for k, v in options.items() if IN_FIT_IMPLIED.get(k, _UNSET) != v}
        unknown = sorted(set(options) - set(IN_FIT_OPTIONS))
        if unknown:
            raise InvalidArgumentError(
                f"Unknown range_test_options for the test inside the fit: {', '.join(unknown)}. "
                f"Allowed: {', '.join(IN_FIT_OPTIONS)}; or an explicit range (min_lr, max_lr, "
                "num_steps) to run finder.range_test before the fit."
            )
    # Where the ramp cannot read every step, the test before the fit can: it switches to one
    # step per execution and records the mean loss of each step's micro-batches.
    before_fit = explicit or not ramp_follows_every_step(model)
    epochs_run = epochs - int(fit_kwargs.get("initial_epoch", 0))
    if epochs_run < 1:
        raise InvalidArgumentError(
            f"finder.fit has no epochs to train: epochs={epochs} with "
            f"initial_epoch={fit_kwargs['initial_epoch']} (Keras trains epochs initial_epoch "
            "to epochs - 1)."
        )
    short = _short_plan(
        x,
        y,
        epochs_run,
        batch_size,
        options.get("budget"),
        fit_kwargs,
        update_rule(model.optimizer),
    )
    route = _fit_after_test if before_fit or short else _fit_with_ramp
    history = route(
        model,
        x,
        y,
        epochs,
        validation_data,
        batch_size,
        callbacks,
        options,
        save_dir,
        fit_kwargs,
    )
    warn_if_cut_short(history, model, callbacks, epochs, "finder.fit")
    return history


# The options of the in-fit test (`LearningRateFinder`); any other asks for a test of its own.
IN_FIT_OPTIONS = (
    "budget",
    "smoothing",
    "divergence",
    "validation_samples",
    "progress",
    "suggestion_rules",
)
EXPLICIT_OPTIONS = ("min_lr", "max_lr", "num_steps")
IN_FIT_IMPLIED = {"min_lr": AUTO, "max_lr": AUTO, "num_steps": AUTO, "mode": "exp", "repeats": 1}
_UNSET = object()


def _explicit(options: Mapping[str, Any]) -> bool:
    """Whether `options` ask for a range test of its own: an explicit range or repeats."""
    explicit = not is_auto(*(options.get(name, AUTO) for name in EXPLICIT_OPTIONS))
    return explicit or int(options.get("repeats", 1)) > 1


def _short_plan(
    x: Any,
    y: Any,
    epochs: int,
    batch_size: int | None,
    budget: int | None,
    fit_kwargs: Mapping[str, Any],
    optimizer_name: str | None = None,
) -> bool:
    """Whether the in-fit ramp would take more than `MAX_RAMP_SHARE` of the plan of `epochs`
    epochs, so the test runs before the fit (module docstring). Not where that route cannot
    run: a fit that splits its own validation data off data that are not arrays, or data of
    unknown length."""
    if "validation_split" in fit_kwargs:
        return False
    steps = _known_steps_per_epoch(x, y, batch_size, fit_kwargs.get("steps_per_epoch"))
    return steps is not None and runs_before_fit(epochs * steps, budget, optimizer_name)


def runs_before_fit(
    plan_steps: int, budget: int | None = None, optimizer_name: str | None = None
) -> bool:
    """Whether `finder.fit`'s auto range test runs before a fit of `plan_steps` rather than
    inside it: the in-fit ramp (`budget`, or max(10% of the plan, 100)) would take more than
    `MAX_RAMP_SHARE` of the plan (module docstring). Always for an optimizer whose LR
    constant-LR trials pick (`optimizer_name`, its class name): each trial restarts from the
    initial state, which a ramp inside the fit cannot. Never for another optimizer that takes
    no schedule: its ramp is a warm-up to its own LR that the fit keeps whole
    (`finder.rangetest.calibration`)."""
    if optimizer_name is not None and runs_trials(optimizer_name):
        return True
    if optimizer_name is not None and schedule_free_reason(optimizer_name) is not None:
        return False
    return limits(budget, plan_steps, None).budget > MAX_RAMP_SHARE * plan_steps


def _fit_with_ramp(
    model: keras.Model,
    x: Any,
    y: Any,
    epochs: int,
    validation_data: Any,
    batch_size: int | None,
    callbacks: Sequence[keras.callbacks.Callback],
    options: dict[str, Any],
    save_dir: str | Path | None,
    fit_kwargs: dict[str, Any],
) -> keras.callbacks.History:
    """finder.fit with the test inside the fit: `model.fit` with a `LearningRateFinder` first
    in its callbacks (module docstring)."""
    lr_finder = LearningRateFinder(
        validation_data=validation_data,
        chance_loss=chance_loss(model.loss, y) if y is not None else None,
        save_dir=save_dir,
        verbose=0,
        **options,
    )
    history = model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        callbacks=[lr_finder, *callbacks],
        **fit_kwargs,
    )
    history.range_test_result = lr_finder.result
    history.proposal = lr_finder.proposal
    return history


def _fit_after_test(
    model: keras.Model,
    x: Any,
    y: Any,
    epochs: int,
    validation_data: Any,
    batch_size: int | None,
    callbacks: Sequence[keras.callbacks.Callback],
    options: dict[str, Any],
    save_dir: str | Path | None,
    fit_kwargs: dict[str, Any],
) -> keras.callbacks.History:
    """finder.fit with the test before the fit (an explicit range, a short plan, or steps the
    ramp cannot follow): `finder.range_test`, then the whole plan with the first proposal."""
    if "validation_split" in fit_kwargs:  # left by `_split_off_validation`: not arrays
        why = "an explicit range" if _explicit(options) else "a range test before the fit"
        raise InvalidArgumentError(
            f"finder.fit with {why} takes validation_split only on array data, which it "
            "splits as Keras does (the range test must not train on the held-out samples): "
            "pass validation_data instead."
        )
    steps_per_epoch = _steps_per_epoch(x, y, batch_size, fit_kwargs.get("steps_per_epoch"))
    options.setdefault("validation_data", validation_data)
    # Keras trains epochs initial_epoch to epochs - 1.
    plan = Plan(epochs - int(fit_kwargs.get("initial_epoch", 0)), steps_per_epoch)
    per_step = accumulation_steps(model.optimizer)
    reinstate_own_learning_rate(model)  # not an earlier fit's spent cycle
    result = range_test(
        model,
        x,
        y,
        batch_size=batch_size or KERAS_BATCH_SIZE,
        plan=plan,
        # The auto range's budget: max(10% of the plan, 100) optimizer steps; an explicit range
        # runs its steps. The plan counts batches, and under gradient accumulation a step
        # spans several (the proposal's schedule counts batches, as Keras evaluates it).
        plan_steps=None if _explicit(options) else plan.total_steps // per_step,
        **options,
    )
    proposal = first_proposal(result)
    # The test restored the optimizer's step counter: the schedule counts from it
    # (`finder.schedules.offset`).
    start_step = micro_batch_count(model.optimizer)
    # Where the edge was read early, the warm-up climbs past it (`finder.lr_finder.climb`).
    climbing = climb_after_test(
        result, proposal, batches=plan.total_steps, model=model, start_step=start_step
    )
    climb = None
    if climbing is not None:
        proposal, climb = climbing
    warn_if_unreliable(result, model, "finder.fit", climb=proposal if climb else None)
    if proposal is not None:
        use_schedule(model, proposal, start_step)
    if save_dir is not None:
        save(result, proposal, Path(save_dir))
    history = model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        callbacks=[
            *callbacks,
            *(proposal.callbacks(start_step) if proposal else ()),
            *([climb] if climb is not None else []),
        ],
        **fit_kwargs,
    )
    if climb is not None:
        result = with_climb(result, climb)
        if save_dir is not None:
            save(result, proposal, Path(save_dir))
    history.range_test_result = result
    history.proposal = proposal
    return history


def _split_off_validation(
    x: Any, y: Any, fit_kwargs: dict[str, Any]
) -> tuple[Any, Any, tuple[Any, ...] | None]:
    """`validation_split` of array data done as Keras does it (the last samples, before any
    shuffling, `sample_weight` with them), popped from `fit_kwargs`; the data unchanged, and
    no validation data, when there is no split or the data are not arrays (the fit then
    splits, inside its warm-up)."""
    split = fit_kwargs.get("validation_split")
    weights = fit_kwargs.get("sample_weight")
    arrays = [a for a in keras.tree.flatten((x, y, weights)) if a is not None]
    if not split or not all(isinstance(a, np.ndarray) for a in arrays):
        return x, y, None
    samples = int(arrays[0].shape[0])
    at = math.floor(samples * (1.0 - float(split)))
    if at in (0, samples):
        return x, y, None  # Keras's own error says the data is too small to split
    fit_kwargs.pop("validation_split")
    train = keras.tree.map_structure(lambda a: None if a is None else a[:at], (x, y, weights))
    held = keras.tree.map_structure(lambda a: None if a is None else a[at:], (x, y, weights))
    if weights is None:
        return train[0], train[1], held[:2]
    fit_kwargs["sample_weight"] = train[2]
    return train[0], train[1], held


def _check(model: Any, epochs: Any, callbacks: Sequence[keras.callbacks.Callback]) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InvalidArgumentError(
            f"Argument `epochs` must be an integer >= 1. Received: epochs={epochs!r}"
        )
    require_compiled(model)
    for callback in callbacks:
        if isinstance(callback, LR_SETTING_CALLBACKS):
            raise InvalidArgumentError(
                f"finder.fit trains with the learning-rate schedule it proposes, and "
                f"{type(callback).__name__} in callbacks sets the learning rate itself (Keras "
                "cannot set the rate of an optimizer driven by a schedule). Drop it, or run "
                "finder.range_test and train with a schedule of your choice (its proposals "
                "include a 'plateau' policy, a ReduceLROnPlateau within the bounds)."
            )


def _known_steps_per_epoch(x: Any, y: Any, batch_size: int | None, given: int | None) -> int | None:
    """Optimizer steps per epoch as Keras will take them: `steps_per_epoch` when given, else
    one pass over the data; None when the data has no known length."""
    if given is not None:
        return int(given)
    return steps_per_pass(x, y, batch_size or KERAS_BATCH_SIZE)


def _steps_per_epoch(x: Any, y: Any, batch_size: int | None, given: int | None) -> int:
    """`_known_steps_per_epoch`, required."""
    steps = _known_steps_per_epoch(x, y, batch_size, given)
    if steps is None:
        raise InvalidArgumentError(
            "The training data has no known length: pass steps_per_epoch= to finder.fit."
        )
    return steps

"""`finder.fit`: `model.fit` with the learning-rate schedule finder proposes, in one call.

It is the manual route of README's Python API, as one function:

```
result   = range_test(model, x, y, batch_size, plan_steps = epochs * steps_per_epoch)
proposal = propose_schedules(result, epochs, steps_per_epoch)[0]      # finder's first pick
optimizer.learning_rate = proposal.to_keras()                        # the schedule object
history  = model.fit(x, y, epochs, callbacks = user callbacks + proposal.callbacks())
```

The range test restores the model exactly (weights, optimizer slots, `iterations`), so the
model then trains from the state it was handed, as a plain `fit` would, only with the
proposed schedule. The schedule counts `optimizer.iterations`, so a fresh optimizer runs it
from its start; the plan is sized from the training data the way Keras batches it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras

from finder.defaults import AUTO, is_auto
from finder.errors import InvalidArgumentError, UnreliableAnswerWarning
from finder.plot import plot_range_test
from finder.propose import Proposal, attach_proposals
from finder.rangetest import range_test
from finder.rangetest.batches import steps_per_pass
from finder.rangetest.model_state import (
    initial_learning_rate,
    innermost_optimizer,
    require_compiled,
)
from finder.rangetest.result import RangeTestResult

KERAS_BATCH_SIZE = 32  # model.fit's own default for arrays
# fit() arguments finder.fit cannot honour: the range test would train on held-out samples, or
# the plan would not match the steps Keras takes.
REFUSED_FIT_ARGUMENTS = ("validation_split", "initial_epoch")


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

    Args:
        model: keras.Model. Compiled, with an optimizer and a loss.
        x, y: the training data, as for `model.fit` (arrays, `tf.data.Dataset`, `PyDataset`).
        epochs: int. Epochs to train; the proposal is sized for them.
        validation_data: as for `model.fit`; also the range test's validation curve.
            Defaults to `None`.
        batch_size: int or None. As for `model.fit` (32 for arrays when `None`); the range
            test runs at the same batch size. Defaults to `None`.
        callbacks: Keras callbacks for `model.fit`; the proposal's (e.g. `MomentumCycler`)
            run after them. Defaults to `()`.
        range_test_options: keyword arguments for `finder.range_test` (`budget`, `min_lr`,
            `max_lr`, `num_steps`, `repeats`, `seed`, `progress`, ...). Defaults to the auto
            range test within the training plan.
        save_dir: str, Path or None. Where to write `result.json` (the range test with all
            proposals), `curve.png` and `proposal.json` (the schedule used). Defaults to `None`.
        **fit_kwargs: the rest of `model.fit`'s arguments (`verbose`, `shuffle`,
            `steps_per_epoch`, ...).

    Returns:
        The `History` of `model.fit`, with `range_test_result` (`RangeTestResult`) and
        `proposal` (the `Proposal` trained with; None when the test found no bounds and the
        model trained with the optimizer's own learning rate) attached.

    Warns:
        UnreliableAnswerWarning: the test's verdict is "unreliable" (the warning names the
            reasons), or it found no bounds and the optimizer keeps its own learning rate.

    Raises:
        InvalidArgumentError: `epochs < 1` or a refused `fit` argument.
        ModelError: the model is not compiled.
    """
    _check(model, epochs, fit_kwargs)
    steps_per_epoch = _steps_per_epoch(x, y, batch_size, fit_kwargs.get("steps_per_epoch"))
    result = _range_test(
        model, x, y, batch_size, validation_data, epochs * steps_per_epoch, range_test_options
    )
    attach_proposals(result, epochs=epochs, steps_per_epoch=steps_per_epoch)
    proposal = Proposal.from_dict(result.proposals[0]) if result.proposals else None
    _warn_if_unreliable(result, model)
    if proposal is not None:
        use_schedule(model, proposal)
    if save_dir is not None:
        save(result, proposal, Path(save_dir))
    history = model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        callbacks=[*callbacks, *(proposal.callbacks() if proposal else ())],
        **fit_kwargs,
    )
    history.range_test_result = result
    history.proposal = proposal
    return history


def _warn_if_unreliable(result: RangeTestResult, model: keras.Model) -> None:
    """Warn (`UnreliableAnswerWarning`) when the model trains on an answer the test calls
    unreliable, or, with no bounds, on the optimizer's own learning rate."""
    reliability = result.reliability
    if reliability is None or reliability.reliable:
        return
    reasons = "; ".join(reliability.reasons)
    if result.bounds.max_lr is None:
        rate = initial_learning_rate(model.optimizer)
        message = (
            "finder.fit: the range test found no bounds, so the model trains with the "
            f"optimizer's own learning rate ({rate:.3g}) as compiled: {reasons}"
            if rate is not None
            else "finder.fit: the range test found no bounds; the optimizer is unchanged: "
            + reasons
        )
    else:
        message = f"finder.fit: training on an unreliable range test: {reasons}"
    warnings.warn(message, UnreliableAnswerWarning, stacklevel=3)


def _check(model: Any, epochs: Any, fit_kwargs: Mapping[str, Any]) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InvalidArgumentError(
            f"Argument `epochs` must be an integer >= 1. Received: epochs={epochs!r}"
        )
    require_compiled(model)
    refused = sorted(set(fit_kwargs) & set(REFUSED_FIT_ARGUMENTS))
    if refused:
        raise InvalidArgumentError(
            f"finder.fit does not take {', '.join(refused)}: pass validation_data, and train "
            "from the start of the plan."
        )


def _steps_per_epoch(x: Any, y: Any, batch_size: int | None, given: int | None) -> int:
    """Optimizer steps per epoch as Keras will take them: `steps_per_epoch` when given,
    else one pass over the data."""
    if given is not None:
        return int(given)
    steps = steps_per_pass(x, y, batch_size or KERAS_BATCH_SIZE)
    if steps is None:
        raise InvalidArgumentError(
            "The training data has no known length: pass steps_per_epoch= to finder.fit."
        )
    return steps


def _range_test(
    model: keras.Model,
    x: Any,
    y: Any,
    batch_size: int | None,
    validation_data: Any,
    plan_steps: int,
    options: Mapping[str, Any] | None,
) -> RangeTestResult:
    """The range test on the training data, at the batch size `fit` will use, sized by the
    plan unless `options` set an explicit range."""
    options = dict(options or {})
    if "batch_size" in options:
        raise InvalidArgumentError(
            "Pass batch_size to finder.fit itself: the range test runs at fit's batch size."
        )
    if is_auto(*(options.get(name, AUTO) for name in ("min_lr", "max_lr", "num_steps"))):
        options.setdefault("plan_steps", plan_steps)
    options.setdefault("validation_data", validation_data)
    return range_test(model, x, y, batch_size=batch_size or KERAS_BATCH_SIZE, **options)


def use_schedule(model: keras.Model, proposal: Proposal) -> None:
    """Set the optimizer's learning rate to `proposal`'s schedule.

    Keras accepts a new schedule object on any optimizer (the first proposal is always one).
    A train function already traced (by the range test, or an earlier `fit`) read the old
    rate variable as it was traced, so it is rebuilt.
    """
    innermost_optimizer(model.optimizer).learning_rate = proposal.to_keras()
    model.make_train_function(force=True)


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

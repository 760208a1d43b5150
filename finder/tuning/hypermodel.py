"""The keras-tuner side of `finder.tune`: a HyperModel over schedules and the tuners that run it.

`ScheduleHyperModel.build(hp)` draws a schedule from the `SearchSpace`, sizes it to the trial's
own run (`epochs * steps_per_epoch` optimizer steps), and compiles the user's model with a fresh
copy of the user's optimizer carrying that schedule. `fit` scores the untrained model, trains,
and reports the objective after the last epoch, never worse than the untrained model's
(see `finder.tuning` for why).

keras-tuner's Hyperband continues a trial from its parent's checkpoint with `initial_epoch > 0`
and a new, unbuilt optimizer. Keras 3 restores that optimizer's variables only when they match
the saved ones: with momentum or Adam slots it skips them (with a warning) and `iterations`
restarts at 0, so a step-based schedule starts its warm-up again mid-run; with plain SGD
`iterations` comes back and the run carries on the parent's count into a schedule sized for
another length. `FinderHyperband` retrains every rung from scratch instead, with a schedule
sized to the rung's epochs, as Li et al.'s successive halving does.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import keras
import keras_tuner

from finder.errors import InvalidArgumentError, ModelError
from finder.schedules import ScheduleSpec
from finder.tuning.result import TrialRecord
from finder.tuning.space import FAMILY, SearchSpace

# Extra metrics each trial reports to the oracle, so that a chief learns them from workers.
DIVERGED = "finder/diverged"
NO_PROGRESS = "finder/no_progress"
CLIPPED = "finder/clipped"
FIRST_LOSS = "finder/first_loss"
STEPS = "finder/steps"
# A run whose last epoch's mean loss is above this fraction of its first batch's loss made
# no progress.
NO_PROGRESS_RATIO = 0.95


@dataclass(frozen=True)
class CompileArgs:
    """What `finder.tune` puts into `model.compile` besides the schedule (None: the model's)."""

    optimizer: str | dict[str, Any] | keras.optimizers.Optimizer | None = None
    loss: Any = None
    metrics: Any = None


def optimizer_with(base: Any, learning_rate: Any) -> Any:
    """A new optimizer of `base`'s class and settings (an optimizer, its name or its
    serialized config), with `learning_rate` instead of its own."""
    optimizer = keras.optimizers.get(base) if isinstance(base, str | dict) else base
    config = optimizer.get_config()
    config["learning_rate"] = learning_rate
    return type(optimizer).from_config(config)


def compile_with_schedule(model: keras.Model, learning_rate: Any, args: CompileArgs) -> None:
    """(Re)compile `model` with its own loss and metrics and a copy of its optimizer that uses
    `learning_rate`; `args` overrides any of them.

    Raises:
        ModelError: the model is uncompiled and `args` gives no loss.
    """
    compiled = bool(getattr(model, "compiled", False)) and model.optimizer is not None
    kwargs: dict[str, Any] = (
        keras.saving.deserialize_keras_object(model.get_compile_config()) if compiled else {}
    )
    if args.loss is not None:
        kwargs["loss"] = args.loss
    if args.metrics is not None:
        kwargs["metrics"] = args.metrics
    if kwargs.get("loss") is None:
        raise ModelError(
            "build_model returned a model without a loss: compile it in build_model, "
            "or pass loss= (and optimizer=, metrics=) to finder.tune."
        )
    base = args.optimizer if args.optimizer is not None else model.optimizer if compiled else "sgd"
    kwargs["optimizer"] = optimizer_with(base, learning_rate)
    model.compile(**kwargs)


def build_checked(build_model: Callable[[], Any]) -> keras.Model:
    """`build_model()`, checked to be a Keras model.

    Raises:
        ModelError: it returned something else.
    """
    model = build_model()
    if not isinstance(model, keras.Model):
        raise ModelError(
            f"build_model() must return a keras.Model. Received: {type(model).__name__}"
        )
    return model


class TrialMonitor(keras.callbacks.Callback):
    """Watches one training run: its first batch's loss, the last epoch's mean loss, and a
    non-finite loss, on which it stops training (nothing can be learned after it).

    `outcome()` is `"diverged"` when the loss became non-finite or ended above the first
    batch's, `"no_progress"` when it ended above `NO_PROGRESS_RATIO` of it, else `"ok"`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.first_loss: float | None = None
        self.final_loss: float | None = None
        self.non_finite = False

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if "loss" not in logs:
            return
        loss = float(logs["loss"])
        if self.first_loss is None:
            self.first_loss = loss
        if not math.isfinite(loss):
            self.non_finite = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if "loss" in logs:
            self.final_loss = float(logs["loss"])

    def outcome(self) -> str:
        first, final = self.first_loss, self.final_loss
        if self.non_finite or final is None or not math.isfinite(final):
            return "diverged"
        if first is None or not math.isfinite(first) or first <= 0:
            return "ok"
        if final > first:
            return "diverged"
        return "no_progress" if final > NO_PROGRESS_RATIO * first else "ok"


class ScheduleHyperModel(keras_tuner.HyperModel):
    """The user's model, compiled with a schedule drawn from `space`, as a keras-tuner space.

    Every trial starts from the same weights and batch order (the global seed is reset to
    `seed + execution` before `build_model()`), so trials differ only by their schedule.

    Args:
        build_model: callable. No arguments; returns a Keras model, compiled or not.
        space: SearchSpace. The schedules to search.
        epochs: int. Epochs of a trial (Hyperband rungs use their own `tuner/epochs`).
        steps_per_epoch: int. Optimizer steps per epoch.
        objective: keras_tuner.Objective. A validation metric.
        compile_args: CompileArgs. Overrides for `model.compile`.
        seed: int. Base seed of every trial's weights and batch order.
        batch_size: int or None. Batch size of the baseline evaluation (numpy inputs).
    """

    def __init__(
        self,
        build_model: Callable[[], Any],
        space: SearchSpace,
        *,
        epochs: int,
        steps_per_epoch: int,
        objective: Any,
        compile_args: CompileArgs,
        seed: int,
        batch_size: int | None,
    ) -> None:
        super().__init__(name="finder_schedules")
        self.build_model = build_model
        self.space = space
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.objective = objective
        self.compile_args = compile_args
        self.seed = seed
        self.batch_size = batch_size
        self._declaring = False
        self._executions: Counter[str] = Counter()

    @contextmanager
    def declaring(self) -> Iterator[None]:
        """While a tuner explores the space, `build` only declares hyperparameters.

        keras-tuner builds once per conditional scope to discover the space and throws the
        models away; this keeps it from building (and a chief from ever building) them.
        """
        self._declaring = True
        try:
            yield
        finally:
            self._declaring = False

    def trial_epochs(self, hp: Any) -> int:
        return int(hp.values.get("tuner/epochs", self.epochs))

    def trial_spec(self, hp: Any) -> ScheduleSpec:
        """The schedule of a trial, sized to its own run."""
        return self.space.spec(hp.values, self.trial_epochs(hp) * self.steps_per_epoch)

    def build(self, hp: Any) -> keras.Model | None:
        self.space.declare(hp)
        if self._declaring:
            return None
        key = json.dumps(hp.values, sort_keys=True, default=str)
        keras.utils.set_random_seed(self.seed + self._executions[key])
        self._executions[key] += 1
        model = build_checked(self.build_model)
        compile_with_schedule(model, self.trial_spec(hp).to_keras(), self.compile_args)
        return model

    def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> dict[str, float]:
        spec = self.trial_spec(hp)
        monitor = TrialMonitor()
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), *spec.callbacks(), monitor]
        baseline = self._baseline(model, kwargs.get("validation_data"))
        history = model.fit(*args, **kwargs)
        final = {name: float(values[-1]) for name, values in history.history.items() if values}
        value = final.get(self.objective.name, math.nan)
        clipped = not (math.isfinite(value) and not self.objective.better_than(baseline, value))
        outcome = monitor.outcome()
        return {
            **final,
            self.objective.name: baseline if clipped else value,
            DIVERGED: float(outcome == "diverged"),
            NO_PROGRESS: float(outcome == "no_progress"),
            CLIPPED: float(clipped),
            FIRST_LOSS: math.nan if monitor.first_loss is None else monitor.first_loss,
            STEPS: float(int(model.optimizer.iterations.numpy())),
        }

    def _baseline(self, model: keras.Model, validation_data: Any) -> float:
        """The objective of the untrained model on the validation data.

        Raises:
            InvalidArgumentError: the model does not log the objective.
        """
        if isinstance(validation_data, tuple | list):
            logs = model.evaluate(
                *validation_data[:2],
                batch_size=self.batch_size,
                verbose=0,
                return_dict=True,
            )
        else:
            logs = model.evaluate(validation_data, verbose=0, return_dict=True)
        metrics = {f"val_{name}": float(value) for name, value in logs.items()}
        if self.objective.name not in metrics:
            raise InvalidArgumentError(
                f"The objective {self.objective.name!r} is not a metric of the model. "
                f"Its validation metrics: {', '.join(sorted(metrics))}"
            )
        return metrics[self.objective.name]


@dataclass(frozen=True)
class TrialProgress:
    """One step of a search, as handed to a `progress` callable.

    Attributes:
        event: "trial_begin", "epoch_end" or "trial_end".
        trial_id: keras-tuner's trial id.
        number: 1-based count of the trials this process has begun (a chief: has seen).
        max_trials: the trial budget, None when keras-tuner's Hyperband decides it.
        spec: the schedule the trial trains with, sized to its run.
        epoch: epochs finished.
        epochs: epochs the trial trains.
        logs: the epoch's logs at "epoch_end", the reported metrics at "trial_end".
        record: the finished trial at "trial_end", else None.
    """

    event: str
    trial_id: str
    number: int
    max_trials: int | None
    spec: ScheduleSpec | None
    epoch: int
    epochs: int
    logs: dict[str, float] = field(default_factory=dict)
    record: TrialRecord | None = None


def trial_progress(
    hypermodel: ScheduleHyperModel,
    trial: Any,
    event: str,
    *,
    number: int,
    max_trials: int | None,
    epoch: int,
    logs: dict[str, float] | None = None,
    record: TrialRecord | None = None,
) -> TrialProgress:
    """The `TrialProgress` of keras-tuner `trial` at `event` (a tuner's hooks and a chief's
    watcher both report through this)."""
    hp = trial.hyperparameters
    return TrialProgress(
        event=event,
        trial_id=str(trial.trial_id),
        number=number,
        max_trials=max_trials,
        spec=hypermodel.trial_spec(hp),
        epoch=epoch,
        epochs=hypermodel.trial_epochs(hp),
        logs=logs or {},
        record=record,
    )


def trial_end_fields(trial: Any, hypermodel: ScheduleHyperModel) -> dict[str, Any]:
    """`epoch`, `logs` and `record` of a `"trial_end"` progress event for a finished trial."""
    record = trial_record(trial, hypermodel)
    logs = {k: v for k, v in record.metrics.items() if v is not None}
    return {"epoch": record.epochs, "logs": logs, "record": record}


def trial_record(trial: Any, hypermodel: ScheduleHyperModel) -> TrialRecord:
    """The `TrialRecord` of a keras-tuner trial (rank None; `rank_trials` sets it)."""
    values = dict(trial.hyperparameters.values)
    spec = None
    if values.get(FAMILY) is not None:
        try:
            spec = hypermodel.trial_spec(trial.hyperparameters)
        except InvalidArgumentError:
            spec = None
    metrics = {
        name: _finite_or_none(trial.metrics.get_last_value(name)) for name in trial.metrics.metrics
    }
    completed = trial.status == "COMPLETED"
    outcome = None
    if completed:
        outcome = (
            "diverged"
            if (metrics.get(DIVERGED) or 0) > 0
            else "no_progress"
            if (metrics.get(NO_PROGRESS) or 0) > 0
            else "ok"
        )
    score = _finite_or_none(trial.score) if completed else None
    return TrialRecord(
        trial_id=str(trial.trial_id),
        rank=None,
        status=str(trial.status),
        family=values.get(FAMILY),
        spec=spec,
        values=values,
        epochs=hypermodel.trial_epochs(trial.hyperparameters),
        score=score,
        outcome=outcome,
        metrics=metrics,
        error=trial.message if trial.status in ("FAILED", "INVALID") else None,
    )


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None

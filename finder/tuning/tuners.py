"""keras-tuner's tuners with finder's per-trial hooks, and reading their trials back.

Each tuner reports `TrialProgress` to a `progress` callable and remembers the trials it ran
(on a worker, those are all it can see). `FinderHyperband` retrains every rung from scratch
with a schedule sized to the rung (see `finder.tuning.hypermodel`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras_tuner

from finder.errors import InvalidArgumentError, TuningError
from finder.tuning.hypermodel import (
    ScheduleHyperModel,
    TrialProgress,
    trial_end_fields,
    trial_progress,
)
from finder.tuning.result import TrialRecord

TUNERS = ("bayesian", "random", "hyperband")
# Lines of a failed trial's traceback quoted in the TuningError message.
ERROR_LINES = 3


class _FinderHooks(keras_tuner.Tuner):
    """Per-trial hooks shared by finder's tuners (listed first among their bases)."""

    hypermodel: ScheduleHyperModel

    def __init__(
        self,
        *args: Any,
        progress: Callable[[TrialProgress], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.finder_progress = progress
        self.finder_trial_ids: list[str] = []
        self.finder_budget: int | None = kwargs.get("max_trials")
        super().__init__(*args, **kwargs)

    def _emit(self, trial: Any, event: str, **fields: Any) -> None:
        if self.finder_progress is None:
            return
        self.finder_progress(
            trial_progress(
                self.hypermodel,
                trial,
                event,
                number=len(self.finder_trial_ids) + (event != "trial_end"),
                max_trials=self.finder_budget,
                **fields,
            )
        )

    def on_trial_begin(self, trial: Any) -> None:
        super().on_trial_begin(trial)
        self._emit(trial, "trial_begin", epoch=0)

    def on_epoch_end(
        self, trial: Any, model: Any, epoch: int, logs: Mapping[str, Any] | None = None
    ) -> None:
        super().on_epoch_end(trial, model, epoch, logs=logs)
        logs = {name: float(value) for name, value in (logs or {}).items()}
        self._emit(trial, "epoch_end", epoch=epoch + 1, logs=logs)

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)
        self.finder_trial_ids.append(str(trial.trial_id))
        if self.finder_progress is not None:
            finished = self.oracle.get_trial(trial.trial_id)
            self._emit(trial, "trial_end", **trial_end_fields(finished, self.hypermodel))


class FinderRandomSearch(_FinderHooks, keras_tuner.RandomSearch):
    """keras-tuner's RandomSearch with finder's hooks."""


class FinderBayesianOptimization(_FinderHooks, keras_tuner.BayesianOptimization):
    """keras-tuner's BayesianOptimization with finder's hooks."""


class FinderHyperband(_FinderHooks, keras_tuner.Hyperband):
    """keras-tuner's Hyperband, but every rung trains from scratch for its `tuner/epochs`.

    keras-tuner continues a promoted trial from its parent's best checkpoint with
    `initial_epoch > 0` and a new optimizer (see `finder.tuning.hypermodel`: `iterations` back
    at 0 and slots lost, or the parent's step count in a schedule sized for another run
    length). Here a promoted configuration is trained
    again from the same initial weights with its schedule sized to the rung's epochs, so
    every score is that of a complete schedule; it costs the parent's epochs once more.
    """

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["epochs"] = self.hypermodel.trial_epochs(trial.hyperparameters)
        kwargs["initial_epoch"] = 0
        return keras_tuner.Tuner.run_trial(self, trial, *args, **kwargs)

    def _build_hypermodel(self, hp: Any) -> Any:
        # Hyperband's override loads the parent trial's weights; start from scratch instead.
        return keras_tuner.Tuner._build_hypermodel(self, hp)


def make_tuner(
    kind: str,
    hypermodel: ScheduleHyperModel,
    *,
    objective: Any,
    max_trials: int | None,
    seed: int,
    directory: str | Path,
    project_name: str,
    overwrite: bool,
    executions_per_trial: int,
    max_consecutive_failed_trials: int,
    options: Mapping[str, Any],
    progress: Callable[[TrialProgress], None] | None,
) -> Any:
    """A finder tuner of `kind` ("bayesian", "random" or "hyperband") over `hypermodel`.

    `options` go to the keras-tuner class (e.g. `num_initial_points`, `factor`). For
    Hyperband, `max_epochs` is the plan's epochs and `max_trials`, when given, caps the
    number of trials.

    Raises:
        InvalidArgumentError: unknown kind, or options the keras-tuner class refuses.
        TuningError: the tuner's own dependencies are missing (scipy for "bayesian").
    """
    common: dict[str, Any] = {
        "hypermodel": hypermodel,
        "objective": objective,
        "seed": seed,
        "directory": str(directory),
        "project_name": project_name,
        "overwrite": overwrite,
        "executions_per_trial": executions_per_trial,
        "max_consecutive_failed_trials": max_consecutive_failed_trials,
        "progress": progress,
        **options,
    }
    with hypermodel.declaring():
        try:
            if kind == "random":
                return FinderRandomSearch(max_trials=max_trials, **common)
            if kind == "bayesian":
                return FinderBayesianOptimization(max_trials=max_trials, **common)
            if kind == "hyperband":
                tuner = FinderHyperband(max_epochs=hypermodel.epochs, **common)
                tuner.finder_budget = max_trials
                if max_trials is not None:
                    tuner.oracle.max_trials = max_trials
                return tuner
        except ImportError as exc:
            raise TuningError(
                f"keras-tuner's {kind} tuner cannot start: {exc}. "
                "pip install 'keras-tuner[bayesian]' (scipy and scikit-learn)."
            ) from exc
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"keras-tuner refused tuner options {dict(options)}: {exc}"
            ) from None
    raise InvalidArgumentError(
        f"Argument `tuner` must be one of {', '.join(TUNERS)}. Received: tuner={kind!r}"
    )


def rank_trials(records: list[TrialRecord], direction: str) -> list[TrialRecord]:
    """Completed trials by score (best first, rank 1..n), then the others by trial id."""
    sign = 1.0 if direction == "min" else -1.0
    completed = [r for r in records if r.status == "COMPLETED" and r.score is not None]
    completed.sort(key=lambda r: sign * (r.score or 0.0))
    others = sorted((r for r in records if r not in completed), key=lambda r: r.trial_id)
    ranked = [dataclasses.replace(r, rank=i) for i, r in enumerate(completed, start=1)]
    return ranked + others


def check_trials(
    records: list[TrialRecord], where: str | None, cause: BaseException | None = None
) -> None:
    """Raise on any trial that did not complete, quoting the first one's error.

    keras-tuner marks a trial that raised as FAILED and carries on; its
    `get_best_hyperparameters` then happily returns a failed trial when no trial completed.

    Args:
        records: the trials.
        where: the keras-tuner project directory that keeps the tracebacks, if it is kept.
        cause: the exception that ended the search, chained to the error.

    Raises:
        TuningError: some trial failed, or there is no trial at all.
    """
    if not records:
        raise TuningError("The search ran no trial.") from cause
    failed = sorted((r for r in records if r.status != "COMPLETED"), key=lambda r: r.trial_id)
    if not failed:
        return
    first = failed[0]
    lines = [line for line in (first.error or "").strip().splitlines() if line.strip()]
    message = " | ".join(line.strip() for line in lines[-ERROR_LINES:]) or "no error message"
    kept = f" Tracebacks are in {where}." if where else ""
    raise TuningError(
        f"{len(failed)} of {len(records)} trials did not complete. First: trial "
        f"{first.trial_id} ({first.family or 'no schedule'}) {first.status}: {message}.{kept}"
    ) from cause

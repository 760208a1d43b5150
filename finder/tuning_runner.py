"""One tuning job from plain settings: resolve model and data, range-test, then tune.

This is the single code path behind `finder tune` and the service's `POST /tune`, as
`finder.runner` is for range tests: both build a `RunSpec` (model, data, optimizer, sweep) and a
`TuneSpec` (the search) from their own input format and call `run_tune_spec`.

```python
from finder.runner import RunSpec
from finder.tuning_runner import TuneSpec, run_tune_spec

tuning = run_tune_spec(RunSpec(model="mlp", num_steps=200), TuneSpec(max_trials=6, epochs=2))
tuning.best.to_code()
```

Trials are scored on the data's validation set; a dataset without one gives the last
`VALIDATION_SHARE` of its training set to scoring, and trains on the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from finder.data import Dataset, load_dataset
from finder.propose import default_steps_per_epoch
from finder.recorder import SweepProgress
from finder.result import RangeTestResult
from finder.runner import RunSpec, load_model, run_spec
from finder.tuning import TrialProgress, TuningResult, tune
from finder.tuning_space import DEFAULT_FAMILIES

VALIDATION_SHARE = 0.1
HYPERBAND_TRIALS = 10


@dataclass(frozen=True)
class TuneSpec:
    """The search of a tuning job, as JSON-ready values (see `finder.tune` for each).

    `epochs` is every trial's length and the plan `best` is sized to; `families=None` searches
    `DEFAULT_FAMILIES`; `metrics` are compiled into every trial (an objective such as
    `val_accuracy` needs its metric here).
    """

    families: Sequence[str] | None = None
    tuner: str = "bayesian"
    max_trials: int | None = 10
    epochs: int = 3
    executions_per_trial: int = 1
    objective: str = "val_loss"
    metrics: Sequence[str] = ("accuracy",)
    workers: int = 0

    def to_dict(self) -> dict[str, Any]:
        document = dataclasses.asdict(self)
        document["families"] = list(self.families or DEFAULT_FAMILIES)
        document["metrics"] = list(self.metrics)
        return document


@dataclass(frozen=True)
class ModelBuilder:
    """`build_model` for `finder.tune`: the job's model, compiled as a range test compiles it.

    A frozen dataclass of plain values and arrays, so it pickles to Ray workers.
    """

    spec: RunSpec
    dataset: Dataset

    def __call__(self) -> keras.Model:
        # finder.tune seeds the global generators per trial execution; a built-in model
        # draws its own seed from them so that executions differ and trials match.
        seed = int(np.random.randint(0, 2**31 - 1))
        return load_model(dataclasses.replace(self.spec, seed=seed), self.dataset)


def split_validation(dataset: Dataset) -> tuple[Any, Any, tuple[Any, Any]]:
    """Training arrays and the validation pair (the last 10% of training when there is none)."""
    if dataset.x_val is not None and dataset.y_val is not None:
        return dataset.x_train, dataset.y_train, (dataset.x_val, dataset.y_val)
    held = max(1, int(len(dataset.x_train) * VALIDATION_SHARE))
    x, y = dataset.x_train, dataset.y_train
    return x[:-held], y[:-held], (x[-held:], y[-held:])


def tuning_range_test(
    run: RunSpec,
    search: TuneSpec,
    *,
    progress: Callable[[SweepProgress], None] | None = None,
    dataset: Dataset | None = None,
) -> RangeTestResult:
    """The range test of a tuning job: `run_spec(run)` with the plan set to the trials' length,
    so its proposals and the tuned `best` answer the same plan. The auto range's budget is
    sized by the whole search (every trial's steps), the training it prepares."""
    dataset = dataset if dataset is not None else load_dataset(run.data)
    steps_per_epoch = run.steps_per_epoch or default_steps_per_epoch(
        len(dataset.x_train), run.batch_size
    )
    # Hyperband sets no trial count; its first bracket alone trains about ten models.
    trials = search.max_trials or HYPERBAND_TRIALS
    search_steps = trials * search.executions_per_trial * search.epochs
    return run_spec(
        dataclasses.replace(run, epochs=search.epochs),
        progress=progress,
        dataset=dataset,
        plan_steps=search_steps * steps_per_epoch,
    )


def run_tune_spec(
    run: RunSpec,
    search: TuneSpec,
    *,
    result: RangeTestResult | None = None,
    dataset: Dataset | None = None,
    sweep_progress: Callable[[SweepProgress], None] | None = None,
    trial_progress: Callable[[TrialProgress], None] | None = None,
) -> TuningResult:
    """Range-test `run` (unless `result` is given), then search schedules inside its bounds.

    `dataset` is `run.data` when the caller already loaded it. The `TuningResult` carries the
    range test it searched in.

    Raises:
        FinderError: bad input (model, data, settings) or a failed search (`TuningError`).
    """
    dataset = dataset if dataset is not None else load_dataset(run.data)
    if result is None:
        result = tuning_range_test(run, search, progress=sweep_progress, dataset=dataset)
    x, y, validation = split_validation(dataset)
    return tune(
        ModelBuilder(run, dataset),
        x,
        y,
        validation_data=validation,
        result=result,
        epochs=search.epochs,
        batch_size=run.batch_size,
        families=list(search.families) if search.families else None,
        tuner=search.tuner,
        max_trials=search.max_trials,
        executions_per_trial=search.executions_per_trial,
        objective=search.objective,
        seed=run.seed,
        workers=search.workers,
        metrics=list(search.metrics) or None,
        progress=trial_progress,
        metadata={"run": run.to_dict(), "tuning": search.to_dict(), "dataset": dataset.describe()},
    )

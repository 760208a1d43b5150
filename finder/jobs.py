"""A job from plain settings, for the range test and for tuning: resolve model and data, compile,
range-test, describe, and (for tuning) search schedules inside the bounds.

This is the single code path behind `finder run` / `finder tune` and the service's
`POST /find-lr` / `POST /tune`: each builds a `RunSpec` (model, data, optimizer, sweep) and, to
tune, a `TuneSpec` (the search) from its own input format and calls `run_spec` or
`run_tune_spec`; `finder run --train` calls `train_spec` (the range test, then `finder.fit`).

```python
from finder.jobs import RunSpec, TuneSpec, run_spec, run_tune_spec

result = run_spec(RunSpec(model="mlp", num_steps=200))
tuning = run_tune_spec(RunSpec(model="mlp", num_steps=200), TuneSpec(max_trials=6, epochs=2))
tuning.best.to_code()
```

Tuning trials are scored on the data's validation set; a dataset without one gives the last
`VALIDATION_SHARE` of its training set to scoring, and trains on the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from finder.data import Dataset, load_dataset
from finder.defaults import DEFAULT_BUDGET, job_repeats
from finder.errors import DataError, InvalidArgumentError
from finder.host import accumulation_steps
from finder.model_files import load_model_file
from finder.propose import Plan, default_steps_per_epoch
from finder.rangetest import range_test
from finder.rangetest.config import RangeTestConfig
from finder.rangetest.progress import SweepProgress
from finder.rangetest.result import RangeTestResult
from finder.train import fit
from finder.tuning.space import DEFAULT_FAMILIES
from finder.zoo import BUILTIN_MODELS, build_model, make_optimizer

if TYPE_CHECKING:  # keras-tuner loads only when a job tunes (`run_tune_spec`)
    from finder.tuning import TrialProgress, TuningResult

DEFAULT_LOSS = "sparse_categorical_crossentropy"
VALIDATION_SHARE = 0.1
HYPERBAND_TRIALS = 10


@dataclass(frozen=True)
class RunSpec(RangeTestConfig):
    """Everything a range-test job needs, as JSON-ready values: the range test's settings
    (the fields of `RangeTestConfig`, checked when the spec is built) and the job's own.

    `model` is a built-in model name or a path to a `.keras` file; `data` is a built-in dataset
    name or a path to an `.npz` file. `epochs` (and `steps_per_epoch`, by default one pass over
    the training data) is the training plan the schedule proposals are sized for; None skips
    the proposals. `min_lr`, `max_lr` and `num_steps` are `"auto"` by default (the auto range
    test, within `budget` steps and the plan); `repeats=None` sweeps `JOB_REPEATS` times over an
    explicit range (`finder.defaults.job_repeats`); `optimizer=None` keeps a model
    file's own compiled optimizer (SGD for built-in or uncompiled models); `loss=None`
    likewise keeps the file's loss (sparse categorical cross-entropy otherwise); `validation`
    scores the data's validation set along the sweep.
    """

    model: str = "fashion_cnn"
    data: str = "fashion_mnist_sample"
    optimizer: str | None = None
    optimizer_settings: Mapping[str, Any] = field(default_factory=dict)
    loss: str | None = None
    validation: bool = True
    epochs: int | None = 10
    steps_per_epoch: int | None = None

    @property
    def progress_steps(self) -> int:
        """Steps a progress bar counts to: the budget in auto mode, else steps x repeats."""
        repeats = job_repeats(self.repeats, self.auto)
        if self.auto:
            return repeats * int(self.budget or DEFAULT_BUDGET)
        return int(self.num_steps) * repeats

    def range_test_config(self) -> RangeTestConfig:
        """The range test's settings, with the job's default repeats."""
        return dataclasses.replace(
            RangeTestConfig(**self.settings()), repeats=job_repeats(self.repeats, self.auto)
        )

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["optimizer_settings"] = dict(self.optimizer_settings)
        return document


def load_model(spec: RunSpec, dataset: Dataset) -> keras.Model:
    """The compiled model `spec` names, shaped for `dataset`.

    Raises:
        ModelError: the model file cannot be loaded or is refused.
        DataError: the data does not fit the model's input.
        InvalidArgumentError: unknown optimizer or settings.
    """
    input_shape = tuple(int(d) for d in dataset.x_train.shape[1:])
    if spec.model in BUILTIN_MODELS:
        num_classes = count_classes(dataset.y_train)
        try:
            model = build_model(spec.model, input_shape, num_classes, seed=spec.seed)
        except ValueError as exc:
            raise DataError(
                f"Model {spec.model} cannot take samples of shape {input_shape}: "
                f"{str(exc).strip().splitlines()[0]}"
            ) from exc
    elif spec.model.lower().endswith(".keras") or Path(spec.model).suffix:
        model = load_model_file(spec.model)
    else:
        raise InvalidArgumentError(
            f"Unknown model {spec.model!r}: use one of {', '.join(sorted(BUILTIN_MODELS))} "
            "or a path to a .keras file."
        )
    check_input_shape(model, input_shape)
    keep_compiled = getattr(model, "compiled", False) and model.optimizer is not None
    if spec.optimizer is None and spec.loss is None and keep_compiled:
        return model
    optimizer = make_optimizer(spec.optimizer or "sgd", **dict(spec.optimizer_settings))
    loss = spec.loss or (model.loss if keep_compiled and model.loss else DEFAULT_LOSS)
    model.compile(optimizer=optimizer, loss=loss)
    return model


def count_classes(labels: np.ndarray) -> int:
    """Classes in integer labels (max + 1) or one-hot labels (width)."""
    if labels.ndim == 2 and labels.shape[1] > 1:
        return int(labels.shape[1])
    return int(np.max(labels)) + 1


def check_input_shape(model: keras.Model, input_shape: tuple[int, ...]) -> None:
    """Raise DataError when samples of `input_shape` cannot feed `model`."""
    try:
        expected = model.input_shape
    except (AttributeError, ValueError):
        return
    if not isinstance(expected, tuple) or not expected or isinstance(expected[0], tuple):
        return
    expected_sample = tuple(expected[1:])
    if len(expected_sample) != len(input_shape) or any(
        e is not None and e != g for e, g in zip(expected_sample, input_shape, strict=True)
    ):
        raise DataError(
            f"The data's samples have shape {input_shape}, the model expects {expected_sample}."
        )


def run_spec(
    spec: RunSpec,
    *,
    progress: Callable[[SweepProgress], None] | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    dataset: Dataset | None = None,
    plan_steps: int | None = None,
) -> RangeTestResult:
    """Load data and model, run the range test, and attach the job's description.

    `dataset` is `spec.data` when the caller already loaded it. `plan_steps` is the training
    the auto range test prepares, in optimizer steps (it spends at most that); by default the
    plan, `epochs` x `steps_per_epoch` batches over the batches per optimizer step.
    """
    dataset = dataset if dataset is not None else load_dataset(spec.data)
    model = load_model(spec, dataset)
    steps_per_epoch = spec.steps_per_epoch or default_steps_per_epoch(
        len(dataset.x_train), spec.batch_size
    )
    if plan_steps is None and spec.epochs:
        # Optimizer steps: under gradient accumulation each spans several of the plan's batches.
        plan_steps = spec.epochs * steps_per_epoch // accumulation_steps(model.optimizer)
    return range_test(
        model,
        dataset.x_train,
        dataset.y_train,
        **range_test_options(spec, dataset, progress=progress, callbacks=callbacks),
        plan=Plan(spec.epochs, steps_per_epoch) if spec.epochs is not None else None,
        plan_steps=plan_steps if spec.auto else None,
        validation_data=validation_data(spec, dataset),
    )


def validation_data(spec: RunSpec, dataset: Dataset) -> tuple[Any, Any] | None:
    """The data's validation pair, unless the spec turns validation off or there is none."""
    if spec.validation and dataset.x_val is not None:
        return dataset.x_val, dataset.y_val
    return None


def range_test_options(
    spec: RunSpec,
    dataset: Dataset,
    *,
    progress: Callable[[SweepProgress], None] | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> dict[str, Any]:
    """`finder.range_test`'s keywords for a job (all but the data, plan and validation)."""
    return {
        "config": spec.range_test_config(),
        "progress": progress,
        "callbacks": callbacks or (),
        "metadata": {"run": spec.to_dict(), "dataset": dataset.describe()},
    }


def train_spec(
    spec: RunSpec,
    *,
    progress: Callable[[SweepProgress], None] | None = None,
    dataset: Dataset | None = None,
) -> tuple[keras.Model, keras.callbacks.History]:
    """`finder run --train`: the job's range test, then training for `spec.epochs` with its
    first proposal, through `finder.fit`. Returns the trained model and its `History` (with
    `range_test_result` and `proposal`).

    Raises:
        InvalidArgumentError: no epochs to train, or `finder.fit`'s own errors.
    """
    if not spec.epochs:
        raise InvalidArgumentError("Training needs a plan: epochs must be >= 1.")
    dataset = dataset if dataset is not None else load_dataset(spec.data)
    model = load_model(spec, dataset)
    steps: dict[str, Any] = (
        {"steps_per_epoch": spec.steps_per_epoch} if spec.steps_per_epoch else {}
    )
    history = fit(
        model,
        dataset.x_train,
        dataset.y_train,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        validation_data=validation_data(spec, dataset),
        range_test_options=fit_options(spec, dataset, progress),
        verbose=0,
        **steps,
    )
    return model, history


def fit_options(
    spec: RunSpec, dataset: Dataset, progress: Callable[[SweepProgress], None] | None
) -> dict[str, Any]:
    """`finder.fit`'s `range_test_options` for a job: the auto range runs inside the fit (its
    budget, stop rule and progress; the fit's batches and order), or before it on a plan under
    500 steps (`finder.train.runs_before_fit`); an explicit range runs `range_test` first, with
    all the job's settings (`fit` sets the batch size)."""
    if spec.auto:
        return {
            "budget": spec.budget,
            "smoothing": spec.smoothing,
            "divergence": spec.divergence,
            "progress": progress,
        }
    options = range_test_options(spec, dataset, progress=progress)
    # `fit` sets the batch size: the config's settings go in as keywords, without it.
    settings = options.pop("config").settings()
    settings.pop("batch_size")
    return {**options, **settings}


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
    from finder.tuning.search import tune  # keras-tuner, only for a job that tunes

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

"""`finder.tune`: search learning-rate schedules with keras-tuner inside a range test's bounds.

keras-tuner alone searches learning rates blind over a wide range and spends trials on runs
that diverge or barely move. `tune` runs a range test first (or takes its result), derives a
bounded `SearchSpace` from its bounds (rule in `finder.tuning_space`), and lets keras-tuner
choose the schedule family and its parameters inside it.

```python
import finder

result = finder.range_test(model, x, y, min_lr=1e-4, max_lr=10, num_steps=300, repeats=3)
tuning = finder.tune(build_model, x, y, validation_data=(x_val, y_val), result=result,
                     epochs=10, batch_size=64, max_trials=12, objective="val_accuracy")
tuning.best                  # ScheduleSpec sized to 10 epochs: use tuning.best.to_keras()
tuning.trials[0].score       # the best trial; tuning.save("tuning.json")
```

How a trial is scored: the objective (a validation metric) after the trial's last epoch, the
outcome of the whole schedule, not keras-tuner's best epoch. A trial that ends worse than the
untrained model (a NaN or exploded loss) scores as the untrained model: such values carry no
information about the schedule and a single NaN or 1e9 would wreck Bayesian optimization's
model of the space. Trials are flagged `"diverged"` (non-finite loss, or a final training loss
above the first batch's) or `"no_progress"` (final loss above 95% of the first batch's).

Failure is loud: any trial that raised makes `tune` raise `TuningError` quoting the first one's
error (keras-tuner itself marks it failed, carries on, and may return it as the "best").
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import keras
import keras_tuner
import tensorflow as tf
from keras_tuner.src.engine.objective import create_objective

from finder.errors import DataError, InvalidArgumentError, TuningError
from finder.rangetest import range_test
from finder.result import RangeTestResult
from finder.schedules import _checks
from finder.tuning_distributed import (
    OracleServer,
    TrialWatcher,
    chief_address,
    distributed_role,
    search_on_ray,
)
from finder.tuning_model import (
    CompileArgs,
    ScheduleHyperModel,
    TrialProgress,
    build_checked,
    compile_with_schedule,
    trial_record,
)
from finder.tuning_result import TrialRecord, TuningResult
from finder.tuning_space import DEFAULT_FAMILIES, TUNABLE_FAMILIES, SearchSpace
from finder.tuning_tuners import TUNERS, check_trials, make_tuner, rank_trials

__all__ = [
    "DEFAULT_FAMILIES",
    "DEFAULT_RANGE_TEST",
    "SearchSpace",
    "TUNABLE_FAMILIES",
    "TrialProgress",
    "TrialRecord",
    "TuningResult",
    "tune",
]

# The range test `tune` runs when given no result: the settings that show plain SGD's loss
# falling on fashion_cnn (fastai's 1e-7..10 in 100 steps does not).
DEFAULT_RANGE_TEST: dict[str, Any] = {
    "min_lr": 1e-4,
    "max_lr": 10.0,
    "num_steps": 300,
    "repeats": 3,
}
# keras-tuner stops a local search after this many failures in a row.
MAX_CONSECUTIVE_FAILURES = 3


def tune(
    build_model: Callable[[], keras.Model],
    x: Any,
    y: Any = None,
    *,
    validation_data: Any,
    epochs: int,
    result: RangeTestResult | None = None,
    space: SearchSpace | None = None,
    batch_size: int = 64,
    families: Sequence[str] | None = None,
    tuner: str = "bayesian",
    max_trials: int | None = 10,
    executions_per_trial: int = 1,
    objective: str | keras_tuner.Objective = "val_loss",
    directory: str | Path | None = None,
    project_name: str = "finder_tuning",
    overwrite: bool = False,
    seed: int = 0,
    workers: int = 0,
    worker_options: Mapping[str, Any] | None = None,
    optimizer: str | keras.optimizers.Optimizer | None = None,
    loss: Any = None,
    metrics: Any = None,
    range_test_options: Mapping[str, Any] | None = None,
    tuner_options: Mapping[str, Any] | None = None,
    progress: Callable[[TrialProgress], None] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> TuningResult:
    """Search schedule families and their parameters with keras-tuner inside the LR bounds.

    Every trial builds a fresh model with `build_model()` (from the same seed, so trials
    differ only by schedule), gives it a copy of its own optimizer whose learning rate is the
    trial's schedule sized to the trial's `epochs * steps_per_epoch` steps, trains, and is
    scored on `validation_data` (see the module docstring). `best` is the best trial's
    schedule sized to the whole plan.

    ```python
    from finder.zoo import build_model as zoo_model

    def build_model():
        model = zoo_model("fashion_cnn")
        model.compile(optimizer=keras.optimizers.SGD(), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    tuning = finder.tune(build_model, x, y, validation_data=(x_val, y_val), epochs=3,
                         max_trials=10, objective="val_accuracy")
    model = build_model()
    model.compile(optimizer=keras.optimizers.SGD(tuning.best.to_keras()), loss=model.loss,
                  metrics=["accuracy"])
    ```

    Hyperband (`tuner="hyperband"`, `max_epochs = epochs`, keras-tuner's `factor` 3 unless
    `tuner_options` says otherwise): keras-tuner continues a promoted trial from its
    parent's checkpoint with a new, unbuilt optimizer, whose step count restarts at 0
    (replaying a schedule's warm-up mid-run) or, when Keras can restore it, carries on a
    schedule sized for the parent's shorter run. Here every rung retrains from the initial
    weights with a schedule sized to the rung's epochs, so each score is that of a complete
    schedule (as in Li et al.'s successive halving); a promoted trial costs its parent's
    epochs again.
    `max_trials`, when given, caps Hyperband's trials.

    Distributed: with `workers=N`, this process runs the range test and serves keras-tuner's
    oracle on the Ray node's address, and N Ray tasks (one process each) run the trials
    (`worker_options` go to the task's `.options`, e.g. `{"num_gpus": 1}`; `build_model`
    must pickle, e.g. a module-level function); Ray is started locally if it is not running.
    Under keras-tuner's own variables (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`,
    `KERASTUNER_ORACLE_PORT`) this call is the chief or a worker; give every process the same
    `result` or `space`. A worker returns only its own trials. A chief keeps answering for
    `LATE_WORKER_GRACE_S` (30 s) after the search ends, so that a worker starting late is told
    to stop rather than left waiting on keras-tuner's one-hour client timeout; with `workers=N`
    it waits for its own Ray tasks instead, and cancels any that never started.

    Args:
        build_model: callable. No arguments; returns a Keras model, compiled (its optimizer,
            loss and metrics are used) or not (then pass `loss`).
        x: numpy array(s), a batched `tf.data.Dataset` or a `keras.utils.PyDataset`.
        y: numpy array(s) or None. Targets, for numpy `x`. Defaults to `None`.
        validation_data: tuple `(x_val, y_val)` or a dataset. Required: trials are scored
            on it.
        epochs: int. Epochs of every trial (the largest rung for Hyperband), `>= 1`.
        result: RangeTestResult or None. The range test whose bounds make the space; None
            runs one (`DEFAULT_RANGE_TEST` updated by `range_test_options`). Defaults to `None`.
        space: SearchSpace or None. Search this space instead of one made from bounds (no
            range test). Defaults to `None`.
        batch_size: int. Batch size for numpy inputs. Defaults to `64`.
        families: list of str or None. Families of the space made from bounds; None is
            `DEFAULT_FAMILIES`. Defaults to `None`.
        tuner: str. `"bayesian"`, `"random"` or `"hyperband"`. Defaults to `"bayesian"`.
        max_trials: int or None. Trial budget; None only for Hyperband. Defaults to `10`.
        executions_per_trial: int. Trainings per trial (seeds `seed`, `seed + 1`, ...),
            averaged. Defaults to `1`.
        objective: str or keras_tuner.Objective. A validation metric (`val_...`).
            Defaults to `"val_loss"`.
        directory: str, Path or None. keras-tuner's project directory; None uses a temporary
            one, removed afterwards. Defaults to `None`.
        project_name: str. Defaults to `"finder_tuning"`.
        overwrite: bool. Start over instead of resuming a project in `directory`.
            Defaults to `False`.
        seed: int. Seed of the oracle, the range test and every trial. Defaults to `0`.
        workers: int. Ray worker tasks to run the trials; 0 runs them here. Defaults to `0`.
        worker_options: dict or None. Ray task options of each worker. Defaults to `None`.
        optimizer: str, optimizer or None. Optimizer (name or instance) whose class and
            settings trials use; None: the model's own, or SGD for uncompiled models.
        loss, metrics: passed to `compile` instead of the model's own when not None.
        range_test_options: dict or None. Overrides of `DEFAULT_RANGE_TEST` (any
            `finder.range_test` keyword). Defaults to `None`.
        tuner_options: dict or None. Extra keyword arguments of the keras-tuner class
            (`num_initial_points`, `factor`, ...). Defaults to `None`.
        progress: callable or None. Called with a `TrialProgress` at each trial's start,
            after each epoch (not on a chief) and at its end. Defaults to `None`.
        metadata: dict or None. Free-form JSON kept in the result. Defaults to `None`.

    Returns:
        A `TuningResult`.

    Raises:
        TuningError: a trial failed, no trial ran, the range test found no bounds, a Ray
            worker died, or keras-tuner cannot run (tensorboard missing).
        InvalidArgumentError: a bad argument.
        DataError: the data's length is unknown.
        ModelError: `build_model` does not return a usable model.
    """
    started = time.perf_counter()
    _check_arguments(epochs, tuner, max_trials, executions_per_trial, workers, batch_size)
    _require_tensorboard()
    role = distributed_role()
    if role != "local" and workers:
        raise InvalidArgumentError(
            "workers= starts its own keras-tuner workers; unset KERASTUNER_TUNER_ID, "
            "KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT to use it."
        )
    if role != "local" and result is None and space is None:
        raise InvalidArgumentError(
            f"In keras-tuner's distributed mode (this process: {role}) every process must "
            "search the same space: pass the same result= or space= to each."
        )
    if validation_data is None:
        raise InvalidArgumentError(
            "Argument `validation_data` is required: trials are scored on held-out data."
        )
    if space is not None and families is not None:
        raise InvalidArgumentError("Pass families inside `space`, not next to it.")
    kt_objective = _objective(objective)
    steps_per_epoch = count_steps(x, batch_size)
    compile_args = CompileArgs(optimizer=optimizer, loss=loss, metrics=metrics)
    if role != "chief":
        # Fail fast on a model that cannot be built or compiled (a chief never trains).
        keras.utils.set_random_seed(seed)
        model = build_checked(build_model)
        compile_with_schedule(model, DEFAULT_RANGE_TEST["min_lr"], compile_args)
        if space is None and result is None:
            options = {**DEFAULT_RANGE_TEST, "seed": seed, **(range_test_options or {})}
            result = range_test(model, x, y, batch_size=batch_size, **options)
        del model
    if space is None:
        assert result is not None
        space = SearchSpace.from_bounds(result.bounds, families or DEFAULT_FAMILIES)
    arrays = _is_arrays(x)
    hypermodel = ScheduleHyperModel(
        build_model,
        space,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        objective=kt_objective,
        compile_args=compile_args,
        seed=seed,
        batch_size=batch_size if arrays else None,
    )
    fit_kwargs: dict[str, Any] = {"x": x, "epochs": epochs, "validation_data": validation_data}
    if arrays:
        fit_kwargs.update(y=y, batch_size=batch_size)
    else:
        fit_kwargs["shuffle"] = False  # a dataset's order is its own
    config: dict[str, Any] = {
        "batch_size": batch_size,
        "max_trials": max_trials,
        "executions_per_trial": executions_per_trial,
        "seed": seed,
        "workers": workers,
        "tuner_options": dict(tuner_options or {}),
        "directory": None if directory is None else str(directory),
        "project_name": project_name,
    }
    with _project_directory(directory) as project_dir:
        kt_tuner = make_tuner(
            tuner,
            hypermodel,
            objective=kt_objective,
            max_trials=max_trials,
            seed=seed,
            directory=project_dir,
            project_name=project_name,
            overwrite=overwrite,
            executions_per_trial=executions_per_trial,
            # A chief cannot stop early: keras-tuner would raise inside a worker's request.
            max_consecutive_failed_trials=(
                MAX_CONSECUTIVE_FAILURES if role == "local" and not workers else 2**31 - 1
            ),
            options=tuner_options or {},
            progress=progress,
        )
        where = None if directory is None else str(Path(project_dir) / project_name)
        if role == "worker":
            config["tuner_id"] = kt_tuner.tuner_id
            kt_tuner.search(**fit_kwargs, verbose=0)
            records = [
                trial_record(kt_tuner.oracle.get_trial(trial_id), hypermodel)
                for trial_id in kt_tuner.finder_trial_ids
            ]
            if records:
                check_trials(records, where)
        else:
            kt_tuner.oracle.verbose = 0
            watcher = TrialWatcher(kt_tuner.oracle, hypermodel, progress, max_trials)
            if role == "chief":
                kt_tuner.save()
                serve_oracle(kt_tuner.oracle, chief_address(), watcher.poll)
            elif workers:
                worker_kwargs = {
                    "epochs": epochs,
                    "space": space,
                    "batch_size": batch_size,
                    "tuner": tuner,
                    "max_trials": max_trials,
                    "executions_per_trial": executions_per_trial,
                    "objective": kt_objective,
                    "project_name": project_name,
                    "seed": seed,
                    "optimizer": _portable(optimizer),
                    "loss": loss,
                    "metrics": metrics,
                    "tuner_options": dict(tuner_options or {}),
                }
                config["worker_trials"] = search_on_ray(
                    kt_tuner.oracle,
                    watcher.poll,
                    workers,
                    build_model=build_model,
                    data=(x, y, validation_data),
                    tune_kwargs=worker_kwargs,
                    options=worker_options,
                )
            else:
                try:
                    kt_tuner.search(**fit_kwargs, verbose=0)
                except RuntimeError as exc:
                    # keras-tuner gives up after MAX_CONSECUTIVE_FAILURES failed trials.
                    check_trials(_records(kt_tuner.oracle, hypermodel), where, cause=exc)
                    raise
            records = _records(kt_tuner.oracle, hypermodel)
            check_trials(records, where)
    ranked = rank_trials(records, kt_objective.direction)
    best_trial = ranked[0] if ranked and ranked[0].rank == 1 else None
    total_steps = epochs * steps_per_epoch
    return TuningResult(
        best=space.spec(best_trial.values, total_steps) if best_trial else None,
        best_trial_id=best_trial.trial_id if best_trial else None,
        trials=ranked,
        space=space,
        objective={"name": kt_objective.name, "direction": kt_objective.direction},
        tuner=tuner,
        role="chief" if workers else role,
        plan={"epochs": epochs, "steps_per_epoch": steps_per_epoch, "total_steps": total_steps},
        config=config,
        range_test=result,
        wall_time_s=time.perf_counter() - started,
        metadata=dict(metadata or {}),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        finder_version=_finder_version(),
    )


def count_steps(x: Any, batch_size: int) -> int:
    """Optimizer steps in one epoch over `x`.

    Raises:
        DataError: a dataset of unknown or infinite length, or empty data.
    """
    if isinstance(x, tf.data.Dataset):
        steps = int(x.cardinality().numpy())
        if steps < 1:
            raise DataError(
                "finder.tune sizes schedules to whole epochs and needs a dataset of known, "
                f"finite length. Received a dataset of cardinality {steps}."
            )
        return steps
    if isinstance(x, keras.utils.PyDataset):
        steps = len(x)
    else:
        samples = int(keras.tree.flatten(x)[0].shape[0])
        steps = math.ceil(samples / batch_size)
    if steps < 1:
        raise DataError("finder.tune received no training samples.")
    return steps


def serve_oracle(oracle: Any, address: str, on_poll: Callable[[], None]) -> None:
    """Serve `oracle` on `address` to keras-tuner workers until the search is over."""
    server = OracleServer(oracle, address)
    try:
        server.serve(on_poll)
    finally:
        server.stop()


def _records(oracle: Any, hypermodel: ScheduleHyperModel) -> list[TrialRecord]:
    return [trial_record(trial, hypermodel) for trial in list(oracle.trials.values())]


def _check_arguments(
    epochs: int,
    tuner: str,
    max_trials: int | None,
    executions_per_trial: int,
    workers: int,
    batch_size: int,
) -> None:
    _checks.integer("epochs", epochs, low=1)
    _checks.integer("executions_per_trial", executions_per_trial, low=1)
    _checks.integer("workers", workers, low=0)
    _checks.integer("batch_size", batch_size, low=1)
    _checks.choice("tuner", tuner, TUNERS)
    if max_trials is None:
        if tuner != "hyperband":
            raise InvalidArgumentError(
                f"Argument `max_trials` is required for tuner={tuner!r} (None is only for "
                "Hyperband, which sizes its own search)."
            )
    else:
        _checks.integer("max_trials", max_trials, low=1)


def _objective(objective: str | keras_tuner.Objective) -> Any:
    """A single keras-tuner `Objective` on a validation metric.

    Raises:
        InvalidArgumentError: not a `val_...` metric, or its direction is unknown.
    """
    if not isinstance(objective, str | keras_tuner.Objective):
        raise _checks.fail("objective", "a metric name or a keras_tuner.Objective", objective)
    try:
        created = create_objective(objective)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
    if not created.name.startswith("val_"):
        raise InvalidArgumentError(
            "Argument `objective` must be a validation metric (val_...): trials are scored "
            f"on validation_data. Received: objective={created.name!r}"
        )
    return created


def _require_tensorboard() -> None:
    """keras-tuner on TensorFlow imports TensorBoard's hparams API in every trial; without
    it every trial fails and keras-tuner's `search()` returns quietly."""
    try:
        import tensorboard.plugins.hparams.api  # noqa: F401
    except ImportError as exc:
        raise TuningError(
            "keras-tuner on TensorFlow needs the tensorboard package (every trial fails "
            f"without it): pip install tensorboard. ({exc})"
        ) from exc


def _is_arrays(x: Any) -> bool:
    return not isinstance(x, tf.data.Dataset | keras.utils.PyDataset)


def _portable(optimizer: Any) -> Any:
    """An optimizer a Ray task can receive: its name or its serialized config."""
    if optimizer is None or isinstance(optimizer, str):
        return optimizer
    return keras.optimizers.serialize(optimizer)


@contextmanager
def _project_directory(directory: str | Path | None) -> Iterator[str]:
    if directory is not None:
        yield str(directory)
        return
    with tempfile.TemporaryDirectory(prefix="finder-tune-") as temporary:
        yield temporary


def _finder_version() -> str:
    try:
        return package_metadata.version("finder")
    except package_metadata.PackageNotFoundError:
        return "unknown"

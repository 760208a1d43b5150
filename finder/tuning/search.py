"""`finder.tune`: search learning-rate schedules with keras-tuner inside a range test's bounds.

keras-tuner alone searches learning rates blind over a wide range and spends trials on runs
that diverge or barely move. `tune` runs a range test first (or takes its result), derives a
bounded `SearchSpace` from its bounds (rule in `finder.tuning.space`), and lets keras-tuner
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
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner

from finder.defaults import BATCH_SIZE, TUNE_RANGE_TEST
from finder.document import finder_version
from finder.rangetest.result import RangeTestResult
from finder.tuning import roles
from finder.tuning.distributed import ORACLE_IP, ORACLE_PORT, TUNER_ID
from finder.tuning.hypermodel import (
    CompileArgs,
    ScheduleHyperModel,
    TrialProgress,
)
from finder.tuning.prepare import (
    check_call,
    check_model,
    check_search_arguments,
    count_steps,
    fit_kwargs,
    is_arrays,
    keras_tuner_objective,
    portable,
    project_directory,
)
from finder.tuning.result import TrialRecord, TuningResult
from finder.tuning.roles import SearchJob
from finder.tuning.space import DEFAULT_FAMILIES, SearchSpace
from finder.tuning.tuners import make_tuner, rank_trials

DEFAULT_RANGE_TEST: dict[str, Any] = TUNE_RANGE_TEST
# keras-tuner stops a local search after this many failures in a row.
MAX_CONSECUTIVE_FAILURES = 3
# The entries of a result's `config` that Ray workers take over as `tune` arguments.
WORKER_CONFIG = (
    "batch_size",
    "max_trials",
    "executions_per_trial",
    "seed",
    "tuner_options",
    "project_name",
)


def tune(
    build_model: Callable[[], keras.Model],
    x: Any,
    y: Any = None,
    *,
    validation_data: Any,
    epochs: int,
    result: RangeTestResult | None = None,
    space: SearchSpace | None = None,
    batch_size: int = BATCH_SIZE,
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

    (Its body runs to ~85 lines, one or two statements per step: the checks and the
    preparation live in `finder.tuning.prepare`, the search paths in `finder.tuning.roles`;
    what stays is the order of the steps and the tuner's settings, read in one place.)

    Raises:
        TuningError: a trial failed, no trial ran, the range test found no bounds, a Ray
            worker died, or keras-tuner cannot run (tensorboard missing).
        InvalidArgumentError: a bad argument.
        DataError: the data's length is unknown.
        ModelError: `build_model` does not return a usable model.
    """
    started = time.perf_counter()
    role = check_call(
        epochs, tuner, max_trials, executions_per_trial, workers, batch_size, result, space
    )
    check_search_arguments(validation_data, space, families)
    kt_objective = keras_tuner_objective(objective)
    steps_per_epoch = count_steps(x, batch_size)
    compile_args = CompileArgs(optimizer=optimizer, loss=loss, metrics=metrics)
    if role != "chief":  # a chief never trains: it only serves the oracle
        result = check_model(
            build_model, x, y, compile_args, seed, batch_size, result, space, range_test_options
        )
    if space is None:
        assert result is not None
        space = SearchSpace.from_bounds(result.bounds, families or DEFAULT_FAMILIES)
    hypermodel = ScheduleHyperModel(
        build_model,
        space,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        objective=kt_objective,
        compile_args=compile_args,
        seed=seed,
        batch_size=batch_size if is_arrays(x) else None,
    )
    fit = fit_kwargs(x, y, epochs, batch_size, validation_data, is_arrays(x))
    job = SearchJob(hypermodel, fit, max_trials, progress)
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
    with project_directory(directory) as project_dir:
        kt_tuner = make_tuner(
            tuner,
            job.hypermodel,
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
        job.where = None if directory is None else str(Path(project_dir) / project_name)
        if role == "worker":
            config["tuner_id"] = kt_tuner.tuner_id
            records = roles.search_as_worker(job, kt_tuner)
        elif role == "chief":
            records = roles.search_as_chief(job, kt_tuner)
        elif workers:
            records = _search_with_ray_workers(
                job,
                kt_tuner,
                config,
                workers,
                worker_options,
                build_model=build_model,
                data=(x, y, validation_data),
                search=dict(epochs=epochs, space=space, tuner=tuner, objective=kt_objective),
                compile_kwargs=dict(optimizer=portable(optimizer), loss=loss, metrics=metrics),
            )
        else:
            records = roles.search_locally(job, kt_tuner)
    return _tuning_result(
        records,
        job.hypermodel,
        tuner=tuner,
        role="chief" if workers else role,
        config=config,
        range_test=result,
        wall_time_s=time.perf_counter() - started,
        metadata=metadata,
    )


def _tuning_result(
    records: list[TrialRecord],
    hypermodel: ScheduleHyperModel,
    *,
    tuner: str,
    role: str,
    config: dict[str, Any],
    range_test: RangeTestResult | None,
    wall_time_s: float,
    metadata: Mapping[str, Any] | None,
) -> TuningResult:
    """The records ranked, and the best trial's schedule sized to the whole plan."""
    objective = hypermodel.objective
    ranked = rank_trials(records, objective.direction)
    best_trial = ranked[0] if ranked and ranked[0].rank == 1 else None
    epochs, steps_per_epoch = hypermodel.epochs, hypermodel.steps_per_epoch
    total_steps = epochs * steps_per_epoch
    return TuningResult(
        best=hypermodel.space.spec(best_trial.values, total_steps) if best_trial else None,
        best_trial_id=best_trial.trial_id if best_trial else None,
        trials=ranked,
        space=hypermodel.space,
        objective={"name": objective.name, "direction": objective.direction},
        tuner=tuner,
        role=role,
        plan={"epochs": epochs, "steps_per_epoch": steps_per_epoch, "total_steps": total_steps},
        config=config,
        range_test=range_test,
        wall_time_s=wall_time_s,
        metadata=dict(metadata or {}),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        finder_version=finder_version(),
    )


def _search_with_ray_workers(
    job: SearchJob,
    kt_tuner: Any,
    config: dict[str, Any],
    workers: int,
    worker_options: Mapping[str, Any] | None,
    *,
    build_model: Callable[[], keras.Model],
    data: tuple[Any, Any, Any],
    search: dict[str, Any],
    compile_kwargs: dict[str, Any],
) -> list[TrialRecord]:
    """The search with `workers` Ray tasks as keras-tuner workers (`run_ray_worker`), each
    running `tune` on this call's space and settings; records each worker's trial ids in
    `config["worker_trials"]`."""
    worker_kwargs = {**{key: config[key] for key in WORKER_CONFIG}, **search, **compile_kwargs}
    records, config["worker_trials"] = roles.search_with_ray_workers(
        job,
        kt_tuner,
        workers,
        run_worker=run_ray_worker,
        build_model=build_model,
        data=data,
        tune_kwargs=worker_kwargs,
        options=worker_options,
    )
    return records


def run_ray_worker(
    tuner_id: str,
    address: str,
    build_model: Callable[[], Any],
    data: tuple[Any, Any, Any],
    tune_kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Body of a Ray worker task (a process of its own): join the chief at `address` as
    keras-tuner worker `tuner_id` and run trials; returns the worker's `TuningResult` document.
    """
    host, port = address.rsplit(":", 1)
    os.environ.update({TUNER_ID: tuner_id, ORACLE_IP: host, ORACLE_PORT: port})
    x, y, validation_data = data
    return tune(build_model, x, y, validation_data=validation_data, **tune_kwargs).to_dict()

"""Checking and preparing the arguments of a `finder.tune` call: budgets and names, the
objective, keras-tuner's requirements and distributed role, the model (built and compiled once
before any trial), the data's steps per epoch and the keras-tuner project directory."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras
import keras_tuner

from finder.defaults import TUNE_RANGE_TEST
from finder.errors import DataError, InvalidArgumentError, TuningError
from finder.rangetest import range_test, tfdata
from finder.rangetest.generators import is_generator
from finder.rangetest.result import RangeTestResult
from finder.schedules import _checks
from finder.tuning import compat
from finder.tuning.hypermodel import CompileArgs, build_checked, compile_with_schedule
from finder.tuning.space import SearchSpace
from finder.tuning.tuners import TUNERS


def check_call(
    epochs: int,
    tuner: str,
    max_trials: int | None,
    executions_per_trial: int,
    workers: int,
    batch_size: int,
    result: RangeTestResult | None,
    space: SearchSpace | None,
) -> str:
    """Check the arguments and that keras-tuner can run here; returns this process's role."""
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
    require_tensorboard()
    role = compat.distributed_role()
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
    return role


def check_search_arguments(validation_data: Any, space: Any, families: Any) -> None:
    """Raise `InvalidArgumentError` without validation data, or with both `space` and
    `families`."""
    if validation_data is None:
        raise InvalidArgumentError(
            "Argument `validation_data` is required: trials are scored on held-out data."
        )
    if space is not None and families is not None:
        raise InvalidArgumentError("Pass families inside `space`, not next to it.")


def check_model(
    build_model: Callable[[], keras.Model],
    x: Any,
    y: Any,
    compile_args: CompileArgs,
    seed: int,
    batch_size: int,
    result: RangeTestResult | None,
    space: SearchSpace | None,
    range_test_options: Mapping[str, Any] | None,
) -> RangeTestResult | None:
    """Fail fast on a model that cannot be built or compiled; returns `result`, or the range
    test run on that model when neither `result` nor `space` is given."""
    keras.utils.set_random_seed(seed)
    model = build_checked(build_model)
    compile_with_schedule(model, TUNE_RANGE_TEST["min_lr"], compile_args)
    if space is None and result is None:
        options = {**TUNE_RANGE_TEST, "seed": seed, **(range_test_options or {})}
        result = range_test(model, x, y, batch_size=batch_size, **options)
    return result


def fit_kwargs(
    x: Any, y: Any, epochs: int, batch_size: int, validation_data: Any, arrays: bool
) -> dict[str, Any]:
    fit_kwargs: dict[str, Any] = {"x": x, "epochs": epochs, "validation_data": validation_data}
    if arrays:
        fit_kwargs.update(y=y, batch_size=batch_size)
    else:
        fit_kwargs["shuffle"] = False  # a dataset's order is its own
    return fit_kwargs


def count_steps(x: Any, batch_size: int) -> int:
    """Optimizer steps in one epoch over `x`.

    Raises:
        DataError: a dataset of unknown or infinite length, a generator, or empty data.
    """
    if is_generator(x):
        raise DataError(
            "finder.tune trains every trial on the same data, and a Python generator gives "
            "its batches once: pass arrays, a tf.data.Dataset or a keras.utils.PyDataset."
        )
    if tfdata.is_dataset(x):
        steps = tfdata.cardinality(x)
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


def keras_tuner_objective(objective: str | keras_tuner.Objective) -> Any:
    """A single keras-tuner `Objective` on a validation metric.

    Raises:
        InvalidArgumentError: not a `val_...` metric, or its direction is unknown.
    """
    if not isinstance(objective, str | keras_tuner.Objective):
        raise _checks.fail("objective", "a metric name or a keras_tuner.Objective", objective)
    try:
        created = compat.create_objective(objective)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
    if not created.name.startswith("val_"):
        raise InvalidArgumentError(
            "Argument `objective` must be a validation metric (val_...): trials are scored "
            f"on validation_data. Received: objective={created.name!r}"
        )
    return created


def require_tensorboard() -> None:
    """keras-tuner on TensorFlow imports TensorBoard's hparams API in every trial; without
    it every trial fails and keras-tuner's `search()` returns quietly."""
    try:
        import tensorboard.plugins.hparams.api  # noqa: F401
    except ImportError as exc:
        raise TuningError(
            "keras-tuner on TensorFlow needs the tensorboard package (every trial fails "
            f"without it): pip install tensorboard. ({exc})"
        ) from exc


def is_arrays(x: Any) -> bool:
    return not (tfdata.is_dataset(x) or isinstance(x, keras.utils.PyDataset))


def portable(optimizer: Any) -> Any:
    """An optimizer a Ray task can receive: its name or its serialized config."""
    if optimizer is None or isinstance(optimizer, str):
        return optimizer
    return keras.optimizers.serialize(optimizer)


@contextmanager
def project_directory(directory: str | Path | None) -> Iterator[str]:
    if directory is not None:
        yield str(directory)
        return
    with tempfile.TemporaryDirectory(prefix="finder-tune-") as temporary:
        yield temporary

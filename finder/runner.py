"""One range-test job from plain settings: resolve model and data, compile, test, describe.

This is the single code path behind `finder run` and the service's `POST /find-lr`: both build a
`RunSpec` from their own input format and call `run_spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from finder.data import Dataset, load_dataset
from finder.defaults import AUTO, DEFAULT_BUDGET, is_auto
from finder.errors import DataError, InvalidArgumentError
from finder.model_files import load_model_file
from finder.propose import attach_proposals, default_steps_per_epoch
from finder.rangetest import range_test
from finder.recorder import SweepProgress
from finder.result import RangeTestResult
from finder.zoo import BUILTIN_MODELS, build_model, make_optimizer

DEFAULT_LOSS = "sparse_categorical_crossentropy"


@dataclass(frozen=True)
class RunSpec:
    """Everything a range-test job needs, as JSON-ready values.

    `model` is a built-in model name or a path to a `.keras` file; `data` is a built-in dataset
    name or a path to an `.npz` file. `epochs` (and `steps_per_epoch`, by default one pass over
    the training data) is the training plan the schedule proposals are sized for; None skips
    the proposals. `min_lr`, `max_lr` and `num_steps` are `"auto"` by default (the auto range
    test, within `budget` steps and the plan); `optimizer=None` keeps a model
    file's own compiled optimizer (SGD for built-in or uncompiled models); `loss=None`
    likewise keeps the file's loss (sparse categorical cross-entropy otherwise).
    """

    model: str = "fashion_cnn"
    data: str = "fashion_mnist_sample"
    optimizer: str | None = None
    optimizer_settings: Mapping[str, Any] = field(default_factory=dict)
    loss: str | None = None
    batch_size: int = 64
    min_lr: float | str = AUTO
    max_lr: float | str = AUTO
    num_steps: int | str = AUTO
    budget: int | None = None
    mode: str = "exp"
    smoothing: float = 0.98
    divergence: float = 4.0
    repeats: int = 3
    seed: int = 0
    validation: bool = True
    epochs: int | None = 10
    steps_per_epoch: int | None = None

    @property
    def auto(self) -> bool:
        """Whether the range test finds its range itself (`finder.auto_range`)."""
        return is_auto(self.min_lr, self.max_lr, self.num_steps)

    @property
    def progress_steps(self) -> int:
        """Steps a progress bar counts to: the budget in auto mode, else steps x repeats."""
        if self.auto:
            return int(self.budget or DEFAULT_BUDGET)
        return int(self.num_steps) * self.repeats

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
    the auto range test prepares (it spends at most that); by default the plan,
    `epochs` x `steps_per_epoch`.
    """
    dataset = dataset if dataset is not None else load_dataset(spec.data)
    model = load_model(spec, dataset)
    validation = (
        (dataset.x_val, dataset.y_val) if spec.validation and dataset.x_val is not None else None
    )
    steps_per_epoch = spec.steps_per_epoch or default_steps_per_epoch(
        len(dataset.x_train), spec.batch_size
    )
    auto = spec.auto
    if plan_steps is None and spec.epochs:
        plan_steps = spec.epochs * steps_per_epoch
    result = range_test(
        model,
        dataset.x_train,
        dataset.y_train,
        batch_size=spec.batch_size,
        min_lr=spec.min_lr,
        max_lr=spec.max_lr,
        num_steps=spec.num_steps,
        budget=spec.budget if auto else None,
        plan_steps=plan_steps if auto else None,
        mode=spec.mode,
        smoothing=spec.smoothing,
        divergence=spec.divergence,
        repeats=spec.repeats,
        seed=spec.seed,
        validation_data=validation,
        progress=progress,
        callbacks=callbacks or (),
        metadata={"run": spec.to_dict(), "dataset": dataset.describe()},
    )
    if spec.epochs is not None:
        attach_proposals(result, epochs=spec.epochs, steps_per_epoch=steps_per_epoch)
    return result

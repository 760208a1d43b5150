"""Snapshot and restore everything a range test touches on a compiled Keras model.

A range test trains the user's own model at absurd learning rates; afterwards the model must be
exactly as it was: weights, random-seed state, metric state, optimizer slots, `iterations`, and
the optimizer's original learning rate (float variable or schedule object, the same object).

Why private attributes are touched here, and only here:

- `optimizer._learning_rate` is swapped directly. The public `learning_rate` setter refuses a
  float on a schedule-holding optimizer (TypeError) and, when given a schedule, UNTRACKS the
  float learning-rate variable, which would change `optimizer.variables` (and the saved file)
  for good.
- `optimizer._iterations` is read for the sweep's start: with gradient accumulation the public
  `iterations` is a derived tensor (optimizer steps), while schedules see the raw micro-batch
  counter.
- `model.train_function` is cleared so the sweep schedule is traced in, and put back after, so
  the user's next `fit` reuses the function traced with their own learning rate.
- `model.train_step` may be shadowed by an instance attribute for the sweep (see
  `install_train_step`); the instance's own attribute, if it had one, is put back after.

One piece of random state lives outside the model on PyTorch: Keras's torch backend draws the
masks of an unseeded `Dropout` from torch's global generator (seeded layers, and every layer on
TensorFlow and JAX, use their `SeedGenerator`, a model variable). So on PyTorch the global
generators (CPU, and CUDA where it is in use) are captured too, reset when each sweep's training
begins (`sweep_callbacks`: after Keras's one-time build of a model's first `fit`, which draws
from them on torch; each sweep then sees the same masks, as on the other backends, and so does
a second test from the same state) and put back after the test: the user's next `fit` draws
what it would have drawn without the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from finder.errors import ModelError
from finder.host import innermost_optimizer, variable_to_numpy
from finder.rangetest.distribution import model_scope


def skips_steps(optimizer: Any) -> bool:
    """Whether `optimizer` may skip updates: a `LossScaleOptimizer` skips non-finite ones."""
    return hasattr(optimizer, "inner_optimizer")


def non_finite_weights(model: keras.Model) -> int:
    """How many of the model's trainable weights are NaN or inf. The loss alone can hide them:
    a ReLU or a max maps NaN to a finite value on some backends, so a network whose first layer
    is all NaN can report a steady, finite loss (that of a constant output)."""
    return sum(
        int(array.size - np.count_nonzero(np.isfinite(array)))
        for array in (variable_to_numpy(v) for v in model.trainable_variables)
    )


def require_compiled(model: Any) -> keras.Model:
    """Return `model` if it is a compiled Keras model with an optimizer, else raise.

    Raises:
        ModelError: not a Keras model, not compiled, or compiled without an optimizer or loss.
    """
    if not isinstance(model, keras.Model):
        raise ModelError(f"Expected a keras.Model. Received: {type(model).__name__}")
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise ModelError(
            f"Model {model.name!r} is not compiled: call model.compile(optimizer=..., loss=...) "
            "before the range test."
        )
    if getattr(model, "loss", None) is None and not _overrides_compute_loss(model):
        raise ModelError(f"Model {model.name!r} was compiled without a loss.")
    return model


def _overrides_compute_loss(model: keras.Model) -> bool:
    return type(model).compute_loss is not keras.Model.compute_loss or (
        type(model).train_step is not keras.Model.train_step
    )


# Marks a model whose `train_step` is its class's method (no instance attribute).
_NO_OWN_TRAIN_STEP = object()


@dataclass
class ModelState:
    """Values of every variable of a model and its optimizer, plus the objects swapped."""

    model_values: list[np.ndarray]
    metric_values: list[np.ndarray]
    optimizer_values: list[np.ndarray]
    learning_rate: Any
    train_function: Any
    own_train_step: Any
    steps_per_execution: int
    stop_training: bool
    history: Any
    global_rng: Any = None

    @classmethod
    def capture(cls, model: keras.Model) -> ModelState:
        """Snapshot `model`; builds the optimizer first so its slots exist and are captured."""
        optimizer = model.optimizer
        if not optimizer.built:
            with model_scope(model):
                optimizer.build(model.trainable_variables)
        return cls(
            model_values=host_copies(model.variables),
            metric_values=host_copies(model.metrics_variables),
            optimizer_values=host_copies(optimizer.variables),
            learning_rate=innermost_optimizer(optimizer)._learning_rate,
            train_function=model.train_function,
            own_train_step=vars(model).get("train_step", _NO_OWN_TRAIN_STEP),
            steps_per_execution=model.steps_per_execution,
            stop_training=model.stop_training,
            history=getattr(model, "history", None),
            global_rng=_global_rng_state(),
        )

    def restore(self, model: keras.Model) -> None:
        """Put every captured value and object back on `model`."""
        innermost_optimizer(model.optimizer)._learning_rate = self.learning_rate
        with model_scope(model):
            _assign_all(model.variables, self.model_values)
            # Metrics built during the sweep did not exist before; only restore those that did.
            _assign_all(model.metrics_variables[: len(self.metric_values)], self.metric_values)
            _assign_all(model.optimizer.variables, self.optimizer_values)
        model.train_function = self.train_function
        if self.own_train_step is _NO_OWN_TRAIN_STEP:
            vars(model).pop("train_step", None)
        else:
            model.train_step = self.own_train_step
        model.steps_per_execution = self.steps_per_execution
        model.stop_training = self.stop_training
        # `fit` points `model.history` at its own History callback.
        model.history = self.history
        _set_global_rng_state(self.global_rng)

    def reset_weights(self, model: keras.Model) -> None:
        """Back to the captured values but keep whatever learning rate is installed."""
        assign_weights(model, self.model_values, self.optimizer_values)

    def sweep_callbacks(self) -> list[keras.callbacks.Callback]:
        """Callbacks every sweep runs first: the global generators' reset (module docstring)."""
        return [] if self.global_rng is None else [_GlobalRngReset(self.global_rng)]


class _GlobalRngReset(keras.callbacks.Callback):
    def __init__(self, state: Any) -> None:
        super().__init__()
        self.state = state

    def on_train_begin(self, logs: Any = None) -> None:
        _set_global_rng_state(self.state)


def _global_rng_state() -> Any:
    """torch's global generators' states on the torch backend, else None (module docstring)."""
    if keras.backend.backend() != "torch":
        return None
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.random.get_rng_state(), cuda


def _set_global_rng_state(state: Any) -> None:
    if state is None:
        return
    import torch

    cpu, cuda = state
    torch.random.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def host_copies(variables: list[Any]) -> list[np.ndarray]:
    """Copies of `variables`' values in host memory."""
    return [np.array(variable_to_numpy(v), copy=True) for v in variables]


def assign_weights(
    model: keras.Model, model_values: list[np.ndarray], optimizer_values: list[np.ndarray]
) -> None:
    """Put `model_values` on the model's variables and `optimizer_values` on its optimizer's,
    in the model's distribution scope."""
    with model_scope(model):
        _assign_all(model.variables, model_values)
        _assign_all(model.optimizer.variables, optimizer_values)


def _assign_all(variables: list[Any], values: list[np.ndarray]) -> None:
    if len(variables) != len(values):
        raise ModelError(
            f"The model's variables changed during the range test ({len(values)} before, "
            f"{len(variables)} after); cannot restore it."
        )
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


def install_learning_rate(model: keras.Model, learning_rate: Any) -> None:
    """Make the optimizer use `learning_rate` (a schedule) until `ModelState.restore`."""
    innermost_optimizer(model.optimizer)._learning_rate = learning_rate
    model.train_function = None


def install_train_step(model: keras.Model, train_step: Any) -> None:
    """Make `fit` trace `train_step` instead of the model's own until `ModelState.restore`."""
    model.train_step = train_step
    model.train_function = None


def initial_learning_rate(optimizer: Any) -> float | None:
    """The learning rate `optimizer` was given: a float's value, a schedule's at step 0, None
    when it cannot be read (a custom schedule that fails there)."""
    rate = innermost_optimizer(optimizer)._learning_rate
    try:
        schedule = isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)
        value = rate(0) if schedule else rate
        value = variable_to_numpy(value)
        # float32 variables hold 0.01 as 0.0099999998: read back the decimal it was given
        return float(f"{float(value):.7g}")
    except Exception:  # noqa: BLE001 - any failure means "unknown": the auto range has a fallback
        return None

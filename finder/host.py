"""Reading Keras state to the host, on every backend: a variable's value (without numpy's
warnings), and the optimizer step a learning-rate schedule is evaluated at."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


def variable_to_numpy(value: Any) -> np.ndarray:
    """A Keras variable's (or tensor's) value as numpy, through the backend's own tensor: numpy's
    conversion of the Keras variable itself (which its `numpy()` is, on JAX and PyTorch) warns
    under numpy 2, its `__array__` taking no `copy`."""
    if isinstance(value, keras.Variable):
        value = value.value  # the backend's own tensor (a tf.Variable on TensorFlow)
    backend = keras.backend.backend()
    if backend == "tensorflow" and hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    if backend == "torch" and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(keras.ops.convert_to_numpy(value))


def innermost_optimizer(optimizer: Any) -> Any:
    """The optimizer that owns the learning rate (unwraps `LossScaleOptimizer`)."""
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    return optimizer


def update_rule(optimizer: Any) -> str:
    """The name of the update rule of the optimizer that owns the learning rate: what finder's
    calibration of edges reads (`finder.rangetest.calibration`).

    That is its class name, or for a subclass of a Keras optimizer that keeps its parent's
    `update_step` (one that only adds logging, say, or changes a default), the name of the
    nearest Keras class it inherits the step from: the calibration was measured on that rule.
    A class that defines its own `update_step` is its own rule, under its own name.
    """
    cls = type(innermost_optimizer(optimizer))
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] == "keras":
            return klass.__name__
        if "update_step" in vars(klass):
            break
    return cls.__name__


def accumulation_steps(optimizer: Any) -> int:
    """Batches per optimizer step: `gradient_accumulation_steps`, else 1."""
    return int(innermost_optimizer(optimizer).gradient_accumulation_steps or 1)


def micro_batch_count(optimizer: Any) -> int:
    """The counter Keras evaluates a `LearningRateSchedule` at: the optimizer's raw counter,
    which counts micro-batches under gradient accumulation (where the `iterations` property
    counts updates)."""
    inner = innermost_optimizer(optimizer)
    return int(variable_to_numpy(getattr(inner, "_iterations", inner.iterations)))

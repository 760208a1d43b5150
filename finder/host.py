"""Reading a Keras variable's value to the host, on every backend, without numpy's warnings."""

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

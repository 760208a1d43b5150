"""Markers for tests that hold on one Keras backend only.

The suite runs three times in CI: on TensorFlow, and its `backend_neutral` modules again with
`KERAS_BACKEND=jax` and with `KERAS_BACKEND=torch` (see `.ci/run`). A test in such a module
that states a fact of one backend carries one of these, with the reason.
"""

from __future__ import annotations

import keras
import pytest


def tensorflow_only(reason: str) -> pytest.MarkDecorator:
    """Skip off TensorFlow; `reason` says what is TensorFlow's own."""
    return pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason=reason)


def not_on_torch(reason: str) -> pytest.MarkDecorator:
    """Skip on PyTorch; `reason` says what Keras's torch backend does not support."""
    return pytest.mark.skipif(keras.backend.backend() == "torch", reason=reason)

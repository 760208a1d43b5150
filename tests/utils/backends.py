"""Markers for tests that hold on one Keras backend only.

The suite runs twice in CI: on TensorFlow, and its `backend_neutral` modules again with
`KERAS_BACKEND=jax` (see `.ci/run`). A test in such a module that states a fact of one backend
carries one of these, with the reason.
"""

from __future__ import annotations

import keras
import pytest


def tensorflow_only(reason: str) -> pytest.MarkDecorator:
    """Skip off TensorFlow; `reason` says what is TensorFlow's own."""
    return pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason=reason)

"""Failure classification: which errors fail a job once and which are retried, and the reason
a caller reads."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from finder.errors import DataError, ModelError
from service.jobs.failures import classify, failure, reason_of


def tf_error(name: str, message: str) -> Exception:
    import tensorflow as tf

    error: Exception = getattr(tf.errors, name)(None, None, message)
    return error


@pytest.mark.parametrize(
    ("build", "kind", "status"),
    [
        # the caller's input: the same request fails the same way again
        (lambda: DataError("x_train holds 3 non-finite values"), "input", "failed"),
        (lambda: ModelError("not compiled"), "input", "failed"),
        (lambda: ValueError("Unknown loss function: 'not_a_loss'"), "input", "failed"),
        (
            lambda: tf_error("InvalidArgumentError", "Received a label value of 50"),
            "input",
            "failed",
        ),
        # too large for the machine: retrying does not make it smaller
        (lambda: MemoryError(), "resources", "failed"),
        (lambda: tf_error("ResourceExhaustedError", "OOM when allocating"), "resources", "failed"),
        # a bug: deterministic too
        (lambda: RuntimeError("boom"), "internal", "failed"),
        (lambda: tf_error("InternalError", "kernel failed"), "internal", "failed"),
        # outside the job: worth another attempt
        (lambda: OperationalError("SELECT 1", {}, Exception("gone")), "infrastructure", "retry"),
        (lambda: ConnectionResetError(), "infrastructure", "retry"),
        (lambda: tf_error("UnavailableError", "socket closed"), "infrastructure", "retry"),
        # a fresh job process that could not import a library (seen in the soak, under kills)
        (lambda: ImportError("initialization failed"), "infrastructure", "retry"),
    ],
)
def test_classification(build, kind: str, status: str) -> None:
    exc = build()
    assert classify(exc) == kind
    ended = failure(exc)
    assert (ended["status"], ended["kind"]) == (status, kind)
    assert all(isinstance(v, str) for v in ended.values())  # plain data across Ray


def test_a_tensorflow_reason_is_the_line_that_says_what_went_wrong() -> None:
    message = (
        'Graph execution error:\n\nDetected at node loss defined at:\n  File "x.py", line 1\n\n'
        "Received a label value of 50 which is outside the valid range of [0, 10).  Label "
        "values: " + "50 " * 400 + "\n\t [[{{node loss}}]] [Op:__inference_step_558]"
    )
    reason = reason_of(tf_error("InvalidArgumentError", message))
    assert reason.startswith("InvalidArgumentError: Received a label value of 50 which is")
    assert len(reason) < 600 and reason.endswith("...")
    assert reason_of(DataError("x.npz: x_train is empty")) == "x.npz: x_train is empty"

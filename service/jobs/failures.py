"""Why a job failed, as plain data: a classification, a one-line reason, and whether to retry.

A job's outcome crosses from its Ray task to the dispatcher in the API process. It must cross
as plain data (strings), never as a raised exception: Ray pickles a task's exception, and
unpickling a TensorFlow exception in the API process imports TensorFlow there (~750 MiB).
So the task catches everything, classifies it here, and returns an `Outcome` dict.

Classifications (`Job.failure_kind`); only `infrastructure` is retried, up to `max_attempts`:

- `input`: the request, its model or its data is invalid (a finder error, a `ValueError` or
  `TypeError`, TensorFlow's `InvalidArgumentError`);
- `resources`: the model or data is too large (`MemoryError`, `ResourceExhaustedError`);
- `internal`: any other error the job's code raised: deterministic, a bug to report;
- `infrastructure`: the process or node was lost, the database or a connection failed, or the
  job's fresh process failed to import a library (`ImportError`: seen as numpy's
  "initialization failed" in a process started while others were being killed; a package
  that is really missing fails the same way on every attempt, so it still ends, after
  `max_attempts`, with its message);
- `timeout`: stopped at `job_timeout_s`.

A retry only helps when the failure came from outside the job's input; running the same
input again gives the same error, so every other kind fails at once with its message.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from sqlalchemy.exc import DBAPIError

from finder.errors import FinderError

FailureKind = Literal["input", "resources", "internal", "infrastructure", "timeout"]
FAILURE_KINDS: tuple[FailureKind, ...] = (
    "input",
    "resources",
    "internal",
    "infrastructure",
    "timeout",
)
RETRIED_KINDS = frozenset({"infrastructure"})
INPUT_ERRORS: tuple[type[Exception], ...] = (FinderError, ValueError, TypeError)
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError,
    ConnectionError,
    TimeoutError,
    ImportError,
)
# TensorFlow's error classes by name: the dispatcher's process must not import TensorFlow to
# classify them (and neither has to a job that failed before importing it).
FRAMEWORK_KINDS: dict[str, FailureKind] = {
    "InvalidArgumentError": "input",
    "OutOfRangeError": "input",
    "ResourceExhaustedError": "resources",
    "UnavailableError": "infrastructure",
    "AbortedError": "infrastructure",
}
MAX_REASON_CHARS = 500


class Outcome(TypedDict):
    """What a job's task returns: plain strings only, so nothing framework-specific is
    unpickled where it is read."""

    status: Literal["succeeded", "failed", "retry", "superseded"]
    reason: str | None
    kind: FailureKind | None


def is_framework_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in {"tensorflow", "keras", "jax", "jaxlib"}


def classify(exc: BaseException) -> FailureKind:
    """The failure kind of an exception a job raised (see the module docstring)."""
    if isinstance(exc, INFRASTRUCTURE_ERRORS):
        return "infrastructure"
    if isinstance(exc, INPUT_ERRORS):
        return "input"
    if isinstance(exc, MemoryError):
        return "resources"
    if is_framework_error(exc):
        for cls in type(exc).__mro__:
            if cls.__name__ in FRAMEWORK_KINDS:
                return FRAMEWORK_KINDS[cls.__name__]
    return "internal"


def reason_of(exc: BaseException) -> str:
    """A one-line, human-readable reason for `exc`.

    TensorFlow's messages start with "Graph execution error:" and a traceback of the graph's
    definition; what went wrong is the last unindented line ("Received a label value of 50
    which is outside the valid range of [0, 10)."), so that is the line kept.
    """
    lines = [line for line in str(exc).splitlines() if line.strip()]
    if is_framework_error(exc):
        unindented = [line for line in lines if not line[0].isspace()]
        lines = unindented[-1:] or lines[:1]
    text = lines[0].strip() if lines else ""
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3] + "..."
    if isinstance(exc, FinderError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def outcome(
    status: Literal["succeeded", "failed", "retry", "superseded"],
    reason: str | None = None,
    kind: FailureKind | None = None,
) -> Outcome:
    return {"status": status, "reason": reason, "kind": kind}


def failure(exc: BaseException) -> Outcome:
    """The outcome of a job attempt that raised `exc`: retried or failed, with its reason."""
    kind = classify(exc)
    return outcome("retry" if kind in RETRIED_KINDS else "failed", reason_of(exc), kind)

"""Errors the service raises on purpose, and the HTTP status of every domain error.

```
Exception
└── ServiceError
    ├── InvalidSettingsError(ValueError)   settings that are unsafe or malformed (start-up)
    ├── NotAuthenticatedError              401: no key, or an unknown key
    ├── NotFoundError(LookupError)         404: no such job/upload for this key
    ├── ConflictError                      409: the job's state does not allow the request
    │   └── IdempotencyConflictError       409: an Idempotency-Key reused with another body
    ├── LimitExceededError                 429 (413 for the upload quota): a bound is reached
    │   └── DrainingError                  503: the service is draining (SIGTERM), no new jobs
    └── UploadRefusedError(ValueError)     415/422: wrong file type or unreadable upload
```

An error with a `reason` is a refusal that `/metrics` counts (`finder_refusals_total`).

`finder.errors.FinderError`s raised while checking a request or an upload are client errors
too; `status_for` maps both families, and `service.main` turns them into responses in one
exception handler.
"""

from __future__ import annotations

from finder.errors import (
    DataError,
    FinderError,
    InvalidArgumentError,
    ModelError,
    SchemaError,
)


class ServiceError(Exception):
    """Base class of every error the service raises on purpose."""

    status_code = 400


class InvalidSettingsError(ServiceError, ValueError):
    """The settings cannot be used (for example no API key on a public address)."""


class NotAuthenticatedError(ServiceError):
    """The request carries no API key, or one the service does not know."""

    status_code = 401


class NotFoundError(ServiceError, LookupError):
    """No job or upload with this id belongs to the caller."""

    status_code = 404


class ConflictError(ServiceError):
    """The job's state does not allow the request (e.g. a curve of an unfinished job)."""

    status_code = 409


class IdempotencyConflictError(ConflictError):
    """The Idempotency-Key was sent before with a different request."""

    reason = "idempotency_conflict"


class LimitExceededError(ServiceError):
    """A bound on queued jobs (429, with `Retry-After`) or on stored uploads (413) is reached.

    `limit` names the setting (`max_queued_jobs`, `max_queued_per_key`, `upload_quota_mb`) and
    `value` is its value; the response carries both beside `detail`.
    """

    status_code = 429

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        value: float,
        retry_after_s: int | None = None,
        status_code: int = 429,
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.retry_after_s = retry_after_s
        self.status_code = status_code

    @property
    def reason(self) -> str:
        return self.limit


class DrainingError(LimitExceededError):
    """A job submission while the service drains after SIGTERM: 503 with `Retry-After`, and
    `limit: "draining"` with `value` the drain's grace (`FINDER_DRAIN_GRACE_S`)."""

    def __init__(self, message: str, *, grace_s: float, retry_after_s: int) -> None:
        super().__init__(
            message,
            limit="draining",
            value=grace_s,
            retry_after_s=retry_after_s,
            status_code=503,
        )


class UploadRefusedError(ServiceError, ValueError):
    """An upload has the wrong file type or cannot be read."""

    status_code = 422

    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.status_code = status_code


# Most specific first: UnsafeModelError is a ModelError, DatasetNotFoundError a DataError.
FINDER_ERROR_STATUS: tuple[tuple[type[FinderError], int], ...] = (
    (ModelError, 422),
    (DataError, 422),
    (InvalidArgumentError, 422),
    (SchemaError, 422),
)


def status_for(exc: Exception) -> int:
    """The HTTP status of a domain error (400 for a FinderError with no closer match)."""
    if isinstance(exc, ServiceError):
        return exc.status_code
    for error_type, status in FINDER_ERROR_STATUS:
        if isinstance(exc, error_type):
            return status
    return 400

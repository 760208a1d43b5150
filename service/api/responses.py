"""OpenAPI descriptions of the error responses, so clients (and schemathesis) know them."""

from __future__ import annotations

from typing import Any

from service.api.models import ErrorPublic, LimitPublic

DESCRIPTIONS = {
    401: "No API key, or an unknown one.",
    404: "No such job or upload for this key.",
    409: "The job's state does not allow this.",
    413: "The request body is larger than the service accepts.",
    415: "The upload's file type is refused.",
    422: "The request or the uploaded file is invalid (the reason names the field).",
    429: "A bound on queued jobs is reached: `limit` names the setting and `value` its value. "
    "Retry after `Retry-After` seconds (no job was created).",
    503: "The service is draining (it got SIGTERM and is about to stop): `limit` is `draining` "
    "and `value` FINDER_DRAIN_GRACE_S. Retry after `Retry-After` seconds, here or on another "
    "replica (no job was created).",
}
# The answers of a POST that creates a job or an upload (`Idempotency-Key`, bounds, quota).
CREATE_DESCRIPTIONS = {
    409: "The `Idempotency-Key` was used before (within its lifetime) with a different request.",
    413: "The request body is larger than the service accepts, or the upload would pass this "
    "key's storage quota (then `limit` is `upload_quota_mb`).",
}

ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}
LIMIT_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/LimitPublic"}}}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def error_responses(
    *codes: int, descriptions: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    # Errors are JSON even on routes that answer images or event streams.
    described = {**DESCRIPTIONS, **(descriptions or {})}
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        if code in (429, 503):
            responses[code] = {
                "model": LimitPublic,
                "description": described[code],
                "content": LIMIT_CONTENT,
                "headers": RETRY_AFTER,
            }
        else:
            responses[code] = {
                "model": ErrorPublic,
                "description": described[code],
                "content": ERROR_CONTENT,
            }
    return responses


def create_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`error_responses` of a route that creates something."""
    return error_responses(*codes, descriptions=CREATE_DESCRIPTIONS)

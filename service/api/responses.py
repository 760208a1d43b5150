"""OpenAPI descriptions of the error responses, so clients (and schemathesis) know them."""

from __future__ import annotations

from typing import Any

from service.models import ErrorPublic

DESCRIPTIONS = {
    401: "No API key, or an unknown one.",
    404: "No such job or upload for this key.",
    409: "The job's state does not allow this.",
    413: "The request body is larger than the service accepts.",
    415: "The upload's file type is refused.",
    422: "The request or the uploaded file is invalid (the reason names the field).",
}


ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    # Errors are JSON even on routes that answer images or event streams.
    return {
        code: {"model": ErrorPublic, "description": DESCRIPTIONS[code], "content": ERROR_CONTENT}
        for code in codes
    }

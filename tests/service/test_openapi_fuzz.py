"""Schemathesis against the app's own OpenAPI document: no 5xx, responses match the schema."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from service import Settings, create_app
from tests.service.utils.jobs import auth, quick_job

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


@pytest.fixture
def fuzzed_app(make_settings: Callable[..., Settings]) -> FastAPI:
    from fastapi.testclient import TestClient

    # Small caps so generated uploads exercise the limits; one queued job to find.
    app = create_app(make_settings(max_upload_bytes=256 * 1024))
    with TestClient(app) as client:
        assert client.post("/find-lr", json=quick_job(), headers=auth()).status_code == 202
    return app


def fuzz(app: FastAPI, max_examples: int) -> int:
    """Run every operation of the app's OpenAPI document; return how many were exercised."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=auth(), checks=CHECKS)

        try:
            exercise()
        except Exception as exc:  # Collect every operation's failure, then report them all.
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    return operations


def test_api_conforms(fuzzed_app: FastAPI) -> None:
    # Every route, a few generated requests each (the long run is marked slow).
    assert fuzz(fuzzed_app, max_examples=8) >= 11


@pytest.mark.slow
def test_api_conforms_long(fuzzed_app: FastAPI) -> None:
    assert fuzz(fuzzed_app, max_examples=150) >= 11

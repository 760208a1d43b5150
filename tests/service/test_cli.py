"""`finder serve` and `finder worker`: options, one-line errors, and a worker doing the jobs."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from finder.cli import cli
from tests.service.utils import stub_jobs
from tests.service.utils.jobs import TERMINAL, quick_job
from tests.service.utils.servers import Server
from tests.utils.processes import wait_for


def test_commands_are_listed() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output and "worker" in result.output


def test_serve_help_names_its_options() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--no-dispatcher", "--log-level"):
        assert option in result.output


def test_serve_refuses_a_public_address_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINDER_API_KEYS", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "Error: Invalid service settings: refusing to bind to 0.0.0.0 without API keys: "
        "set FINDER_API_KEYS or bind to 127.0.0.1"
    ]


def test_worker_reports_bad_settings_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDER_MAX_ATTEMPTS", "0")
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: Invalid service settings: max_attempts: Input should be greater than or equal to 1"
    ]


def test_api_without_dispatcher_and_a_separate_worker(serve: Callable[..., Server]) -> None:
    api = serve("serve", "--no-dispatcher", "--log-level", "warning")
    response = api.request("POST", "/find-lr", json=quick_job())
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert api.request("GET", "/healthz").json()["dispatchers"] == 0

    worker = serve("worker", wait=False, env=stub_jobs.env())  # no TensorFlow in its job

    def ended() -> dict | None:
        document = api.request("GET", f"/jobs/{job_id}").json()
        return document if document["status"] in TERMINAL else None

    document = wait_for(ended, 180, "the worker to run the job", every=0.25)
    assert document["status"] == "succeeded", document["error"]
    assert api.request("GET", "/healthz").json()["dispatchers"] == 1
    assert worker.stop(signal.SIGTERM) == 0
    assert api.request("GET", "/healthz").json()["dispatchers"] == 0

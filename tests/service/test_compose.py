"""docker-compose.yml parses, and has the topology the tests exercise without Docker."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
SECRETS = {"POSTGRES_PASSWORD": "pw", "FINDER_API_KEYS": "k" * 16, "RAY_AUTH_TOKEN": "t" * 32}


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = shutil.which("docker-compose")
    if command is None:
        pytest.fail(
            "docker-compose is needed to check docker-compose.yml: apt-get install docker-compose"
        )
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [command, "-f", str(COMPOSE_FILE), "config"],
        env={**clean, **env},
        capture_output=True,
        text=True,
    )


def mount(volume: str | dict[str, str]) -> tuple[str, str]:
    """(source, target) of a volume in short ("src:dst:rw") or long syntax."""
    if isinstance(volume, str):
        source, target = volume.split(":")[:2]
        return source, target
    return volume["source"], volume["target"]


def command(service: dict[str, Any]) -> str:
    value = service["command"]
    return " ".join(value) if isinstance(value, list) else str(value)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    done = compose_config(SECRETS)
    assert done.returncode == 0, done.stderr
    resolved: dict[str, Any] = yaml.safe_load(done.stdout)
    return resolved


def test_secrets_are_required() -> None:
    done = compose_config({})
    assert done.returncode != 0
    assert "not set" in done.stderr


def test_services_and_healthchecks(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == {"api", "ray-head", "ray-worker", "postgres"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    assert services["api"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "ray-head": {"condition": "service_healthy"},
    }
    assert services["ray-worker"]["depends_on"]["ray-head"]["condition"] == "service_healthy"


def test_api_joins_the_cluster_with_keys_and_postgres(config: dict[str, Any]) -> None:
    api = config["services"]["api"]
    env = api["environment"]
    assert env["RAY_ADDRESS"] == "ray-head:6379"
    assert env["FINDER_API_KEYS"] == SECRETS["FINDER_API_KEYS"]
    assert env["FINDER_DATABASE_URL"].startswith("postgresql://finder:pw@postgres:5432/")
    assert command(api).startswith("finder serve --host 0.0.0.0")


def test_uploads_volume_is_shared_by_the_api_and_every_ray_node(config: dict[str, Any]) -> None:
    for name in ("api", "ray-head", "ray-worker"):
        volumes = [mount(v) for v in config["services"][name]["volumes"]]
        assert ("finder-data", "/data") in volumes, name
        assert config["services"][name]["environment"]["FINDER_DATA_DIR"] == "/data"
        assert config["services"][name]["environment"]["RAY_AUTH_MODE"] == "token"


def test_workers_scale(config: dict[str, Any]) -> None:
    worker = config["services"]["ray-worker"]
    assert "ports" not in worker and "container_name" not in worker  # scalable: no fixed names
    assert (
        "--address=ray-head:6379" in " ".join(worker["command"])
        if isinstance(worker["command"], list)
        else "--address=ray-head:6379" in worker["command"]
    )

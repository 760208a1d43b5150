"""Service fixtures: real SQLite files or a real PostgreSQL, a real Ray, the real app.

The database and the Ray cluster are parametrized; the variants other than SQLite + local Ray
are marked slow, so `pytest -m slow` runs the same tests against PostgreSQL and a 2-node Ray.

- `database_url`: a fresh database per test: a SQLite file, or a new database in a PostgreSQL
  cluster that `initdb` + `pg_ctl` start once per session from Debian's binaries.
- `ray_cluster` (tests/conftest.py): Ray, embedded or two `ray start` nodes on 127.0.0.1.
- `make_settings` / `make_client`: the app as it runs, with a dispatcher when asked.
- `stub_runner`: the in-process dispatcher's jobs run `tests.service.utils.stub_jobs` (no
  TensorFlow) instead of real range tests; `running_client` runs real ones, `stub_client` stubs.
- `engine`: the job database of `make_settings`, its tables created.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from service import Settings, create_app
from service.core.db import create_db_engine, init_db
from service.jobs import dispatch
from tests.service.utils import stub_jobs
from tests.service.utils.jobs import KEY_A, KEY_B
from tests.service.utils.servers import Server, service_env, start_server
from tests.utils.processes import free_port
from tests.utils.ray_nodes import RayCluster

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The PostgreSQL variant of a test is slow; mark it once, here.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgresql":
            item.add_marker(pytest.mark.slow)


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_bin() -> Path:
    candidates = sorted(Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/")))
    for candidate in reversed(candidates):
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    pytest.fail(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found under {POSTGRES_BIN_GLOB}: "
        "apt-get install postgresql",
        pytrace=False,
    )


def as_postgres_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server as the `postgres` user then."""
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        pytest.fail("running as root needs `runuser` (util-linux) to start PostgreSQL")
    return ["runuser", "-u", "postgres", "--", *command]


def run_checked(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; its base URL."""
    binaries = postgres_bin()
    # Outside pytest's private tmp tree: the server's user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="finder-pg-", dir="/tmp"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    run_checked(
        as_postgres_user(
            [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--no-sync", "-E", "UTF8"]
        )
    )  # fmt: skip
    options = f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off -c full_page_writes=off"
    run_checked(
        as_postgres_user(
            [str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60",
             "-l", str(root / "server.log"), "start"]
        )
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        stop = [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(as_postgres_user(stop), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database for one test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    import psycopg

    base = request.getfixturevalue("postgres_server")
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


# --- the app ---------------------------------------------------------------------------------


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test: two API keys, fast polling, this test's database and files."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": tmp_path / "data",
            "api_keys": [KEY_A, KEY_B],
            "run_dispatcher": False,
            "poll_interval_s": 0.1,
            "progress_interval_s": 0.05,
            "max_attempts": 3,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def engine(make_settings: Callable[..., Settings]) -> Iterator[Engine]:
    engine = create_db_engine(make_settings().database_url)
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """`make_client(**settings)`: a started TestClient (lifespan run), closed after the test."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """`serve(*command, env=None)`: start `finder serve` (default) or another finder command
    with the test's database (and `env`'s variables); every process it started is gone after
    the test."""
    servers: list[Server] = []
    base_env = service_env(database_url, tmp_path / "data")

    def start(*command: str, wait: bool = True, env: dict[str, str] | None = None) -> Server:
        environment = {**base_env, **(env or {})}
        log, command = tmp_path / "service.log", command or ("serve", "--log-level", "warning")
        server = (
            start_server(environment, log, command)
            if wait
            else Server({**environment, "FINDER_PORT": str(free_port())}, log, command)
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.clean_up()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """The API without a dispatcher: jobs stay queued."""
    return make_client()


@pytest.fixture
def running_client(make_client: Callable[..., TestClient], ray_cluster: RayCluster) -> TestClient:
    """The API with its dispatcher on the session's Ray, running real jobs."""
    return make_client(run_dispatcher=True)


@pytest.fixture
def stub_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs the dispatchers of this process submit run the stub runners (`stub_jobs`)."""
    monkeypatch.setattr(dispatch, "run_job_remote", stub_jobs.remote_function())


@pytest.fixture
def stub_client(
    make_client: Callable[..., TestClient], ray_cluster: RayCluster, stub_runner: None
) -> TestClient:
    """The API with its dispatcher on the session's Ray, running stub jobs."""
    return make_client(run_dispatcher=True)

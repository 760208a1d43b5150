"""The job database's schema through Alembic (`service.core.db.init_db`, `service/core/migrations`):
new databases, databases finder made before Alembic, and processes migrating at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, inspect, select, text

from service.core.db import Base, ServiceLock, alembic_config, create_db_engine, init_db
from service.core.security import owner_of
from tests.service.utils import legacy_schema
from tests.service.utils.jobs import KEY_A, auth, quick_job, row


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def differences(engine: Engine) -> list[object]:
    """What Alembic's autogenerate finds between the database and the models."""
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def version(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def lock_names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.scalars(select(ServiceLock.name)).all())


@pytest.fixture
def bare_engine(database_url: str) -> Iterator[Engine]:
    """The test's database, empty: no table, no migration run."""
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def add_legacy_job(engine: Engine, owner: str = "owner") -> str:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(legacy_schema.jobs).values(
                id="a" * 32, owner=owner, kind="find_lr", status="succeeded", request={},
                spec={"model": "mlp"}, attempts=1, max_attempts=3, cancel_requested=False,
                steps_done=10, steps_total=10, result='{"ok":true}', duration_s=2.5,
                created_at=now, updated_at=now, started_at=now, finished_at=now,
            )
        )  # fmt: skip
    return "a" * 32


def test_a_new_database_is_migrated_to_the_models(bare_engine: Engine) -> None:
    init_db(bare_engine)
    assert version(bare_engine) == head()
    assert differences(bare_engine) == []
    assert lock_names(bare_engine) == ["claims", "submissions", "uploads"]
    init_db(bare_engine)  # at head: nothing to do
    assert version(bare_engine) == head()
    assert lock_names(bare_engine) == ["claims", "submissions", "uploads"]


def test_a_database_made_before_alembic_is_adopted(bare_engine: Engine) -> None:
    legacy_schema.create_legacy_database(bare_engine)
    job_id = add_legacy_job(bare_engine)
    assert version(bare_engine) is None
    init_db(bare_engine)
    assert version(bare_engine) == head()
    assert differences(bare_engine) == []
    assert lock_names(bare_engine) == ["claims", "submissions", "uploads"]
    job = row(bare_engine, job_id)
    assert (job.status, job.result, job.duration_s) == ("succeeded", '{"ok":true}', 2.5)
    assert job.created_at.tzinfo is not None


def test_the_service_opens_a_database_made_before_alembic(
    database_url: str, make_client: Callable[..., TestClient]
) -> None:
    engine = create_db_engine(database_url)
    legacy_schema.create_legacy_database(engine)
    job_id = add_legacy_job(engine, owner=owner_of(KEY_A))
    engine.dispose()
    client = make_client()  # create_app migrates
    listed = client.get("/jobs", headers=auth()).json()
    assert [job["id"] for job in listed["data"]] == [job_id]
    assert client.get(f"/jobs/{job_id}", headers=auth()).json()["status"] == "succeeded"
    assert client.post("/find-lr", json=quick_job(), headers=auth()).status_code == 202


def test_an_older_database_gets_the_columns_added_since(bare_engine: Engine) -> None:
    legacy_schema.create_legacy_database(bare_engine)
    job_id = add_legacy_job(bare_engine)
    with bare_engine.begin() as connection:
        for column in ("phase", "message", "failure_kind"):  # added after the first release
            connection.execute(text(f"ALTER TABLE jobs DROP COLUMN {column}"))
        connection.execute(text("DROP TABLE idempotency_keys"))  # a later table
        connection.execute(text("DELETE FROM service_locks WHERE name = 'uploads'"))
    init_db(bare_engine)
    columns = {c["name"] for c in inspect(bare_engine).get_columns("jobs")}
    assert {"phase", "message", "failure_kind"} <= columns
    assert differences(bare_engine) == []
    assert lock_names(bare_engine) == ["claims", "submissions", "uploads"]
    assert row(bare_engine, job_id).failure_kind is None


def test_processes_starting_at_once_migrate_once(database_url: str) -> None:
    engines = [create_db_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        barrier.wait(timeout=30)
        try:
            init_db(engine)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert version(engines[0]) == head()
        assert differences(engines[0]) == []
        with engines[0].connect() as connection:
            assert connection.scalar(select(func.count()).select_from(ServiceLock)) == 3
    finally:
        for engine in engines:
            engine.dispose()


def test_the_migrations_ship_in_the_package() -> None:
    """An installed service finds its migrations: they are modules of `service`, and the
    template a new revision starts from is package data."""
    import tomllib

    from setuptools import find_packages

    root = Path(__file__).parents[2]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    packages = find_packages(str(root), include=setuptools["packages"]["find"]["include"])
    assert {"service.core.migrations", "service.core.migrations.versions"} <= set(packages)
    assert "core/migrations/script.py.mako" in setuptools["package-data"]["service"]
    assert (root / "service" / "core" / "migrations" / "script.py.mako").is_file()

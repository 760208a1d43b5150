"""The SQL tables (SQLAlchemy 2): jobs, uploads, the dispatchers that run jobs, the idempotency
keys of submissions, and the lock rows that serialise a submission's check-then-insert.

The job table is the single source of truth for a job's state; the Ray queue is not. Every
state change is one conditional `UPDATE` (see `service.store`), which works the same on SQLite
and PostgreSQL:

```
queued ──claim──> running ──task──> succeeded | failed
   │                 │  └──process died, attempts left──> queued
   └──cancel──> cancelled <──dispatcher (ray.cancel)──┘
```

`DELETE /jobs/{id}` removes the row in any state (a running job's dispatcher then stops its
task, finding the row gone); the retention sweep removes finished rows past
`FINDER_RETENTION_S`.

The schema is Alembic's: `init_db` runs the migrations packaged in `service/core/migrations`, whose
newest revision matches these models (a test compares them).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Float,
    Integer,
    String,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One range-test (or tuning) job and everything known about its progress."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    dispatcher_id: Mapped[str | None] = mapped_column(String(32), index=True)
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    node_id: Mapped[str | None] = mapped_column(String(64))
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    steps_total: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    lr: Mapped[float | None] = mapped_column(Float)
    loss: Mapped[float | None] = mapped_column(Float)
    smoothed_loss: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    # Why it failed, as a class (`service.jobs.failures.FAILURE_KINDS`); None unless failed or
    # retried.
    failure_kind: Mapped[str | None] = mapped_column(String(16))
    # The library's result JSON, stored as the exact text it serialised to.
    result: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Upload(Base):
    """A model (`.keras`) or dataset (`.npz`) file a caller uploaded, already checked."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer)
    description: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Dispatcher(Base):
    """A live (or once live) dispatcher: its heartbeat tells others whether it still is."""

    __tablename__ = "dispatchers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)


class IdempotencyKey(Base):
    """An `Idempotency-Key` a caller sent with a POST that created a job or an upload.

    The primary key (owner, key) is the UNIQUE constraint that makes concurrent retries of one
    request create one thing: the second insert fails, and its request answers with the winner's.
    """

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of the route and the canonical request body (or the uploaded file).
    request_hash: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(16))  # "job" or "upload"
    resource_id: Mapped[str] = mapped_column(String(32), index=True)
    status_code: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ServiceLock(Base):
    """Rows whose `UPDATE` serialises a check-then-write across processes
    (`service.store.locks.lock`): the transaction's first write takes the row's write lock (on
    SQLite, the database's), held until commit, on SQLite and PostgreSQL alike. The rows
    (`submissions`, `claims`, `uploads`) are inserted by the migrations."""

    __tablename__ = "service_locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# How long a SQLite connection waits for another's lock (busy_timeout, and the WAL switch).
SQLITE_LOCK_WAIT_S = 30.0


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout makes writers from several processes wait for each other instead of
    # failing; WAL lets the API read while job processes write progress.
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_LOCK_WAIT_S * 1000)}")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the database file to WAL, which it keeps once any connection has. The switch
    needs the file's exclusive lock, and while another connection holds a lock (processes
    starting at once on a new file, one of them already migrating) SQLite answers "database is
    locked" at once, whatever busy_timeout says: so it is retried for as long as busy_timeout
    would have waited."""
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def create_db_engine(url: str, *, pooled: bool = True, pool_size: int = 10) -> Engine:
    """An engine for `url`, creating a SQLite file's directory; `pooled=False` for job processes
    that hold one connection for a short while."""
    url = normalize_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if not pooled:
        kwargs["poolclass"] = NullPool
    else:
        # Sync routes run on a 40-thread pool: let most of them hold a connection at once.
        kwargs.update(pool_size=pool_size, max_overflow=3 * pool_size)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The key of the PostgreSQL advisory lock that lets one process at a time migrate.
MIGRATION_LOCK_KEY = 0x66696E646572  # "finder"


def init_db(engine: Engine) -> None:
    """Bring the database to the newest schema: Alembic's `upgrade head` (`migrations`).

    Processes that start at once (an API and its workers) migrate one after the other: the
    whole upgrade is one transaction that begins by taking a lock, PostgreSQL's advisory lock
    or SQLite's write lock (`BEGIN IMMEDIATE`); the next process then finds the database at
    head and does nothing. Both databases roll DDL back with the transaction, so an upgrade
    that fails leaves the schema as it was.
    """
    migrating = _migration_engine(engine)
    try:
        with migrating.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            command.upgrade(alembic_config(connection), "head")
    finally:
        if migrating is not engine:
            migrating.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the packaged migrations, bound to `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _migration_engine(engine: Engine) -> Engine:
    """`engine`, or for SQLite one whose transactions begin with `BEGIN IMMEDIATE`: Python's
    sqlite3 would begin them only at the first write, after Alembic has read the version."""
    if engine.dialect.name != "sqlite":
        return engine
    migrating = create_engine(
        engine.url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 30}
    )

    @event.listens_for(migrating, "connect")
    def connect(dbapi_connection: Any, connection_record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, connection_record)
        dbapi_connection.isolation_level = None  # the driver begins nothing by itself

    @event.listens_for(migrating, "begin")
    def begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return migrating

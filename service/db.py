"""The SQL tables (SQLAlchemy 2): jobs, uploads, the dispatchers that run jobs, the idempotency
keys of submissions, and the lock rows that serialise a submission's check-then-insert.

The job table is the single source of truth for a job's state; the Ray queue is not. Every
state change is one conditional `UPDATE` (see `service.crud`), which works the same on SQLite
and PostgreSQL:

```
queued ──claim──> running ──task──> succeeded | failed
   │                 │  └──process died, attempts left──> queued
   └──cancel──> cancelled <──dispatcher (ray.cancel)──┘
```

`DELETE /jobs/{id}` removes the row in any state (a running job's dispatcher then stops its
task, finding the row gone); the retention sweep removes finished rows past
`FINDER_RETENTION_S`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Engine,
    Float,
    Integer,
    String,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
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
    # Why it failed, as a class (`service.failures.FAILURE_KINDS`); None unless failed or retried.
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
    """Rows whose `UPDATE` serialises a check-then-insert across processes (`crud.lock`): the
    first statement of the transaction takes the row's write lock (on SQLite, the database's),
    held until commit, on SQLite and PostgreSQL alike."""

    __tablename__ = "service_locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


LOCK_NAMES = ("submissions", "claims", "uploads")


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while job processes write progress; busy_timeout makes writers
    # from several processes wait for each other instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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


def init_db(engine: Engine) -> None:
    """Create the tables that do not exist yet, and add the columns newer versions added."""
    Base.metadata.create_all(engine)
    add_missing_columns(engine)
    add_lock_rows(engine)


def add_lock_rows(engine: Engine) -> None:
    """Insert the `service_locks` rows that are missing (a racing process may insert one
    first: its row is as good)."""
    for name in LOCK_NAMES:
        with engine.connect() as connection:
            present = connection.execute(
                select(ServiceLock.name).where(ServiceLock.name == name)
            ).first()
        if present is not None:
            continue
        try:
            with engine.begin() as connection:
                connection.execute(insert(ServiceLock).values(name=name, taken_at=None))
        except IntegrityError:
            pass


def add_missing_columns(engine: Engine) -> None:
    """Add the nullable columns of the models that an existing table lacks.

    `create_all` creates missing tables only; a database made by an older finder lacks columns
    added since (such as `jobs.failure_kind`). New columns are nullable, so a plain
    `ALTER TABLE ... ADD COLUMN` (the same on SQLite and PostgreSQL) is the whole migration. Two
    processes starting at once may race to add a column: the loser's error is ignored when the
    column is there afterwards.
    """
    for table in Base.metadata.sorted_tables:
        inspector = inspect(engine)
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as connection:
                    connection.execute(
                        text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")
                    )
            except DBAPIError:
                columns = inspect(engine).get_columns(table.name)
                if column.name not in {c["name"] for c in columns}:
                    raise

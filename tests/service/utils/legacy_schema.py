"""The job database as finder made it before its migrations were Alembic's: the tables its
models declared, which its `init_db` created with `create_all` (plus the `service_locks` rows),
with no `alembic_version` table. A frozen copy: later models must not change it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
)

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("request", JSON, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("cancel_requested", Boolean, nullable=False),
    Column("dispatcher_id", String(32), index=True),
    Column("worker_pid", Integer),
    Column("node_id", String(64)),
    Column("steps_done", Integer, nullable=False),
    Column("steps_total", Integer, nullable=False),
    Column("phase", String(16)),
    Column("message", Text),
    Column("lr", Float),
    Column("loss", Float),
    Column("smoothed_loss", Float),
    Column("error", Text),
    Column("failure_kind", String(16)),
    Column("result", Text),
    Column("duration_s", Float),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)
Table(
    "uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("path", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("description", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Table(
    "dispatchers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False, index=True),
    Column("stopped", Boolean, nullable=False),
)
Table(
    "idempotency_keys",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("resource", String(16), nullable=False),
    Column("resource_id", String(32), nullable=False, index=True),
    Column("status_code", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)
service_locks = Table(
    "service_locks",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("taken_at", DateTime(timezone=True)),
)


def create_legacy_database(engine: Engine) -> None:
    """What that `init_db` did on an empty database."""
    metadata.create_all(engine)
    with engine.begin() as connection:
        for name in ("submissions", "claims", "uploads"):
            connection.execute(insert(service_locks).values(name=name, taken_at=None))

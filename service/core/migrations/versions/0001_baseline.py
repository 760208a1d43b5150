"""The schema as finder created it before its migrations were Alembic's.

A database that a finder of that time made (no `alembic_version` table) has every table or
some, and its `jobs` may lack the nullable columns added since it was made (`phase`,
`message`, `failure_kind`): this revision creates the tables that are missing and adds the
nullable columns that are, then Alembic records the revision. On an empty database it is a
plain `CREATE TABLE` of each.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LOCK_NAMES = ("submissions", "claims", "uploads")


def when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def jobs() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("dispatcher_id", sa.String(32), nullable=True),
        sa.Column("worker_pid", sa.Integer(), nullable=True),
        sa.Column("node_id", sa.String(64), nullable=True),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.Column("steps_total", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("lr", sa.Float(), nullable=True),
        sa.Column("loss", sa.Float(), nullable=True),
        sa.Column("smoothed_loss", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("failure_kind", sa.String(16), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("updated_at", when(), nullable=False),
        sa.Column("started_at", when(), nullable=True),
        sa.Column("finished_at", when(), nullable=True),
    ]


def uploads() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
    ]


def dispatchers() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", when(), nullable=False),
        sa.Column("heartbeat_at", when(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False),
    ]


def idempotency_keys() -> list[sa.Column[Any]]:
    return [
        sa.Column("owner", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(32), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
    ]


def service_locks() -> list[sa.Column[Any]]:
    return [
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("taken_at", when(), nullable=True),
    ]


# Each table, its columns and its indexed columns (indexes named `ix_<table>_<column>`).
TABLES: dict[str, tuple[Callable[[], list[sa.Column[Any]]], tuple[str, ...]]] = {
    "jobs": (jobs, ("owner", "status", "dispatcher_id", "created_at")),
    "uploads": (uploads, ("owner",)),
    "dispatchers": (dispatchers, ("heartbeat_at",)),
    "idempotency_keys": (idempotency_keys, ("resource_id", "created_at")),
    "service_locks": (service_locks, ()),
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, (columns, indexed) in TABLES.items():
        if not inspector.has_table(table):
            op.create_table(table, *columns())
            for name in indexed:
                op.create_index(f"ix_{table}_{name}", table, [name])
            continue
        present = {found["name"] for found in inspector.get_columns(table)}
        missing = [column for column in columns() if column.name not in present]
        if missing:
            with op.batch_alter_table(table) as batch:
                for column in missing:
                    batch.add_column(column)
    locks = sa.table("service_locks", sa.column("name", sa.String()), sa.column("taken_at"))
    taken = {row.name for row in op.get_bind().execute(sa.select(locks.c.name))}
    rows = [{"name": name, "taken_at": None} for name in LOCK_NAMES if name not in taken]
    if rows:
        op.bulk_insert(locks, rows)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)

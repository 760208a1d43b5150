"""`Idempotency-Key` records: what a POST with a key created, for its retries to answer with."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.core.db import IdempotencyKey, utcnow
from service.core.errors import IdempotencyConflictError
from service.store.locks import lock


@dataclass(frozen=True)
class Idempotency:
    """An `Idempotency-Key` and the hash of the request it came with."""

    key: str
    request_hash: str
    ttl_s: float


def request_hash(route: str, body: Any) -> str:
    """SHA-256 of `route` and the canonical JSON of `body` (sorted keys, no spaces), so that
    the same request spelled differently hashes the same."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


def remembered(
    session: Session, owner: str, idempotency: Idempotency, resource: str
) -> IdempotencyKey | None:
    """The unexpired record of `idempotency.key` for this owner, None when there is none.

    Raises:
        IdempotencyConflictError: the key came with another request (or created another kind
            of thing).
    """
    record = session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.owner == owner, IdempotencyKey.key == idempotency.key
        )
    )
    if record is None or record.created_at < utcnow() - timedelta(seconds=idempotency.ttl_s):
        return None
    if record.request_hash != idempotency.request_hash or record.resource != resource:
        raise IdempotencyConflictError(
            f"Idempotency-Key {idempotency.key!r} was already used with a different request "
            f"(it created {record.resource} {record.resource_id}); send a new key for a new "
            "request."
        )
    return record


def forget_expired(session: Session, owner: str, idempotency: Idempotency) -> None:
    """Delete the owner's expired record of this key, so that the key can be used again."""
    cutoff = utcnow() - timedelta(seconds=idempotency.ttl_s)
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.owner == owner,
            IdempotencyKey.key == idempotency.key,
            IdempotencyKey.created_at < cutoff,
        )
    )


def key_row(
    owner: str, idempotency: Idempotency, resource: str, resource_id: str, status_code: int
) -> IdempotencyKey:
    """The record of a key that created `resource` `resource_id`, answered with `status_code`."""
    return IdempotencyKey(
        owner=owner,
        key=idempotency.key,
        request_hash=idempotency.request_hash,
        resource=resource,
        resource_id=resource_id,
        status_code=status_code,
        created_at=utcnow(),
    )


def forget_keys_of(session: Session, resource: str, resource_ids: list[str]) -> None:
    """Delete the records of the keys that created these jobs or uploads."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.resource == resource, IdempotencyKey.resource_id.in_(resource_ids)
        )
    )


class _Row(Protocol):
    id: Any


Row = TypeVar("Row", bound=_Row)


def create_once(
    session: Session,
    *,
    owner: str,
    idempotency: Idempotency | None,
    resource: str,
    lock_name: str,
    status_code: int,
    create: Callable[[], Row],
    fetch: Callable[[str], Row],
) -> tuple[Row, int | None]:
    """Add the row `create()` makes (it checks the bounds first) under the `lock_name` lock,
    with its key's record in the same transaction, and commit; once per idempotency key.

    A key already recorded answers with the row it created (`fetch(resource_id)`) and the status
    code it was created with; None is the status when the row was created now. The record's
    primary key (owner, key) lets only one of concurrent retries commit: the others roll back
    and answer with the winner's row.
    """
    try:
        session.commit()  # what was read before is not part of the locked transaction
        lock(session, lock_name)
        if idempotency is not None:
            record = remembered(session, owner, idempotency, resource)
            if record is not None:
                earlier = fetch(record.resource_id)
                session.commit()
                return earlier, record.status_code
            forget_expired(session, owner, idempotency)
        row = create()
        session.add(row)
        if idempotency is not None:
            session.add(key_row(owner, idempotency, resource, row.id, status_code))
        session.commit()
        return row, None
    except IntegrityError:
        # Another request with the same key committed first (its row is there now).
        session.rollback()
        if idempotency is None:
            raise
        record = remembered(session, owner, idempotency, resource)
        if record is None:
            raise
        return fetch(record.resource_id), record.status_code
    except BaseException:
        session.rollback()
        raise

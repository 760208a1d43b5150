"""Sessions opened by the job side (dispatcher, job processes, retention sweep)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits when the block ends (rolls back if it raises).

    Its rows stay readable after the commit (`expire_on_commit=False`): a dispatcher keeps the
    job it claimed.
    """
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session

"""`Annotated` dependency aliases shared by the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from service.core import security
from service.core.config import Settings

bearer_scheme = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key.")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> AsyncIterator[Session]:
    # Creating a Session does not connect; the sync route that uses it does, on its thread.
    with Session(engine, expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def refuse_jobs_while_draining(request: Request) -> None:
    """503 with `Retry-After` once the process drains (SIGTERM, `service.drain`)."""
    request.app.state.drain.refuse_jobs()


EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]


async def get_owner(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> str:
    presented = bearer.credentials if bearer is not None else api_key
    return security.authenticate(settings, presented)


CurrentOwner = Annotated[str, Depends(get_owner)]


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",
        description="Any unique string (a UUID, say), printable ASCII without spaces. A retry "
        "with the same key and the same body within 24 h (FINDER_IDEMPOTENCY_TTL_S) answers with "
        "what the first request created (same id, same status, header `Idempotent-Replayed: "
        "true`), and creates nothing; the same key with a different body is 409. Keys are per "
        "API key.",
    ),
]

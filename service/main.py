"""Build the FastAPI app: routers, the one domain-error handler, and the lifespan of the
dispatcher, the retention sweep and the drain on SIGTERM (`service.drain`).

```
uvicorn service.main:create_app --factory        # settings from FINDER_* variables
finder serve                                     # the same, plus CLI overrides
```
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from finder.document import finder_version
from finder.errors import FinderError
from service.api.dashboard import mount_dashboard
from service.api.docs import mount_api_docs
from service.api.metrics import Refusals, metrics_registry
from service.api.routes import builtins, find_lr, health, jobs, tune, uploads
from service.core.config import Settings, load_settings
from service.core.db import create_db_engine, init_db
from service.core.errors import LimitExceededError, ServiceError, status_for
from service.drain import Drain, DrainOnSigterm
from service.jobs.dispatch import Dispatcher
from service.jobs.retention import Sweeper
from service.store.cache import FinishedJobCache


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Every error a client caused, ours or the library's, as `{"detail": reason}`; a bound's
    refusal adds `limit` and `value` (and `Retry-After`), and refusals are counted by reason."""
    status = status_for(exc)
    body: dict[str, Any] = {"detail": str(exc)}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, LimitExceededError):
        body.update(limit=exc.limit, value=exc.value)
        if exc.retry_after_s is not None:
            headers = {"Retry-After": str(exc.retry_after_s)}
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str):
        request.app.state.refusals.add(reason)
    return JSONResponse(body, status_code=status, headers=headers)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    dispatcher = None
    if settings.run_dispatcher:
        dispatcher = Dispatcher(settings, app.state.engine)
        dispatcher.start()
    app.state.dispatcher = dispatcher
    sweeper = Sweeper(settings, app.state.engine, app.state.finished_jobs)
    sweeper.start()
    # After the dispatcher's start: ray.init sets SIGTERM's handler (connect_ray restores it).
    on_sigterm = DrainOnSigterm(app.state.drain, dispatcher, asyncio.get_running_loop())
    on_sigterm.install()
    try:
        yield
    finally:
        on_sigterm.uninstall()
        sweeper.stop()
        if dispatcher is not None:
            dispatcher.stop()
        app.state.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service's app for `settings` (default: from the environment)."""
    settings = settings if settings is not None else load_settings()
    app = FastAPI(
        title="finder",
        summary="Learning-rate range tests and schedule searches for Keras models, as jobs.",
        version=finder_version(),
        lifespan=lifespan,
        max_body_size=settings.max_upload_bytes,
        # FastAPI's pages load their scripts from a CDN; /docs is served from the package.
        docs_url=None,
        redoc_url=None,
    )
    engine = create_db_engine(settings.database_url, pool_size=settings.db_pool_size)
    init_db(engine)
    app.state.settings = settings
    app.state.engine = engine
    app.state.finished_jobs = FinishedJobCache(settings.cache_entries, settings.cache_bytes)
    app.state.dispatcher = None
    app.state.refusals = Refusals()
    app.state.metrics = metrics_registry(engine, settings.dispatcher_timeout_s, app.state.refusals)
    app.state.drain = Drain(settings.drain_grace_s, settings.retry_after_s)
    app.add_exception_handler(ServiceError, domain_error_handler)
    app.add_exception_handler(FinderError, domain_error_handler)
    for router in (
        find_lr.router,
        tune.router,
        jobs.router,
        uploads.router,
        builtins.router,
        health.router,
    ):
        app.include_router(router)
    mount_dashboard(app)
    mount_api_docs(app)
    return app

"""`GET /healthz` (no key needed) and `GET /metrics` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from service.api.deps import CurrentOwner, SessionDep, SettingsDep
from service.api.models import HealthPublic
from service.api.responses import error_responses
from service.store import dispatchers

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "Draining (SIGTERM): about to stop."}},
)
def healthz(
    session: SessionDep, settings: SettingsDep, request: Request, response: Response
) -> HealthPublic:
    """The database answers; how many dispatchers are alive. 503 `draining` once the process
    got SIGTERM, so that a load balancer sends it no more traffic."""
    draining = request.app.state.drain.active
    if draining:
        response.status_code = 503
    return HealthPublic(
        status="draining" if draining else "ok",
        database="ok",
        dispatchers=dispatchers.alive_dispatchers(session, settings.dispatcher_timeout_s),
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {}, "application/openmetrics-text": {}},
            "description": "Prometheus text format, or OpenMetrics when `Accept` asks for it.",
        },
        **error_responses(401),
    },
)
def metrics(owner: CurrentOwner, request: Request) -> Response:
    """Jobs by status and job durations, over all keys (for the operator's Prometheus), and
    this process's refusals by reason (`service.api.metrics`)."""
    registry: CollectorRegistry = request.app.state.metrics
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=content_type)

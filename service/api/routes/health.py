"""`GET /healthz` (no key needed) and `GET /metrics` (Prometheus text)."""

from __future__ import annotations

import threading
from collections import Counter

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from service import crud
from service.api.deps import CurrentOwner, SessionDep, SettingsDep
from service.api.responses import error_responses
from service.db import JOB_STATUSES
from service.models import HealthPublic

router = APIRouter(tags=["health"])

REFUSAL_REASONS = (
    "max_queued_jobs",
    "max_queued_per_key",
    "upload_quota_mb",
    "idempotency_conflict",
    "draining",
)


class Refusals:
    """Requests this API process refused by a bound or an idempotency conflict, by reason."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {reason: self._counts[reason] for reason in (*REFUSAL_REASONS, *self._counts)}


DURATION_BUCKETS_S = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


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
        dispatchers=crud.alive_dispatchers(session, settings.dispatcher_timeout_s),
    )


def render_metrics(
    counts: dict[str, int],
    durations: list[tuple[str, float]],
    dispatchers: int,
    refusals: dict[str, int] | None = None,
) -> str:
    lines = [
        "# HELP finder_jobs Jobs in the store, by status.",
        "# TYPE finder_jobs gauge",
        *(f'finder_jobs{{status="{s}"}} {counts.get(s, 0)}' for s in JOB_STATUSES),
        "# HELP finder_job_duration_seconds Run time of finished jobs (last attempt).",
        "# TYPE finder_job_duration_seconds histogram",
    ]
    for status in ("succeeded", "failed", "cancelled"):
        values = [d for s, d in durations if s == status]
        for bound in DURATION_BUCKETS_S:
            inside = sum(1 for d in values if d <= bound)
            lines.append(
                f'finder_job_duration_seconds_bucket{{status="{status}",le="{bound}"}} {inside}'
            )
        lines.append(
            f'finder_job_duration_seconds_bucket{{status="{status}",le="+Inf"}} {len(values)}'
        )
        lines.append(f'finder_job_duration_seconds_sum{{status="{status}"}} {sum(values):.6f}')
        lines.append(f'finder_job_duration_seconds_count{{status="{status}"}} {len(values)}')
    lines += [
        "# HELP finder_dispatchers Dispatchers whose heartbeat is fresh.",
        "# TYPE finder_dispatchers gauge",
        f"finder_dispatchers {dispatchers}",
        "# HELP finder_refusals_total Requests this API process refused (429, 413 quota, 409 "
        "idempotency conflict, 503 draining), by reason.",
        "# TYPE finder_refusals_total counter",
        *(f'finder_refusals_total{{reason="{r}"}} {n}' for r, n in (refusals or {}).items()),
    ]
    return "\n".join(lines) + "\n"


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format 0.0.4."},
        **error_responses(401),
    },
)
def metrics(
    session: SessionDep, settings: SettingsDep, owner: CurrentOwner, request: Request
) -> PlainTextResponse:
    """Jobs by status and job durations, over all keys (for the operator's Prometheus), and
    this process's refusals by reason."""
    text = render_metrics(
        crud.count_by_status(session),
        crud.durations(session),
        crud.alive_dispatchers(session, settings.dispatcher_timeout_s),
        request.app.state.refusals.counts(),
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

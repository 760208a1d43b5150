"""Queueing a job from a validated body: what `POST /find-lr` and `POST /tune` share (the
uploads it names, the `Idempotency-Key`, the queue's bounds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response
from sqlalchemy.orm import Session

from service.api.models import JobPublic, RangeTestCreate, UploadedData, UploadedModel
from service.api.specs import total_steps
from service.core.config import Settings
from service.store import submissions, uploads
from service.store.idempotency import Idempotency, request_hash
from service.store.submissions import QueueLimits


def upload_paths(
    session: Session, owner: str, body: RangeTestCreate
) -> tuple[str | None, str | None]:
    """The files of the body's uploaded model and data (None for built-ins).

    Raises:
        NotFoundError: an upload id that is not the caller's (404).
    """
    model_path = data_path = None
    if isinstance(body.model, UploadedModel):
        model_path = uploads.get_upload(session, owner, body.model.upload_id, "model").path
    if isinstance(body.data, UploadedData):
        data_path = uploads.get_upload(session, owner, body.data.upload_id, "dataset").path
    return model_path, data_path


REPLAYED_HEADER = "Idempotent-Replayed"


def idempotency(settings: Settings, key: str | None, route: str, body: Any) -> Idempotency | None:
    """The key and the hash of the route and canonical body it came with (None: no key)."""
    if key is None:
        return None
    return Idempotency(
        key=key, request_hash=request_hash(route, body), ttl_s=settings.idempotency_ttl_s
    )


def submit_job(
    session: Session,
    owner: str,
    settings: Settings,
    response: Response,
    *,
    kind: str,
    body: RangeTestCreate,
    spec: Callable[..., dict[str, Any]],
    idempotency_key: str | None = None,
) -> JobPublic:
    """Store a queued job of `kind` whose spec is `spec(body, model_path=, data_path=)`, and
    point the `Location` header at it; a replayed `idempotency_key` answers with the job it
    created, with the status it was created with.

    Raises:
        IdempotencyConflictError: 409, the key came with another body.
        LimitExceededError: 429, a bound on queued jobs is reached.
    """
    request = body.model_dump(mode="json")
    model_path, data_path = upload_paths(session, owner, body)
    job, replayed = submissions.submit_job(
        session,
        owner=owner,
        kind=kind,
        request=request,
        spec=spec(body, model_path=model_path, data_path=data_path),
        steps_total=total_steps(body),
        max_attempts=settings.max_attempts,
        limits=QueueLimits(
            max_queued=settings.max_queued_jobs,
            max_queued_per_key=settings.max_queued_per_key,
            retry_after_s=settings.retry_after_s,
        ),
        idempotency=idempotency(settings, idempotency_key, kind, request),
        upload_ids=[
            part.upload_id
            for part in (body.model, body.data)
            if isinstance(part, UploadedModel | UploadedData)
        ],
    )
    if replayed is not None:
        response.status_code = replayed
        response.headers[REPLAYED_HEADER] = "true"
    response.headers["Location"] = f"/jobs/{job.id}"
    return JobPublic.from_row(job)

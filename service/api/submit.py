"""Queueing a job from a validated body: what `POST /find-lr` and `POST /tune` share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response
from sqlalchemy.orm import Session

from service import crud
from service.config import Settings
from service.models import JobPublic, RangeTestCreate, UploadedData, UploadedModel
from service.specs import total_steps


def upload_paths(
    session: Session, owner: str, body: RangeTestCreate
) -> tuple[str | None, str | None]:
    """The files of the body's uploaded model and data (None for built-ins).

    Raises:
        NotFoundError: an upload id that is not the caller's (404).
    """
    model_path = data_path = None
    if isinstance(body.model, UploadedModel):
        model_path = crud.get_upload(session, owner, body.model.upload_id, "model").path
    if isinstance(body.data, UploadedData):
        data_path = crud.get_upload(session, owner, body.data.upload_id, "dataset").path
    return model_path, data_path


def submit_job(
    session: Session,
    owner: str,
    settings: Settings,
    response: Response,
    *,
    kind: str,
    body: RangeTestCreate,
    spec: Callable[..., dict[str, Any]],
) -> JobPublic:
    """Store a queued job of `kind` whose spec is `spec(body, model_path=, data_path=)`, and
    point the `Location` header at it."""
    model_path, data_path = upload_paths(session, owner, body)
    job = crud.create_job(
        session,
        owner=owner,
        kind=kind,
        request=body.model_dump(mode="json"),
        spec=spec(body, model_path=model_path, data_path=data_path),
        steps_total=total_steps(body),
        max_attempts=settings.max_attempts,
    )
    response.headers["Location"] = f"/jobs/{job.id}"
    return JobPublic.from_row(job)

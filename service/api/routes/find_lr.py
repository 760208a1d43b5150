"""`POST /find-lr`: queue a range-test job."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from service.api.deps import (
    CurrentOwner,
    IdempotencyKeyHeader,
    SessionDep,
    SettingsDep,
    refuse_jobs_while_draining,
)
from service.api.models import FindLRCreate, JobPublic
from service.api.responses import create_responses
from service.api.specs import find_lr_spec
from service.api.submit import submit_job

router = APIRouter(prefix="/find-lr", tags=["jobs"])


@router.post(
    "",
    status_code=202,
    response_model=JobPublic,
    responses=create_responses(401, 404, 409, 413, 422, 429, 503),
    dependencies=[Depends(refuse_jobs_while_draining)],
    summary="Queue an LR range test",
)
def create_find_lr_job(
    body: FindLRCreate,
    response: Response,
    session: SessionDep,
    owner: CurrentOwner,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JobPublic:
    """Queue a range test; poll `GET /jobs/{id}` (the `Location` header) or stream its
    `/events`. Upload ids must belong to the caller (404 otherwise). Send an `Idempotency-Key`
    to retry safely; a full queue is 429 with `Retry-After`."""
    return submit_job(
        session,
        owner,
        settings,
        response,
        kind="find_lr",
        body=body,
        spec=find_lr_spec,
        idempotency_key=idempotency_key,
    )

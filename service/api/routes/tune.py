"""`POST /tune`: queue a tuning job (a range test, then keras-tuner inside its bounds)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from service.api.deps import (
    CurrentOwner,
    IdempotencyKeyHeader,
    SessionDep,
    SettingsDep,
    refuse_jobs_while_draining,
)
from service.api.models import JobPublic, TuneCreate
from service.api.responses import create_responses
from service.api.specs import tune_spec
from service.api.submit import submit_job

router = APIRouter(prefix="/tune", tags=["jobs"])


@router.post(
    "",
    status_code=202,
    response_model=JobPublic,
    responses=create_responses(401, 404, 409, 413, 422, 429, 503),
    dependencies=[Depends(refuse_jobs_while_draining)],
    summary="Queue a schedule search inside the range test's bounds",
)
def create_tune_job(
    body: TuneCreate,
    response: Response,
    session: SessionDep,
    owner: CurrentOwner,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JobPublic:
    """Queue a range test followed by a keras-tuner search of schedule families and their
    parameters inside its bounds (`finder.tune`); the job's `result` is the tuning result JSON,
    which carries the range test. Progress counts the range test's steps, then trial epochs.
    `Idempotency-Key` and the queue's bounds work as for `POST /find-lr`."""
    return submit_job(
        session,
        owner,
        settings,
        response,
        kind="tune",
        body=body,
        spec=tune_spec,
        idempotency_key=idempotency_key,
    )

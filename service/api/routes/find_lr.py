"""`POST /find-lr`: queue a range-test job."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service.api.deps import CurrentOwner, SessionDep, SettingsDep
from service.api.responses import error_responses
from service.api.submit import submit_job
from service.models import FindLRCreate, JobPublic
from service.specs import find_lr_spec

router = APIRouter(prefix="/find-lr", tags=["jobs"])


@router.post(
    "",
    status_code=202,
    response_model=JobPublic,
    responses=error_responses(401, 404, 413, 422),
    summary="Queue an LR range test",
)
def create_find_lr_job(
    body: FindLRCreate,
    response: Response,
    session: SessionDep,
    owner: CurrentOwner,
    settings: SettingsDep,
) -> JobPublic:
    """Queue a range test; poll `GET /jobs/{id}` (the `Location` header) or stream its
    `/events`. Upload ids must belong to the caller (404 otherwise)."""
    return submit_job(
        session, owner, settings, response, kind="find_lr", body=body, spec=find_lr_spec
    )

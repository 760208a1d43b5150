"""`POST /find-lr`: queue a range-test job."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service import crud
from service.api.deps import CurrentOwner, SessionDep, SettingsDep
from service.api.responses import error_responses
from service.models import FindLRCreate, JobPublic, RangeTestCreate, UploadedData, UploadedModel
from service.specs import find_lr_spec, total_steps

router = APIRouter(prefix="/find-lr", tags=["jobs"])


def upload_paths(
    session: SessionDep, owner: str, body: RangeTestCreate
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
    model_path, data_path = upload_paths(session, owner, body)
    job = crud.create_job(
        session,
        owner=owner,
        kind="find_lr",
        request=body.model_dump(mode="json"),
        spec=find_lr_spec(body, model_path=model_path, data_path=data_path),
        steps_total=total_steps(body),
        max_attempts=settings.max_attempts,
    )
    response.headers["Location"] = f"/jobs/{job.id}"
    return JobPublic.from_row(job)

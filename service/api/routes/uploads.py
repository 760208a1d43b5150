"""`/uploads`: models (`.keras`) and datasets (`.npz`), checked before they are kept."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from service import crud, security
from service.api.deps import CurrentOwner, SessionDep, SettingsDep
from service.api.responses import error_responses
from service.models import UploadPublic

router = APIRouter(prefix="/uploads", tags=["uploads"])

UPLOAD_ERRORS = error_responses(401, 413, 415, 422)


def accept_upload(
    kind: str, file: UploadFile, session: SessionDep, owner: str, settings: SettingsDep
) -> UploadPublic:
    filename = security.check_filename(kind, file.filename)
    upload_id = crud.new_id()
    path = settings.uploads_dir / owner / f"{upload_id}{security.UPLOAD_SUFFIXES[kind]}"
    size = security.store_upload(file.file, path)
    try:
        description = security.check_upload(kind, path, settings, filename)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    upload = crud.create_upload(
        session,
        upload_id=upload_id,
        owner=owner,
        kind=kind,
        filename=filename,
        path=str(path),
        size_bytes=size,
        description=description,
    )
    return UploadPublic(
        upload_id=upload.id,
        kind=kind,  # type: ignore[arg-type]
        filename=upload.filename,
        size_bytes=upload.size_bytes,
        description=upload.description,
        created_at=upload.created_at,
    )


@router.post("/models", status_code=201, response_model=UploadPublic, responses=UPLOAD_ERRORS)
def upload_model(
    file: Annotated[UploadFile, File(description="A Keras v3 `.keras` model file.")],
    session: SessionDep,
    owner: CurrentOwner,
    settings: SettingsDep,
) -> UploadPublic:
    """Store a `.keras` model after checking its archive and `config.json` (no Lambda,
    TFSMLayer, TorchModuleWrapper, file-vocabulary lookups, or classes outside Keras)."""
    return accept_upload("model", file, session, owner, settings)


@router.post("/datasets", status_code=201, response_model=UploadPublic, responses=UPLOAD_ERRORS)
def upload_dataset(
    file: Annotated[
        UploadFile, File(description="An `.npz` with x_train, y_train (and x_val, y_val).")
    ],
    session: SessionDep,
    owner: CurrentOwner,
    settings: SettingsDep,
) -> UploadPublic:
    """Store an `.npz` dataset after loading it without pickle and checking its arrays."""
    return accept_upload("dataset", file, session, owner, settings)

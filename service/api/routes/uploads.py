"""`/uploads`: models (`.keras`) and datasets (`.npz`), checked before they are kept, within
each key's storage quota; deleted by `DELETE /uploads/{id}` or the retention sweep."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile

from service.api.deps import CurrentOwner, IdempotencyKeyHeader, SessionDep, SettingsDep
from service.api.models import UploadPublic
from service.api.responses import create_responses, error_responses
from service.api.submit import REPLAYED_HEADER, idempotency
from service.core import security
from service.core.db import Upload
from service.store import uploads
from service.store.idempotency import remembered
from service.store.locks import new_id

router = APIRouter(prefix="/uploads", tags=["uploads"])

UPLOAD_ERRORS = create_responses(401, 409, 413, 415, 422)
MIB = 1 << 20


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def public(upload: Upload) -> UploadPublic:
    return UploadPublic(
        upload_id=upload.id,
        kind=upload.kind,  # type: ignore[arg-type]
        filename=upload.filename,
        size_bytes=upload.size_bytes,
        description=upload.description,
        created_at=upload.created_at,
    )


def accept_upload(
    kind: str,
    file: UploadFile,
    session: SessionDep,
    owner: str,
    settings: SettingsDep,
    response: Response,
    idempotency_key: str | None,
) -> UploadPublic:
    filename = security.check_filename(kind, file.filename)
    upload_id = new_id()
    path = settings.uploads_dir / owner / f"{upload_id}{security.UPLOAD_SUFFIXES[kind]}"
    size = security.store_upload(file.file, path)
    try:
        key = None
        if idempotency_key is not None:
            body = {"filename": filename, "sha256": file_digest(path)}
            key = idempotency(settings, idempotency_key, f"uploads/{kind}", body)
        earlier = remembered(session, owner, key, "upload") if key is not None else None
        if earlier is not None:  # a retry: the file is not checked again
            upload, replayed = uploads.get_upload(session, owner, earlier.resource_id, kind), 201
        else:
            description = security.check_upload(kind, path, settings, filename)
            upload, replayed = uploads.create_upload(
                session,
                upload_id=upload_id,
                owner=owner,
                kind=kind,
                filename=filename,
                path=str(path),
                size_bytes=size,
                description=description,
                quota_mb=settings.upload_quota_mb,
                idempotency=key,
            )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    if replayed is not None:
        path.unlink(missing_ok=True)  # the first request's copy is the one kept
        response.status_code = replayed
        response.headers[REPLAYED_HEADER] = "true"
    return public(upload)


@router.post("/models", status_code=201, response_model=UploadPublic, responses=UPLOAD_ERRORS)
def upload_model(
    file: Annotated[UploadFile, File(description="A Keras v3 `.keras` model file.")],
    session: SessionDep,
    owner: CurrentOwner,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> UploadPublic:
    """Store a `.keras` model after checking its archive and `config.json` (no Lambda,
    TFSMLayer, TorchModuleWrapper, file-vocabulary lookups, or classes outside Keras)."""
    return accept_upload("model", file, session, owner, settings, response, idempotency_key)


@router.post("/datasets", status_code=201, response_model=UploadPublic, responses=UPLOAD_ERRORS)
def upload_dataset(
    file: Annotated[
        UploadFile, File(description="An `.npz` with x_train, y_train (and x_val, y_val).")
    ],
    session: SessionDep,
    owner: CurrentOwner,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> UploadPublic:
    """Store an `.npz` dataset after loading it without pickle and checking its arrays."""
    return accept_upload("dataset", file, session, owner, settings, response, idempotency_key)


@router.delete(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404, 409),
    summary="Delete an upload and its file",
)
def delete_upload(upload_id: str, session: SessionDep, owner: CurrentOwner) -> Response:
    """Remove the upload's row and file; 409 while a queued or running job names it. Finished
    jobs that named it keep their results (a rerun of their request would be 404)."""
    upload = uploads.delete_upload(session, owner, upload_id)
    Path(upload.path).unlink(missing_ok=True)
    return Response(status_code=204)

"""API keys and upload checks: what stands between a request and a job process.

Keys: each configured key is an owner; the database stores only a hash of it. A presented key is
compared with every configured key in constant time. With no key configured the service runs
open, which `Settings` allows on a loopback address only.

Uploads: the request body is capped by the app (413). A model must be a `.keras` zip, whose
archive (member names, sizes) and `config.json` `finder.model_files.inspect_archive` checks
before anything loads it; the job process later loads it with `safe_mode=True`. A dataset must
be an `.npz` zip within the same archive limits, whose `.npy` headers are read first (declared
sizes must match the stored bytes and fit the cap, so nothing large is allocated), then loaded
with `allow_pickle=False` and checked for keys, dtypes, shapes, emptiness and NaN/inf by
`finder.data.load_npz`. Whatever a check raises is a 4xx (`check_upload`), and refused files
are deleted at once.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from finder.data import load_npz
from finder.errors import FinderError, UnsafeModelError
from finder.model_files import check_zip_limits, inspect_archive
from service.core.config import Settings
from service.core.errors import NotAuthenticatedError, ServiceError, UploadRefusedError

ANONYMOUS_OWNER = "anonymous"
UPLOAD_SUFFIXES = {"model": ".keras", "dataset": ".npz"}
COPY_CHUNK_BYTES = 1 << 20


def owner_of(key: str) -> str:
    """The owner id of an API key: a hash, so the key itself is never stored."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def authenticate(settings: Settings, presented: str | None) -> str:
    """The owner of the presented key.

    Raises:
        NotAuthenticatedError: keys are configured and `presented` is missing or unknown.
    """
    if not settings.api_keys:
        return ANONYMOUS_OWNER
    if not presented:
        raise NotAuthenticatedError(
            "Missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`."
        )
    matched = False
    for key in settings.api_keys:
        # No early exit: the time taken does not tell which key (or how much of it) matched.
        matched |= hmac.compare_digest(key.encode(), presented.encode())
    if not matched:
        raise NotAuthenticatedError("Unknown API key.")
    return owner_of(presented)


def check_filename(kind: str, filename: str | None) -> str:
    """The upload's file name, if its suffix is the one `kind` accepts.

    Raises:
        UploadRefusedError: 415 for any other suffix (`.h5`, SavedModel, pickles, ...).
    """
    suffix = UPLOAD_SUFFIXES[kind]
    name = Path(filename or "").name
    if not name.lower().endswith(suffix):
        why = (
            "only Keras v3 '.keras' files are accepted (not .h5 or SavedModel), because other "
            "formats can run code when loaded"
            if kind == "model"
            else "only '.npz' archives are accepted (loaded without pickle)"
        )
        raise UploadRefusedError(f"Refused {name!r}: {why}.", status_code=415)
    return name


def store_upload(source: BinaryIO, destination: Path) -> int:
    """Copy an uploaded stream to `destination`; return its size in bytes."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as target:
        shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)
    return destination.stat().st_size


def check_archive_limits(path: Path, settings: Settings) -> None:
    """Refuse a zip whose member count, uncompressed size or compression ratio is excessive.

    Raises:
        UploadRefusedError: not a zip, or beyond the limits.
    """
    if not zipfile.is_zipfile(path):
        raise UploadRefusedError(f"{path.name} is not an .npz archive (not a zip file).")
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    limits = (settings.max_archive_members, settings.max_uncompressed_bytes)
    check_zip_limits(members, *limits, "Refused", error=UploadRefusedError)
    if any(not m.filename.endswith(".npy") for m in members):
        raise UploadRefusedError("Refused: an .npz archive holds only .npy arrays.")


def check_upload(kind: str, path: Path, settings: Settings, filename: str) -> dict[str, Any]:
    """Check an upload of `kind` ("model" or "dataset") with the checks above; describe it.

    The checks read only headers and `config.json` within the archive caps, so they run in
    bounded memory and time; still, whatever a crafted file makes them raise is the file's
    fault, so any error that is not already a domain error becomes a 422 naming it. Messages
    name the file as the caller called it (`filename`), not by its stored name.

    Raises:
        UploadRefusedError, FinderError: the file is refused (4xx).
    """
    check = check_model_upload if kind == "model" else check_dataset_upload
    try:
        return check(path, settings)
    except (ServiceError, FinderError) as exc:
        exc.args = tuple(str(a).replace(path.name, filename) for a in exc.args)
        raise
    except Exception as exc:
        raise UploadRefusedError(
            f"Refused {filename}: the {kind} file cannot be read ({type(exc).__name__}: {exc})."
        ) from exc


def first_input_shape(config: Any) -> list[int | None] | None:
    """The sample shape of the first InputLayer in a model config, if there is one."""
    stack = [config]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            if node.get("class_name") == "InputLayer":
                layer_config = node.get("config") or {}
                shape = layer_config.get("batch_shape") or layer_config.get("batch_input_shape")
                if isinstance(shape, list) and shape:
                    return list(shape[1:])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def check_model_upload(path: Path, settings: Settings) -> dict[str, Any]:
    """Inspect an uploaded `.keras` file without loading it; describe it.

    Raises:
        ModelError, UnsafeModelError: refused by `finder.model_files.inspect_archive`.
    """
    config = inspect_archive(
        path,
        max_uncompressed_bytes=settings.max_uncompressed_bytes,
        max_members=settings.max_archive_members,
    )
    if not isinstance(config, dict):
        raise UnsafeModelError(f"{path.name}: config.json does not describe a model.")
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    return {
        "class_name": config.get("class_name"),
        "name": inner.get("name") if isinstance(inner, dict) else None,
        "input_shape": first_input_shape(config),
        "compiled": bool(config.get("compile_config")),
    }


def check_dataset_upload(path: Path, settings: Settings) -> dict[str, Any]:
    """Check an uploaded `.npz` within the archive limits, loaded without pickle; describe it.

    Raises:
        UploadRefusedError: not a zip or beyond the limits.
        DataError: refused by `finder.data.load_npz` (declared sizes it does not hold or over
            the cap, pickled arrays, missing keys, empty or non-finite arrays, ...).
    """
    check_archive_limits(path, settings)
    description = load_npz(path, max_bytes=settings.max_uncompressed_bytes).describe()
    description.pop("source", None)
    description.pop("name", None)
    return description

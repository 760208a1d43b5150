"""Uploads: valid files are kept and described; every malicious one is refused and inert."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.service.utils import files, hostile
from tests.service.utils.jobs import KEY_B, auth, quick_job


def upload(client: TestClient, kind: str, path: Path, key: str | None = None):
    with path.open("rb") as handle:
        return client.post(
            f"/uploads/{kind}",
            files={"file": (path.name, handle, "application/octet-stream")},
            headers=auth(key) if key else auth(),
        )


def stored_files(client: TestClient) -> list[Path]:
    uploads_dir = client.app.state.settings.uploads_dir  # type: ignore[attr-defined]
    return [p for p in uploads_dir.rglob("*") if p.is_file()] if uploads_dir.exists() else []


def test_model_upload_is_described(client: TestClient, tmp_path: Path) -> None:
    response = upload(client, "models", files.tiny_model_keras(tmp_path / "tiny.keras"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "model"
    assert body["filename"] == "tiny.keras"
    assert body["size_bytes"] > 0
    assert body["description"] == {
        "class_name": "Sequential",
        "name": "tiny_upload",
        "input_shape": [28, 28, 1],
        "compiled": True,
    }
    assert len(body["upload_id"]) == 32
    assert len(stored_files(client)) == 1


def test_dataset_upload_is_described(client: TestClient, tmp_path: Path) -> None:
    response = upload(client, "datasets", files.tiny_dataset_npz(tmp_path / "toy.npz"))
    assert response.status_code == 201, response.text
    description = response.json()["description"]
    assert description["train_samples"] == 256
    assert description["val_samples"] == 64
    assert description["input_shape"] == [28, 28, 1]
    assert description["x_dtype"] == "uint8"


def test_uploads_are_private(client: TestClient, tmp_path: Path) -> None:
    model = upload(client, "models", files.tiny_model_keras(tmp_path / "tiny.keras")).json()
    data = upload(client, "datasets", files.tiny_dataset_npz(tmp_path / "toy.npz")).json()
    theirs = client.post(
        "/find-lr",
        json=quick_job(model={"upload_id": model["upload_id"]}),
        headers=auth(KEY_B),
    )
    assert theirs.status_code == 404
    assert theirs.json() == {"detail": f"No model upload {model['upload_id']!r}."}
    # An upload of the wrong kind is as absent as a missing one.
    wrong_kind = client.post(
        "/find-lr", json=quick_job(model={"upload_id": data["upload_id"]}), headers=auth()
    )
    assert wrong_kind.status_code == 404
    mine = client.post(
        "/find-lr",
        json=quick_job(
            model={"upload_id": model["upload_id"]}, data={"upload_id": data["upload_id"]}
        ),
        headers=auth(),
    )
    assert mine.status_code == 202


def test_oversized_upload_is_413(make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    client = make_client(max_upload_bytes=64 * 1024)
    big = tmp_path / "big.npz"
    big.write_bytes(b"\0" * (128 * 1024))
    response = upload(client, "datasets", big)
    assert response.status_code == 413
    assert stored_files(client) == []


MaliciousBuilder = Callable[[Path, Path], Path]


@pytest.mark.parametrize(
    ("kind", "build", "status", "reason"),
    [
        # a Lambda layer carries Python code
        ("models", lambda d, s: files.lambda_model(d / "m.keras", s), 422, "Lambda"),
        # a config naming a module outside Keras
        ("models", lambda d, s: files.foreign_module_model(d / "m.keras", s), 422, "'os'"),
        # legacy HDF5 is never accepted, whatever it holds
        ("models", lambda d, s: _write(d / "m.h5", b"\x89HDF\r\n\x1a\n"), 415, ".keras"),
        # a zip bomb (1000:1) dressed as a model
        ("models", lambda d, s: files.zip_bomb_model(d / "m.keras", 20 << 20), 422, "zip bomb"),
        # a pickled object array inside an npz
        ("datasets", lambda d, s: files.pickled_npz(d / "x.npz", s), 422, "pickle"),
        # a zip bomb as a dataset
        ("datasets", lambda d, s: files.zip_bomb_npz(d / "x.npz", 20 << 20), 422, "zip bomb"),
        # a pickle file renamed to .npz
        ("datasets", lambda d, s: _write(d / "x.npz", b"\x80\x04K\x01."), 422, "not an .npz"),
        # the wrong suffix for a dataset
        ("datasets", lambda d, s: _write(d / "x.pkl", b"\x80\x04K\x01."), 415, ".npz"),
    ],
)
def test_malicious_uploads_are_refused_and_inert(
    client: TestClient,
    tmp_path: Path,
    kind: str,
    build: MaliciousBuilder,
    status: int,
    reason: str,
) -> None:
    sentinel = tmp_path / "sentinel"
    response = upload(client, kind, build(tmp_path, sentinel))
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert not sentinel.exists()
    assert stored_files(client) == []


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_sentinel_payloads_are_live(tmp_path: Path) -> None:
    """The payloads do run when loaded unsafely, so their refusal above means something."""
    import numpy as np

    sentinel = tmp_path / "sentinel"
    with np.load(files.pickled_npz(tmp_path / "x.npz", sentinel), allow_pickle=True) as npz:
        npz["x_train"]
    assert sentinel.exists()


HOSTILE = [("datasets", *case) for case in hostile.HOSTILE_DATASETS] + [
    ("models", *case) for case in hostile.HOSTILE_MODELS
]


@pytest.mark.parametrize(
    ("kind", "builder", "reason"),
    [(kind, b, r) for kind, _, b, r in HOSTILE],
    ids=[f"{kind}: {case}" for kind, case, _, _ in HOSTILE],
)
def test_hostile_uploads_get_a_422_naming_the_reason(
    client: TestClient, tmp_path: Path, kind: str, builder: hostile.Builder, reason: str
) -> None:
    suffix = ".npz" if kind == "datasets" else ".keras"
    response = upload(client, kind, builder(tmp_path / f"x{suffix}"))
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]
    # The file is named as the caller named it, never by its stored name.
    stored_name = re.compile(r"[0-9a-f]{32}")
    assert not stored_name.search(response.json()["detail"]), response.json()["detail"]
    assert stored_files(client) == []


def test_declared_sizes_over_the_cap_are_refused_before_loading(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client(max_uncompressed_bytes=4096)
    path = hostile.arrays_npz(
        tmp_path / "x.npz", x_train=np.zeros((600,), "float64"), y_train=np.zeros(600, "int8")
    )
    response = upload(client, "datasets", path)
    assert response.status_code == 422, response.text
    assert "limit 4096" in response.json()["detail"]

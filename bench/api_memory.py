"""The API process's memory around a job that fails with a TensorFlow error.

    .venv/bin/python bench/api_memory.py [--baseline DIR]

Starts `finder serve` (embedded Ray, a fresh SQLite file) and reads its resident memory
(`VmRSS` in /proc/PID/status) and whether any TensorFlow library is mapped into it
(/proc/PID/maps); uploads a small `.keras` classifier with 10 outputs and an `.npz` with 64
labels of 50 past 1,000 valid ones (finder's own input checks read the first 1,000 labels and
would refuse a 50 among them before TensorFlow sees it), runs a range test on them, which
fails inside TensorFlow, at the first batch holding a 50, with
`InvalidArgumentError` ("Received a label value of 50 which is outside the valid range of
[0, 10)"); then reads both again. With `--baseline DIR`, does the same with the `finder` and
`service` packages of another checkout (e.g. the commit before a change) first on the path.

Writes bench/results/api_memory.json.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import write_result  # noqa: E402

FINDER = str(Path(sys.executable).parent / "finder")
KEY = "bench-key-0123456789abcdef"
BAD_LABEL = 50


def rss_mib(pid: int) -> float:
    """Resident memory of process `pid` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def tensorflow_mapped(pid: int) -> bool:
    """Whether a TensorFlow shared library is mapped into process `pid`."""
    return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()


def label_error_files(directory: Path) -> tuple[Path, Path]:
    """A 10-class `.keras` model and an `.npz` with labels it cannot take (50), past the
    first 1,000 (valid) labels that finder's own checks read (module docstring)."""
    import keras

    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(10, activation="softmax")], name="ten_classes"
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model_path = directory / "ten_classes.keras"
    model.save(model_path)
    data_path = directory / "labels_50.npz"
    x = np.random.default_rng(0).normal(size=(1064, 8)).astype("float32")
    y = np.concatenate([np.arange(1000) % 10, np.full(64, BAD_LABEL)])
    np.savez(data_path, x_train=x, y_train=y)
    return model_path, data_path


def run_label_error_job(client: httpx.Client, model: Path, data: Path) -> dict[str, Any]:
    """Upload `model` and `data`, run a short range test on them; the finished job."""
    ids = []
    for kind, path in (("models", model), ("datasets", data)):
        with path.open("rb") as handle:
            response = client.post(f"/uploads/{kind}", files={"file": (path.name, handle)})
        response.raise_for_status()
        ids.append(response.json()["upload_id"])
    body = {
        "model": {"upload_id": ids[0]},
        "data": {"upload_id": ids[1]},
        "range": {"min_lr": 1e-4, "max_lr": 1.0, "num_steps": 20},
        "repeats": 1,
        "validation": False,
    }
    response = client.post("/find-lr", json=body)
    response.raise_for_status()
    location = response.headers["location"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        document: dict[str, Any] = client.get(location).json()
        if document["status"] in ("succeeded", "failed", "cancelled"):
            return document
        time.sleep(0.2)
    raise RuntimeError("the job did not end within 300 s")


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"finder serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError("finder serve did not start")


def measure(code_root: Path, workdir: Path) -> dict[str, Any]:
    """Run `finder serve` from `code_root` around one failing job; the figures."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {
        **os.environ,
        "PYTHONPATH": str(code_root),
        "FINDER_PORT": str(port),
        "FINDER_DATABASE_URL": f"sqlite:///{workdir / 'jobs.db'}",
        "FINDER_UPLOADS_DIR": str(workdir / "data"),
        "FINDER_API_KEYS": KEY,
        "FINDER_RAY_NUM_CPUS": "1",
    }
    url = f"http://127.0.0.1:{port}"
    model, data = label_error_files(workdir)
    with (workdir / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [FINDER, "serve"], env=env, stdout=log, stderr=log, cwd=code_root
        )
    try:
        wait_healthy(url, process)
        before = (rss_mib(process.pid), tensorflow_mapped(process.pid))
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            job = run_label_error_job(client, model, data)
        after = (rss_mib(process.pid), tensorflow_mapped(process.pid))
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {
        "code": str(code_root),
        "rss_before_mib": round(before[0], 1),
        "rss_after_mib": round(after[0], 1),
        "tensorflow_before": before[1],
        "tensorflow_after": after[1],
        "job": {k: job.get(k) for k in ("status", "attempts", "error", "failure_kind")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to measure first")
    args = parser.parse_args()
    runs = {}
    for label, root in (("baseline", args.baseline), ("this", ROOT)):
        if root is None:
            continue
        with tempfile.TemporaryDirectory(prefix="finder-api-memory-") as workdir:
            runs[label] = measure(root.resolve(), Path(workdir))
        print(label, runs[label])
    write_result("api_memory", {"runs": runs})


if __name__ == "__main__":
    main()

"""Service load benchmark: reading a finished job vs a bare endpoint, and submit-to-running.

    .venv/bin/python bench/service_load.py [--duration 15] [--connections 64] [--jobs 5]

1. Starts `finder serve`'s app (uvicorn, 1 worker) with a dispatcher on an embedded Ray,
   runs a real range test whose result has a 300-point curve, and measures submit-to-running
   latency over `--jobs` submissions (POST answered -> status `running`, and -> first progress
   step recorded by the job process, which includes its TensorFlow import).
2. Restarts the app without a dispatcher (no Ray, no background work) and loads
   `GET /jobs/{id}` of the finished job with `wrk` (64 connections, 2 threads); then again
   with the finished-job cache off (`FINDER_CACHE_ENTRIES=0`: every request reads SQLite).
3. Starts a bare FastAPI app returning the very same bytes from `GET /jobs/{id}`, with the same
   uvicorn settings, and loads it the same way. One run each, one after the other.

Needs `wrk` (`apt-get install wrk`). Writes bench/results/service_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULT_PATH = ROOT / "bench" / "results" / "service_load.json"
KEY = "bench-key-0123456789abcdef"
BODY_FILE_VAR = "FINDER_BENCH_BODY_FILE"
UVICORN_FLAGS = [
    "--host", "127.0.0.1",
    "--workers", "1",
    "--loop", "uvloop",
    "--http", "httptools",
    "--no-access-log",
    "--log-level", "warning",
]  # fmt: skip
CURVE_JOB = {
    "model": {"builtin": "fashion_cnn"},
    "data": {"builtin": "fashion_mnist_sample"},
    "range": {"min_lr": 1e-4, "max_lr": 1.0, "num_steps": 300},
    "divergence": 1e6,  # never stop early: the result must hold all 300 points
    "repeats": 1,
}
LATENCY_JOB = {
    "model": {"builtin": "mlp"},
    "range": {"min_lr": 1e-4, "max_lr": 1.0, "num_steps": 20},
    "repeats": 1,
    "validation": False,
}


def bare_app() -> Any:
    """A FastAPI app whose `GET /jobs/{job_id}` returns the bytes in $FINDER_BENCH_BODY_FILE."""
    from fastapi import FastAPI, Response

    body = Path(os.environ[BODY_FILE_VAR]).read_bytes()
    app = FastAPI()

    @app.get("/jobs/{job_id}")
    async def read_job(job_id: str) -> Response:
        return Response(body, media_type="application/json")

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Uvicorn:
    """`python -m uvicorn <factory> --factory` with the shared flags, as a context manager."""

    def __init__(self, factory: str, env: dict[str, str], app_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            sys.executable, "-m", "uvicorn", factory, "--factory", "--app-dir", str(app_dir),
            "--port", str(self.port), *UVICORN_FLAGS,
        ]  # fmt: skip
        self.env = env

    def __enter__(self) -> Uvicorn:
        self.process = subprocess.Popen(self.command, env=self.env)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self.process.returncode}")
            try:
                httpx.get(f"{self.url}/docs", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.25)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait_for_job(client: httpx.Client, url: str, predicate: Any, timeout: float = 600) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = client.get(url).json()
        if document["status"] in ("failed", "cancelled"):
            raise RuntimeError(f"benchmark job ended {document['status']}: {document['error']}")
        if predicate(document):
            return document
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {url}")


def submit_to_running(client: httpx.Client, jobs: int) -> dict[str, Any]:
    claimed, first_step = [], []
    for _ in range(jobs):
        start = time.monotonic()
        response = client.post("/find-lr", json=LATENCY_JOB)
        response.raise_for_status()
        location = response.headers["location"]
        wait_for_job(client, location, lambda d: d["status"] != "queued")
        claimed.append(time.monotonic() - start)
        wait_for_job(
            client,
            location,
            lambda d: d["progress"]["steps_done"] > 0 or d["status"] == "succeeded",
        )
        first_step.append(time.monotonic() - start)
        wait_for_job(client, location, lambda d: d["status"] == "succeeded")
    return {
        "jobs": jobs,
        "to_running_s": {"median": statistics.median(claimed), "max": max(claimed)},
        "to_first_step_s": {"median": statistics.median(first_step), "max": max(first_step)},
        "samples_to_running_s": [round(x, 4) for x in claimed],
        "samples_to_first_step_s": [round(x, 3) for x in first_step],
    }


def run_wrk(url: str, duration: int, connections: int) -> dict[str, Any]:
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
        "-H", f"Authorization: Bearer {KEY}", url,
    ]  # fmt: skip
    subprocess.run([*command[:3], "-d2s", *command[5:]], check=True, capture_output=True)  # warm up
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    latency = dict(re.findall(r"\s+(50|90|99)%\s+([\d.]+\w+)", output))
    return {
        "requests_per_s": rps,
        "requests": requests,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
        "latency": {f"p{k}": v for k, v in latency.items()},
        "command": " ".join(command).replace(KEY, "<key>"),
    }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    import fastapi
    import starlette
    import uvicorn

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "load_average_before": os.getloadavg(),
        "python": platform.python_version(),
        "fastapi": fastapi.__version__,
        "starlette": starlette.__version__,
        "uvicorn": uvicorn.__version__,
    }


def report_header(benchmark: str) -> dict[str, Any]:
    """The fields every service benchmark's result starts with: what ran, when, where, how."""
    return {
        "benchmark": benchmark,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"python bench/{benchmark}.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "uvicorn_flags": " ".join(UVICORN_FLAGS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="Seconds of load per endpoint.")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=5, help="Submissions for the latency.")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")

    report = report_header("service_load")
    with tempfile.TemporaryDirectory(prefix="finder-bench-") as scratch:
        workdir = Path(scratch)
        env = {
            **os.environ,
            "FINDER_DATABASE_URL": f"sqlite:///{workdir / 'jobs.db'}",
            "FINDER_DATA_DIR": str(workdir / "data"),
            "FINDER_API_KEYS": KEY,
            "FINDER_POLL_INTERVAL_S": "0.05",
            "FINDER_MAX_RUNNING_JOBS": "1",
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # embedded Ray on loopback only
        }
        headers = {"Authorization": f"Bearer {KEY}"}
        with Uvicorn("service.main:create_app", env, ROOT) as server:
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
                response = client.post("/find-lr", json=CURVE_JOB)
                response.raise_for_status()
                job_id = response.json()["id"]
                wait_for_job(client, f"/jobs/{job_id}", lambda d: d["status"] == "succeeded")
                report["submit_to_running"] = submit_to_running(client, args.jobs)

        read_env = {**env, "FINDER_RUN_DISPATCHER": "false"}
        with Uvicorn("service.main:create_app", read_env, ROOT) as server:
            body = httpx.get(f"{server.url}/jobs/{job_id}", headers=headers).content
            document = json.loads(body)
            body_file = workdir / "body.json"
            body_file.write_bytes(body)
            service = run_wrk(f"{server.url}/jobs/{job_id}", args.duration, args.connections)

        # The same, with the finished-job cache off: every request reads the database.
        with Uvicorn(
            "service.main:create_app", {**read_env, "FINDER_CACHE_ENTRIES": "0"}, ROOT
        ) as server:
            uncached = run_wrk(f"{server.url}/jobs/{job_id}", args.duration, args.connections)

        bare_env = {**os.environ, BODY_FILE_VAR: str(body_file)}
        with Uvicorn("service_load:bare_app", bare_env, ROOT / "bench") as server:
            assert httpx.get(f"{server.url}/jobs/{job_id}").content == body
            bare = run_wrk(f"{server.url}/jobs/{job_id}", args.duration, args.connections)

    report["read_finished_job"] = {
        "body_bytes": len(body),
        "curve_points": len(document["result"]["lrs"]),
        "connections": args.connections,
        "duration_s": args.duration,
        "service": service,
        "bare_fastapi": bare,
        "service_uncached": uncached,
        "service_over_bare": round(service["requests_per_s"] / bare["requests_per_s"], 3),
        "service_uncached_over_bare": round(uncached["requests_per_s"] / bare["requests_per_s"], 3),
        "target": ">= 0.5",
    }
    report["machine"]["load_average_after"] = os.getloadavg()
    RESULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULT_PATH.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

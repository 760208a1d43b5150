"""Submission storm: 500 concurrent `POST /find-lr` against a queue bound of 20, every answer
timed, beside the same server's `GET /jobs/{id}` throughput.

    .venv/bin/python bench/service_storm.py [--submissions 500] [--max-queued 20]
                                            [--duration 15] [--connections 64]

1. Starts the service's app (uvicorn, 1 worker, the settings of `bench/service_load.py`) on a
   fresh SQLite database with no dispatcher (`FINDER_RUN_DISPATCHER=false`: no Ray, jobs stay
   queued), `FINDER_MAX_QUEUED_JOBS=--max-queued` and `FINDER_MAX_QUEUED_PER_KEY` at the storm's
   size, so the overall bound is the one the storm meets.
2. Opens `--submissions` connections at once (asyncio streams, one bare HTTP/1.1 exchange
   each, all released together) and sends one submission on each; each answer is timed from
   the connect to its last byte (connection set-up included, as in a real storm). Expected:
   `--max-queued` answers 202 and the rest 429 with `Retry-After` and `limit:
   max_queued_jobs`, no 5xx, and exactly `--max-queued` jobs queued afterwards.
3. Loads `GET /jobs/{id}` of one of the accepted (queued) jobs on the same server with `wrk`,
   as `bench/service_load.py` does (`run_wrk`; a queued job is not cached, so every request
   reads the database).

Needs `wrk` (`apt-get install wrk`). Writes bench/results/service_storm.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from service_load import KEY, LATENCY_JOB, ROOT, Uvicorn, report_header, run_wrk

RESULT_PATH = ROOT / "bench" / "results" / "service_storm.json"


def percentile(values: list[float], q: float) -> float:
    """The `q`-quantile of `values` (nearest rank), in seconds."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, Any] | None:
    if not seconds:
        return None
    return {
        "count": len(seconds),
        "p50_ms": round(1000 * statistics.median(seconds), 2),
        "p99_ms": round(1000 * percentile(seconds, 0.99), 2),
        "max_ms": round(1000 * max(seconds), 2),
    }


def request_bytes(port: int, seed: int) -> bytes:
    body = json.dumps({**LATENCY_JOB, "seed": seed}).encode()
    head = (
        f"POST /find-lr HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def one_submission(
    port: int, go: asyncio.Event, seed: int
) -> tuple[int, float, dict[str, Any], str | None]:
    """One POST on a connection of its own, timed from the connect to the answer's last byte.

    A bare HTTP/1.1 exchange over asyncio streams rather than an httpx client: the client
    shares the machine's cores with the server, and a light client leaves them to the server."""
    request = request_bytes(port, seed)
    await go.wait()
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    content = await reader.readexactly(int(headers.get("content-length", "0")))
    elapsed = time.perf_counter() - started
    writer.close()
    try:
        body = json.loads(content)
    except ValueError:
        body = {}
    return status, elapsed, body, headers.get("retry-after")


async def storm(port: int, submissions: int) -> dict[str, Any]:
    go = asyncio.Event()
    tasks = [asyncio.create_task(one_submission(port, go, seed)) for seed in range(submissions)]
    await asyncio.sleep(0.5)  # every task is waiting on `go`
    started = time.perf_counter()
    go.set()
    answers = await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    by_status: dict[int, list[float]] = {}
    for status, elapsed, _, _ in answers:
        by_status.setdefault(status, []).append(elapsed)
    refused = [(body, retry) for status, _, body, retry in answers if status == 429]
    return {
        "submissions": submissions,
        "wall_s": round(wall, 3),
        "answers_per_s": round(submissions / wall, 1),
        "by_status": {str(status): len(times) for status, times in sorted(by_status.items())},
        "server_errors": sum(len(t) for s, t in by_status.items() if s >= 500),
        "accepted": latency_summary(by_status.get(202, [])),
        "refused": latency_summary(by_status.get(429, [])),
        "refused_limits": dict(Counter(str(body.get("limit")) for body, _ in refused)),
        "refused_without_retry_after": sum(1 for _, retry in refused if not retry),
        "retry_after_s": sorted({retry for _, retry in refused if retry}),
        "accepted_ids": [body["id"] for status, _, body, _ in answers if status == 202],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--max-queued", type=int, default=20)
    parser.add_argument("--duration", type=int, default=15, help="Seconds of GET load.")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")

    report = report_header("service_storm")
    with tempfile.TemporaryDirectory(prefix="finder-bench-") as scratch:
        workdir = Path(scratch)
        settings = {
            "FINDER_RUN_DISPATCHER": "false",
            "FINDER_MAX_QUEUED_JOBS": str(args.max_queued),
            "FINDER_MAX_QUEUED_PER_KEY": str(args.submissions),
        }
        env = {
            **os.environ,
            "FINDER_DATABASE_URL": f"sqlite:///{workdir / 'jobs.db'}",
            "FINDER_UPLOADS_DIR": str(workdir / "data"),
            "FINDER_API_KEYS": KEY,
            **settings,
        }
        report["settings"] = settings
        headers = {"Authorization": f"Bearer {KEY}"}
        with Uvicorn("service.main:create_app", env, ROOT) as server:
            result = asyncio.run(storm(server.port, args.submissions))
            accepted_ids = result.pop("accepted_ids")
            queued = httpx.get(
                f"{server.url}/jobs", params={"status": "queued", "limit": 1}, headers=headers
            ).json()["count"]
            result["queued_after"] = queued
            report["storm"] = result
            report["get_job"] = {
                "job_status": "queued",
                "connections": args.connections,
                "duration_s": args.duration,
                **run_wrk(f"{server.url}/jobs/{accepted_ids[0]}", args.duration, args.connections),
            }
    report["expected"] = {
        "accepted": args.max_queued,
        "refused": args.submissions - args.max_queued,
        "met": (
            result["by_status"]
            == {"202": args.max_queued, "429": args.submissions - args.max_queued}
            and result["queued_after"] == args.max_queued
            and result["refused_without_retry_after"] == 0
        ),
    }
    report["machine"]["load_average_after"] = os.getloadavg()
    RESULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULT_PATH.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

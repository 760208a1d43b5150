"""Screenshot of the dashboard's job view for the README: docs/dashboard.png.

    .venv/bin/python scripts/dashboard_screenshot.py [--steps 500] [--out docs/dashboard.png]

Starts `finder serve` (loopback, no key, a throw-away SQLite file and data directory), runs a
real range test (fashion_cnn + SGD with momentum 0.9 on the bundled Fashion-MNIST sample,
3 repeats, schedules proposed for a 10-epoch plan), opens its job view at 1280x800 in Debian's
Chromium (Playwright, headless) with the crosshair on the valley suggestion, and writes the PNG.
Takes a minute or two.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
FINDER = str(Path(sys.executable).parent / "finder")
CHROMIUM = "/usr/bin/chromium"
# As in tests/service/utils/browser.py: nothing in the browser reaches out to the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def run_job(url: str, steps: int) -> str:
    body = {
        "model": {"builtin": "fashion_cnn"},
        "data": {"builtin": "fashion_mnist_sample"},
        "optimizer": {"name": "sgd", "settings": {"momentum": 0.9}},
        "range": {"min_lr": 1e-4, "max_lr": 10.0, "num_steps": steps},
        "repeats": 3,
        "plan": {"epochs": 10},
    }
    response = httpx.post(f"{url}/find-lr", json=body, timeout=10)
    response.raise_for_status()
    job_id: str = response.json()["id"]

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = httpx.get(f"{url}/jobs/{job_id}", timeout=10).json()
        return job if job["status"] in {"succeeded", "failed", "cancelled"} else None

    job = wait(finished, 900, f"job {job_id}")
    if job["status"] != "succeeded":
        raise SystemExit(f"job {job['status']}: {job['error']}")
    return job_id


def screenshot(url: str, job_id: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        page.goto(f"{url}/#/jobs/{job_id}")
        chart = page.get_by_test_id("range-chart")
        chart.wait_for()
        page.get_by_test_id("schedule-chart").first.wait_for()
        # The crosshair on the valley suggestion shows what hovering reads.
        valley = chart.locator('[data-name="valley"] .marker-dot')
        box = (valley if valley.count() else chart).bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(300)
        page.screenshot(path=str(out))
        browser.close()


def session_processes(session_id: int) -> list[int]:
    """Processes still in the server's session (Ray workers it started), read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session_id and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def stop(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    for pid in session_processes(server.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="steps per sweep")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="finder-screenshot-", dir="/tmp"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FINDER_PORT": str(port),
        "FINDER_DATABASE_URL": f"sqlite:///{root / 'jobs.db'}",
        "FINDER_DATA_DIR": str(root / "data"),
        "FINDER_API_KEYS": "",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # an embedded Ray on loopback only
    }
    with (root / "service.log").open("wb") as log:
        server = subprocess.Popen(
            [FINDER, "serve", "--log-level", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait(lambda: answers(f"{url}/healthz"), 120, "finder serve")
        job_id = run_job(url, args.steps)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(url, job_id, args.out)
        print(f"wrote {args.out}")
    finally:
        stop(server)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Screenshot of the dashboard's job view for the README: docs/dashboard.png.

    .venv/bin/python scripts/dashboard_screenshot.py [--steps 500] [--out docs/dashboard.png]

Starts `finder serve` as the dashboard tests do (`tests/service/utils/servers.py`: loopback,
their API key, a throw-away SQLite file and data directory), runs a real range test
(fashion_cnn + SGD with momentum 0.9 on the bundled Fashion-MNIST sample, 3 repeats, schedules
proposed for a 10-epoch plan), opens its job view at 1280x800 in Debian's Chromium
(Playwright, headless) with the crosshair on the valley suggestion, and writes the PNG.
Takes a minute or two.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service.utils.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    set_key_script,
)
from tests.service.utils.jobs import KEY_A, TERMINAL  # noqa: E402
from tests.service.utils.servers import Server, service_env  # noqa: E402
from tests.utils.processes import free_port, wait_for  # noqa: E402

VIEWPORT = {"width": 1280, "height": 800}


def run_job(server: Server, steps: int) -> str:
    body = {
        "model": {"builtin": "fashion_cnn"},
        "data": {"builtin": "fashion_mnist_sample"},
        "optimizer": {"name": "sgd", "settings": {"momentum": 0.9}},
        "range": {"min_lr": 1e-4, "max_lr": 10.0, "num_steps": steps},
        "repeats": 3,
        "plan": {"epochs": 10},
    }
    response = server.request("POST", "/find-lr", json=body)
    response.raise_for_status()
    job_id: str = response.json()["id"]

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = server.request("GET", f"/jobs/{job_id}").json()
        return job if job["status"] in TERMINAL else None

    job = wait_for(finished, 900, f"job {job_id}", every=0.5)
    if job["status"] != "succeeded":
        raise SystemExit(f"job {job['status']}: {job['error']}")
    return job_id


def screenshot(url: str, job_id: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        context.add_init_script(set_key_script(KEY_A))
        page = context.new_page()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="steps per sweep")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="finder-screenshot-", dir="/tmp"))
    env = {
        **service_env(f"sqlite:///{root / 'jobs.db'}", root / "data"),
        "FINDER_PORT": str(free_port()),
    }
    server = Server(env, root / "service.log", ("serve", "--log-level", "warning"))
    try:
        server.wait_ready()
        job_id = run_job(server, args.steps)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(server.url, job_id, args.out)
        print(f"wrote {args.out}")
    finally:
        if server.process.poll() is None:
            server.stop(signal.SIGTERM)
        server.clean_up()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Real `finder serve` and `finder worker` processes for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.service.utils.jobs import KEY_A, auth
from tests.utils.processes import descendants, kill_leftovers, wait_http_ok

FINDER = str(Path(sys.executable).parent / "finder")
LOOPBACK_RAY_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class Server:
    """One `finder serve` (or `finder worker`) process and everything it started."""

    def __init__(self, env: dict[str, str], log: Path, command: tuple[str, ...]) -> None:
        self.port = int(env["FINDER_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [FINDER, *command],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.tree: set[int] = set()

    def wait_ready(self) -> None:
        wait_http_ok(f"{self.url}/healthz", self.process, timeout=120)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", headers=auth(), timeout=10, **kwargs)

    def stop(self, sig: signal.Signals) -> int:
        self.tree |= descendants(self.process.pid)
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def clean_up(self) -> None:
        if self.process.poll() is None:
            self.stop(signal.SIGKILL)
        kill_leftovers(self.tree)


def service_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of a `finder serve` / `finder worker` the tests start."""
    return {
        **os.environ,
        "FINDER_DATABASE_URL": database_url,
        "FINDER_UPLOADS_DIR": str(data_dir),
        "FINDER_API_KEYS": KEY_A,
        "FINDER_RAY_NUM_CPUS": "2",
        "FINDER_POLL_INTERVAL_S": "0.1",
        "FINDER_PROGRESS_INTERVAL_S": "0.05",
        # Long: a restart on the same host must notice the dead process, not wait this out.
        "FINDER_DISPATCHER_TIMEOUT_S": "600",
        # SIGTERM drains for this long before handing running jobs back (test_drain sets its own).
        "FINDER_DRAIN_GRACE_S": "1",
        LOOPBACK_RAY_VAR: "0",  # embedded Ray on loopback (see conftest)
    }

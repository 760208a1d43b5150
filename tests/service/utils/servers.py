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
from tests.utils.processes import descendants, free_port, kill_leftovers, wait_http_ok

FINDER = str(Path(sys.executable).parent / "finder")
LOOPBACK_RAY_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class PortTaken(AssertionError):
    """The server exited because another process bound its port first."""


class Server:
    """One `finder serve` (or `finder worker`) process and everything it started."""

    def __init__(self, env: dict[str, str], log: Path, command: tuple[str, ...]) -> None:
        self.port = int(env["FINDER_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.log_start = log.stat().st_size if log.exists() else 0  # where its own lines begin
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [FINDER, *command],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.tree: set[int] = set()

    def wait_ready(self) -> None:
        """Wait for /healthz; `PortTaken` when the server exited unable to bind its port."""
        try:
            wait_http_ok(f"{self.url}/healthz", self.process, timeout=120)
        except AssertionError:
            with self.log.open("rb") as log:
                log.seek(self.log_start)
                own = log.read()
            if self.process.poll() is not None and b"address already in use" in own:
                raise PortTaken(f"port {self.port} was taken before the server bound it") from None
            raise

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


def start_server(
    env: dict[str, str], log: Path, command: tuple[str, ...], attempts: int = 3
) -> Server:
    """A ready server on a free port. `free_port` closes its socket before the server binds
    the port, and the server starts Ray first, whose processes bind ports of their own, so
    another process can take it in between: the server then exits, and starts again on a
    fresh port. A server that fails otherwise is cleaned up before the error is raised."""
    for attempt in range(attempts):
        server = Server({**env, "FINDER_PORT": str(free_port())}, log, command)
        try:
            server.wait_ready()
            return server
        except PortTaken:
            server.clean_up()
            if attempt == attempts - 1:
                raise
        except BaseException:
            server.clean_up()
            raise
    raise AssertionError("attempts must be >= 1")


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

"""Processes the tests start: fresh Python processes, free ports, process trees, waiting for
servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def run_python(
    *arguments: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[Any]:
    """`python ARGUMENTS` in a fresh process that imports this checkout (`env`, default this
    process's environment, plus PYTHONPATH); fails the test unless it exits 0."""
    environment = {**(os.environ if env is None else env), "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, read from /proc."""
    found: set[int] = set()
    stack = [pid]
    while stack:
        parent = stack.pop()
        for children_file in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = {int(c) for c in children_file.read_text().split()}
            except OSError:
                continue
            stack.extend(children - found)
            found |= children
    return found


def process_alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill_leftovers(pids: set[int]) -> None:
    """SIGKILL the processes of `pids` that still exist (ones the test started)."""
    for pid in pids:
        if process_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str, every: float = 0.1) -> T:
    """Poll `predicate` until it returns a truthy value; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def wait_http_ok(url: str, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    def answers() -> bool:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode} before answering")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout, f"{url} to answer 200", every=0.25)


def run_module_worker(module: str, out: Path, *args: str, env: dict[str, str]) -> str:
    """`python -m module out args...` from the repository root with `env` added to this
    process's environment; returns what it wrote to `out`, failing with its stderr."""
    run_python("-m", module, str(out), *args, env={**os.environ, **env}, timeout=600)
    return out.read_text()

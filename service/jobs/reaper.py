"""A watchdog that ends an embedded Ray's processes once the process that started them is gone.

`ray.init(address="local")` starts the GCS, a raylet, a dashboard process, and the raylet's
DashboardAgent and RuntimeEnvAgent; job processes are the raylet's children. When `finder
serve` stops, `ray.shutdown` stops the GCS and raylet but the two agents stay alive; when it is
SIGKILLed, nothing runs at all, and every one of them is left behind. Killing a process group
would not do: the agents share the group of whatever started `finder serve` (a shell script, a
test runner), and Ray puts each worker in a group of its own.

So `start_reaper` starts this module as a small separate process (its own session, stdlib
only) whose stdin is the read end of a pipe that only the parent holds open. The reaper
records the parent's descendants from /proc every `SNAPSHOT_INTERVAL_S`, with each one's start
time, and waits. The pipe reaches end-of-file when the parent exits, however it exits (a clean
stop, SIGTERM, SIGKILL, a crash); the reaper then sends SIGTERM to every recorded process that
is still the same process (same start time, so a reused pid is never hit), and SIGKILL to those
left after `GRACE_S`.

    python -I service/jobs/reaper.py PARENT_PID     (stdin: the pipe)

It runs as a file in isolated mode, so it imports neither the `service` package (FastAPI,
SQLAlchemy) nor anything from the working directory: it starts in milliseconds.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

SNAPSHOT_INTERVAL_S = 0.5
GRACE_S = 2.0
# The write ends of the pipes of the reapers this process started, held open until it exits.
_PIPES_TO_REAPERS: list[int] = []


def start_time(pid: int) -> int | None:
    """The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or None
    when it no longer exists or is a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every living process below `pid`, with its start time."""
    found: dict[int, int] = {}
    stack = [pid]
    while stack:
        parent = stack.pop()
        for children_file in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(c) for c in children_file.read_text().split()]
            except OSError:
                continue
            for child in children:
                started = start_time(child)
                if started is not None and child not in found:
                    found[child] = started
                    stack.append(child)
    return found


def still_running(known: dict[int, int]) -> dict[int, int]:
    return {pid: started for pid, started in known.items() if start_time(pid) == started}


def signal_all(known: dict[int, int], sig: signal.Signals) -> None:
    for pid in still_running(known):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def watch(parent: int, pipe: int) -> dict[int, int]:
    """Record `parent`'s descendants until `pipe` reaches end-of-file; return them."""
    known: dict[int, int] = {}
    me = os.getpid()
    while True:
        ready, _, _ = select.select([pipe], [], [], SNAPSHOT_INTERVAL_S)
        if ready and not os.read(pipe, 1024):
            return known
        known = still_running(known)
        known.update(descendants(parent))
        known.pop(me, None)


def reap(known: dict[int, int]) -> None:
    """SIGTERM the recorded processes, then SIGKILL what is left after `GRACE_S`."""
    signal_all(known, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while still_running(known) and time.monotonic() < deadline:
        time.sleep(0.05)
    signal_all(known, signal.SIGKILL)


def start_reaper() -> subprocess.Popen[bytes]:
    """Start a reaper for this process (see the module docstring); it lives until this process
    exits, then ends what this process started."""
    read_end, write_end = os.pipe()  # not inheritable: only this process holds write_end
    reaper = subprocess.Popen(
        [sys.executable, "-I", str(Path(__file__).resolve()), str(os.getpid())],
        stdin=read_end,
        start_new_session=True,  # a Ctrl-C or a signal to our process group does not reach it
    )
    os.close(read_end)
    _PIPES_TO_REAPERS.append(write_end)
    return reaper


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    reap(watch(int(argv[1]), sys.stdin.fileno()))


if __name__ == "__main__":
    main(sys.argv)

"""A 2-node Ray cluster on loopback, made the way an operator would: `ray start`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.utils.processes import descendants, free_port, kill_leftovers, wait_for

NODE_CPUS = 1
OBJECT_STORE_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class RayCluster:
    """The session's Ray: embedded in the test process, or two `ray start` nodes it joined."""

    kind: str
    node_ids: tuple[str, ...]


@dataclass
class RayNodes:
    """Two `ray start --block` processes; `env` holds what a driver needs to join them."""

    address: str
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        tree = {pid for process in self.processes for pid in descendants(process.pid)}
        tree |= {process.pid for process in self.processes}
        for process in reversed(self.processes):
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        kill_leftovers(tree)


def ray_command() -> list[str]:
    """`ray` with node addresses pinned to loopback (see `ray_loopback`)."""
    return [sys.executable, str(Path(__file__).with_name("ray_loopback.py"))]


def start_ray_nodes(log_dir: Path) -> RayNodes:
    """A head node and a second node, 1 CPU each, on 127.0.0.1 with a fresh auth token."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    # Token auth is off: the nodes listen on loopback only, and Ray reads a driver's auth mode
    # when it is imported, long before a test knows the token.
    env = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    # The test process may pin its own Ray to loopback with this variable; nodes that join a
    # cluster must not have it (ray_loopback pins their address instead).
    full_env = {**os.environ, **env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}
    common = [
        "--num-cpus", str(NODE_CPUS),
        "--object-store-memory", str(OBJECT_STORE_BYTES),
        "--disable-usage-stats",
        "--block",
    ]  # fmt: skip
    nodes = RayNodes(address=address, env=env)
    log_dir.mkdir(parents=True, exist_ok=True)

    def start(name: str, arguments: list[str]) -> None:
        # The child keeps its own copy of the log's descriptor; ours closes at once.
        with (log_dir / f"{name}.log").open("wb") as log:
            nodes.processes.append(
                subprocess.Popen(
                    [
                        *ray_command(),
                        "start",
                        *arguments,
                        "--temp-dir",
                        str(log_dir / name),
                        *common,
                    ],
                    env=full_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def alive_nodes() -> int:
        status = subprocess.run(
            [*ray_command(), "status", "--address", address],
            env=full_env,
            capture_output=True,
            text=True,
        )
        return status.stdout.count("node_") if status.returncode == 0 else 0

    try:
        start("head", ["--head", "--port", str(port), "--include-dashboard=false"])
        wait_for(alive_nodes, 120, "the Ray head node", every=1)
        start("worker", ["--address", address])
        wait_for(lambda: alive_nodes() >= 2, 120, "the second Ray node", every=1)
    except BaseException:
        nodes.stop()
        raise
    return nodes

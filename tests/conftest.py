"""Shared fixtures: tiny real data, tiny real Keras models (no mocks) and one real Ray.

- `ray_cluster`: Ray, started once per session and shared by every test that needs it (the
  service's jobs, `finder.tune(workers=...)`): embedded (`ray.init`, 2 CPUs), or two nodes made
  with `ray start --head` and `ray start --address` on 127.0.0.1 (that variant is slow). Its
  workers can import `tests.*`, so test-defined `build_model` functions reach them.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Read by Ray when it is imported: "0" makes an embedded Ray bind 127.0.0.1 instead of the
# machine's outward-facing address (its only other effect, refusing to join other nodes, does
# not apply to a driver). Set before anything imports ray.
LOOPBACK_RAY_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
os.environ.setdefault(LOOPBACK_RAY_VAR, "0")

import shutil  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.utils import linear  # noqa: E402
from tests.utils.factories import least_squares_problem  # noqa: E402
from tests.utils.ray_nodes import RayCluster, start_ray_nodes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def ray_kind(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("ray_cluster")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    # The 2-node Ray variant of a test is slow; mark it before `-m` selects.
    for item in items:
        if ray_kind(item) == "two_nodes":
            item.add_marker(pytest.mark.slow)
    yield
    # Then, once pytest has grouped the items by session fixture, run the 2-node variants
    # first. Ray 2.60 breaks a process that joins a `ray start` cluster after shutting down an
    # embedded Ray of its own: tasks on the other node cannot fetch the objects the driver
    # puts ("owner has exited"). The other way round works.
    items.sort(key=lambda item: ray_kind(item) != "two_nodes")


@pytest.fixture(scope="session", params=["local", "two_nodes"])
def ray_cluster(request: pytest.FixtureRequest) -> Iterator[RayCluster]:
    import ray

    if ray.is_initialized():
        ray.shutdown()
    nodes = None
    root = Path(tempfile.mkdtemp(prefix="finder-ray-", dir="/tmp"))  # short: Ray's socket paths
    # Workers unpickle test-defined functions by reference: they need the repository on their path.
    runtime_env = {"env_vars": {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}}
    if request.param == "local":
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env=runtime_env,
        )
    else:
        nodes = start_ray_nodes(root)
        try:
            ray.init(address=nodes.address, log_to_driver=False, runtime_env=runtime_env)
        except BaseException:
            nodes.stop()
            raise
    try:
        alive = [node for node in ray.nodes() if node["Alive"]]
        addresses = {node["NodeManagerAddress"] for node in alive}
        assert addresses == {"127.0.0.1"}, (
            f"Ray nodes must listen on loopback only, got {addresses}: import ray only after "
            f"tests/conftest.py sets {LOOPBACK_RAY_VAR}"
        )
        yield RayCluster(kind=request.param, node_ids=tuple(n["NodeID"] for n in alive))
    finally:
        ray.shutdown()
        if nodes is not None:
            nodes.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def regression_data() -> tuple[np.ndarray, np.ndarray]:
    """256 samples of a noisy 4-feature linear target."""
    return linear.regression_data()


@pytest.fixture
def classification_data() -> tuple[np.ndarray, np.ndarray]:
    """320 random 6x6x1 'images' with 3 classes that depend on the pixels."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(320, 6, 6, 1)).astype("float32")
    y = (x[:, :3].mean(axis=(1, 2, 3)) > 0).astype("int64") + (x[:, 3:].mean(axis=(1, 2, 3)) > 0.2)
    return x, y.astype("int64")


@pytest.fixture
def least_squares():
    return least_squares_problem()

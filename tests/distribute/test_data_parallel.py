"""A range test under `keras.distribution.DataParallel` on the JAX backend, two host devices.

Runs in a fresh process (`data_parallel_worker.py`) whatever backend this suite runs on: JAX
reads `XLA_FLAGS` once, when it starts.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.utils.processes import run_module_worker


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    pytest.importorskip("jax")
    out = tmp_path_factory.mktemp("data_parallel") / "report.json"
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    return json.loads(run_module_worker("tests.distribute.data_parallel_worker", out, env=env))


def test_the_sweep_runs_data_parallel_over_two_devices(report):
    assert report["backend"] == "jax" and report["devices"] == 2
    # DataParallel replicates the weights on both devices.
    assert report["kernel_devices"] == 2


def test_recorded_loss_is_the_global_batch_loss(report):
    np.testing.assert_allclose(report["losses"], report["expected_losses"], rtol=1e-5)


def test_model_and_optimizer_are_restored_exactly(report):
    assert report["restored"] and report["iterations"] == 3

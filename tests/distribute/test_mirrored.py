"""finder under `tf.distribute.MirroredStrategy` over two logical CPU devices.

The training runs in a fresh process (`mirrored_worker.py`): logical devices can only be set
before TensorFlow initialises its devices, and the rest of the suite must keep one CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.utils.processes import run_module_worker


def run_worker(directory: Path, *checks: str) -> dict[str, Any]:
    module = "tests.distribute.mirrored_worker"
    out = directory / "report.json"
    return json.loads(run_module_worker(module, out, *checks, env={"KERAS_BACKEND": "tensorflow"}))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_worker(tmp_path_factory.mktemp("mirrored"), "range_test", "train", "unsupported")


def test_recorded_loss_is_the_global_batch_loss(report):
    run = report["range_test"]
    assert run["replicas"] == 2
    # The mean over all 32 samples of the step, not one replica's 16.
    np.testing.assert_allclose(run["losses"], run["expected_losses"], rtol=1e-5)


def test_every_replica_steps_with_the_sweep_lr(report):
    run = report["range_test"]
    for lrs, lr in zip(run["replica_lrs"], run["lrs"], strict=True):
        assert lrs == pytest.approx([lr, lr], rel=1e-6)
    # Equal copies of the weights on both devices: no replica stepped differently.
    assert all(run["kernel_copies_equal"])


def test_weights_slots_and_iterations_are_restored_exactly(report):
    run = report["range_test"]
    assert run["restored"]
    assert run["iterations_before"] == run["iterations_after"] == 3
    assert run["auto_verdict"] in {"reliable", "uncertain", "unreliable"}


def test_proposal_schedules_and_callbacks_train_and_resume_under_the_strategy(report):
    train = report["train"]
    # MomentumCycler: momentum falls from max to base over the warm-up, then climbs back.
    momentums = train["momentums"]
    assert momentums[0] == pytest.approx(0.95) and min(momentums) < 0.86 < momentums[-1]
    # Resumed from the file under the strategy: same step, same LR, and training goes on.
    assert train["resumed_iterations"] == 8
    assert train["resumed_lr"] == train["expected_resumed_lr"]
    assert train["resumed_final_iterations"] == 16
    # ReduceLROnPlateau (min_delta too large to ever improve) halved the LR twice in 3 epochs.
    assert train["plateau_lr"] == pytest.approx(0.0025)


def test_an_unsupported_strategy_gets_a_finder_error_naming_it(report):
    unsupported = report["unsupported"]
    assert unsupported["error"] == "UnsupportedStrategyError"
    assert "CentralStorageStrategy" in unsupported["message"]


@pytest.mark.slow
def test_tune_runs_a_trial_on_a_model_built_under_the_strategy(tmp_path):
    tuning = run_worker(tmp_path, "tune")["tune"]
    assert tuning == {"trials": ["COMPLETED"], "best": "one_cycle"}

"""keras-tuner's own distributed mode with finder's HyperModel: a chief and two worker
processes on 127.0.0.1, each running the same `finder.tune` call."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from finder.tuning import TuningResult
from tests.tuning.distributed_process import MAX_TRIALS

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("chief", "worker0", "worker1")
TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(role: str, tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(tmp_path / f"{role}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.tuning.distributed_process", f"{role}.json"],
            cwd=tmp_path,
            env={**env, "KERASTUNER_TUNER_ID": role},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def keras_tuner_env() -> dict[str, str]:
    return {
        **os.environ,
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(free_port()),
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }


def stop_all(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.wait()


# slow: a chief and two worker processes, each starting TensorFlow (~45 s on 2 cores).
@pytest.mark.slow
def test_chief_and_two_workers_run_every_trial_exactly_once(tmp_path: Path) -> None:
    env = keras_tuner_env()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        # Workers first: each blocks on its first request until the chief serves, so neither
        # can miss a search that the other finished alone.
        for role in (*ROLES[1:], ROLES[0]):
            processes[role] = start(role, tmp_path, env)
        codes = {role: process.wait(timeout=TIMEOUT_S) for role, process in processes.items()}
    finally:
        stop_all(processes)
    logs = {role: (tmp_path / f"{role}.log").read_text(errors="replace")[-3000:] for role in ROLES}
    assert codes == dict.fromkeys(ROLES, 0), logs

    chief = TuningResult.load(tmp_path / "chief.json")
    workers = [TuningResult.load(tmp_path / f"{role}.json") for role in ROLES[1:]]
    assert chief.role == "chief" and all(w.role == "worker" for w in workers)
    trial_ids = sorted(t.trial_id for t in chief.trials)
    assert len(trial_ids) == MAX_TRIALS
    assert all(t.status == "COMPLETED" and t.outcome is not None for t in chief.trials)
    # Every trial ran exactly once, on one of the workers.
    ran = sorted(t.trial_id for w in workers for t in w.trials)
    assert ran == trial_ids
    assert {w.config["tuner_id"] for w in workers} == {"worker0", "worker1"}
    # The chief reports the best of all trials.
    best = min(chief.trials, key=lambda t: t.score if t.score is not None else float("inf"))
    assert chief.best_trial_id == best.trial_id and chief.trials[0] is chief.best_trial
    assert chief.best == chief.spec_for(chief.plan["total_steps"])
    scores = {t.trial_id: t.score for w in workers for t in w.trials}
    assert scores == {t.trial_id: t.score for t in chief.trials}


@pytest.mark.slow
def test_a_worker_that_starts_after_the_search_is_told_to_stop(tmp_path: Path) -> None:
    # keras-tuner's oracle knows a worker only from its first trial request; a chief that
    # stopped serving when the search ended would leave this late one blocked for keras-tuner's
    # one-hour client timeout. finder's chief keeps answering for a grace period.
    env = keras_tuner_env()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        processes["chief"] = start("chief", tmp_path, env)
        processes["worker1"] = start("worker1", tmp_path, env)
        assert processes["worker1"].wait(timeout=TIMEOUT_S) == 0  # it ran every trial
        processes["worker0"] = start("worker0", tmp_path, env)
        assert processes["worker0"].wait(timeout=120) == 0
        assert processes["chief"].wait(timeout=60) == 0
    finally:
        stop_all(processes)
    late = TuningResult.load(tmp_path / "worker0.json")
    assert late.trials == []
    assert len(TuningResult.load(tmp_path / "chief.json").trials) == MAX_TRIALS

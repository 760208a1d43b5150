"""`bench/edge_precision.py`: the recorded sweeps behind finder's edge rule, and its analysis.

The rule `finder.suggest.smith_bounds` reads the edge with was chosen on the sweeps that ship in
`bench/results/edge_sweeps.json.gz`; these tests keep that choice honest on them, and check the
recording against a fresh one. `bench/` is on the path through pytest's `pythonpath`.
"""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import edge_precision
import numpy as np
import pytest

from finder.suggest import FLOOR_FRACTION, ZERO_LAG_HALF_WIDTH
from tests.utils.backends import tensorflow_only


@pytest.fixture(scope="module")
def recorded() -> list[dict[str, Any]]:
    with gzip.open(edge_precision.SWEEPS_PATH, "rt") as handle:
        documents: list[dict[str, Any]] = json.load(handle)
    return documents


@pytest.fixture(scope="module")
def analysis(recorded: list[dict[str, Any]]) -> dict[str, Any]:
    return edge_precision.analyze(recorded)


def rule(analysis: dict[str, Any], half_width: float, fraction: float) -> dict[str, Any]:
    found: dict[str, Any] = next(
        r
        for r in analysis["rules"]
        if (r["half_width"], r["floor_fraction"]) == (half_width, fraction)
    )
    return found


def test_the_recording_holds_every_suite_task_with_five_seeds_of_eight_sweeps(
    recorded: list[dict[str, Any]],
) -> None:
    tasks = {doc["task"] for doc in recorded}
    assert len(tasks) == 7
    for task in tasks:
        docs = [doc for doc in recorded if doc["task"] == task]
        assert sorted(doc["seed"] for doc in docs) == [0, 1, 2, 3, 4]
        assert all(len(doc["runs"]) == 8 == len(doc["steps"]) for doc in docs)


def test_finders_rule_reads_one_sweep_more_precisely_than_the_old_one(
    analysis: dict[str, Any],
) -> None:
    new = rule(analysis, ZERO_LAG_HALF_WIDTH, FLOOR_FRACTION)
    old = rule(analysis, *edge_precision.RECORDED_RULE)
    assert new["pooled_sd_within_dense"] < 0.6 * old["pooled_sd_within_dense"]
    for name in analysis["dense_tasks"]:
        assert new["tasks"][name]["sd_within"] < old["tasks"][name]["sd_within"]


def test_finders_rule_stays_near_the_edge_the_proposals_were_calibrated_on(
    analysis: dict[str, Any],
) -> None:
    new = rule(analysis, ZERO_LAG_HALF_WIDTH, FLOOR_FRACTION)
    for name, figures in new["tasks"].items():
        assert 0.75 < figures["ratio"] < 1.33, name


def test_the_old_rule_reads_ratio_one_against_itself(analysis: dict[str, Any]) -> None:
    old = rule(analysis, *edge_precision.RECORDED_RULE)
    assert all(f["ratio"] == pytest.approx(1.0) for f in old["tasks"].values())


def test_affordable_sweeps_follow_the_auto_range_budget_rule() -> None:
    doc = {"budget": 1000, "coarse_losses": [0.0] * 100, "lrs": [0.0] * 400, "steps": [300] * 8}
    # 100 + 3 x 300 = 1000: a fourth sweep would need 300 more.
    assert edge_precision.affordable_sweeps(doc) == 3
    doc["budget"] = 150
    assert edge_precision.affordable_sweeps(doc) == 1  # never fewer than one


def test_sd_between_is_zero_when_only_the_batch_order_differs() -> None:
    rng = np.random.default_rng(0)
    lrs = np.geomspace(1e-4, 10, 200)
    x = np.log10(lrs)
    bowl = 2.0 - 1.5 / (1 + np.exp(-4 * (x + 2))) + np.where(x > -1, 3 * (x + 1) ** 2, 0.0)
    docs = [
        {
            "budget": 10**6,
            "coarse_losses": [],
            "lrs": list(lrs),
            "runs": [list(bowl + 0.05 * rng.normal(size=x.size)) for _ in range(6)],
            "steps": [200] * 6,
        }
        for _ in range(4)
    ]
    figures = edge_precision.rule_figures(docs, 0.05, 0.2)
    assert figures["sd_within"] > 0
    assert figures["sd_between"] < figures["sd_within"]
    assert figures["ratio"] is not None and math.isfinite(figures["ratio"])


@tensorflow_only("recorded on TensorFlow; seeded initialisers draw other weights elsewhere")
def test_a_fresh_recording_reproduces_the_shipped_sweeps(recorded: list[dict[str, Any]]) -> None:
    fresh = edge_precision.record_one("digits_rmsprop", 0, 4)
    shipped = next(d for d in recorded if (d["task"], d["seed"]) == ("digits_rmsprop", 0))
    assert (fresh["budget"], fresh["sweep_cap"]) == (shipped["budget"], shipped["sweep_cap"])
    # The LR grids are numpy arithmetic alone: equal up to the last digit, which another numpy
    # may round differently. The losses come from float32 training, which is not bit-for-bit
    # across x86 machines: its kernels pick other vector paths and summation orders per CPU,
    # and each step's ~1e-7 rounding grows over the sweep, fastest where the loss diverges
    # (4e-4 on the last steps of a sweep, 1e-5 before them, on a machine other than the
    # recording's). A real change to what is recorded (a wrong step, another batch order)
    # moves a step's loss by percents.
    for key in ("coarse_lrs", "lrs"):
        np.testing.assert_allclose(fresh[key], shipped[key], rtol=1e-12, err_msg=key)
    runs = [fresh["coarse_losses"], *fresh["runs"]]
    shipped_runs = [shipped["coarse_losses"], *shipped["runs"][:4]]
    assert [len(run) for run in runs] == [len(run) for run in shipped_runs]
    for run, shipped_run in zip(runs, shipped_runs, strict=True):
        np.testing.assert_allclose(run, shipped_run, rtol=1e-3, atol=1e-6)


def test_recording_needs_the_four_sweeps_the_jackknife_needs() -> None:
    with pytest.raises(ValueError, match="sweeps must be >= 4"):
        edge_precision.record_one("digits_rmsprop", 0, 3)

"""`bench/fit.py`'s summary (the benchmark itself is run by hand: `python bench/fit.py`)."""

from __future__ import annotations

import fit as bench_fit
import pytest


def _run(seed: int, plain_s: float, finder_s: float, extra: int, score: float | None) -> dict:
    return {
        "seed": seed,
        "plain_s": plain_s,
        "finder_wall_s": finder_s,
        "time_ratio": finder_s / plain_s,
        "extra_steps": extra,
        "plain_score": 0.9,
        "finder_score": score,
        "frontier_score": score,
    }


def test_the_summary_takes_the_median_time_ratio_and_the_mean_extra_share() -> None:
    runs = [_run(0, 10.0, 11.0, 10, 0.9), _run(1, 10.0, 30.0, 20, 0.8), _run(2, 10.0, 12.0, 30, 1)]
    summary = bench_fit.summarise(runs, plan_steps=400)
    assert summary["time_ratio"] == pytest.approx(1.2)  # one slow seed does not set it
    assert summary["extra_share"] == pytest.approx(20 / 400)
    assert summary["plain_s"] == pytest.approx(10.0)
    assert summary["finder_s"] == pytest.approx(53 / 3)
    assert summary["finder_score"] == pytest.approx(0.9)


def test_a_missing_score_leaves_the_mean_undefined() -> None:
    runs = [_run(0, 10.0, 11.0, 10, 0.9), _run(1, 10.0, 11.0, 10, None)]
    assert bench_fit.summarise(runs, plan_steps=100)["finder_score"] is None

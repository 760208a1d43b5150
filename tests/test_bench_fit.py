"""`bench/fit.py`'s scoring (the benchmark itself is run by hand: `python bench/fit.py`)."""

from __future__ import annotations

import statistics

import fit as bench_fit
import pytest


def test_a_run_without_bounds_scores_zero_in_the_mean() -> None:
    summary = bench_fit.summarise([{"score": 0.8}, {"score": None, "error": "no bounds"}])
    assert summary["mean"] == pytest.approx(0.4)
    assert summary["std"] == pytest.approx(statistics.stdev([0.8, 0.0]))
    assert bench_fit.summarise([{"score": 0.8}])["std"] is None

"""OneCycle, MomentumCycler and CyclicalLearningRate against PyTorch's own values.

`torch_reference.json` was written by `make_torch_reference.py` with torch 2.13.0 (which
finder does not depend on): these tests only read it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from finder.schedules import CyclicalLearningRate, MomentumCycler, OneCycle

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral

REFERENCE = json.loads(Path(__file__).with_name("torch_reference.json").read_text())
TORCH_TO_FINDER = {"anneal_strategy": "anneal"}
MOMENTUM_ARGS = ("base_momentum", "max_momentum")


def _one_cycle_kwargs(torch_kwargs: dict) -> dict:
    return {TORCH_TO_FINDER.get(k, k): v for k, v in torch_kwargs.items() if k not in MOMENTUM_ARGS}


@pytest.mark.parametrize("case", REFERENCE["one_cycle"], ids=lambda case: case["case"])
def test_one_cycle_matches_torch(case):
    schedule = OneCycle(**_one_cycle_kwargs(case["torch_kwargs"]))
    values = ops.convert_to_numpy(schedule(np.array(case["steps"])))
    np.testing.assert_allclose(values, case["lr"], rtol=1e-5)


@pytest.mark.parametrize("case", REFERENCE["one_cycle"], ids=lambda case: case["case"])
def test_momentum_cycler_matches_torch(case):
    kwargs = _one_cycle_kwargs(case["torch_kwargs"])
    cycler = MomentumCycler(
        kwargs["total_steps"],
        pct_start=kwargs.get("pct_start", 0.3),
        anneal=kwargs.get("anneal", "cos"),
        three_phase=kwargs.get("three_phase", False),
        **{k: case["torch_kwargs"][k] for k in MOMENTUM_ARGS if k in case["torch_kwargs"]},
    )
    values = ops.convert_to_numpy(cycler.momentum_at(np.array(case["steps"])))
    np.testing.assert_allclose(values, case["momentum"], rtol=1e-5)


@pytest.mark.parametrize("case", REFERENCE["cyclical"], ids=lambda case: case["case"])
def test_cyclical_matches_torch(case):
    schedule = CyclicalLearningRate(**case["torch_kwargs"])
    values = ops.convert_to_numpy(schedule(np.array(case["steps"])))
    np.testing.assert_allclose(values, case["lr"], rtol=1e-5, atol=1e-12)


def test_reference_covers_every_mode():
    modes = {case["torch_kwargs"].get("mode", "triangular") for case in REFERENCE["cyclical"]}
    assert modes == {"triangular", "triangular2", "exp_range"}
    one_cycle = [case["torch_kwargs"] for case in REFERENCE["one_cycle"]]
    assert {kwargs.get("anneal_strategy", "cos") for kwargs in one_cycle} == {"cos", "linear"}
    assert any(kwargs.get("three_phase") for kwargs in one_cycle)

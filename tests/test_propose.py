"""Schedule proposals: sized from the bounds by their documented rules, usable in Keras."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from finder.errors import InvalidArgumentError
from finder.propose import (
    SHORT_PLAN_PEAK_MULTIPLE,
    SHORT_PLAN_STEPS,
    Proposal,
    has_momentum,
    propose_schedules,
)
from finder.rangetest.result import RangeTestResult
from finder.suggest import Bounds

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


def fake_result(bounds: Bounds, optimizer=None) -> RangeTestResult:
    """A result holding only what proposals read (the curve is irrelevant to them)."""
    return RangeTestResult(
        lrs=[],
        losses=[],
        smoothed_losses=[],
        stop_reason="completed",
        steps_run=0,
        wall_time_s=1.0,
        steps_per_second=0.0,
        optimizer=optimizer or {"name": "SGD", "config": {"momentum": 0.0}},
        model={"name": "m"},
        data={"kind": "numpy"},
        config={},
        suggestions={},
        bounds=bounds,
    )


BOUNDS = Bounds(min_lr=0.05, max_lr=0.2, note=None, edge_lr=0.4)


def test_proposals_follow_their_rules():
    proposals = propose_schedules(fake_result(BOUNDS), epochs=10, steps_per_epoch=100)
    assert [p.family for p in proposals] == [
        "one_cycle",
        "cosine_warmup",
        "wsd",
        "cyclical",
        "exponential",
        "plateau",
    ]
    assert [p.rank for p in proposals] == [1, 2, 3, 4, 5, 6]
    one_cycle, cosine, wsd, cyclical, exponential, plateau = (p.spec.params for p in proposals)
    assert one_cycle == {"max_lr": 0.4, "total_steps": 1000}  # plain SGD: no momentum cycling
    assert cosine == {"max_lr": 0.2, "total_steps": 1000, "warmup_steps": 50, "initial_lr": 0.05}
    # cosine_warmup's warm-up, then hi held until the 1-sqrt decay over the last 200 steps
    assert wsd == {
        "max_lr": 0.2,
        "total_steps": 1000,
        "warmup_steps": 50,
        "decay_steps": 200,
        "initial_lr": 0.05,
        "decay": "sqrt",
    }
    assert proposals[2].spec.lr_at([0, 50, 799, 800, 900, 1000]) == pytest.approx(
        [0.05, 0.2, 0.2, 0.2, 0.2 * (1 - 0.5**0.5), 0.0], rel=1e-6, abs=1e-9
    )
    assert cyclical == {"base_lr": 0.05, "max_lr": 0.2, "step_size_up": 200, "mode": "triangular2"}
    assert exponential == {"initial_lr": 0.2, "decay_steps": 1000, "decay_rate": 0.25}
    assert plateau["initial_lr"] == 0.2 and plateau["patience"] == 1
    assert plateau["min_lr"] == pytest.approx(0.0005)


@pytest.mark.parametrize("steps_per_epoch", [SHORT_PLAN_STEPS - 1, SHORT_PLAN_STEPS])
def test_a_short_plan_raises_only_the_cycles_peak(steps_per_epoch):
    short = steps_per_epoch < SHORT_PLAN_STEPS
    proposals = propose_schedules(fake_result(BOUNDS), epochs=1, steps_per_epoch=steps_per_epoch)
    one_cycle, cosine = proposals[0], proposals[1]
    multiple = SHORT_PLAN_PEAK_MULTIPLE if short else 1.0
    assert one_cycle.spec.params["max_lr"] == pytest.approx(BOUNDS.edge_lr * multiple)
    assert one_cycle.curve()["lrs"][0] < one_cycle.spec.params["max_lr"]
    assert max(one_cycle.curve()["lrs"]) == pytest.approx(BOUNDS.edge_lr * multiple, rel=0.01)
    assert ("short enough to gain from a higher peak" in one_cycle.rationale) is short
    # The others keep the constant-safe bound whatever the plan.
    assert cosine.spec.params["max_lr"] == BOUNDS.max_lr


def test_curves_are_the_real_schedule_values():
    proposals = propose_schedules(fake_result(BOUNDS), epochs=10, steps_per_epoch=100)
    curve = proposals[0].curve()
    assert curve["steps"][0] == 0 and curve["steps"][-1] == 999 and len(curve["steps"]) == 200
    schedule = proposals[0].to_keras()
    for step, lr in zip(curve["steps"][::40], curve["lrs"][::40], strict=True):
        assert lr == pytest.approx(float(schedule(step)), rel=1e-5)
    assert max(curve["lrs"]) == pytest.approx(0.4, rel=1e-3)  # peak at the edge


@pytest.mark.parametrize(
    ("optimizer", "cycles"),
    [
        ({"name": "SGD", "config": {"momentum": 0.9}}, True),  # SGD with momentum
        ({"name": "SGD", "config": {"momentum": 0.0}}, False),  # plain SGD has none to cycle
        ({"name": "Adam", "config": {}}, True),  # beta_1
        ({"name": "RMSprop", "config": {"momentum": 0.9}}, False),  # not supported by the cycler
        (keras.optimizers.AdamW(), True),  # a live optimizer works too
    ],
)
def test_momentum_cycling_only_where_the_optimizer_has_momentum(optimizer, cycles):
    assert has_momentum(optimizer) is cycles
    first = propose_schedules(
        fake_result(BOUNDS, optimizer if isinstance(optimizer, dict) else None),
        epochs=2,
        steps_per_epoch=10,
        optimizer=optimizer,
    )[0]
    assert first.spec.params.get("cycle_momentum", False) is cycles
    assert len(first.callbacks()) == (1 if cycles else 0)


@pytest.mark.parametrize("optimizer", [{"name": "Ftrl", "config": {}}, keras.optimizers.Ftrl()])
@pytest.mark.parametrize("steps_per_epoch", [10, 100])  # a short plan and a long one
def test_ftrl_gets_one_constant_proposal_at_its_trials_pick(optimizer, steps_per_epoch):
    # Ftrl's model scales with its current LR: any schedule would rescale it as it goes.
    (only,) = propose_schedules(
        fake_result(BOUNDS, {"name": "Ftrl", "config": {}}),
        epochs=10,
        steps_per_epoch=steps_per_epoch,
        optimizer=optimizer,
    )
    assert only.rank == 1 and only.spec.family == "constant"
    assert only.spec.params == {"learning_rate": BOUNDS.max_lr}
    assert only.curve()["lrs"] == [pytest.approx(BOUNDS.max_lr)] * len(only.curve()["lrs"])
    assert only.callbacks() == []


def test_proposals_train_a_real_model_and_round_trip():
    proposals = propose_schedules(fake_result(BOUNDS), epochs=2, steps_per_epoch=4)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")
    for proposal in proposals:
        again = Proposal.from_dict(proposal.to_dict())
        assert again.spec == proposal.spec and again.plan == proposal.plan
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(proposal.to_keras()), loss="mse")
        history = model.fit(
            x,
            y,
            batch_size=8,
            epochs=2,
            verbose=0,
            validation_data=(x, y),
            callbacks=proposal.callbacks(),
        )
        assert np.isfinite(history.history["loss"][-1])


def test_no_bounds_means_no_proposals_and_says_why():
    result = fake_result(Bounds(None, None, "the loss never fell over the range"))
    with pytest.raises(InvalidArgumentError, match="never fell"):
        propose_schedules(result, epochs=3, steps_per_epoch=10)


@pytest.mark.parametrize(
    "plan", [dict(epochs=0, steps_per_epoch=10), dict(epochs=3, steps_per_epoch=0)]
)
def test_a_bad_plan_is_refused(plan):
    with pytest.raises(InvalidArgumentError, match="Received"):
        propose_schedules(fake_result(BOUNDS), **plan)


@pytest.mark.parametrize(
    "warmed_up, keep_warmup, pct_start",
    [
        (0, True, None),  # no ramp kept: the plain cycle over the steps left
        (30, True, 0.3),  # a short ramp stands in for the cycle's first steps
        (600, True, 0.6),  # a ramp past the cycle's warm-up: resume at the peak
        (30, False, 0.03),  # resume at the peak whatever the ramp
    ],
)
def test_the_cycle_after_the_ramp(warmed_up, keep_warmup, pct_start):
    from finder.propose import resume_after_ramp

    first = propose_schedules(fake_result(BOUNDS), epochs=10, steps_per_epoch=100)[0]
    remaining = 1000 - warmed_up
    resumed = resume_after_ramp(
        first, warmed_up=warmed_up, remaining=remaining, keep_warmup=keep_warmup
    )
    params = resumed.spec.params
    assert params["total_steps"] == 1000 and params["max_lr"] == first.spec.params["max_lr"]
    assert params.get("pct_start") == (pytest.approx(pct_start) if pct_start else None)
    # Its LR at the step the run resumes never exceeds the peak; the cycle ends with the run.
    lrs = resumed.spec.lr_at(np.array([warmed_up, 999]))
    assert lrs[0] <= params["max_lr"] * (1 + 1e-6) and lrs[1] < params["max_lr"] / 1000


def test_only_a_cycle_resumes_after_the_ramp():
    from finder.propose import resume_after_ramp

    second = propose_schedules(fake_result(BOUNDS), epochs=10, steps_per_epoch=100)[1]
    with pytest.raises(InvalidArgumentError, match="Only a 1cycle"):
        resume_after_ramp(second, warmed_up=10, remaining=90)

"""The guarded climb (`finder.lr_finder.climb`): where the edge was read early, the 1cycle's
warm-up climbs towards four times the edge and stops where the training loss rises.

Real training of a small classifier on scikit-learn's digits (1,500 samples, batch 8: 188
steps an epoch), with a 1cycle whose peak plain SGD cannot take, or one it can."""

from __future__ import annotations

import dataclasses
import warnings

import keras
import numpy as np
import pytest

import finder
from finder.lr_finder import climb as climb_module
from finder.lr_finder.climb import (
    CLIMB_MULTIPLE,
    PeakClimb,
    climbing_proposal,
    climbs,
    settled,
)
from finder.propose import Plan, Proposal
from finder.rangetest.reliability import Reliability
from finder.rangetest.verdict import EARLY_EDGE
from finder.schedules import OneCycle, ScheduleSpec
from tests.utils.factories import digits_mlp as make_model
from tests.utils.factories import digits_split

EPOCHS, BATCH = 4, 8
STEPS = 1500 // BATCH + 1  # 188 a pass
PLAN = EPOCHS * STEPS


def cycle(max_lr: float) -> Proposal:
    spec = ScheduleSpec("one_cycle", {"max_lr": max_lr, "total_steps": PLAN, "pct_start": 0.3})
    return Proposal(0, spec, "test", "test", Plan(EPOCHS, STEPS))


def climbed(max_lr: float, allowance: int, floor: float = 0.0) -> tuple[keras.Model, PeakClimb]:
    x, y, _, _ = digits_split()
    proposal = cycle(max_lr)
    model = make_model(keras.optimizers.SGD(learning_rate=proposal.to_keras()))
    climb = PeakClimb(proposal, batches_left=PLAN, allowance=allowance, floor=floor)
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, callbacks=[climb], shuffle=False, verbose=0)
    return model, climb


def iterations(model: keras.Model) -> int:
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


@pytest.mark.backend_neutral
def test_a_climb_past_what_the_run_takes_stops_and_equals_a_plain_fit_from_its_rollback():
    """Plain SGD cannot take a peak of 20 on this model: the climb stops, rolls back to a
    snapshot at or below the rate of the lowest smoothed loss, and anneals from there. The
    model then equals one trained by plain `fit`s with the climbing cycle up to the rollback
    step and the annealing cycle over the batches the fit had left."""
    model, climb = climbed(20.0, allowance=PLAN)
    outcome = climb.outcome
    assert outcome is not None and not outcome["reached"]
    stopped, back = outcome["stopped_at_step"], outcome["rollback_step"]
    assert back is not None and 0 <= back < stopped < STEPS  # within the first epoch
    assert outcome["discarded_steps"] == stopped - back
    assert outcome["peak_lr"] < outcome["target_lr"] == 20.0
    assert iterations(model) == PLAN - outcome["discarded_steps"]
    schedule = model.optimizer._learning_rate
    assert isinstance(schedule, OneCycle) and schedule.max_lr == pytest.approx(outcome["peak_lr"])

    x, y, _, _ = digits_split()
    replay = make_model(keras.optimizers.SGD(learning_rate=cycle(20.0).to_keras()))
    kept = back * BATCH
    if kept:
        replay.fit(x[:kept], y[:kept], batch_size=BATCH, shuffle=False, verbose=0)
    total = back + PLAN - stopped
    replay.optimizer.learning_rate = OneCycle(
        outcome["peak_lr"], total, pct_start=max(back / total, 1e-9)
    )
    replay.make_train_function(force=True)
    replay.fit(
        x[stopped * BATCH :], y[stopped * BATCH :], batch_size=BATCH, shuffle=False, verbose=0
    )
    replay.fit(x, y, epochs=EPOCHS - 1, batch_size=BATCH, shuffle=False, verbose=0)
    assert iterations(replay) == iterations(model)
    for got, want in zip(model.get_weights(), replay.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


@pytest.mark.backend_neutral
def test_without_an_allowance_the_climb_anneals_from_where_it_stopped():
    model, climb = climbed(20.0, allowance=0)
    outcome = climb.outcome
    assert outcome is not None and not outcome["reached"]
    assert outcome["rollback_step"] is None and outcome["discarded_steps"] == 0
    assert iterations(model) == PLAN
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.backend_neutral
def test_a_climb_never_anneals_from_below_the_first_proposals_peak():
    """The same stop with a floor above the rate it would anneal from: it anneals from the
    floor, the peak the run would have trained at without the climb."""
    _, free = climbed(20.0, allowance=PLAN)
    assert free.outcome is not None
    floor = 1.5 * free.outcome["peak_lr"]
    model, climb = climbed(20.0, allowance=PLAN, floor=floor)
    assert climb.outcome is not None and not climb.outcome["reached"]
    assert climb.outcome["rollback_step"] == free.outcome["rollback_step"]
    assert climb.outcome["peak_lr"] == pytest.approx(floor)
    assert model.optimizer._learning_rate.max_lr == pytest.approx(floor)
    # Above the floor a rise is the run's own peak found (a loss that died back towards where
    # it began is not, and which rule fires first depends on the backend's numerics); at the
    # floor the run trains at the first proposal's peak.
    assert free.outcome["stop_rule"] in ("rise", "died_back")
    assert free.outcome["found_peak"] == (free.outcome["stop_rule"] == "rise")
    assert not climb.outcome["found_peak"]


def test_a_peak_found_above_the_first_settles_an_edge_read_early_and_nothing_else():
    early_reason = f"{EARLY_EDGE}: the validation loss had fallen only 12% below chance"
    other = "the sweeps disagree"
    reliability = Reliability("unreliable", reasons=[early_reason])
    found = {"reached": False, "found_peak": True}
    assert settled(reliability, found).verdict == "reliable"
    assert settled(reliability, found).reasons == []
    assert settled(reliability, found).signals["climb_found_peak"] is True
    both = Reliability("unreliable", reasons=[early_reason, other])
    assert settled(both, found).verdict == "unreliable"
    assert settled(both, found).reasons == [other]
    assert settled(reliability, None) == reliability


@pytest.mark.parametrize(
    ("outcome", "says"),
    [
        (
            {"reached": True, "stop_rule": None, "peak_lr": 0.8},
            "inside the fit, the warm-up climbed towards 0.8 and reached it: the best peak may "
            "lie higher still",
        ),
        (
            {"reached": False, "stop_rule": "died_back"},
            "inside the fit, the warm-up climbed towards 0.8 and stopped at step 40 where the "
            "training loss gave back most of its fall, annealing from 0.4 (6 steps rolled back",
        ),
        (
            {"reached": False, "stop_rule": "rise"},
            "stopped at step 40 where the training loss rose, annealing from 0.4",
        ),
        (
            {"reached": False, "stop_rule": None},
            "and the fit ended at step 40, before the warm-up did, at 0.4",
        ),
    ],
)
def test_a_climb_that_found_no_peak_keeps_the_early_edge_and_says_where_the_run_trained(
    outcome, says
):
    """The reason stays, so the verdict does, but its advice (a run at a higher peak) now
    comes with the peak the run already trained at; other reasons are left as they were."""
    early_reason = f"{EARLY_EDGE}: the validation loss had fallen only 12% below chance"
    other = "the sweeps disagree"
    reliability = Reliability("unreliable", reasons=[early_reason, other])
    ended = {"target_lr": 0.8, "peak_lr": 0.4, "stopped_at_step": 40, "discarded_steps": 6}
    after = settled(reliability, {**ended, **outcome, "found_peak": False})
    assert after.verdict == "unreliable"
    assert after.reasons[0].startswith(f"{early_reason}; inside the fit, the warm-up")
    assert says in after.reasons[0]
    assert after.reasons[1] == other


@pytest.mark.backend_neutral
def test_a_climb_the_run_takes_leaves_the_cycle_alone():
    model, climb = climbed(0.1, allowance=PLAN)
    assert climb.outcome is not None and climb.outcome["reached"]
    assert climb.outcome["discarded_steps"] == 0 and climb.outcome["peak_lr"] == 0.1
    assert iterations(model) == PLAN
    assert model.optimizer._learning_rate.max_lr == 0.1


def early(result: finder.RangeTestResult) -> finder.RangeTestResult:
    """`result` with the verdict's rule 6 reason, as a CNN trained from scratch reads it."""
    reliability = dataclasses.replace(
        result.reliability, verdict="unreliable", reasons=[f"{EARLY_EDGE}: ..."]
    )
    return dataclasses.replace(result, reliability=reliability)


@pytest.fixture(scope="module")
def sgd_result() -> finder.RangeTestResult:
    x, y, _, _ = digits_split()
    model = make_model(keras.optimizers.SGD(learning_rate=0.01))
    return finder.range_test(
        model, x, y, batch_size=BATCH, plan=Plan(EPOCHS, STEPS), plan_steps=PLAN
    )


def test_only_an_edge_read_early_climbs(sgd_result):
    first = sgd_result.proposals[0]
    assert sgd_result.bounds.edge_lr is not None
    assert not climbs(sgd_result, first)
    assert climbs(early(sgd_result), first)
    climbing = climbing_proposal(early(sgd_result), first)
    assert climbing.spec.params["max_lr"] == pytest.approx(
        CLIMB_MULTIPLE * sgd_result.bounds.edge_lr
    )
    # A capped edge (Lion's), or a cycle that also cycles momentum, keeps its peak.
    lion = dataclasses.replace(early(sgd_result), optimizer={"name": "Lion"})
    assert not climbs(lion, first)
    with_momentum = dataclasses.replace(
        first,
        spec=ScheduleSpec("one_cycle", {**first.spec.params, "cycle_momentum": True}),
    )
    assert not climbs(early(sgd_result), with_momentum)
    # A fit whose batch hooks fire once per several steps cannot be watched step by step.
    several = make_model(keras.optimizers.SGD(learning_rate=0.01))
    several.compile(optimizer=several.optimizer, loss=several.loss, steps_per_execution=4)
    assert climbs(early(sgd_result), first, make_model(keras.optimizers.SGD()))
    assert not climbs(early(sgd_result), first, several)


def force_read_early(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """The route that calls `climbs` by the name `where` sees every result read early."""
    real_climbs = climb_module.climbs

    def read_early(result, proposal, model=None):
        return real_climbs(early(result), proposal, model)

    monkeypatch.setattr(where, read_early)


@pytest.mark.backend_neutral
def test_finder_fit_climbs_after_an_edge_read_early_and_reports_it(monkeypatch):
    """The test inside the fit (a 752-step plan): with the verdict's rule 6 forced on the
    result, the fit warms up towards four times the edge, warns, and records the climb; the
    steps a rollback throws away count in `extra_steps` with the ramp's."""
    force_read_early(monkeypatch, "finder.lr_finder.callback.climbs")
    x, y, _, _ = digits_split()
    model = make_model(keras.optimizers.SGD(learning_rate=0.01))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = finder.fit(model, x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    result = history.range_test_result
    handover, climb = result.auto["handover"], result.auto["climb"]
    assert history.proposal.spec.params["max_lr"] == pytest.approx(
        CLIMB_MULTIPLE * result.bounds.edge_lr
    )
    assert climb["target_lr"] == history.proposal.spec.params["max_lr"]
    assert result.extra_steps == handover["discarded_steps"] + climb["discarded_steps"]
    assert result.extra_steps <= max(100, PLAN // 10)
    messages = [str(w.message) for w in caught if w.category is finder.UnreliableAnswerWarning]
    assert any("climbs towards" in message for message in messages)


def test_the_callback_says_at_the_fits_end_what_its_climb_did(monkeypatch, capsys):
    """`LearningRateFinder(verbose=1)`: a line at the handover, and one at the end of the fit
    on where the climb took the run, as `result.auto["climb"]` records it."""
    force_read_early(monkeypatch, "finder.lr_finder.callback.climbs")
    x, y, _, _ = digits_split()
    model = make_model(keras.optimizers.SGD(learning_rate=0.01))
    lr_finder = finder.LearningRateFinder(verbose=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", finder.UnreliableAnswerWarning)
        model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, callbacks=[lr_finder], verbose=0)
    climb = lr_finder.result.auto["climb"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith(
        f"finder: the warm-up climbed towards {climb['target_lr']:.3g} and "
        + ("reached it" if climb["reached"] else f"stopped at step {climb['stopped_at_step']}")
    )


@pytest.mark.backend_neutral
def test_finder_fit_climbs_after_a_test_before_a_short_fit(monkeypatch):
    """A 188-step plan: the test runs before the fit, and takes all of the 100 steps it may,
    so the climb cannot roll back."""
    force_read_early(monkeypatch, "finder.lr_finder.climb.climbs")
    x, y, _, _ = digits_split()
    model = make_model(keras.optimizers.SGD(learning_rate=0.01))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", finder.UnreliableAnswerWarning)
        history = finder.fit(model, x, y, epochs=1, batch_size=BATCH, verbose=0)
    result = history.range_test_result
    climb = result.auto["climb"]
    assert climb["target_lr"] == pytest.approx(CLIMB_MULTIPLE * result.bounds.edge_lr)
    assert result.extra_steps == result.steps_run + climb["discarded_steps"] <= 100


class ScriptedLoss(keras.Model):
    """A model whose training loss follows `script`, one value a step, for the guard's rules
    alone (the tests above train for real): each step is a real optimizer step with zero
    gradients, so the step counter, the schedule and the snapshots move as in a fit."""

    def __init__(self, script: np.ndarray) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.script = script

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        step = int(keras.ops.convert_to_numpy(self.optimizer.iterations))
        self._loss_tracker.update_state(float(self.script[min(step, len(self.script) - 1)]))
        zeros = [keras.ops.zeros_like(v) for v in self.trainable_variables]
        self.optimizer.apply_gradients(zip(zeros, self.trainable_variables, strict=True))
        return {"loss": self._loss_tracker.result()}


SCRIPTED_PLAN = 600  # 6 epochs of 100 steps; the warm-up ends at step 180
CHANCE = float(np.log(10.0))


def scripted_climb(
    script: np.ndarray, chance: float | None, history: np.ndarray | None = None
) -> PeakClimb:
    spec = ScheduleSpec("one_cycle", {"max_lr": 1.0, "total_steps": SCRIPTED_PLAN})
    proposal = Proposal(0, spec, "test", "test", Plan(6, 100))
    model = ScriptedLoss(script)
    model(np.zeros((1, 1), "float32"))  # builds the kernel the optimizer steps
    model.compile(optimizer=keras.optimizers.SGD(proposal.to_keras()), loss="mse", run_eagerly=True)
    climb = PeakClimb(
        proposal,
        batches_left=SCRIPTED_PLAN,
        allowance=SCRIPTED_PLAN,
        floor=0.1,
        chance=chance,
        history=() if history is None else [float(loss) for loss in history],
    )
    x = np.zeros((100, 1), "float32")
    model.fit(x, x, epochs=6, batch_size=1, callbacks=[climb], shuffle=False, verbose=0)
    assert climb.outcome is not None
    return climb


def test_a_loss_that_dies_back_towards_chance_stops_the_climb_below_a_fifths_rise():
    """The loss falls from chance (2.30) to 2.00 over 60 steps, then climbs back to 2.28 by
    step 120 and stays: 14% above its lowest, under the 20% rise, but nine tenths of the way
    back to chance. The climb stops there and rolls back, and the stop does not count as a
    peak found (a run that had learned so little cannot tell its limit), measured against the
    chance loss or, without one, against where the climb started."""
    script = np.concatenate(
        [np.linspace(CHANCE, 2.0, 60), np.linspace(2.0, 2.28, 60), np.full(480, 2.28)]
    )
    assert script.max() / 2.0 < 1 + climb_module.RISE
    for chance in (CHANCE, None):
        climb = scripted_climb(script, chance)
        outcome = climb.outcome
        assert outcome["stop_rule"] == "died_back" and not outcome["reached"]
        assert 60 < outcome["stopped_at_step"] < 180 and outcome["rollback_step"] is not None
        assert outcome["peak_lr"] > climb.floor and not outcome["found_peak"]


def test_a_loss_that_stays_down_lets_the_climb_reach_its_target():
    noise = 0.02 * np.random.default_rng(0).standard_normal(540)
    script = np.concatenate([np.linspace(CHANCE, 2.0, 60), 2.0 + noise])
    outcome = scripted_climb(script, CHANCE).outcome
    assert outcome["reached"] and outcome["stop_rule"] is None


def test_a_collapse_in_the_climbs_first_steps_stops_it_when_the_ramp_came_before():
    """Inside the fit the climb starts where the ramp left the loss (2.00, after falling from
    chance over 60 steps) and the rate is already high: here the loss is back at 2.28 within
    ten steps. From its own steps alone the guard would see a loss that never fell (its
    first smoothed values are near 2.28) and let the climb run to its target; with the ramp's
    losses as its history it stops once the smoothed loss has followed the collapse (a couple
    of smoothing windows), and rolls back to the climb's first step."""
    script = np.concatenate([np.linspace(2.0, 2.28, 10), np.full(590, 2.28)])
    ramp = np.linspace(CHANCE, 2.0, 60)
    assert scripted_climb(script, CHANCE).outcome["reached"]
    for chance in (CHANCE, None):
        outcome = scripted_climb(script, chance, history=ramp).outcome
        assert outcome["stop_rule"] == "died_back" and not outcome["reached"]
        assert outcome["stopped_at_step"] < 3 * climb_module.WINDOW
        assert outcome["rollback_step"] == 0 and not outcome["found_peak"]

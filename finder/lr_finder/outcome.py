"""What the in-fit test leaves behind: `Handover` (where the ramp handed the fit over), the
schedule it installs (`use_schedule`, shared with `finder.fit`), the warning on an unreliable
answer, one line on the handover and one on the climb, and the files of `save_dir`."""

from __future__ import annotations

import json
import math
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from finder.errors import UnreliableAnswerWarning
from finder.host import innermost_optimizer
from finder.plot import plot_range_test
from finder.propose import Proposal
from finder.rangetest.model_state import initial_learning_rate
from finder.rangetest.result import RangeTestResult


@dataclass(frozen=True)
class Handover:
    """Where the ramp handed the fit over to the proposal."""

    ramp_steps: int
    rollback_step: int
    remaining_steps: int
    peak_lr: float | None

    @property
    def discarded_steps(self) -> int:
        """The ramp's steps past the rollback snapshot: the test's cost to the run."""
        return self.ramp_steps - self.rollback_step

    def to_dict(self) -> dict[str, Any]:
        return {
            "ramp_steps": self.ramp_steps,
            "rollback_step": self.rollback_step,
            "discarded_steps": self.discarded_steps,
            "remaining_steps": self.remaining_steps,
            "peak_lr": self.peak_lr,
        }


def warn_if_unreliable(
    result: RangeTestResult, model: keras.Model, caller: str, climb: Proposal | None = None
) -> None:
    """Warn (`UnreliableAnswerWarning`) when the model trains on an answer the test calls
    unreliable, or, with no bounds, on the optimizer's own learning rate; `climb`, the
    climbing 1cycle the fit trains with instead of the first proposal
    (`finder.lr_finder.climb`), is named."""
    reliability = result.reliability
    if reliability is None or reliability.reliable:
        return
    reasons = "; ".join(reliability.reasons)
    if result.bounds.max_lr is None:
        message = (
            f"{caller}: the range test found no bounds, so the model trains with the "
            f"{_own_rate(model)} as compiled: {reasons}"
        )
    else:
        message = f"{caller}: training on an unreliable range test: {reasons}"
        if climb is not None:
            message += (
                f"; so the 1cycle's warm-up climbs towards {climb.spec.params['max_lr']:.3g} "
                "and stops where the training loss rises (result.auto['climb'] says where)"
            )
    warnings.warn(message, UnreliableAnswerWarning, stacklevel=4)


def _own_rate(model: keras.Model) -> str:
    """The optimizer's own learning rate, as the fit will go on with it: a float's value, or a
    schedule's name and its value at the optimizer's step counter, where Keras evaluates it
    (an optimizer that trained before is past its schedule's start)."""
    optimizer = innermost_optimizer(model.optimizer)
    own = optimizer._learning_rate
    if not isinstance(own, keras.optimizers.schedules.LearningRateSchedule):
        rate = initial_learning_rate(optimizer)
        return "optimizer's own learning rate" + (f" ({rate:.3g})" if rate is not None else "")
    name = type(getattr(own, "schedule", own)).__name__  # a `StartingAt` names what it starts
    try:
        now = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # noqa: BLE001 - a custom schedule that fails here: named without a value
        return f"optimizer's own learning-rate schedule ({name})"
    return f"optimizer's own learning-rate schedule ({name}, at {now:.3g} for its next step)"


def describe_handover(
    result: RangeTestResult, handover: Handover, proposal: Proposal | None
) -> str:
    """One line on what the ramp found and how the fit goes on."""
    verdict = result.reliability.verdict if result.reliability is not None else "?"
    head = f"finder: range test over the first {handover.ramp_steps} steps ({verdict})"
    if proposal is None:
        # The verdict's first reason is the most specific (NaN weights behind a flat loss, say);
        # the bounds' note only describes the curve.
        reasons = result.reliability.reasons if result.reliability is not None else []
        why = reasons[0] if reasons else result.bounds.note
        return (
            f"{head}: no bounds ({why}); training on with the optimizer's own "
            f"learning rate, {handover.remaining_steps} steps left"
        )
    target = float(proposal.spec.params["max_lr"])
    shape = (
        f"1cycle peaking at {target:.3g}"
        if handover.peak_lr is None or math.isclose(target, handover.peak_lr)
        else f"1cycle climbing towards {target:.3g} (the edge read early; it stops where the "
        "training loss rises)"
    )
    return (
        f"{head}: {shape}, resumed from step {handover.rollback_step} "
        f"({handover.discarded_steps} steps discarded), {handover.remaining_steps} steps left"
    )


# Why a climb stopped, by its `stop_rule` (`finder.lr_finder.climb.PeakClimb.outcome`).
CLIMB_STOPS = {
    "rise": "where the training loss rose",
    "died_back": "where the training loss gave back most of its fall",
    "not_finite": "where the training loss was not finite",
}


def describe_climb(outcome: dict[str, Any]) -> str:
    """What a guarded climb did (`finder.lr_finder.climb`): its target, and whether it reached
    it, stopped (why, and the rate the cycle annealed from) or ran into the fit's end; an
    outcome without `stop_rule` reads as a stop where the loss rose."""
    head = f"the warm-up climbed towards {outcome['target_lr']:.3g} and"
    if outcome["reached"]:
        return f"{head} reached it"
    step, rule, peak = (
        outcome["stopped_at_step"],
        outcome.get("stop_rule", "rise"),
        outcome["peak_lr"],
    )
    if rule is None:
        return f"{head} the fit ended at step {step}, before the warm-up did, at {peak:.3g}"
    return (
        f"{head} stopped at step {step} {CLIMB_STOPS.get(rule, CLIMB_STOPS['rise'])}, annealing "
        f"from {peak:.3g} ({outcome['discarded_steps']} steps rolled back, in the cost)"
    )


def save(result: RangeTestResult, proposal: Proposal | None, directory: Path) -> list[Path]:
    """Write `result.json`, `curve.png` and `proposal.json` (when there is one) into
    `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [result.save(directory / "result.json"), directory / "curve.png"]
    plot_range_test(result, path=paths[1])
    if proposal is not None:
        paths.append(directory / "proposal.json")
        paths[2].write_text(json.dumps(proposal.to_dict(), indent=2))
    return paths


def use_schedule(model: keras.Model, proposal: Proposal, start_step: int) -> None:
    """Set the optimizer's learning rate to `proposal`'s schedule, counted from optimizer step
    `start_step`, the fit's first (an optimizer that trained before carries its step counter
    on: `finder.schedules.offset`).

    Keras accepts a new schedule object on any optimizer (the first proposal is always one).
    A train function already traced (by the range test, or an earlier `fit`) read the old
    rate variable as it was traced, so it is rebuilt. The rate it replaces is kept for
    `reinstate_own_learning_rate`.
    """
    optimizer = innermost_optimizer(model.optimizer)
    schedule = proposal.to_keras(start_step)
    own, installed = _INSTALLED.get(optimizer, (None, None))
    if installed is None or optimizer._learning_rate is not installed:
        own = optimizer._learning_rate  # the user's own, which finder's schedules replace
    optimizer.learning_rate = schedule
    _INSTALLED[optimizer] = (own, schedule)
    model.make_train_function(force=True)


# Per optimizer, the learning rate its user gave it (a variable or their schedule) and the
# schedule finder last installed in its place. Kept beside the optimizer, not on it, so
# nothing of finder's is tracked in the optimizer's checkpoints.
_INSTALLED: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()


def reinstate_own_learning_rate(model: keras.Model) -> bool:
    """Give the optimizer back the learning rate its user gave it, where it still runs a
    schedule `use_schedule` installed (an earlier `finder.fit` on this model): a new test
    anchors its grid at the user's rate, and a fit without bounds trains at it, not on the
    spent end of the last cycle. Whether it did."""
    optimizer = innermost_optimizer(model.optimizer)
    own, installed = _INSTALLED.get(optimizer, (None, None))
    if installed is None or optimizer._learning_rate is not installed:
        return False
    optimizer._learning_rate = own
    model.train_function = None  # traced with the schedule: trace it again
    del _INSTALLED[optimizer]
    return True

"""Ranked schedule proposals from a range test's bounds and a training plan.

With `lo = bounds.min_lr`, `hi = bounds.max_lr`, `edge = bounds.edge_lr` (`edge = 2 hi`,
`lo = hi / 4`, see `finder.suggest.smith_bounds`) and a plan of `E` epochs of `S` steps
(`T = E * S` optimizer steps), the rules are:

```
1. one_cycle       max_lr = edge (2 edge when T < 500), total_steps = T, pct_start 0.3,
                   div_factor 25, final_div_factor 1e4, cosine anneal; momentum cycled
                   0.95 -> 0.85 -> 0.95 when the optimizer has momentum (SGD momentum > 0,
                   Adam, AdamW)
2. cosine_warmup   warm up linearly from lo to hi over max(1, round(0.05 T)) steps, then
                   cosine decay to 0 at T
3. wsd             the same warm-up, hold hi, then decay as 1 - sqrt to 0 over the last
                   max(1, round(0.2 T)) steps
4. cyclical        triangular2 between lo and hi, step_size_up = S * max(1, round(E / 5))
5. exponential     from hi, decaying by a factor 4 over T (reaches lo at the end)
6. plateau         constant hi, times 0.1 when val_loss stalls for max(1, round(E / 10))
                   epochs, floor lo / 100
```

An optimizer in `CONSTANT_RATE_OPTIMIZERS` (Ftrl) gets one proposal instead: a constant LR at
`hi`, which for it is the best of the auto range's constant-LR trials (`finder.rangetest.trials`).

Why the peaks differ: 1cycle spends only a short time at its peak, between a warm-up from
peak/25 and a long anneal, so it can run at the edge of stability (Smith's super-convergence
recipe uses the range test's turning point as the cycle's maximum). Schedules that stay high
for long take the constant-safe bound `hi`, half the edge. On full Fashion-MNIST with
`fashion_cnn` and SGD this machine measured 1cycle peaks of 0.25 / 0.5 / 1.0 at val_accuracy
0.863 / 0.874 / 0.872 after 10 epochs, while range tests put `edge` at ~0.5; see BENCHMARKS.md.

Evidence across architectures (`bench/suite.py`, seven tasks, 3 seeds, BENCHMARKS.md): 1cycle at
`edge` reaches >= 0.995 of a grid oracle on 4 tasks (MLP + Adam, fine-tuning + SGD momentum,
transformer + AdamW, fashion_cnn + SGD) and 0.992-0.994 on two (ResNet + BatchNorm, whose best
1cycle peak sits 4-5x above the edge; digits + RMSprop). The oracle's best 1cycle peak is within
half a decade of `edge` on five tasks, so the rule is kept for every optimizer family. It fails on
the 353-sample regression (`diabetes_mse_adam`, 0.875 of the oracle): there the best LR is set
by overfitting over 40 epochs, not by stability, and the range test reports "unreliable".

Why a plan under 500 steps (`SHORT_PLAN_STEPS`) gets its 1cycle peak at twice the edge
(`SHORT_PLAN_PEAK_MULTIPLE`): the fewer steps a run has, the higher its best LR. A fixed budget
of steps covers a distance in weight space that grows with the LR, so a short run gains more
from a higher peak and has fewer steps at it to go unstable (the optimal LR falls as a power of
the training horizon: Bjorck et al., 2024, "Scaling Optimal LR Across Token Horizons",
arXiv:2409.19913; Smith and Topin's super-convergence is the same effect for 1cycle). The suite
measures it on two hosts of different architecture and data, each over a short plan (digits MLP
over 360 steps, a small CNN over 376) and one about twice as long (900 and 752 steps), with
every Keras optimizer (`bench/tasks.py`, BENCHMARKS.md): over the short plans the grid's best
peak sat above the edge for most optimizers, on both hosts, while over the longer plans it sat
at or below it for most (SGD on the CNN and Adagrad, whose edges the verdict flags, excepted). A
1cycle at twice the edge raised the first proposal's mean against the oracle on both short hosts
and its worst task on both, where three times the edge lost again on the CNN. The step at 500
steps is where the suite's evidence changes (no plan length between 376 and 752 was measured),
not a fitted curve. The other proposals keep their peaks: only the first, the one `finder.fit`
trains, was measured at the multiple. Whether a run this short wants a shorter warm-up than
1cycle's 30% was measured too: a cosine with a 5% warm-up at the same peak, on both short hosts,
came out within the seeds' noise of the 1cycle overall, its gains and losses per optimizer going
both ways and several changing sign from one host to the other, so the first proposal stays a
1cycle (BENCHMARKS.md, design `short_cosine`).

Why wsd decays over the last 20%: Hägele et al. (2024, arXiv:2405.18392) find that a cooldown
over the last 10-20% of the steps matches cosine decay, and that the `1 - sqrt` shape beats a
linear one; warmup-stable-decay is MiniCPM's schedule (Hu et al., 2024, arXiv:2404.06395).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from finder.errors import InvalidArgumentError
from finder.schedules import ScheduleSpec
from finder.suggest import Bounds


class Measured(Protocol):
    """What proposals read of a `RangeTestResult` (which holds its proposals, and so is built
    above this module): its bounds and the optimizer it ran with."""

    @property
    def bounds(self) -> Bounds: ...

    @property
    def optimizer(self) -> dict[str, Any]: ...


CURVE_POINTS = 200
MOMENTUM_OPTIMIZERS = ("SGD", "Adam", "AdamW")
WARMUP_FRACTION = 0.05
EXPONENTIAL_TOTAL_DECAY = 4.0
WSD_DECAY_FRACTION = 0.2
ONE_CYCLE_PCT_START = 0.3  # `OneCycle`'s default, which the first proposal keeps
# A plan shorter than this gets its 1cycle peak at a multiple of the edge (module docstring).
SHORT_PLAN_STEPS = 500
SHORT_PLAN_PEAK_MULTIPLE = 2.0
# Optimizers trained at one constant LR on any plan, by their class name: their model scales
# with the current LR, so a schedule rescales it as it goes; the auto range picks the LR with
# constant-LR trials (`finder.rangetest.calibration`, `finder.rangetest.trials`).
CONSTANT_RATE_OPTIMIZERS = frozenset({"Ftrl"})


@dataclass(frozen=True)
class Plan:
    """A training plan: `epochs` of `steps_per_epoch` optimizer steps."""

    epochs: int
    steps_per_epoch: int

    def __post_init__(self) -> None:
        for name in ("epochs", "steps_per_epoch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(
                    f"Argument `{name}` must be an integer >= 1. Received: {name}={value!r}"
                )

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def to_dict(self) -> dict[str, int]:
        return {
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
        }


@dataclass(frozen=True)
class Proposal:
    """One ready schedule: its spec, why, the rule that sized it, and its sampled LR curve."""

    rank: int
    spec: ScheduleSpec
    rationale: str
    rule: str
    plan: Plan

    @property
    def family(self) -> str:
        return self.spec.family

    def to_keras(self, start_step: int = 0) -> Any:
        """The `learning_rate` argument for a Keras optimizer (schedule object or float), for
        a run that starts at optimizer step `start_step` (`ScheduleSpec.to_keras`)."""
        return self.spec.to_keras(start_step)

    def callbacks(self, start_step: int = 0) -> list[Any]:
        """Keras callbacks the schedule needs (ReduceLROnPlateau, MomentumCycler, ...), from
        optimizer step `start_step`."""
        return self.spec.callbacks(start_step)

    def curve(self, points: int = CURVE_POINTS) -> dict[str, list[float]]:
        """The LR at up to `points` evenly spread steps, for dashboards."""
        total = self.plan.total_steps
        steps = np.unique(np.linspace(0, total - 1, min(points, total)).round().astype(np.int64))
        return {"steps": steps.tolist(), "lrs": self.spec.lr_at(steps).tolist()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "family": self.family,
            "spec": self.spec.to_dict(),
            "rationale": self.rationale,
            "rule": self.rule,
            "plan": self.plan.to_dict(),
            "curve": self.curve(),
            "code": self.spec.to_code(),
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Proposal:
        plan = document["plan"]
        return cls(
            rank=int(document["rank"]),
            spec=ScheduleSpec.from_dict(document["spec"]),
            rationale=document["rationale"],
            rule=document["rule"],
            plan=Plan(int(plan["epochs"]), int(plan["steps_per_epoch"])),
        )


def _name_and_config(optimizer: Any) -> tuple[str, dict[str, Any]]:
    """The update rule's name (`finder.host.update_rule`) and the config of the optimizer that
    owns the learning rate, from a Keras optimizer or a `{"name", "config"}` description (whose
    `update_rule`, when there is one, names the rule, and whose loss-scaling wrapper's config
    holds the inner optimizer's)."""
    if isinstance(optimizer, dict):
        config = optimizer.get("config", {})
        inner = config.get("inner_optimizer")
        if isinstance(inner, dict) and isinstance(inner.get("config"), dict):
            config = inner["config"]
        return optimizer.get("update_rule") or optimizer.get("name", ""), config
    # Imported here: `finder.host` imports keras, whose import hook loads `finder.schedules`,
    # which this module imports first.
    from finder.host import innermost_optimizer, update_rule

    return update_rule(optimizer), innermost_optimizer(optimizer).get_config()


def has_momentum(optimizer: Any) -> bool:
    """Whether a Keras optimizer (or a `{"name", "config"}` description) can cycle momentum."""
    name, config = _name_and_config(optimizer)
    if name not in MOMENTUM_OPTIMIZERS:
        return False
    return name != "SGD" or float(config.get("momentum", 0.0) or 0.0) > 0.0


def propose_schedules(
    result: Measured, *, epochs: int, steps_per_epoch: int, optimizer: Any = None
) -> list[Proposal]:
    """Ranked proposals for training `epochs` x `steps_per_epoch` steps; the first is finder's
    recommendation. The rules are in this module's docstring.

    Args:
        result: a `RangeTestResult` with bounds.
        epochs: int. Epochs of the planned training run.
        steps_per_epoch: int. Optimizer steps per epoch.
        optimizer: a Keras optimizer or `{"name", "config"}`; decides momentum cycling.
            Defaults to the optimizer the range test ran with.

    Returns:
        A list of `Proposal`, best first.

    Raises:
        InvalidArgumentError: a non-positive plan, or a result without bounds (its
            `bounds.note` says why, e.g. the loss never fell).
    """
    plan = Plan(epochs, steps_per_epoch)
    return ranked(result.bounds, optimizer if optimizer is not None else result.optimizer, plan)


def proposals_for(bounds: Bounds, optimizer: Any, plan: Plan) -> list[Proposal]:
    """The proposals a range test's result holds for `plan`: `ranked`, or none when the test
    found no bounds (`bounds.note` then says why)."""
    if bounds.max_lr is None or bounds.min_lr is None or bounds.edge_lr is None:
        return []
    return ranked(bounds, optimizer, plan)


def ranked(bounds: Bounds, optimizer: Any, plan: Plan) -> list[Proposal]:
    """The proposals from `bounds`, best first (this module's rules; `optimizer`, a Keras
    optimizer or `{"name", "config"}`, decides momentum cycling).

    (Its body runs to ~80 lines because most of it is one table: a spec, a rationale and a
    rule per family, in rank order. Kept in one place so the ranking reads top to bottom.)

    Raises:
        InvalidArgumentError: `bounds` are incomplete (their `note` says why).
    """
    if bounds.max_lr is None or bounds.min_lr is None or bounds.edge_lr is None:
        raise InvalidArgumentError(f"No bounds to propose schedules from: {bounds.note}")
    name, _ = _name_and_config(optimizer)
    if name in CONSTANT_RATE_OPTIMIZERS:
        rate = float(bounds.max_lr)
        return [
            Proposal(
                rank=1,
                spec=ScheduleSpec("constant", {"learning_rate": rate}),
                rationale=(
                    f"constant {rate:.3g}, the best of the constant-LR trials: {name} scales its "
                    "model with the current LR, so any schedule would rescale it as it goes"
                ),
                rule="learning_rate = bounds.max_lr (the trials' pick), on any plan",
                plan=plan,
            )
        ]
    epochs, steps_per_epoch = plan.epochs, plan.steps_per_epoch
    lo, hi, edge = float(bounds.min_lr), float(bounds.max_lr), float(bounds.edge_lr)
    total = plan.total_steps
    cycle_momentum = has_momentum(optimizer)
    warmup = max(1, round(WARMUP_FRACTION * total))
    wsd_decay = max(1, round(WSD_DECAY_FRACTION * total))
    step_size = steps_per_epoch * max(1, round(epochs / 5))
    patience = max(1, round(epochs / 10))
    short = total < SHORT_PLAN_STEPS
    peak = edge * SHORT_PLAN_PEAK_MULTIPLE if short else edge
    one_cycle_params: dict[str, Any] = {"max_lr": peak, "total_steps": total}
    if cycle_momentum:
        one_cycle_params.update(cycle_momentum=True, base_momentum=0.85, max_momentum=0.95)
    where = (
        f"at {SHORT_PLAN_PEAK_MULTIPLE:g}x the edge of stability ({edge:.3g}, where the loss "
        f"turned up), as a {total}-step plan is short enough to gain from a higher peak"
        if short
        else f"at the edge of stability ({edge:.3g}), where the loss turned up"
    )
    candidates = [
        (
            ScheduleSpec("one_cycle", one_cycle_params),
            f"1cycle peaking {where}; its short peak between warm-up and anneal tolerates it"
            + (", with momentum cycled inversely" if cycle_momentum else ""),
            f"max_lr = bounds.edge_lr (x{SHORT_PLAN_PEAK_MULTIPLE:g} when T < "
            f"{SHORT_PLAN_STEPS}); total_steps = epochs * steps_per_epoch",
        ),
        (
            ScheduleSpec(
                "cosine_warmup",
                {"max_lr": hi, "total_steps": total, "warmup_steps": warmup, "initial_lr": lo},
            ),
            f"linear warm-up to the constant-safe bound {hi:.3g}, then cosine decay to 0",
            "warmup lo -> hi over max(1, round(0.05 T)) steps; cosine to 0 at T",
        ),
        (
            ScheduleSpec(
                "wsd",
                {
                    "max_lr": hi,
                    "total_steps": total,
                    "warmup_steps": warmup,
                    "decay_steps": wsd_decay,
                    "initial_lr": lo,
                    "decay": "sqrt",
                },
            ),
            f"linear warm-up to the constant-safe bound {hi:.3g}, held there, then a 1-sqrt "
            "cooldown to 0 over the last 20% of the run",
            "warmup lo -> hi over max(1, round(0.05 T)) steps; hold hi; "
            "1 - sqrt decay to 0 over the last max(1, round(0.2 T)) steps",
        ),
        (
            ScheduleSpec(
                "cyclical",
                {"base_lr": lo, "max_lr": hi, "step_size_up": step_size, "mode": "triangular2"},
            ),
            f"Smith's CLR between the bounds {lo:.3g} and {hi:.3g}, amplitude halving each cycle",
            "triangular2, base_lr = lo, max_lr = hi, step_size_up = S * max(1, round(E / 5))",
        ),
        (
            ScheduleSpec(
                "exponential",
                {"initial_lr": hi, "decay_steps": total, "decay_rate": 1 / EXPONENTIAL_TOTAL_DECAY},
            ),
            f"exponential decay from {hi:.3g} to the lower bound {lo:.3g} over the run",
            "initial_lr = hi, decay_rate = 1/4 over T steps",
        ),
        (
            ScheduleSpec(
                "plateau",
                {
                    "initial_lr": hi,
                    "factor": 0.1,
                    "patience": patience,
                    "min_lr": lo / 100,
                    "monitor": "val_loss",
                },
            ),
            f"constant {hi:.3g}, cut 10x whenever val_loss stalls (needs validation data)",
            "initial_lr = hi, factor 0.1, patience max(1, round(E / 10)), min_lr = lo / 100",
        ),
    ]
    return [
        Proposal(rank=rank, spec=spec, rationale=rationale, rule=rule, plan=plan)
        for rank, (spec, rationale, rule) in enumerate(candidates, start=1)
    ]


def default_steps_per_epoch(samples: int, batch_size: int) -> int:
    """Steps in one pass over `samples` at `batch_size` (the last batch may be partial)."""
    return max(1, math.ceil(samples / batch_size))


class Proposed(Protocol):
    """A result that holds its proposals (`RangeTestResult`)."""

    @property
    def proposals(self) -> list[Proposal]: ...


def first_proposal(result: Proposed) -> Proposal | None:
    """The first of the proposals `result` holds, None when it holds none (no plan, or the
    test found no bounds)."""
    return result.proposals[0] if result.proposals else None


def resume_after_ramp(
    proposal: Proposal, *, warmed_up: int, remaining: int, keep_warmup: bool = False
) -> Proposal:
    """`proposal` (a 1cycle) for a run whose first `warmed_up` steps were the range test's
    ramp, with `remaining` steps left to train; the run resumes at optimizer step `warmed_up`.

    The cycle spans `T = warmed_up + remaining` steps, so it ends with the run. By default it
    resumes at its peak (`pct_start = warmed_up / T`: the ramp was its warm-up) and anneals
    over every step left. With `keep_warmup` it keeps its own shape, `pct_start = max(p,
    warmed_up / T)` with `p` the proposal's (0.3): the ramp stands in for the cycle's first
    `warmed_up` steps and the run goes on along the cycle's linear warm-up from there (the
    benchmark's design `in_fit_cycle`). With `warmed_up == 0` both are the plain cycle over
    `remaining`.

    Raises:
        InvalidArgumentError: `proposal` is not a 1cycle, or `remaining < 1`.
    """
    if proposal.family != "one_cycle":
        raise InvalidArgumentError(
            f"Only a 1cycle can resume after the ramp. Received: family={proposal.family!r}"
        )
    if remaining < 1:
        raise InvalidArgumentError(f"Argument `remaining` must be >= 1. Received: {remaining}")
    total = warmed_up + remaining
    params = dict(proposal.spec.params, total_steps=total)
    if warmed_up > 0:
        own = float(params.get("pct_start", ONE_CYCLE_PCT_START))
        params["pct_start"] = max(own, warmed_up / total) if keep_warmup else warmed_up / total
    rationale = (
        f"{proposal.rationale}; the range test's {warmed_up}-step ramp stood in for the "
        f"cycle's first steps, and it runs on over the {remaining} steps left"
        if warmed_up > 0
        else proposal.rationale
    )
    return Proposal(
        rank=proposal.rank,
        spec=ScheduleSpec("one_cycle", params),
        rationale=rationale,
        rule=proposal.rule,
        plan=proposal.plan,
    )

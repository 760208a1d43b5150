"""The one registry of schedule families: name, parameters, and which bound their LR comes from.

Everything that lists families reads this table: `ScheduleSpec` (`finder.schedules.spec`, which
adds how each family builds its Keras object), the tuning space (`finder.tuning.space`, which
adds each family's tuned shape parameters), the service's request models (`FamilyName`) and,
through `GET /builtins`, the dashboard. It is plain data, importable without Keras, so that the
service's API process can read it without loading TensorFlow.

The bounds rule (`finder.tuning.space`): a `"peak"` family's LR is a brief peak (warm up, then
anneal) and searches `[max_lr / 2, 2 edge_lr]`; a `"held"` family keeps its LR near the peak for
long and searches `[min_lr, edge_lr]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

MOMENTUM_PARAMS = ("cycle_momentum", "base_momentum", "max_momentum")


@dataclass(frozen=True)
class Family:
    """A schedule family: its `ScheduleSpec` params (required, then optional), the name of its
    learning rate in a tuning space (tuned on a log scale; `piecewise_constant`'s is its first
    value) and its bounds rule."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    lr_param: str
    bounds: Literal["peak", "held"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "required": list(self.required),
            "optional": list(self.optional),
            "lr_param": self.lr_param,
            "bounds": self.bounds,
            "default": self.name in DEFAULT_TUNED_FAMILIES,
        }


_DECAY = ("initial_lr", "decay_steps", "decay_rate")

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("constant", ("learning_rate",), (), "learning_rate", "held"),
        Family(
            "cosine_warmup",
            ("max_lr", "total_steps", "warmup_steps"),
            ("initial_lr", "alpha"),
            "max_lr",
            "peak",
        ),
        Family(
            "cyclical",
            ("base_lr", "max_lr", "step_size_up", "mode"),
            ("step_size_down", "gamma"),
            "max_lr",
            "held",
        ),
        Family("exponential", _DECAY, ("staircase",), "initial_lr", "held"),
        Family("inverse_time", _DECAY, ("staircase",), "initial_lr", "held"),
        Family(
            "one_cycle",
            ("max_lr", "total_steps"),
            ("pct_start", "div_factor", "final_div_factor", "anneal", "three_phase")
            + MOMENTUM_PARAMS,
            "max_lr",
            "peak",
        ),
        Family("piecewise_constant", ("boundaries", "values"), (), "initial_lr", "held"),
        Family(
            "plateau",
            ("initial_lr",),
            ("factor", "patience", "min_lr", "monitor", "mode", "min_delta", "cooldown"),
            "initial_lr",
            "held",
        ),
        Family(
            "power",
            ("initial_lr", "decay_steps"),
            ("end_lr", "power", "cycle"),
            "initial_lr",
            "held",
        ),
        Family(
            "wsd",
            ("max_lr", "total_steps", "warmup_steps", "decay_steps"),
            ("initial_lr", "final_lr", "decay"),
            "max_lr",
            "held",
        ),
    )
}

FAMILY_NAMES: tuple[str, ...] = tuple(sorted(FAMILIES))
# The families `finder.tune` searches when given none.
DEFAULT_TUNED_FAMILIES: tuple[str, ...] = ("one_cycle", "cyclical", "cosine_warmup")

"""`SearchSpace`: the schedules keras-tuner may try, with learning rates bounded by a range test.

The space is `hp.Choice("family", families)` and, inside `hp.conditional_scope("family",
[name])`, each family's own parameters. Learning rates are log-uniform; every other parameter
is unitless (fractions of the run, counts of cycles, decay ratios), so one trial's values give
the same schedule shape for any run length (`spec(values, total_steps)`).

Which range a family's LR comes from is its `bounds` in the registry `finder.families`. The
learning-rate rule, from a range test's `Bounds` (`min_lr = max_lr / 4`,
`max_lr = edge_lr / 2`, `edge_lr` = where the lag-free loss turns up):

```
peak_range = [max_lr / 2, 2 * edge_lr]   one_cycle, cosine_warmup: warm up to a brief peak,
                                         then anneal; they tolerate LRs past the edge
held_range = [min_lr, edge_lr]           constant, plateau, exponential, inverse_time, power,
                                         piecewise_constant, cyclical, wsd: the LR stays near
                                         its peak for long, so the edge is the ceiling
```

`wsd` warms up like `cosine_warmup` but then holds its peak for most of the run (65-85% of
the steps here) before its cooldown: for that stretch it is a constant rate, so it is a held
family and the edge is its ceiling.

Both ranges are 8x wide (3 octaves). The peak range is centred on the edge, where Smith's
super-convergence recipe puts a 1cycle peak; the held range on `max_lr`, the constant-safe
bound. Measured on full Fashion-MNIST with `fashion_cnn` and plain SGD (10 epochs): range tests
put `edge_lr` at ~0.46-0.55, 1cycle peaks of 0.25 / 0.5 / 1.0 reached val_accuracy
0.863 / 0.874 / 0.872, and peaks of ~1.2 and 3.0 diverged, so the peak range
(~0.12 .. ~1.0) holds the optimum and stops short of divergence.

Per-family parameters (`T` = the trial's optimizer steps):

| family               | tuned                               | schedule                       |
|----------------------|-------------------------------------|--------------------------------|
| `one_cycle`          | max_lr, pct_start 0.1-0.5,          | total_steps T                  |
|                      | div_factor 5-50 (log)               |                                |
| `cosine_warmup`      | max_lr, warmup_fraction 0-0.3       | warm up round(f T) steps, then |
|                      |                                     | cosine decay to 0 at T         |
| `cyclical`           | max_lr, div_factor 3-10 (log),      | base_lr = max_lr / div_factor, |
|                      | cycles 1-3, mode                    | step_size_up = T // (2 cycles) |
| `constant`           | learning_rate                       |                                |
| `exponential`        | initial_lr, final_fraction 1e-3-0.1 | LR(T) = initial_lr * fraction  |
| `inverse_time`       | initial_lr, final_fraction 0.01-0.3 | LR(T) = initial_lr * fraction  |
| `power`              | initial_lr, power 0.5-3 (log)       | (1 - t/T)^power decay to 0     |
| `piecewise_constant` | initial_lr, gamma 0.05-0.5 (log)    | x gamma at T/2 and at 3T/4     |
| `plateau`            | initial_lr, factor 0.1-0.5 (log),   | ReduceLROnPlateau on val_loss  |
|                      | patience 1-3 epochs                 |                                |
| `wsd`                | max_lr, decay_fraction 0.1-0.3      | warm up round(0.05 T) steps,   |
|                      |                                     | hold, then 1 - sqrt decay to 0 |
|                      |                                     | over max(1, round(f T)) steps  |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from finder.errors import InvalidArgumentError, InvalidRangeError, TuningError
from finder.families import DEFAULT_TUNED_FAMILIES, FAMILIES
from finder.schedules import ScheduleSpec, _checks
from finder.suggest import Bounds

FAMILY = "family"
PEAK_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.bounds == "peak")
HELD_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.bounds == "held")
TUNABLE_FAMILIES: tuple[str, ...] = tuple(sorted(PEAK_FAMILIES + HELD_FAMILIES))
DEFAULT_FAMILIES = DEFAULT_TUNED_FAMILIES
WSD_WARMUP_FRACTION = 0.05

_Getter = Callable[[str], Any]

# The learning-rate parameter of each family, tuned on a log scale.
LR_PARAM = {name: family.lr_param for name, family in FAMILIES.items()}


@dataclass(frozen=True)
class _Param:
    """One unitless hyperparameter of a family: a float or int range, or a choice."""

    name: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    integer: bool = False
    choices: tuple[str, ...] = ()


SHAPE_PARAMS: dict[str, tuple[_Param, ...]] = {
    "constant": (),
    "cosine_warmup": (_Param("warmup_fraction", 0.0, 0.3),),
    "cyclical": (
        _Param("div_factor", 3.0, 10.0, log=True),
        _Param("cycles", 1, 3, integer=True),
        _Param("mode", choices=("triangular", "triangular2")),
    ),
    "exponential": (_Param("final_fraction", 1e-3, 0.1, log=True),),
    "inverse_time": (_Param("final_fraction", 0.01, 0.3, log=True),),
    "one_cycle": (_Param("pct_start", 0.1, 0.5), _Param("div_factor", 5.0, 50.0, log=True)),
    "piecewise_constant": (_Param("gamma", 0.05, 0.5, log=True),),
    "plateau": (_Param("factor", 0.1, 0.5, log=True), _Param("patience", 1, 3, integer=True)),
    "power": (_Param("power", 0.5, 3.0, log=True),),
    "wsd": (_Param("decay_fraction", 0.1, 0.3),),
}


def _lr_range(name: str, value: Any) -> tuple[float, float]:
    """A checked `(low, high)` learning-rate range with `0 < low < high`."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise _checks.fail(name, "a pair (low, high)", value)
    low = _checks.real(name, value[0], low=0.0, low_open=True)
    high = _checks.real(name, value[1], low=0.0, low_open=True)
    if low >= high:
        raise InvalidRangeError(
            f"Argument `{name}` must have low < high. Received: {name}={tuple(value)!r}"
        )
    return low, high


def check_families(families: Any) -> tuple[str, ...]:
    """`families` as a tuple of distinct tunable family names.

    Raises:
        InvalidArgumentError: not a non-empty list of distinct names from `TUNABLE_FAMILIES`.
    """
    rule = f"a non-empty list of distinct names from {', '.join(TUNABLE_FAMILIES)}"
    if isinstance(families, str | bytes) or not isinstance(families, Sequence) or not families:
        raise _checks.fail("families", rule, families)
    names = tuple(families)
    if len(set(names)) != len(names) or any(name not in TUNABLE_FAMILIES for name in names):
        raise _checks.fail("families", rule, families)
    return names


@dataclass(frozen=True)
class SearchSpace:
    """The schedule families to search and the learning-rate ranges their peaks come from.

    Build one from a range test with `SearchSpace.from_bounds(result.bounds)` (the rule is in
    the module docstring), or give explicit ranges: `SearchSpace.wide(1e-4, 10.0)` is what
    keras-tuner alone would search.

    Example:

    ```python
    space = SearchSpace.from_bounds(Bounds(0.0625, 0.25, None, 0.5))
    space.peak_range, space.held_range  # (0.125, 1.0), (0.0625, 0.5)
    spec = space.spec({"family": "one_cycle", "one_cycle/max_lr": 0.5,
                       "one_cycle/pct_start": 0.3, "one_cycle/div_factor": 25.0}, 9380)
    ```

    Args:
        families: tuple of str. Families to search, from `TUNABLE_FAMILIES`.
        peak_range: (float, float). Log-uniform range of the peak LR of `one_cycle` and
            `cosine_warmup`.
        held_range: (float, float). Log-uniform range of the LR of every other family
            (`cyclical`'s and `wsd`'s `max_lr`, the others' first LR).
        rule: str. How the ranges were chosen, for the record. Defaults to `"explicit"`.

    Raises:
        InvalidArgumentError: unknown or repeated families, or ranges that are not
            `0 < low < high`.
    """

    families: tuple[str, ...]
    peak_range: tuple[float, float]
    held_range: tuple[float, float]
    rule: str = "explicit"

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", check_families(self.families))
        object.__setattr__(self, "peak_range", _lr_range("peak_range", self.peak_range))
        object.__setattr__(self, "held_range", _lr_range("held_range", self.held_range))
        if not isinstance(self.rule, str):
            raise _checks.fail("rule", "a string", self.rule)

    @classmethod
    def from_bounds(cls, bounds: Bounds, families: Sequence[str] = DEFAULT_FAMILIES) -> SearchSpace:
        """The bounded space: `peak_range = [max_lr / 2, 2 edge_lr]`,
        `held_range = [min_lr, edge_lr]`.

        A bounds record without `edge_lr` or `min_lr` (older documents) uses `2 max_lr`
        and `max_lr / 4`, the values `finder.suggest` derives them with.

        Raises:
            TuningError: the bounds are None: the range test never saw the loss fall.
        """
        if bounds.max_lr is None or not bounds.max_lr > 0:
            raise TuningError(
                "The range test found no learning-rate bounds to tune inside"
                f" ({bounds.note or 'max_lr is None'}). Run the range test over a wider or "
                "lower LR range, or with more steps, or pass an explicit `space`."
            )
        max_lr = float(bounds.max_lr)
        edge = float(bounds.edge_lr) if bounds.edge_lr else 2.0 * max_lr
        low = float(bounds.min_lr) if bounds.min_lr else max_lr / 4.0
        return cls(
            families=tuple(families),
            peak_range=(max_lr / 2.0, 2.0 * edge),
            held_range=(low, edge),
            rule=(
                f"bounds min_lr={low:.4g} max_lr={max_lr:.4g} edge_lr={edge:.4g}: "
                "peak_range = [max_lr/2, 2 edge_lr], held_range = [min_lr, edge_lr]"
            ),
        )

    @classmethod
    def wide(
        cls, min_lr: float, max_lr: float, families: Sequence[str] = DEFAULT_FAMILIES
    ) -> SearchSpace:
        """Every family's learning rate log-uniform in `[min_lr, max_lr]`, no range test used."""
        return cls(
            families=tuple(families),
            peak_range=(min_lr, max_lr),
            held_range=(min_lr, max_lr),
            rule=f"wide: every LR in [{min_lr:.4g}, {max_lr:.4g}]",
        )

    def lr_range(self, family: str) -> tuple[float, float]:
        """The range of `family`'s learning-rate parameter."""
        return self.peak_range if family in PEAK_FAMILIES else self.held_range

    def declare(self, hp: Any) -> str:
        """Register the space on a `keras_tuner.HyperParameters`; return the active family.

        Every family's parameters are declared, each inside its `conditional_scope`, so
        keras-tuner learns the whole space from one call.
        """
        family: str = hp.Choice(FAMILY, list(self.families))
        for name in self.families:
            with hp.conditional_scope(FAMILY, [name]):
                low, high = self.lr_range(name)
                hp.Float(f"{name}/{LR_PARAM[name]}", low, high, sampling="log")
                for param in SHAPE_PARAMS[name]:
                    key = f"{name}/{param.name}"
                    if param.choices:
                        hp.Choice(key, list(param.choices))
                    elif param.integer:
                        hp.Int(key, int(param.low), int(param.high))
                    else:
                        sampling = "log" if param.log else "linear"
                        hp.Float(key, param.low, param.high, sampling=sampling)
        return family

    def spec(self, values: Mapping[str, Any], total_steps: int) -> ScheduleSpec:
        """The schedule that a trial's hyperparameter values describe, sized to `total_steps`.

        Args:
            values: dict. `HyperParameters.values` of a trial of this space.
            total_steps: int. Optimizer steps of the run the schedule is for, `>= 1`.

        Returns:
            A `ScheduleSpec`.

        Raises:
            InvalidArgumentError: the values do not describe a schedule of this space.
        """
        steps = _checks.integer("total_steps", total_steps, low=1)
        family = values.get(FAMILY)
        if family not in self.families:
            raise InvalidArgumentError(
                f"Hyperparameter values name family {family!r}, not one of this space's: "
                f"{', '.join(self.families)}"
            )
        try:
            params = _PARAMS[family](lambda name: values[f"{family}/{name}"], steps)
        except KeyError as exc:
            raise InvalidArgumentError(
                f"Hyperparameter values for family {family!r} lack {exc.args[0]!r}"
            ) from None
        return ScheduleSpec(family, params)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: families, both ranges and the rule."""
        return {
            "families": list(self.families),
            "peak_range": list(self.peak_range),
            "held_range": list(self.held_range),
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        """The space of a `to_dict()` document, checked like the constructor."""
        try:
            return cls(
                families=tuple(data["families"]),
                peak_range=tuple(data["peak_range"]),
                held_range=tuple(data["held_range"]),
                rule=data.get("rule", "explicit"),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"Not a search space document: {exc}") from None


def _one_cycle(get: _Getter, steps: int) -> dict[str, Any]:
    return {
        "max_lr": float(get("max_lr")),
        "total_steps": steps,
        "pct_start": float(get("pct_start")),
        "div_factor": float(get("div_factor")),
    }


def _cosine_warmup(get: _Getter, steps: int) -> dict[str, Any]:
    return {
        "max_lr": float(get("max_lr")),
        "total_steps": steps,
        "warmup_steps": min(round(float(get("warmup_fraction")) * steps), steps - 1),
    }


def _cyclical(get: _Getter, steps: int) -> dict[str, Any]:
    max_lr = float(get("max_lr"))
    return {
        "base_lr": max_lr / float(get("div_factor")),
        "max_lr": max_lr,
        "step_size_up": max(1, steps // (2 * int(get("cycles")))),
        "mode": str(get("mode")),
    }


def _exponential(get: _Getter, steps: int) -> dict[str, Any]:
    return {
        "initial_lr": float(get("initial_lr")),
        "decay_steps": steps,
        "decay_rate": float(get("final_fraction")),
    }


def _inverse_time(get: _Getter, steps: int) -> dict[str, Any]:
    # initial / (1 + rate * T / T) = initial * fraction at step T.
    return {
        "initial_lr": float(get("initial_lr")),
        "decay_steps": steps,
        "decay_rate": 1.0 / float(get("final_fraction")) - 1.0,
    }


def _power(get: _Getter, steps: int) -> dict[str, Any]:
    return {
        "initial_lr": float(get("initial_lr")),
        "decay_steps": steps,
        "power": float(get("power")),
    }


def _piecewise_constant(get: _Getter, steps: int) -> dict[str, Any]:
    lr, gamma = float(get("initial_lr")), float(get("gamma"))
    first = max(1, steps // 2)
    second = max(first + 1, (3 * steps) // 4)
    return {"boundaries": [first, second], "values": [lr, lr * gamma, lr * gamma * gamma]}


def _plateau(get: _Getter, steps: int) -> dict[str, Any]:
    return {
        "initial_lr": float(get("initial_lr")),
        "factor": float(get("factor")),
        "patience": int(get("patience")),
    }


def _wsd(get: _Getter, steps: int) -> dict[str, Any]:
    # round(0.05 T) + max(1, round(0.3 T)) <= T for every T >= 1: the phases always fit.
    return {
        "max_lr": float(get("max_lr")),
        "total_steps": steps,
        "warmup_steps": round(WSD_WARMUP_FRACTION * steps),
        "decay_steps": max(1, round(float(get("decay_fraction")) * steps)),
        "decay": "sqrt",
    }


def _constant(get: _Getter, steps: int) -> dict[str, Any]:
    return {"learning_rate": float(get("learning_rate"))}


_PARAMS: dict[str, Callable[[_Getter, int], dict[str, Any]]] = {
    "constant": _constant,
    "cosine_warmup": _cosine_warmup,
    "cyclical": _cyclical,
    "exponential": _exponential,
    "inverse_time": _inverse_time,
    "one_cycle": _one_cycle,
    "piecewise_constant": _piecewise_constant,
    "plateau": _plateau,
    "power": _power,
    "wsd": _wsd,
}

"""`ScheduleSpec`: a schedule as JSON (`{"family": ..., "params": {...}}`) and back to Keras.

```
ScheduleSpec  --to_keras()-->    learning_rate for a Keras optimizer (schedule or float)
              --callbacks()-->   the Keras callbacks the family needs
              <--from_keras()--  OneCycle, CyclicalLearningRate, WarmupStableDecay, the
                                 Keras built-ins the factories make, PlateauPolicy, or a float
              <->to_dict() / from_dict()   the JSON form, an exact round trip
```

Families and their params (required first, then optional with their defaults), as the
registry `finder.families` lists them:

| family               | params                                                           |
|----------------------|------------------------------------------------------------------|
| `constant`           | learning_rate                                                    |
| `one_cycle`          | max_lr, total_steps; pct_start, div_factor, final_div_factor,    |
|                      | anneal, three_phase, cycle_momentum (False), base_momentum,      |
|                      | max_momentum                                                     |
| `cyclical`           | base_lr, max_lr, step_size_up, mode; step_size_down, gamma       |
| `cosine_warmup`      | max_lr, total_steps, warmup_steps; initial_lr, alpha             |
| `exponential`        | initial_lr, decay_steps, decay_rate; staircase                   |
| `inverse_time`       | initial_lr, decay_steps, decay_rate; staircase                   |
| `power`              | initial_lr, decay_steps; end_lr, power, cycle                    |
| `piecewise_constant` | boundaries, values                                               |
| `plateau`            | initial_lr; factor, patience, min_lr, monitor, mode, min_delta,  |
|                      | cooldown                                                         |
| `wsd`                | max_lr, total_steps, warmup_steps, decay_steps; initial_lr,      |
|                      | final_lr, decay                                                  |
"""

from __future__ import annotations

import copy
import dataclasses
import json
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np

from finder.errors import InvalidArgumentError
from finder.families import FAMILIES, FAMILY_NAMES, MOMENTUM_PARAMS
from finder.schedules import _checks
from finder.schedules import builtins as factories
from finder.schedules.builtins import PlateauPolicy
from finder.schedules.cyclical import CyclicalLearningRate
from finder.schedules.momentum import MomentumCycler
from finder.schedules.offset import starting_at
from finder.schedules.one_cycle import OneCycle
from finder.schedules.sampling import evaluate_learning_rate
from finder.schedules.wsd import WarmupStableDecay

_schedules = keras.optimizers.schedules
_DECAYS = (_schedules.ExponentialDecay, _schedules.InverseTimeDecay, _schedules.PolynomialDecay)


@dataclasses.dataclass(frozen=True)
class _Family:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    build: Callable[[dict[str, Any]], Any]


def _one_cycle(params: dict[str, Any]) -> OneCycle:
    return OneCycle(**{k: v for k, v in params.items() if k not in MOMENTUM_PARAMS})


def _constant(params: dict[str, Any]) -> float:
    return _checks.real("learning_rate", params["learning_rate"], low=0.0, low_open=True)


# How each family of the registry (`finder.families`) builds its Keras object.
_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "constant": _constant,
    "cosine_warmup": lambda p: factories.cosine_warmup(**p),
    "cyclical": lambda p: CyclicalLearningRate(**p),
    "exponential": lambda p: factories.exponential(**p),
    "inverse_time": lambda p: factories.inverse_time(**p),
    "one_cycle": _one_cycle,
    "piecewise_constant": lambda p: factories.piecewise_constant(**p),
    "plateau": lambda p: PlateauPolicy(**p),
    "power": lambda p: factories.power(**p),
    "wsd": lambda p: WarmupStableDecay(**p),
}
_FAMILIES: dict[str, _Family] = {
    name: _Family(family.required, family.optional, _BUILDERS[name])
    for name, family in FAMILIES.items()
}

SCHEDULE_FAMILIES: tuple[str, ...] = FAMILY_NAMES


@dataclasses.dataclass(frozen=True)
class ScheduleSpec:
    """A learning-rate schedule as data: a family name and that family's parameters.

    The JSON form is `{"family": "one_cycle", "params": {"max_lr": 0.1, ...}}`; see the
    module docstring for every family's params. The spec is checked when it is made:
    an unknown family, an unknown or missing param, or a bad value raises.

    Guarantee: `spec -> keras object -> spec -> keras object` gives identical learning rates
    at every step.

    Example:

    ```python
    spec = ScheduleSpec("one_cycle", {"max_lr": 0.1, "total_steps": 1000})
    model.compile(keras.optimizers.SGD(learning_rate=spec.to_keras()), "mse")
    model.fit(x, y, callbacks=spec.callbacks())
    ScheduleSpec.from_dict(spec.to_dict()) == spec  # True
    ```

    Args:
        family: str. One of `SCHEDULE_FAMILIES`.
        params: dict. The family's parameters, JSON values only. Defaults to `{}`.

    Raises:
        InvalidArgumentError: unknown family or params, missing params, or a bad value.
    """

    family: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.family not in _FAMILIES:
            raise _checks.fail("family", f"one of {', '.join(SCHEDULE_FAMILIES)}", self.family)
        if not isinstance(self.params, Mapping):
            raise _checks.fail("params", "a dict", self.params)
        params = copy.deepcopy(dict(self.params))
        family = _FAMILIES[self.family]
        unknown = sorted(set(params) - set(family.required) - set(family.optional))
        if unknown:
            raise InvalidArgumentError(
                f"Unknown params for family {self.family!r}: {', '.join(unknown)}. "
                f"Allowed: {', '.join(family.required + family.optional)}"
            )
        missing = [name for name in family.required if name not in params]
        if missing:
            raise InvalidArgumentError(
                f"Missing params for family {self.family!r}: {', '.join(missing)}"
            )
        object.__setattr__(self, "params", params)
        family.build(params)
        self.callbacks()

    def to_keras(self, start_step: int = 0) -> Any:
        """The `learning_rate` argument for a Keras optimizer.

        Args:
            start_step: int. The optimizer step the run starts at (`optimizer.iterations`
                of an optimizer that trained before): the schedule counts from there
                (`finder.schedules.offset`). Defaults to `0`.

        Returns:
            A `LearningRateSchedule`, or a float for `"constant"` and `"plateau"` (whose
            reductions come from `callbacks()`).
        """
        built = _FAMILIES[self.family].build(dict(self.params))
        if isinstance(built, PlateauPolicy):
            return built.initial_lr
        return starting_at(built, start_step)

    def callbacks(self, start_step: int = 0) -> list[keras.callbacks.Callback]:
        """New instances of the Keras callbacks this family needs, `[]` for most.

        `"plateau"` needs a `ReduceLROnPlateau`; `"one_cycle"` with
        `cycle_momentum=True` needs a `MomentumCycler` on the same phases, from optimizer
        step `start_step` (as `to_keras`).
        """
        params = self.params
        if self.family == "plateau":
            return [PlateauPolicy(**params).callback()]
        if self.family == "one_cycle" and any(name in params for name in MOMENTUM_PARAMS):
            cycle_momentum = _checks.boolean("cycle_momentum", params.get("cycle_momentum", False))
            momentum_params = {
                k: params[k]
                for k in ("base_momentum", "max_momentum", "pct_start", "three_phase")
                if k in params
            }
            cycler = MomentumCycler(
                params["total_steps"],
                anneal=params.get("anneal", "cos"),
                start_step=start_step,
                **momentum_params,
            )
            return [cycler] if cycle_momentum else []
        return []

    @classmethod
    def from_keras(cls, learning_rate: Any) -> ScheduleSpec:
        """The spec of a Keras optimizer's `learning_rate`, or of a `PlateauPolicy`.

        Args:
            learning_rate: a float (`"constant"`), a `PlateauPolicy`, `OneCycle`,
                `CyclicalLearningRate`, `WarmupStableDecay`, or the Keras `CosineDecay`,
                `ExponentialDecay`, `InverseTimeDecay`, `PolynomialDecay` or
                `PiecewiseConstantDecay`.
                Momentum cycling lives in a callback, so a `OneCycle` comes back without it.

        Returns:
            The `ScheduleSpec` whose `to_keras()` gives the same learning rates.

        Raises:
            InvalidArgumentError: any other object.
        """
        obj = learning_rate
        if isinstance(obj, numbers.Real) and not isinstance(obj, bool):
            return cls("constant", {"learning_rate": float(obj)})
        if isinstance(obj, PlateauPolicy):
            return cls("plateau", dataclasses.asdict(obj))
        if isinstance(obj, OneCycle):
            return cls("one_cycle", obj.get_config())
        if isinstance(obj, CyclicalLearningRate):
            return cls("cyclical", obj.get_config())
        if isinstance(obj, WarmupStableDecay):
            return cls("wsd", obj.get_config())
        if isinstance(obj, _schedules.CosineDecay):
            return cls("cosine_warmup", _cosine_params(obj))
        if isinstance(obj, _DECAYS):
            return cls(*_decay_params(obj))
        if isinstance(obj, _schedules.PiecewiseConstantDecay):
            return cls(
                "piecewise_constant",
                {
                    "boundaries": [int(b) for b in obj.boundaries],
                    "values": [float(v) for v in obj.values],
                },
            )
        raise InvalidArgumentError(
            "Cannot describe this learning rate as a ScheduleSpec. "
            f"Received: learning_rate={type(obj).__name__}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: `{"family": str, "params": {...}}` (a deep copy)."""
        return {"family": self.family, "params": copy.deepcopy(dict(self.params))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleSpec:
        """The spec of a JSON form made by `to_dict()`; checked like the constructor.

        Raises:
            InvalidArgumentError: not a dict with exactly `family` and `params`, or a spec
                the constructor refuses.
        """
        if not isinstance(data, Mapping):
            raise _checks.fail("data", "a dict with keys family and params", data)
        unknown = sorted(set(data) - {"family", "params"})
        if unknown:
            raise InvalidArgumentError(
                f"Unknown keys in a schedule spec: {', '.join(map(str, unknown))}. "
                "Allowed: family, params"
            )
        if "family" not in data or "params" not in data:
            raise InvalidArgumentError(
                f"A schedule spec needs keys family and params. Received: keys={sorted(data)}"
            )
        return cls(data["family"], data["params"])

    def lr_at(self, steps: Any) -> np.ndarray:
        """The learning rate at each of `steps`, evaluated with the real Keras object.

        For `"plateau"` this is `initial_lr` everywhere: its reductions depend on metrics.

        Args:
            steps: array-like of int. Optimizer steps (`optimizer.iterations` values), `>= 0`.

        Returns:
            A float64 numpy array shaped like `steps`.
        """
        return evaluate_learning_rate(self.to_keras(), steps)

    def to_code(self) -> str:
        """A short runnable Python snippet that builds this schedule.

        The snippet defines `learning_rate` (pass it to a Keras optimizer) and `callbacks`
        (pass them to `fit`). Keras built-ins are written as plain Keras code; `OneCycle`,
        `CyclicalLearningRate`, `WarmupStableDecay` and `MomentumCycler` import from
        `finder.schedules`.
        """
        imports: set[str] = set()
        learning_rate = self.to_keras()
        if isinstance(learning_rate, float):
            lines = [f"learning_rate = {learning_rate!r}"]
        else:
            lines = [f"learning_rate = {_constructor_code(learning_rate, imports)}"]
        if self.family == "plateau":
            imports.add("keras")
            kwargs = PlateauPolicy(**self.params).callback_kwargs()
            callbacks = [_call_code("keras.callbacks.ReduceLROnPlateau", kwargs)]
        else:
            callbacks = [_constructor_code(callback, imports) for callback in self.callbacks()]
        items = "".join(f"    {code.replace(chr(10), chr(10) + '    ')},\n" for code in callbacks)
        lines.append(f"callbacks = [\n{items}]" if callbacks else "callbacks = []")
        header = ["import keras"] if "keras" in imports else []
        finder_names = sorted(imports - {"keras"})
        if finder_names:
            header.append(f"from finder.schedules import {', '.join(finder_names)}")
        return "\n".join([*header, *([""] if header else []), *lines]) + "\n"


def _decay_params(schedule: Any) -> tuple[str, dict[str, Any]]:
    """The family and params of a Keras `ExponentialDecay`, `InverseTimeDecay` or
    `PolynomialDecay`."""
    params = {"initial_lr": schedule.initial_learning_rate, "decay_steps": schedule.decay_steps}
    if isinstance(schedule, _schedules.PolynomialDecay):
        more = {"end_lr": schedule.end_learning_rate, "power": schedule.power}
        return "power", {**params, **more, "cycle": schedule.cycle}
    family = "exponential" if isinstance(schedule, _schedules.ExponentialDecay) else "inverse_time"
    return family, {**params, "decay_rate": schedule.decay_rate, "staircase": schedule.staircase}


def _cosine_params(schedule: Any) -> dict[str, Any]:
    """`cosine_warmup` params for a `CosineDecay` (one without warm-up decays from its start)."""
    if schedule.warmup_target is None:
        return {
            "max_lr": schedule.initial_learning_rate,
            "total_steps": schedule.decay_steps,
            "warmup_steps": 0,
            "initial_lr": schedule.initial_learning_rate,
            "alpha": schedule.alpha,
        }
    return {
        "max_lr": schedule.warmup_target,
        "total_steps": schedule.decay_steps + schedule.warmup_steps,
        "warmup_steps": schedule.warmup_steps,
        "initial_lr": schedule.initial_learning_rate,
        "alpha": schedule.alpha,
    }


def _constructor_code(obj: Any, imports: set[str]) -> str:
    """Python source that rebuilds the schedule or callback `obj`.

    Adds what the source needs to `imports`: `"keras"`, or a `finder.schedules` name.
    """
    if isinstance(obj, OneCycle | CyclicalLearningRate | WarmupStableDecay | MomentumCycler):
        name = type(obj).__name__
        imports.add(name)
        config = obj.get_config()
        if config.get("start_step") == 0:  # a cycle from the run's first step, as by default
            del config["start_step"]
        return _call_code(name, config)
    imports.add("keras")
    kwargs = {k: v for k, v in obj.get_config().items() if k != "name"}
    return _call_code(f"keras.optimizers.schedules.{type(obj).__name__}", kwargs)


def _call_code(name: str, kwargs: Mapping[str, Any]) -> str:
    """`name(key=value, ...)` with one argument per line."""
    args = "".join(f"    {key}={_literal(value)},\n" for key, value in kwargs.items())
    return f"{name}(\n{args})"


def _literal(value: Any) -> str:
    """A Python literal for a JSON value, with strings in double quotes as ruff writes them."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    return repr(value)

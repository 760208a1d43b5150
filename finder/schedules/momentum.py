"""Momentum cycling for 1cycle: high momentum while the learning rate is low, and back.

Why a variable has to replace the float: in Keras 3, `SGD.momentum` and `Adam.beta_1` are
Python floats that `update_step` reads while the train function is TRACED, so the compiled
step holds them as constants and assigning a new float afterwards changes nothing. This
callback replaces the attribute, before the train function is traced (it rebuilds the train
function when one was traced already), with a non-trainable scalar `keras.Variable` that the
traced step reads at run time, and assigns it before every batch from
`optimizer.iterations`. The momentum is therefore a pure function of the step counter, which
`model.save` stores: after `keras.models.load_model`, the same callback resumes the cycle
where it stopped.

JAX is the exception that needs more: its trainer passes the step the values of the model's,
the optimizer's and the metrics' variables as arguments, and a traced (jit-compiled, Keras's
default on JAX) step holds any other variable as the constant it was when traced, so an
assigned momentum would stay at its first value for the whole fit. There the variable computes
its value inside the traced step from the optimizer's step counter, one of those arguments
(`CycledHyperparameter.follow`): the same curve, at every step, `steps_per_execution` included.

The step is the counter Keras evaluates a `LearningRateSchedule` at, so the momentum stays in
phase with the 1cycle's learning rate: with `gradient_accumulation_steps`, the optimizer's raw
counter of micro-batches (Keras's `iterations` property then counts updates, but its learning-rate
schedules read the raw counter), where each update applies the values of its last micro-batch.
With `steps_per_execution=k` (on TensorFlow), callbacks run once per execution, so the
momentum is set at the start of each execution of k steps and held through it: each step's
momentum is the one of at most k - 1 steps earlier, a lag the slow 1cycle curve barely moves
over when k is a small part of the plan.

The variable is kept out of `optimizer.variables`, so saved files have the layout a plain
optimizer has, and the optimizer's `get_config()` keeps reporting the float it was built
with, so `model.save` still works and `load_model` builds a plain optimizer.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from finder.errors import InvalidArgumentError
from finder.host import innermost_optimizer, micro_batch_count
from finder.schedules import _checks
from finder.schedules._phases import ANNEAL_STRATEGIES, anneal_cycle


class CycledHyperparameter(keras.Variable):
    """A scalar `keras.Variable` standing in for an optimizer's float hyperparameter.

    Keras' `SGD.update_step` branches on `self.momentum != 0` in Python while tracing. A
    plain variable answers with a tensor, which cannot be a Python `bool` inside a graph. This
    variable knows the range `[low, high]` its values stay in, so a comparison with a Python
    number outside that range has the same answer at every step and is answered in Python;
    any other comparison is elementwise, as for any variable.
    """

    def __init__(self, value: float, *, low: float, high: float, config_value: float) -> None:
        self._follow: tuple[Callable[[Any], Any], Any] | None = None
        super().__init__(
            value, dtype="float32", trainable=False, autocast=False, name="cycled_hyperparameter"
        )
        self.low = low
        self.high = high
        self.config_value = config_value

    def follow(self, curve: Callable[[Any], Any], counter: Any) -> None:
        """Be `curve(counter)` inside a traced JAX train step (`value`; JAX only); `counter` is
        the optimizer's step counter variable."""
        self._follow = (curve, counter)

    @property
    def value(self) -> Any:
        # JAX traces its train step with every variable outside the step's state (this one:
        # module docstring) as the constant it held at tracing. So inside a traced step the
        # value is computed from the step counter, which is in the state; everywhere else it
        # is the value the cycler assigned before the step.
        follow = getattr(self, "_follow", None)
        if follow is not None:
            curve, counter = follow
            step = counter.value
            if _traced(step):
                return curve(step)
        return super().value

    def _outside(self, other: object) -> bool:
        return (
            isinstance(other, numbers.Real)
            and not isinstance(other, bool)
            and not self.low <= float(other) <= self.high
        )

    def __eq__(self, other: object) -> Any:
        if self._outside(other):
            return False
        return super().__eq__(other)

    def __ne__(self, other: object) -> Any:
        if self._outside(other):
            return True
        return super().__ne__(other)

    # Like every keras.Variable (which defines __eq__), it is not hashable.
    __hash__ = None  # type: ignore[assignment]


def _traced(value: Any) -> bool:
    """Whether `value` is a JAX tracer: the value of a variable inside a traced step (asked
    only on JAX, the one backend whose variables follow a counter)."""
    import jax

    return isinstance(value, jax.core.Tracer)


class MomentumCycler(keras.callbacks.Callback):
    """Cycles SGD's `momentum` (or Adam's / AdamW's `beta_1`) inversely to a 1cycle LR.

    The values match PyTorch's `OneCycleLR(cycle_momentum=True)` step for step, on the same
    phases as `OneCycle` with the same `total_steps`, `pct_start`, `anneal`, `three_phase`:

    ```python
    # two phases:   max_momentum -> base_momentum -> max_momentum
    # three phases: max_momentum -> base_momentum -> max_momentum -> max_momentum
    # steps past total_steps - 1 hold max_momentum
    ```

    See the module docstring for how the value reaches the compiled train step.

    Example:

    ```python
    schedule = OneCycle(max_lr=0.1, total_steps=1000)
    model.compile(keras.optimizers.SGD(learning_rate=schedule, momentum=0.9), "mse")
    model.fit(x, y, callbacks=[MomentumCycler(total_steps=1000)])
    ```

    Args:
        total_steps: int. Number of optimizer steps the cycle spans.
        base_momentum: float. The momentum at the learning-rate peak, in `(0, 1)`.
            Defaults to `0.85`.
        max_momentum: float. The momentum at both ends, in `[base_momentum, 1)`.
            Defaults to `0.95`.
        pct_start: float. Fraction of the steps in the first phase, as in `OneCycle`.
            Defaults to `0.3`.
        anneal: str. `"cos"` or `"linear"`. Defaults to `"cos"`.
        three_phase: bool. Use `OneCycle`'s three-phase structure. Defaults to `False`.
        start_step: int. The optimizer step the cycle starts at, as
            `finder.schedules.StartingAt` starts its learning rate. Defaults to `0`.

    Raises:
        InvalidArgumentError: an argument is out of range, or (when training starts) the
            optimizer is not SGD with `momentum > 0`, Adam or AdamW.
    """

    def __init__(
        self,
        total_steps: int,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        pct_start: float = 0.3,
        anneal: str = "cos",
        three_phase: bool = False,
        start_step: int = 0,
    ) -> None:
        super().__init__()
        self.total_steps = _checks.integer("total_steps", total_steps, low=1)
        self.start_step = _checks.integer("start_step", start_step, low=0)
        self.base_momentum = _checks.real(
            "base_momentum", base_momentum, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.max_momentum = _checks.real(
            "max_momentum", max_momentum, low=self.base_momentum, high=1.0, high_open=True
        )
        self.three_phase = _checks.boolean("three_phase", three_phase)
        self.pct_start = _checks.real(
            "pct_start",
            pct_start,
            low=0.0,
            high=0.5 if three_phase else 1.0,
            low_open=True,
            high_open=not three_phase,
        )
        self.anneal = _checks.choice("anneal", anneal, ANNEAL_STRATEGIES)
        self._variable: CycledHyperparameter | None = None

    def get_config(self) -> dict[str, Any]:
        return _checks.constructor_config(self)

    def momentum_at(self, step: Any) -> Any:
        """The momentum for optimizer step `step` (a scalar or tensor), as a tensor."""
        return anneal_cycle(step, self, self._phase_values(), "float32")

    def _phase_values(self) -> list[tuple[float, float]]:
        low, high = self.base_momentum, self.max_momentum
        if self.three_phase:
            return [(high, low), (low, high), (high, high)]
        return [(high, low), (low, high)]

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        optimizer = innermost_optimizer(self.model.optimizer)
        attribute = _momentum_attribute(optimizer)
        current = getattr(optimizer, attribute)
        if (
            isinstance(current, CycledHyperparameter)
            and current.low <= self.base_momentum
            and self.max_momentum <= current.high
        ):
            self._variable = current
            self._follow_steps(optimizer)
            if keras.backend.backend() == "jax":  # a step traced before follows another cycle
                self.model.make_train_function(force=True)
            return
        config_value = (
            current.config_value if isinstance(current, CycledHyperparameter) else current
        )
        self._variable = CycledHyperparameter(
            self.max_momentum,
            low=self.base_momentum,
            high=self.max_momentum,
            config_value=config_value,
        )
        _install(optimizer, attribute, self._variable)
        self._follow_steps(optimizer)
        # A train function traced earlier holds the old float as a constant.
        self.model.make_train_function(force=True)

    def _follow_steps(self, optimizer: Any) -> None:
        """On JAX, let the variable follow this cycle inside a traced step
        (`CycledHyperparameter.value`): from the raw step counter, the one the learning-rate
        schedule reads. Other backends read the assigned value, with nothing to check on the
        hot path."""
        assert self._variable is not None
        if keras.backend.backend() != "jax":
            return
        counter = getattr(optimizer, "_iterations", optimizer.iterations)

        def curve(step: Any) -> Any:
            return self.momentum_at(ops.maximum(ops.subtract(step, self.start_step), 0))

        self._variable.follow(curve, counter)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._variable is None:
            return
        optimizer = innermost_optimizer(self.model.optimizer)
        # The step is read to the host once, and the curve computed there in numpy: the same
        # float32 arithmetic as `momentum_at`, without a dozen eager ops every batch.
        step = max(micro_batch_count(optimizer) - self.start_step, 0)
        self._variable.assign(float(anneal_cycle(step, self, self._phase_values(), "float32", np)))


def _momentum_attribute(optimizer: Any) -> str:
    """`"momentum"` for SGD, `"beta_1"` for Adam and AdamW; refuses the rest."""
    if isinstance(optimizer, keras.optimizers.SGD):
        momentum = optimizer.momentum
        if isinstance(momentum, CycledHyperparameter):
            momentum = momentum.config_value
        if not momentum > 0:
            raise InvalidArgumentError(
                "MomentumCycler needs SGD built with momentum > 0 (with 0, SGD keeps no "
                f"velocity to apply it to). Received: momentum={momentum!r}"
            )
        return "momentum"
    if isinstance(optimizer, keras.optimizers.Adam):
        return "beta_1"
    raise InvalidArgumentError(
        "MomentumCycler supports SGD (momentum > 0), Adam and AdamW. "
        f"Received: optimizer={type(optimizer).__name__}"
    )


def _install(optimizer: Any, attribute: str, variable: CycledHyperparameter) -> None:
    """Put `variable` in place of `optimizer.<attribute>`, keeping saving as it was.

    `object.__setattr__` skips the optimizer's variable tracking: a tracked variable would
    join `optimizer.variables`, and a file saved with it would no longer load into a plain
    optimizer. The instance's `get_config` reports the original float instead of the
    variable, so the saved config is the one the optimizer was built with.
    """
    object.__setattr__(optimizer, attribute, variable)
    class_get_config = type(optimizer).get_config

    def get_config() -> dict[str, Any]:
        config = class_get_config(optimizer)
        value = config[attribute]
        if isinstance(value, CycledHyperparameter):
            config[attribute] = value.config_value
        return config

    object.__setattr__(optimizer, "get_config", get_config)

"""The 1cycle phase structure, shared by `OneCycle` (learning rate) and `MomentumCycler`.

PyTorch's `OneCycleLR` splits `total_steps` into phases that end at
`float(pct_start * total_steps) - 1` and `total_steps - 1` (three-phase adds
`float(2 * pct_start * total_steps) - 2` in between); each phase anneals from a start value
to an end value, and a step belongs to the first phase whose end it does not pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from keras import ops

ANNEAL_STRATEGIES = ("cos", "linear")


def phase_ends(total_steps: int, pct_start: float, three_phase: bool) -> tuple[float, ...]:
    """The last step of each phase, computed exactly as PyTorch computes them."""
    warmup_end = float(pct_start * total_steps) - 1
    if three_phase:
        return (warmup_end, float(2 * pct_start * total_steps) - 2, float(total_steps - 1))
    return (warmup_end, float(total_steps - 1))


def anneal_through_phases(
    step: Any,
    ends: Sequence[float],
    values: Sequence[tuple[float, float]],
    anneal: str,
    dtype: str,
    xp: Any = ops,
) -> Any:
    """The value at `step` of a curve that anneals `values[i] = (start, end)` over phase `i`.

    `xp` is the array module that computes it, with the same functions under the same names:
    `keras.ops` for a step inside a traced train step, `numpy` for a step known on the host,
    where a callback sets a value every batch (there a dozen eager Keras ops can cost as much
    as a small model's whole step on a CPU).

    Steps past the last phase hold its end value. PyTorch writes the cosine anneal as
    `end + (start - end) / 2 * (1 + cos(pi * pct))`; with `q = 1 - pct`, the fraction of the
    phase still ahead, that is `end + (start - end) * sin(pi * q / 2) ** 2`, which keeps full
    float32 precision near the end of a phase where `1 + cos` cancels.
    """
    cast = ops.cast if xp is ops else lambda value, to: np.asarray(value, dtype=to)
    step = xp.minimum(cast(step, dtype), ends[-1])
    phase_values = []
    start = 0.0
    for end, (start_value, end_value) in zip(ends, values, strict=True):
        length = end - start
        # A phase of zero length (pct_start * total_steps == 1) is where PyTorch divides by
        # zero; here it just takes its end value.
        remaining = xp.divide(xp.subtract(end, step), length if length > 0 else 1.0)
        if anneal == "cos":
            remaining = xp.square(xp.sin(xp.multiply(remaining, math.pi / 2)))
        phase_values.append(xp.add(end_value, xp.multiply(start_value - end_value, remaining)))
        start = end
    value = phase_values[-1]
    for end, phase_value in zip(ends[-2::-1], phase_values[-2::-1], strict=True):
        value = xp.where(xp.less_equal(step, end), phase_value, value)
    return cast(value, dtype)


def anneal_cycle(
    step: Any, cycle: Any, values: Sequence[tuple[float, float]], dtype: str, xp: Any = ops
) -> Any:
    """`anneal_through_phases` over the phases of a one-cycle curve: `cycle` is a `OneCycle`
    or a `MomentumCycler` (its `total_steps`, `pct_start`, `three_phase` and `anneal`)."""
    ends = phase_ends(cycle.total_steps, cycle.pct_start, cycle.three_phase)
    return anneal_through_phases(step, ends, values, cycle.anneal, dtype, xp)

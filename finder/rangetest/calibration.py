"""Which optimizers' edges the range test reads well, and what it does for the others.

The proposals put a 1cycle peak at the edge of stability the sweep reads. That rests on the
loss turning up within a few steps of the LR becoming unstable, which holds where an update
scales with the gradient (SGD, Adam and their kin): past the edge, the error grows by a constant
factor per step and shows within the sweep. It fails where an update has a fixed size: Lamb
moves each layer by a fixed fraction of its norm (its trust ratio), so too large an LR makes the
weights grow geometrically over hundreds of steps, far more than a short sweep spends at that
LR; a sign update (Lion) moves every weight by the LR itself. On the benchmark suite
(`bench/frontier.py`, the `digits_*` optimizer variants, BENCHMARKS.md) the edge-based 1cycle
of such optimizers trained far from the grid's best, or diverged.

`VALIDATED_OPTIMIZERS` are the Keras optimizers whose first proposal trained within 1% of the
grid oracle (mean of 3 seeds) on at least one suite task. For every other optimizer, Keras's
own or a user's, the verdict says the edge is not validated, and the 1cycle peak is capped at
`PRIOR_PEAK_MULTIPLE` (10) times the optimizer's own LR, the same prior the auto range uses
when it reads no edge (`finder.rangetest.auto_range`): on the suite, the best 1cycle peak sat
between 1x and 100x the optimizer's default LR, with a median of 10x.
"""

from __future__ import annotations

from finder.rangetest.auto_range import PRIOR_PEAK_MULTIPLE
from finder.suggest import Bounds

VALIDATED_OPTIMIZERS = frozenset(
    {"SGD", "Adam", "AdamW", "RMSprop", "Nadam", "Adamax", "Adagrad", "Adadelta", "Ftrl", "Muon"}
)


def validated(optimizer_name: str) -> bool:
    """Whether the suite validated the edge rule for this optimizer class (module docstring)."""
    return optimizer_name in VALIDATED_OPTIMIZERS


def unvalidated_reason(optimizer_name: str) -> str:
    """The verdict's reason for an optimizer outside `VALIDATED_OPTIMIZERS`."""
    return (
        f"the edge rule is not validated for {optimizer_name} on the benchmark suite: its "
        "update does not scale with the gradient (or is unknown), so instability can build over "
        "more steps than a sweep spends at an LR; the peak is capped at "
        f"{PRIOR_PEAK_MULTIPLE:g}x the optimizer's own LR"
    )


def capped_bounds(bounds: Bounds, anchor_lr: float | None) -> Bounds:
    """`bounds` with `edge_lr` at most `PRIOR_PEAK_MULTIPLE` x `anchor_lr` (the others scaled
    with it), for an optimizer outside `VALIDATED_OPTIMIZERS`; unchanged below the cap."""
    if bounds.edge_lr is None or anchor_lr is None or anchor_lr <= 0:
        return bounds
    cap = PRIOR_PEAK_MULTIPLE * anchor_lr
    if bounds.edge_lr <= cap:
        return bounds
    scale = cap / bounds.edge_lr
    note = (
        f"edge_lr capped at {cap:.3g} ({PRIOR_PEAK_MULTIPLE:g}x the optimizer's LR) from a "
        f"reading of {bounds.edge_lr:.3g}"
    )
    return Bounds(
        None if bounds.min_lr is None else bounds.min_lr * scale,
        None if bounds.max_lr is None else bounds.max_lr * scale,
        note if bounds.note is None else f"{bounds.note}; {note}",
        cap,
    )

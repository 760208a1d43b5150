"""Which optimizers' edges the range test reads well, and what it does for the others.

The proposals put a 1cycle peak at the edge of stability the sweep reads. That rests on the
loss turning up within a few steps of the LR becoming unstable, which holds where an update
scales with the gradient (SGD, Adam and their kin): past the edge, the error grows by a constant
factor per step and shows within the sweep. The benchmark suite runs every optimizer Keras
ships on two hosts of different architecture and data (`bench/frontier.py`, the `digits_*` and
`cnn16_*` variants, BENCHMARKS.md), and the others fall in four groups:

- **Fixed-size updates** (`PEAK_CAPS`). Lamb moves each layer by a fixed fraction of its norm
  (its trust ratio) and Muon by an orthogonalised step of fixed spectral size: too large an LR
  grows the weights over hundreds of steps, far more than a sweep spends at that LR, so the edge
  reads too high (Lamb's edge-based 1cycle diverged, Muon's lost to the grid). Their peak is
  capped at 10x the optimizer's own LR, the suite's median ratio of the best 1cycle peak to the
  default LR (the same prior the auto range uses when it reads no edge). Lion moves every
  weight by the LR itself (a sign update); its authors put its LR 3-10x below AdamW's, and
  Keras's default is already AdamW's, so its peak is capped at its own LR. With their caps,
  all three trained within 1% of the grid oracle on both hosts. The cap bounds the edge the
  proposals read, so on a plan under 500 steps the first proposal's 1cycle peaks at twice
  the capped edge, as for every optimizer (`finder.propose`): on the two short hosts, a peak
  at the capped edge itself trained worse with Lion on both and with Lamb on the CNN, and
  better with Muon on both, by under 1% of the oracle, too little over three seeds to make
  Muon an exception (BENCHMARKS.md, design `anchored_peak1x` beside `fit`).
- **Accumulator methods** (Adagrad, Adadelta): the step is the LR over the root of the
  accumulated squared gradients, so their useful LRs sit decades above other optimizers'
  (Adadelta's authors use 1.0; Keras's default is 0.001). On the suite their best peaks sat
  hundreds (Adagrad) to thousands (Adadelta) of times above their Keras defaults, beyond the
  4.5 decades the auto range's grid spreads its budget over, so theirs spreads over
  `ACCUMULATOR_SPAN_DECADES` (6.5, to 30,000x their LR) at the same budget. On the MLP host
  their first proposal trained within 1% of the grid oracle on both plan lengths. On the CNN
  host their edges read several times below the best peak and most runs missed, but every one
  of those runs had turned before its held-out loss fell a quarter below chance, which the
  verdict flags for any update rule (`finder.rangetest.verdict`, rule 6, an edge read early):
  the spike a sweep near chance takes for divergence comes from the network's initial
  curvature, not from how the step is scaled, and plain SGD on the same CNN missed the same
  way. Of their runs that rule did not flag, all but one, by a hair, trained within 1% of the
  oracle's schedule on held-out seeds (`bench/verdict.py`). A verdict that also called every
  accumulator run unreliable by name added no miss that rule 6 did not already flag, and
  withheld "reliable" from runs that trained within 1%; so their reading counts as validated,
  and their misses are rule 6's.
- **Any optimizer not named here** (a user's own included): nothing validated a reading.
- **No schedule** (`SCHEDULE_FREE`). Keras's `ScheduleFreeAdamW` trains at an interpolation
  between its Adam iterate and their running average, which stands in for a decaying schedule
  (Defazio et al., 2024, "The Road Less Scheduled"), so what it needs is a constant LR and a
  warm-up. On both hosts and both plan lengths the grid's best schedule for it was a constant
  LR, and finder's 1cycle on top of it trained below its own default constant LR. Its own LR
  after the ramp's warm-up trained as well as the grid's best, or better, on most of the
  suite's hosts and plan lengths (BENCHMARKS.md, the `*_schedulefreeadamw` rows).
  Keras's `Ftrl` (FTRL-Proximal, McMahan et al., 2013) sets each weight from its accumulated
  gradients, `w = -linear * lr / sqrt(accumulator)` without regularisation, and not from the
  weight before, but for a term that fades as the accumulator grows: every weight scales with
  the current LR, so a schedule rescales the whole model as it goes, and one that anneals to 0
  ends with every weight near 0. On the suite no 1cycle or cosine trained at any peak, while
  the MLP host trained at a constant LR; the first step largely replaces the initialisation,
  and the CNN host trained at no LR at all.
  For ScheduleFreeAdamW, the auto range proposes no schedule: the test reports the curve
  without bounds and the reason, and `finder.fit` keeps the optimizer's own LR (inside the
  fit, the ramp climbs only to that LR, a warm-up it keeps, as for too little data). The
  verdict stays "unreliable", since no reading of the curve is validated.
  For Ftrl (`finder.propose.CONSTANT_RATE_OPTIMIZERS`), whose own LR left the suite's networks
  at chance, the auto range runs constant-LR trials instead of a ramp, within the same budget,
  and proposes a constant LR at their pick (`finder.rangetest.trials`); `finder.fit` runs them
  before the fit on any plan, since each trial restarts from the initial state. On the MLP
  host their pick was the grid oracle's constant LR on every seed of both plan lengths, and on
  the CNN host, where no LR of the grid trained, they found nothing below chance and refused.
  That is the outcome the verdict reads for them (`finder.rangetest.verdict.assess_trials`): a
  pick is "reliable" unless it is the highest LR tried. The in-fit test alone
  (`finder.LearningRateFinder`) has no restarts, and keeps the warm-up to the optimizer's LR.

`VALIDATED_OPTIMIZERS` are those whose first proposal, as `finder.fit` runs it, trained within
1% of the grid oracle (mean of 3 seeds) on both hosts, or wherever the verdict's other rules
did not flag the run (the accumulators), and the suite's own families (SGD, Adam, AdamW,
RMSprop), each on its tasks. For every other optimizer the verdict says the edge is not
validated, whatever the curve shows.
"""

from __future__ import annotations

from finder.propose import CONSTANT_RATE_OPTIMIZERS
from finder.rangetest.auto_range import PRIOR_PEAK_MULTIPLE, SPAN_DECADES
from finder.suggest import Bounds

VALIDATED_OPTIMIZERS = frozenset(
    {
        "SGD", "Adam", "AdamW", "RMSprop", "Nadam", "Adamax", "Adafactor", "Lion", "Lamb",
        "Muon", "Adagrad", "Adadelta",
    }
)  # fmt: skip
# The most the edge may read, as a multiple of the optimizer's own LR; the 1cycle peaks at the
# capped edge, or twice it on a short plan (module docstring).
PEAK_CAPS = {"Lamb": PRIOR_PEAK_MULTIPLE, "Muon": PRIOR_PEAK_MULTIPLE, "Lion": 1.0}
ACCUMULATORS = frozenset({"Adagrad", "Adadelta"})
# The optimizers that take no schedule, each with why and what to do instead.
SCHEDULE_FREE = {
    "ScheduleFreeAdamW": (
        "it averages its iterates in place of a decaying schedule, and on the benchmark suite "
        "its best schedule was a constant rate while finder's 1cycle trained below its default; "
        "train it at a constant learning rate (its own, or the best of a few around it) with its "
        "warmup_steps"
    ),
    "Ftrl": (
        "it sets every weight to its accumulated gradients times the current learning rate "
        "(FTRL-Proximal), so a schedule rescales the whole model at each step and one that "
        "anneals to 0 ends with every weight near 0; train it at a constant learning rate, the "
        "best of a few half a decade apart, as finder.range_test and finder.fit choose it with "
        "short constant-LR trials (finder.fit does unless it splits validation data off data "
        "that are not arrays, which the trials before the fit cannot follow: pass "
        "validation_data instead; on the benchmark suite the best sat "
        "decades above Keras's default, which left the model at chance), on a linear or "
        "shallow model: its first step largely replaces the weights' initialisation, and a "
        "deep network may not train at all"
    ),
}
SCHEDULE_FREE_NOTE = "takes no learning-rate schedule"  # how `schedule_free_reason` puts it
ACCUMULATOR_SPAN_DECADES = 6.5


def span_decades(optimizer_name: str) -> float:
    """The decades the auto range's grid spreads its budget over for this optimizer class."""
    return ACCUMULATOR_SPAN_DECADES if optimizer_name in ACCUMULATORS else SPAN_DECADES


def runs_trials(optimizer_name: str) -> bool:
    """Whether the auto range picks this optimizer's constant LR with trials (module
    docstring)."""
    return optimizer_name in CONSTANT_RATE_OPTIMIZERS


def validated(optimizer_name: str) -> bool:
    """Whether the suite validated the edge rule for this optimizer class (module docstring)."""
    return optimizer_name in VALIDATED_OPTIMIZERS


def schedule_free_reason(optimizer_name: str) -> str | None:
    """Why the auto range proposes no schedule for an optimizer that takes none (module
    docstring), None for any other."""
    why = SCHEDULE_FREE.get(optimizer_name)
    return None if why is None else f"{optimizer_name} {SCHEDULE_FREE_NOTE}: {why}"


def unvalidated_reason(optimizer_name: str) -> str:
    """The verdict's reason for an optimizer outside `VALIDATED_OPTIMIZERS`."""
    return (
        f"the edge rule is not validated for {optimizer_name}: no suite task validated a "
        "reading of its edge"
    )


def capped_bounds(bounds: Bounds, optimizer_name: str, anchor_lr: float | None) -> Bounds:
    """`bounds` with `edge_lr` at most `PEAK_CAPS[optimizer_name]` x `anchor_lr` (the others
    scaled with it); unchanged below the cap, for an optimizer without one, or with no LR."""
    multiple = PEAK_CAPS.get(optimizer_name)
    if multiple is None or bounds.edge_lr is None or anchor_lr is None or anchor_lr <= 0:
        return bounds
    cap = multiple * anchor_lr
    if bounds.edge_lr <= cap:
        return bounds
    note = (
        f"edge_lr capped at {cap:.3g} ({multiple:g}x the optimizer's LR) from a reading of "
        f"{bounds.edge_lr:.3g}"
    )
    return bounds.moved_to(cap, note)

"""The range test's verdict: will the first proposal train within 1% of the best schedule?

That is what a user wants to know, so the verdict is defined by it and calibrated on the
benchmark suite (`python bench/verdict.py`: every task x 3 seeds, verdict x outcome, in
BENCHMARKS.md; the best schedule is the grid oracle's, scored on seeds that took no part in
choosing it). "reliable" means none of the reasons below holds; each is something that made
the first proposal miss on the suite, or a curve that cannot carry a bound at all:

1. **No bound.** The loss never fell, stayed flat, or was not finite (the test's own reason).
2. **Nothing learned that generalises.** The held-out loss never fell below `CHANCE_MARGIN`
   (97%) of the chance loss, the loss of always predicting the labels' frequencies (their
   entropy for cross-entropy, their variance for squared error; `chance_loss`). Held out: the
   validation curve when there is one, else the sweep's first pass over the training data,
   where every batch's loss is read before the model trained on it, if that pass reached the
   edge (before it, the LRs were too small to learn anything, and the check says nothing). A
   model fitting labels that its inputs do not predict lowers its training loss by memorising,
   never this one.
3. **Too little data.** The sweep needed more than `MAX_SWEEP_PASSES` passes over the training
   data for the density it wanted: its curve measures memorisation as much as the LR.
4. **The sweeps disagree.** With two or more sweeps, their own edges span more than
   `DISAGREEMENT` (2x) between the 25th and 75th percentile.
5. **An update rule the suite has not validated** (`finder.rangetest.calibration`): one
   whose reading of the edge has not held on two suite tasks, or a user's own optimizer.
6. **An edge read early.** The held-out loss had fallen less than `EARLY_FALL` (a quarter of
   the chance loss) below chance when the loss turned. Early in training an LR above the
   stability limit of the initial curvature makes the loss spike and then fall again as the
   network moves to flatter ground (the catapult phase: Lewkowycz et al., 2020, "The large
   learning rate phase of deep learning"); a sweep still near chance reads that spike as
   divergence, so its edge can lie well below the LR the run takes once it has learned. On
   the suite the runs that turned this early were on CNNs trained from scratch, with plain
   SGD, Adagrad and Adadelta, and most of them trained more than 1% below the best schedule,
   their edges several times below its peak, on both plan lengths and with each of the three
   update rules. The rule holds for every update rule: the spike comes from the curvature,
   not from how the step is scaled. The reason says what a user can do about it. A longer
   sweep is not the remedy: on those tasks, three and ten times the budget let the held-out
   loss fall further before the loss turned, on most seeds past the quarter this rule asks
   for, and raised the first proposal's mean a little, but left most runs more than 1% below
   the best schedule and the edges well below its peaks, and some of the runs the verdict
   then called "reliable" missed (`bench/longer_sweeps.py`, BENCHMARKS.md). The verdict is
   calibrated at finder's own budget for that reason: a larger one can clear this rule
   without moving the edge. The reason advises a run at a higher peak instead: on the CNN
   trained from scratch a 1cycle at three times the edge raised most of these runs, every one
   on the longer plan, but on full Fashion-MNIST, whose edges this rule flags as well, the edge
   already sat near the best peak and a 1cycle at twice it collapsed to chance
   (`bench/read_early_peaks.py`); nothing in the curve told the two apart. So a proposal
   stays at the edge, and `finder.fit` climbs towards the higher peak only with a guard that
   watches the training loss and rolls back where it rises (`finder.lr_finder.climb`). The
   verdict given before the fit stays "unreliable"; after it, the result's verdict drops this
   reason where the climb stopped above the first proposal's peak, the run's limit read from
   the run itself once it had learned (`finder.lr_finder.climb.settled`). Rule 2
   gives the same advice: a model that has not started to learn when the loss turns reads
   exactly like one whose labels its inputs do not predict.

**A reading below the optimizer's LR.** Where rule 2 holds and the sweep never diverged,
the loss only wandered around chance, and the turn the edge rule finds in it is noise: an LSTM
outside the suite that had not started to learn in 100 steps read its edge at a tenth of Adam's
own LR, and its 1cycle there trained at chance where the default LR learned
(`bench/outside.py`). Nothing in such a curve marks an LR as unstable, and on every task of
the suite where the grid oracle trained, its best schedule peaked at or above the optimizer's
own LR (at 1x, the lowest, for Lion and the diabetes regression's Adam). So the bounds rise to
that LR (`floored_bounds`), with a note, and the verdict stays
"unreliable" by rule 2. A reading above it, or below it from a sweep that diverged, stays as
read: a loss that rose from chance far enough to end the sweep marks a real limit.

What did not predict a miss on the suite (`bench/verdict.py` recomputes the verdict of every
stored run, so a rule can be tried against the outcomes), and so does not decide: a wide
jackknife interval of the edge (still reported with four or more sweeps); a budget that ended
a sweep after its loss had turned; a loss still falling where the sweep ended, so that the
edge is a lower estimate (the bounds' note says so; a low peak errs on the safe side, and the
runs it flagged trained within 1%, but for one the data was too small anyway); and a
validation curve whose minimum sat far below the training edge (it flagged runs that trained
within 0.3% of the oracle, and none that missed). Nor did an explicit sweep sparser than the
auto range ever sweeps (`bench/sweep_density.py`): the loss turns a few steps past the edge,
and a sparse sweep read its edge further from a dense one's, but its proposals missed no more
often where the sweep was sparsest, so the verdict holds for explicit ranges as it is.

Nor did a short plan (under 500 steps). Against the grid oracle's own mean, single seeds on the
suite's two short hosts missed 1% more often than on the long ones; but that mean is the best of
many noisy means, the grid's configurations scored on the seeds that chose among them, so it
sits above what its schedule trains to on a seed of its own (the winner's curse), and most on
the noisiest host. Against the oracle's schedule retrained with seeds that took no part in
choosing it (`bench/suite.py`'s held-out row), the short-plan runs with no other reason trained
within 1% as often as the long-plan ones, and about as often as the oracle's own schedule lands
within 1% of its mean on one more seed: the rest is the seed, which no reading of the curve
predicts.

`CHANCE_MARGIN` is 3% below the chance loss, and more where the held-out curve is noisy: a
model at chance reads within about 1% of it on a validation subset of 512 samples, while a
model that has started to learn, even one whose training loss fell only a few percent before
the sweep diverged (plain SGD on `fashion_cnn`), has its held-out loss clearly lower. On the
first pass, read off single batches, the margin is three standard errors of the running mean
when that is wider.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from finder.rangetest.auto_range import sweep_edge
from finder.rangetest.calibration import unvalidated_reason, validated
from finder.rangetest.recorder import SweepRun
from finder.rangetest.reliability import (
    CHANCE_MARGIN,
    DISAGREEMENT,
    TOLERANCE,
    Reliability,
    disagreement,
    jackknife_interval,
)
from finder.rangetest.trials import TrialOutcome
from finder.suggest import ZERO_LAG_HALF_WIDTH, Bounds, zero_lag_curve

NOISE_MARGIN = 3.0
EARLY_FALL = 0.25
EARLY_EDGE = "the edge was read early"  # how rule 6's reason begins
# What a user can do about an edge read early (module docstring, rule 6).
LATER_PEAK = (
    "on the benchmark suite the best 1cycle peaks of such runs sat up to several times above "
    "the edge, and longer sweeps still read edges below them: compare the proposal with a run "
    "at a peak a few times higher"
)
# Losses whose chance level `chance_loss` knows, by the name Keras gives them.
_CROSS_ENTROPY = ("sparse_categorical_crossentropy", "categorical_crossentropy")
_BINARY = ("binary_crossentropy",)
_SQUARED = ("mean_squared_error", "mse")
_ABSOLUTE = ("mean_absolute_error", "mae")
MAX_LABELS = 100_000


def loss_name(loss: Any) -> str | None:
    """The Keras name of a compiled loss (a string, a `Loss`, or a loss function), or None."""
    if isinstance(loss, str):
        return loss
    for attribute in ("name", "__name__"):
        name = getattr(loss, attribute, None)
        if isinstance(name, str):
            return name
    return None


def chance_loss(loss: Any, y: Any) -> float | None:
    """The loss of always predicting the labels' frequencies (or mean), None when unknown.

    ```
    sparse / categorical cross-entropy:  H(p) = -sum_k p_k ln p_k,  p = class frequencies
    binary cross-entropy:                mean over outputs of -(q ln q + (1 - q) ln(1 - q))
    mean squared error:                  mean over outputs of var(y)
    mean absolute error:                 mean over outputs of mean |y - median(y)|
    ```
    """
    name = loss_name(loss)
    if name is None or y is None:
        return None
    try:
        labels = np.asarray(y)[:MAX_LABELS]
    except (TypeError, ValueError):
        return None
    if labels.size == 0 or labels.dtype.kind not in "iufb":
        return None
    labels = labels.astype(np.float64)
    if name in _CROSS_ENTROPY:
        if name == "sparse_categorical_crossentropy":
            _, counts = np.unique(labels.reshape(-1), return_counts=True)
            p = counts / counts.sum()
        else:
            p = labels.reshape(len(labels), -1).mean(axis=0)
            p = p[p > 0]
        return float(-(p * np.log(p)).sum())
    flat = labels.reshape(len(labels), -1)
    if name in _BINARY:
        q = np.clip(flat.mean(axis=0), 1e-12, 1 - 1e-12)
        return float(np.mean(-(q * np.log(q) + (1 - q) * np.log(1 - q))))
    if name in _SQUARED:
        return float(np.mean(flat.var(axis=0)))
    if name in _ABSOLUTE:
        return float(np.mean(np.abs(flat - np.median(flat, axis=0))))
    return None


def held_out_floor(
    val_losses: Sequence[float] | None,
    first_lrs: Sequence[float] | np.ndarray,
    first_losses: Sequence[float],
    steps_per_pass: int | None,
    edge_lr: float | None,
) -> tuple[float | None, str]:
    """The lowest held-out loss the test saw, and where from: the validation curve's minimum,
    else the zero-lag minimum of the first sweep's first pass over the training data when that
    pass reached `edge_lr` (None, "none" otherwise)."""
    if val_losses:
        return float(min(val_losses)), "validation"
    first_pass = np.asarray(first_losses[: steps_per_pass or len(first_losses)], dtype=float)
    reached = edge_lr is not None and len(first_pass) >= 3
    if not reached or first_lrs[len(first_pass) - 1] < edge_lr:  # type: ignore[operator]
        return None, "none"
    return float(zero_lag_curve(first_pass).min()), "first pass"


def floor_noise(first_losses: Sequence[float], steps_per_pass: int | None) -> float:
    """The standard error of the first pass's running mean: the residuals' sd around it over
    the square root of the points it averages."""
    first_pass = np.asarray(first_losses[: steps_per_pass or len(first_losses)], dtype=float)
    if len(first_pass) < 3:
        return 0.0
    curve = zero_lag_curve(first_pass)
    width = 2 * max(1, round(ZERO_LAG_HALF_WIDTH * len(first_pass))) + 1
    return float(np.std(first_pass - curve) / math.sqrt(width))


def learned_nothing(signals: Mapping[str, Any]) -> bool:
    """Rule 2 on a verdict's `signals`: the held-out loss never fell clearly below chance."""
    floor, threshold = signals.get("held_out_floor"), signals.get("chance_threshold")
    return floor is not None and threshold is not None and floor > threshold


def floored_bounds(
    bounds: Bounds,
    signals: Mapping[str, Any],
    first_sweep: SweepRun,
    reached_lr: float,
    anchor_lr: float | None,
) -> Bounds:
    """`bounds` with `edge_lr` raised to the optimizer's own LR (the others scaled with it)
    where the curve gives no reason to go lower (module docstring, "A reading below the
    optimizer's LR"): the model learned nothing (rule 2), and the first sweep went past that
    LR, up to `reached_lr`, without diverging. Unchanged otherwise, at or above that LR, or
    without one."""
    edge = bounds.edge_lr
    if (
        edge is None
        or anchor_lr is None
        or edge >= anchor_lr
        or reached_lr < anchor_lr
        or first_sweep.stop_reason != "completed"
        or not learned_nothing(signals)
    ):
        return bounds
    note = (
        f"edge_lr raised to the optimizer's LR {anchor_lr:.3g} from a reading of {edge:.3g}: "
        "the loss never fell clearly below chance and never diverged, so nothing in the curve "
        "marks a lower LR as unstable"
    )
    return bounds.moved_to(anchor_lr, note)


def assess_sweeps(
    lrs: Sequence[float] | np.ndarray,
    runs: Sequence[SweepRun],
    bounds: Bounds,
    *,
    val_losses: Sequence[float] | None,
    steps: int,
    chance: float | None,
    steps_per_pass: int | None,
    update_rule: str | None,
    edges: Sequence[float | None] | None = None,
    extra_reasons: Sequence[str] = (),
) -> Reliability:
    """The verdict on a finished test from its sweeps on the grid `lrs` (the first sweep is the
    one the validation curve was scored on) and the `bounds` it reports; `edges` are each
    sweep's own edge when already read (`sweep_edge` otherwise)."""
    grid = np.asarray(lrs, dtype=np.float64)
    if edges is None:
        edges = [sweep_edge(grid, run) for run in runs]
    return assess_result(
        edge_lr=bounds.edge_lr,
        max_lr=bounds.max_lr,
        bounds_note=bounds.note,
        sweep_edges=edges,
        interval=jackknife_interval(grid, [run.losses for run in runs]),
        val_losses=val_losses,
        first_lrs=grid,
        first_losses=runs[0].losses,
        chance=chance,
        steps_per_pass=steps_per_pass,
        steps=steps,
        extra_reasons=extra_reasons,
        update_rule=update_rule,
    )


def assess_result(
    *,
    edge_lr: float | None,
    max_lr: float | None,
    bounds_note: str | None,
    sweep_edges: Sequence[float | None],
    interval: tuple[float, float] | None,
    val_losses: Sequence[float] | None,
    first_lrs: Sequence[float] | np.ndarray,
    first_losses: Sequence[float],
    chance: float | None,
    steps_per_pass: int | None,
    steps: int,
    extra_reasons: Sequence[str] = (),
    update_rule: str | None = None,
) -> Reliability:
    """The verdict (module docstring) on a finished test's curves.

    Args:
        edge_lr, max_lr, bounds_note: the test's bounds (None when there are none).
        sweep_edges: each sweep's own edge (None where its loss never fell).
        interval: the jackknife interval of the edge, or None (fewer than four sweeps).
        val_losses: the validation curve's losses, or None.
        first_lrs, first_losses: the first sweep's LR grid and raw losses.
        chance: the chance loss (`chance_loss`), or None when unknown.
        steps_per_pass: batches in one pass over the training data, None when unknown.
        steps: optimizer steps the test used.
        extra_reasons: reasons the sweeps found (too little data, a non-finite loss, ...).
        update_rule: the optimizer's class name (`finder.rangetest.calibration`), or None
            when unknown.
    """
    reasons = list(extra_reasons)
    signals: dict[str, Any] = {"chance_loss": chance}
    floor, source = held_out_floor(val_losses, first_lrs, first_losses, steps_per_pass, edge_lr)
    signals.update(held_out_floor=floor, held_out_source=source)
    threshold = None
    if chance is not None:
        noise = floor_noise(first_losses, steps_per_pass) if source == "first pass" else 0.0
        threshold = min(CHANCE_MARGIN * chance, chance - NOISE_MARGIN * noise)
        signals["chance_threshold"] = threshold
    if edge_lr is None or max_lr is None:
        if not reasons:  # the auto range explains its own empty outcome
            reasons.append(f"no bound: {bounds_note or 'the loss never fell'}")
    else:
        if learned_nothing(signals):
            reasons.append(
                f"the {source} loss never fell clearly below {chance:.4g}, the loss of "
                f"predicting the labels' frequencies (its lowest, {floor:.4g}, stayed above "
                f"{threshold:.4g}): the model learned nothing that "
                "generalises in these steps. Either its labels do not follow from its inputs, or "
                "it had not started to learn when the loss turned (plain SGD on a network "
                "trained from scratch can take hundreds of steps to start), and then the edge "
                f"may lie well below the best peak, as for an edge read early ({LATER_PEAK})"
            )
        elif chance and floor is not None and floor > (1 - EARLY_FALL) * chance:
            reasons.append(
                f"{EARLY_EDGE}: the {source} loss had fallen only "
                f"{1 - floor / chance:.0%} below the chance loss ({chance:.4g}) when the loss "
                "turned, where a transient spike can pass for divergence, so the peak may lie "
                f"well below the best one ({LATER_PEAK})"
            )
        signals["bounds_note"] = bounds_note
        if update_rule is not None and not validated(update_rule):
            reasons.append(unvalidated_reason(update_rule))
        found = [e for e in sweep_edges if e is not None]
        spread = disagreement(found)
        signals["sweep_spread"] = spread
        if spread is not None and spread > DISAGREEMENT:
            reasons.append(
                f"the sweeps disagree: the middle half of their edges spans {spread:.1f}x, "
                f"more than {DISAGREEMENT:g}x"
            )
    edge_interval = max_interval = None
    if interval is not None and edge_lr is not None and max_lr is not None:
        edge_interval = [min(interval[0], edge_lr), max(interval[1], edge_lr)]
        max_interval = [v * max_lr / edge_lr for v in edge_interval]
    return Reliability(
        verdict="unreliable" if reasons else "reliable",
        reasons=reasons,
        edge_interval=edge_interval,
        max_lr_interval=max_interval,
        sweeps=len(sweep_edges),
        steps=steps,
        sweep_edges=list(sweep_edges),
        tolerance=TOLERANCE,
        signals={k: _plain(v) for k, v in signals.items()},
    )


def assess_trials(trials: TrialOutcome, *, chance: float | None, steps: int) -> Reliability:
    """The verdict on constant-LR trials (`finder.rangetest.trials`), for an optimizer whose
    LR a ramp cannot read: "reliable" when a trial learned (its held-out loss fell clearly below
    the chance loss, rule 2's margin) and the pick is not the highest LR tried. On the suite
    their pick trained as well as the grid oracle where any LR trained, and they refused where
    none did (`finder.rangetest.calibration`); rules 4 to 6 read a ramp's edge, which trials
    have none of."""
    reasons = [] if trials.pick is not None and trials.reason is None else [trials.reason or ""]
    best = trials.best()
    signals = {
        "chance_loss": chance,
        "held_out_floor": None if best is None else best.score,
        "held_out_source": trials.source,
        "chance_threshold": trials.threshold,
    }
    return Reliability(
        verdict="unreliable" if reasons else "reliable",
        reasons=reasons,
        edge_interval=None,
        max_lr_interval=None,
        sweeps=len(trials.trials),
        steps=steps,
        sweep_edges=[],
        tolerance=TOLERANCE,
        signals={k: _plain(v) for k, v in signals.items()},
    )


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

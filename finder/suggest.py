"""Learning-rate suggestions and Smith bounds from a range-test curve. Pure numpy, no Keras.

The suggestions read the SMOOTHED (EMA) loss against the learning rate, after trimming the
first `trim_start` and last `trim_end` fractions of the points (the start is flat and noisy,
the end is the blow-up). Each rule returns `None` with a reason, instead of a number, when the
curve does not support it: too short, or the loss never falls.

Rules (`x = log10(lr)`, `s` = EMA-smoothed loss over the trimmed window):

```
steepest = lr[argmin_i ds/dx (i)]                          # needs some ds/dx < 0
minimum  = lr[argmin_i s_i] / 10                           # fastai's "lr_min"
valley   = fastai's longest-descent rule: for every i, the longest strictly decreasing
           subsequence of s ending at i; take the longest one, [a, b]; return
           lr[a + floor((b - a) / 3) + floor((b - a) / 6)], just under halfway down it
```

The bounds do NOT read the EMA: an EMA with beta = 0.98 lags its input by up to
beta / (1 - beta) = 49 steps, so its minimum sits at higher learning rates than the point
where training became unstable (on least squares, past the analytic divergence LR). They read a
zero-lag curve instead, the centred running mean of the raw losses; see `smith_bounds`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finder.errors import InvalidArgumentError

SUGGESTION_NAMES = ("steepest", "valley", "minimum")
MIN_POINTS = 8
DEFAULT_TRIM_START = 0.1
DEFAULT_TRIM_END = 0.05
# A curve "falls" when its trimmed minimum is at least this fraction below its starting level.
MIN_RELATIVE_DROP = 0.01
NEVER_FELL = (
    "the loss never fell: sweep more steps (the model may need them to start learning) "
    "or widen the range towards larger LRs"
)
# A curve is "flat" when its whole (trimmed) span stays within this fraction of its level: even
# a model that needs more steps moves its loss by more than that over a sweep of LRs spanning
# decades, while one that cannot see its inputs (constant or NaN-cleaned data, a disconnected
# output) sits at the same loss, ln(classes) for a classifier, at every LR.
FLAT_RELATIVE_SPAN = 1e-3
NOT_LEARNING = (
    "the loss stayed constant across the whole sweep: the model is not learning from its data "
    "(check the inputs for constant or invalid values, the labels, and that the model's output "
    "depends on its input); more steps will not help"
)
# Half-width of the zero-lag running mean, as a fraction of the number of points, and the loss's
# floor: points within this fraction of the total drop from the minimum. Chosen on the recorded
# sweeps of every suite task (`bench/edge_precision.py`); see `smith_bounds`.
ZERO_LAG_HALF_WIDTH = 0.05
FLOOR_FRACTION = 0.2
# The zero-lag turning point is the edge of stability; Smith's largest LR that still converges
# is within ~2x of the best constant LR, so the max bound sits this factor below the edge.
TURN_MARGIN = 2.0
# Smith: CLR oscillates between max/3..4 and max; a single 1cycle starts around max/10..25.
MIN_BOUND_DIVISOR = 4.0
# The turn of a geometric sweep shows about this many steps after the LR became unstable, and
# the proposals were calibrated on edges read at this many steps per decade; see `lag_factor`.
LAG_STEPS = 5.0
REFERENCE_STEPS_PER_DECADE = 80.0
# The sparsest grid the lag was measured on: sparser ones get its correction, not more.
LAG_MEASURED_STEPS_PER_DECADE = 20.0


@dataclass(frozen=True)
class Bounds:
    """Smith's learning-rate bounds: train between `min_lr` and `max_lr`.

    `edge_lr` is where the loss turned up (the edge of stability, `max_lr * turn_margin`);
    schedules that spend only a short time at their peak, like 1cycle, may go up to it.
    All are None when the curve does not show where the loss stops falling; `note` then says
    why. `note` may also carry a caveat next to real values.
    """

    min_lr: float | None
    max_lr: float | None
    note: str | None = None
    edge_lr: float | None = None

    def moved_to(self, edge_lr: float, note: str) -> Bounds:
        """These bounds with `edge_lr` moved to `edge_lr`, `min_lr` and `max_lr` scaled with
        it, and `note` added after any note they carry. Needs a measured `edge_lr`."""
        assert self.edge_lr is not None
        scale = edge_lr / self.edge_lr
        return Bounds(
            None if self.min_lr is None else self.min_lr * scale,
            None if self.max_lr is None else self.max_lr * scale,
            note if self.note is None else f"{self.note}; {note}",
            edge_lr,
        )

    def to_dict(self) -> dict[str, float | str | None]:
        return {
            "min_lr": self.min_lr,
            "max_lr": self.max_lr,
            "edge_lr": self.edge_lr,
            "note": self.note,
        }


@dataclass(frozen=True)
class Suggestions:
    """Every suggestion by name (None when a rule does not apply), the reasons, and bounds."""

    values: dict[str, float | None]
    notes: dict[str, str] = field(default_factory=dict)
    bounds: Bounds = Bounds(None, None, "not computed")


def trim_window(n: int, trim_start: float, trim_end: float) -> tuple[int, int]:
    """Index range [start, stop) left after trimming fractions of `n` points at both ends."""
    start = int(math.floor(n * trim_start))
    stop = n - int(math.floor(n * trim_end))
    return start, max(start, stop)


def steepest(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """LR of the most negative slope of loss against log10(lr); None if nothing falls."""
    slope = np.gradient(losses, np.log10(lrs))
    i = int(np.argmin(slope))
    return float(lrs[i]) if slope[i] < 0 else None


def minimum(lrs: np.ndarray, losses: np.ndarray) -> float:
    """LR of the minimum loss, divided by 10."""
    return float(lrs[int(np.argmin(losses))] / 10.0)


def valley(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """fastai's valley: a point just under halfway down the longest descent; None if none."""
    n = len(losses)
    run = np.ones(n, dtype=np.int64)
    for i in range(1, n):
        earlier = run[:i][losses[:i] > losses[i]]
        if earlier.size:
            run[i] = int(earlier.max()) + 1
    end = int(np.argmax(run))
    length = int(run[end])
    if length < 2:
        return None
    start = end - length + 1
    sections = (end - start) / 3.0
    index = start + int(sections) + int(sections / 2)
    return float(lrs[index])


def zero_lag_curve(
    losses: np.ndarray, half_width_fraction: float = ZERO_LAG_HALF_WIDTH
) -> np.ndarray:
    """Centred running mean of `losses` over +-h points, h = max(1, round(fraction * n)).

    Centred, so it has no lag: a loss that starts rising at step i moves this curve up around
    step i, not tens of steps later as an EMA does. The window shrinks at both ends.
    """
    n = len(losses)
    half_width = max(1, round(half_width_fraction * n))
    cumulative = np.concatenate([[0.0], np.cumsum(losses, dtype=np.float64)])
    index = np.arange(n)
    low = np.maximum(index - half_width, 0)
    high = np.minimum(index + half_width + 1, n)
    result: np.ndarray = (cumulative[high] - cumulative[low]) / (high - low)
    return result


def lag_factor(lrs: Sequence[float] | np.ndarray) -> float:
    """How much later than a reference sweep a geometric sweep of this density reads the edge,
    as the factor that takes it out (1 for a grid as dense as the reference, or not geometric).

    ```
    d      = steps per decade of the grid
    factor = 10 ** (-LAG_STEPS * (1 / max(d, 20) - 1 / REFERENCE_STEPS_PER_DECADE))   d < 80
    ```

    A loss needs a few steps at an unstable LR before it visibly turns up, and on a geometric
    grid each step raises the LR by 10 ** (1 / d): the turn is seen `LAG_STEPS / d` decades past
    the edge, a lag that grows as the sweep gets faster. The proposals were calibrated on edges
    read at 80 to 125 steps per decade, so a faster sweep's edge is brought back to 80's.
    `LAG_STEPS` (5) is the median over the suite's tasks of the lag measured on their recorded
    sweeps, a 20-steps-per-decade pass against the median curve of 80-per-decade sweeps
    (`bench/edge_precision.py`, the lag table in BENCHMARKS.md): most tasks read the edge later
    on the fast pass; a BatchNorm ResNet read it earlier, and is the task least sensitive to a
    low peak (its best 1cycle peak sits above the edge). On 22 steps per decade (a 100-step
    budget) the factor is 0.70; on 66 (300 steps) 0.97. Below 20 steps per decade, where the
    lag was not measured, the correction stays at 20's (0.63): on least squares, whose loss
    blows up within a step or two of the edge, extrapolating it to fastai's 12.5 put the bound a
    decade below divergence.
    """
    grid = np.asarray(lrs, dtype=np.float64)
    if len(grid) < 3 or grid[0] <= 0 or grid[-1] <= grid[0]:
        return 1.0
    ratios = grid[1:] / grid[:-1]
    if not np.allclose(ratios, ratios[0], rtol=1e-6):
        return 1.0  # a linear grid: no constant density to correct for
    per_decade = max(LAG_MEASURED_STEPS_PER_DECADE, 1.0 / math.log10(float(ratios[0])))
    if per_decade >= REFERENCE_STEPS_PER_DECADE:
        return 1.0
    return float(10 ** (-LAG_STEPS * (1.0 / per_decade - 1.0 / REFERENCE_STEPS_PER_DECADE)))


def smith_bounds(
    lrs: np.ndarray,
    losses: np.ndarray,
    *,
    trim_start: float = DEFAULT_TRIM_START,
    trim_end: float = DEFAULT_TRIM_END,
    turn_margin: float = TURN_MARGIN,
    min_divisor: float = MIN_BOUND_DIVISOR,
    half_width_fraction: float = ZERO_LAG_HALF_WIDTH,
    floor_fraction: float = FLOOR_FRACTION,
    lag_steps: float = LAG_STEPS,
) -> Bounds:
    """Smith's bounds from the RAW losses of a sweep.

    ```
    z       = zero_lag_curve(losses), trimmed like the suggestions
    floor   = the run of points around argmin z with z <= min z + 0.2 (z_0 - min z)
    edge_lr = sqrt(lr[floor start] * lr[floor end])   # where the loss stops falling and
              * lag_factor(lrs)                        # turns up: the edge of stability
    max_lr  = edge_lr / turn_margin                    # turn_margin = 2
    min_lr  = max_lr / min_divisor                     # min_divisor = 4 (CLR's max/3..4)
    ```

    with `z` the running mean over +-5% of the points (`half_width_fraction`, 0.05) and the
    floor's level at 20% of the drop (`floor_fraction`, 0.2).

    The floor's centre is read instead of the bare argmin because the bottom of a noisy
    curve is flat, and its argmin wanders across it from run to run. Its two ends are where the
    curve crosses a level, and a crossing is located to within (noise of z) / |slope of z|
    there: a level closer to the bottom sits where the curve is flatter, and a narrower mean
    leaves more noise. The two settings were chosen on the recorded sweeps of the suite's tasks
    (`bench/edge_precision.py`, BENCHMARKS.md): +-5% and 20% is the knee of one sweep's
    precision over the grid of rules compared there, and it reads the edge close to where the
    proposals were calibrated. On least squares the edge lands well below the analytic
    divergence LR, 1 / lambda_max of the input covariance (`tests/rangetest/test_run.py`).
    Training at a constant LR works best somewhat below the largest LR that still converges
    (Smith: within ~2x), hence the margin, which also keeps the bound below divergence when the
    turn is read late. When the loss still falls at the end of the range, the bound is a lower
    estimate and the `note` says so. `half_width_fraction` and `floor_fraction` override the
    rule's two constants and `lag_steps` the lag correction (`lag_factor`; 0 turns it off),
    for `bench/edge_precision.py`, which compares rules.
    """
    start, stop = trim_window(len(losses), trim_start, trim_end)
    if stop - start < MIN_POINTS:
        return Bounds(None, None, f"curve too short: {stop - start} points after trimming")
    curve = zero_lag_curve(np.asarray(losses, dtype=np.float64), half_width_fraction)[start:stop]
    window_lrs = np.asarray(lrs, dtype=np.float64)[start:stop]
    if not _falls(curve):
        return Bounds(None, None, why_no_fall(curve))
    first, last = floor_span(curve, floor_fraction)
    edge_lr = math.sqrt(float(window_lrs[first]) * float(window_lrs[last]))
    if lag_steps:
        edge_lr *= lag_factor(lrs) ** (lag_steps / LAG_STEPS)
    max_lr = edge_lr / turn_margin
    note = None
    if last == len(curve) - 1:
        note = "the loss was still falling at the end of the range: max_lr is a lower estimate"
    return Bounds(max_lr / min_divisor, max_lr, note, edge_lr)


def prior_bounds(edge_lr: float, turn_margin: float = TURN_MARGIN) -> Bounds:
    """Bounds from a prior edge, not a measured one (`finder.rangetest.auto_range`: a loss that
    neither fell nor diverged); the note says so."""
    max_lr = edge_lr / turn_margin
    note = (
        f"no edge measured (the loss neither fell nor diverged): edge_lr {edge_lr:.3g} is a "
        "prior from the optimizer's own LR, not a reading of this model"
    )
    return Bounds(max_lr / MIN_BOUND_DIVISOR, max_lr, note, edge_lr)


def floor_span(curve: np.ndarray, fraction: float = FLOOR_FRACTION) -> tuple[int, int]:
    """First and last index of the contiguous run around the minimum of `curve` that stays
    within `fraction` of the curve's total drop from its minimum."""
    bottom = int(np.argmin(curve))
    level = float(curve[bottom]) + fraction * (float(curve[0]) - float(curve[bottom]))
    first = last = bottom
    while first > 0 and curve[first - 1] <= level:
        first -= 1
    while last < len(curve) - 1 and curve[last + 1] <= level:
        last += 1
    return first, last


def _falls(curve: np.ndarray) -> bool:
    start_level = float(curve[0])
    return start_level - float(curve.min()) > MIN_RELATIVE_DROP * abs(start_level)


def why_no_fall(curve: np.ndarray) -> str:
    """Why a curve that did not fall gives no bound: flat (`NOT_LEARNING`: the model does not
    learn at any LR, so more steps would not help) or merely not falling (`NEVER_FELL`)."""
    level = float(np.mean(np.abs(curve)))
    span = float(np.max(curve) - np.min(curve))
    return NOT_LEARNING if span <= FLAT_RELATIVE_SPAN * max(level, 1e-12) else NEVER_FELL


def suggest(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    smoothed_losses: Sequence[float] | np.ndarray,
    *,
    trim_start: float = DEFAULT_TRIM_START,
    trim_end: float = DEFAULT_TRIM_END,
) -> Suggestions:
    """Every suggestion and the bounds for one curve.

    Args:
        lrs: learning rate of each point, increasing.
        losses: the raw loss at each point (read by the bounds).
        smoothed_losses: the EMA-smoothed loss at each point (read by the suggestions).
        trim_start: float. Fraction of points dropped at the start. Defaults to `0.1`.
        trim_end: float. Fraction of points dropped at the end. Defaults to `0.05`.

    Returns:
        `Suggestions` with a value (or None and a note) for every name in `SUGGESTION_NAMES`.

    Raises:
        ValueError: the three sequences differ in length.
    """
    lr_array = np.asarray(lrs, dtype=np.float64)
    raw_array = np.asarray(losses, dtype=np.float64)
    loss_array = np.asarray(smoothed_losses, dtype=np.float64)
    if not lr_array.shape == raw_array.shape == loss_array.shape:
        raise ValueError(
            "lrs, losses and smoothed_losses differ in length: "
            f"{len(lr_array)}, {len(raw_array)}, {len(loss_array)}"
        )
    bounds = smith_bounds(lr_array, raw_array, trim_start=trim_start, trim_end=trim_end)
    start, stop = trim_window(len(loss_array), trim_start, trim_end)
    lr_window, loss_window = lr_array[start:stop], loss_array[start:stop]
    if len(loss_window) < MIN_POINTS:
        reason = f"curve too short: {len(loss_window)} points after trimming, need {MIN_POINTS}"
        return Suggestions(
            dict.fromkeys(SUGGESTION_NAMES), dict.fromkeys(SUGGESTION_NAMES, reason), bounds
        )
    if not _falls(loss_window):
        reason = why_no_fall(loss_window)
        return Suggestions(
            dict.fromkeys(SUGGESTION_NAMES), dict.fromkeys(SUGGESTION_NAMES, reason), bounds
        )
    values: dict[str, float | None] = {
        "steepest": steepest(lr_window, loss_window),
        "valley": valley(lr_window, loss_window),
        "minimum": minimum(lr_window, loss_window),
    }
    notes = {name: "no descending segment in the curve" for name, v in values.items() if v is None}
    if int(np.argmin(loss_window)) == len(loss_window) - 1:
        notes["minimum"] = (
            "the loss was still falling at the end of the range: the minimum is a lower bound"
        )
    return Suggestions(values, notes, bounds)


SuggestionRule = Callable[[np.ndarray, np.ndarray], Any]


def named_rules(
    rules: Sequence[SuggestionRule] | Mapping[str, SuggestionRule] | None,
) -> dict[str, SuggestionRule]:
    """User suggestion rules by name: a mapping's keys, else each function's `__name__`.

    Raises:
        InvalidArgumentError: a rule that is not callable, a name that is empty, repeated or
            one of the built-in names (`SUGGESTION_NAMES`).
    """
    if rules is None:
        return {}
    if isinstance(rules, Mapping):
        pairs = [(str(name), rule) for name, rule in rules.items()]
    elif isinstance(rules, (str, bytes)) or not isinstance(rules, Sequence):
        raise InvalidArgumentError(
            "Argument `suggestion_rules` must be a list of functions (lrs, losses) -> lr or a "
            f"dict of them by name. Received: {type(rules).__name__}"
        )
    else:
        pairs = [(getattr(rule, "__name__", ""), rule) for rule in rules]
    named: dict[str, SuggestionRule] = {}
    for name, rule in pairs:
        if not callable(rule):
            raise InvalidArgumentError(
                f"Suggestion rule {name or rule!r} is not callable: pass functions "
                "(lrs, losses) -> lr."
            )
        if not name or name == "<lambda>" or name in SUGGESTION_NAMES or name in named:
            raise InvalidArgumentError(
                f"Suggestion rule name {name!r} is empty, a lambda's, repeated or a built-in "
                f"name ({', '.join(SUGGESTION_NAMES)}): pass a dict {{name: rule}}."
            )
        named[name] = rule
    return named


def apply_rules(
    rules: Mapping[str, SuggestionRule], lrs: np.ndarray, losses: np.ndarray
) -> Suggestions:
    """Each user rule's suggestion for the curve (`lrs`, smoothed `losses`: what the built-in
    rules read), or None and a note saying why: the rule raised, or returned something that
    is not a finite positive learning rate. A rule's failure never costs the test's result."""
    values: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for name, rule in rules.items():
        try:
            value = rule(np.array(lrs, dtype=np.float64), np.array(losses, dtype=np.float64))
        except Exception as error:  # noqa: BLE001 - the user's code; the result is kept
            values[name] = None
            notes[name] = f"the rule raised {type(error).__name__}: {error}"
            continue
        if value is None:
            values[name] = None
            notes[name] = "the rule gave no suggestion"
            continue
        try:
            lr = float(value)
        except (TypeError, ValueError):
            lr = math.nan
        if not math.isfinite(lr) or lr <= 0:
            values[name] = None
            notes[name] = f"the rule returned {value!r}, not a learning rate > 0"
            continue
        values[name] = lr
    return Suggestions(values, notes)

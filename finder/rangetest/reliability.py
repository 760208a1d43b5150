"""How sure a range test is of its bound: the jackknife interval of `edge_lr`, and the
`Reliability` record the verdict fills. Pure numpy.

The reported `edge_lr` is read off the MEDIAN curve of k sweeps (`finder.rangetest.repeats`). Its
uncertainty is measured for exactly that estimator, by the jackknife over sweeps (k >= 4):

```
e_(i)    = edge(median curve of all sweeps but sweep i)     i = 1..k
l_(i)    = ln e_(i),   l_bar = mean of l_(i)
se       = sqrt((k - 1) / k * sum_i (l_(i) - l_bar) ** 2)   # jackknife standard error
half     = t_{0.9, k-1} * se                                # Student's t: two-sided 80%
interval = edge_lr * [exp(-half), exp(+half)]
tight   <=> exp(half) - 1 <= TOLERANCE (15%)
```

and the same interval, scaled, for `max_lr` (a fixed fraction of the edge). Why not the spread of
the sweeps' own edges over sqrt(k)? A single sweep's edge is far noisier than the median curve's:
on `fashion_cnn` + SGD (edges read with the rule before 2026-12-03) the single-sweep edges of one
test spanned 0.33..1.16 while the median-curve edges of three tests with different seeds came out
0.34, 0.35, 0.38, and the standard error of the single-sweep edges would call nearly every test
unsure. Why not the bootstrap or split halves? Resampling 4..8 sweeps with replacement repeats
sweeps, and the median of two sweeps (a split half) ends where the shorter one stopped: both gave
intervals of +-50..75% on that test, 3-5x wider than the seed-to-seed spread they should predict.
The jackknife's leave-one-out medians stay medians of k - 1 sweeps; on that test it gave +-15%.

The interval stops the auto range's sweeps once it is tight (with enough budget for four
sweeps) and is reported with the verdict, which `finder.rangetest.verdict` decides: on the suite
a wide interval did not predict a first proposal that missed. 15% is the aim of the auto range
and well inside the ~2x that separates a good peak LR from a diverging one (on full
Fashion-MNIST, 1cycle peaking at 1.0 reached 0.875 and at 3.0 diverged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finder.rangetest.repeats import combine
from finder.suggest import smith_bounds

CONFIDENCE = 0.8
# The share of the chance loss a held-out loss must fall below for the model to have learned
# something that generalises (`finder.rangetest.verdict`, rule 2; `finder.rangetest.trials`).
CHANCE_MARGIN = 0.97
TOLERANCE = 0.15
DISAGREEMENT = 2.0
MIN_INTERVAL_SWEEPS = 4

# Student's t quantile t_{0.9, df} (two-sided 80%), df = 1..30; the normal 1.2816 beyond.
_T_90 = (
    3.078, 1.886, 1.638, 1.533, 1.476, 1.440, 1.415, 1.397, 1.383, 1.372,
    1.363, 1.356, 1.350, 1.345, 1.341, 1.337, 1.333, 1.330, 1.328, 1.325,
    1.323, 1.321, 1.319, 1.318, 1.316, 1.315, 1.314, 1.313, 1.311, 1.310,
)  # fmt: skip
_Z_90 = 1.2816


def t_quantile_90(degrees_of_freedom: int) -> float:
    """Student's t quantile at 0.9 (the 80% two-sided interval) for `degrees_of_freedom` >= 1."""
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees_of_freedom must be >= 1. Received: {degrees_of_freedom}")
    if degrees_of_freedom <= len(_T_90):
        return _T_90[degrees_of_freedom - 1]
    return _Z_90


def median_edge(lrs: np.ndarray, runs: Sequence[Sequence[float]]) -> float | None:
    """`edge_lr` of the median curve of `runs` (as `finder.range_test` reports it)."""
    median = combine(runs, runs, len(lrs)).losses
    if len(median) < 2:
        return None
    return smith_bounds(lrs[: len(median)], median).edge_lr


def jackknife_interval(
    lrs: Sequence[float] | np.ndarray, runs: Sequence[Sequence[float]]
) -> tuple[float, float] | None:
    """The 80% jackknife interval of the median curve's `edge_lr` (module docstring).

    Args:
        lrs: the grid all sweeps share.
        runs: each sweep's raw losses (shorter where it stopped).

    Returns:
        (low, high) around the whole set's edge, or None with fewer than
        `MIN_INTERVAL_SWEEPS` sweeps or when a leave-one-out curve has no edge.
    """
    grid = np.asarray(lrs, dtype=np.float64)
    count = len(runs)
    edge = median_edge(grid, runs) if count >= MIN_INTERVAL_SWEEPS else None
    if edge is None:
        return None
    left_out = [median_edge(grid, [*runs[:i], *runs[i + 1 :]]) for i in range(count)]
    if any(e is None for e in left_out):
        return None
    logs = np.log(np.asarray(left_out, dtype=np.float64))
    standard_error = float(np.sqrt((count - 1) / count * np.sum((logs - logs.mean()) ** 2)))
    factor = float(np.exp(t_quantile_90(count - 1) * standard_error))
    return edge / factor, edge * factor


def is_tight(interval: tuple[float, float] | None, edge: float | None, tolerance: float) -> bool:
    """Whether `interval` lies within +-`tolerance` of `edge` (ratios, both sides)."""
    if interval is None or edge is None:
        return False
    return interval[1] / edge - 1 <= tolerance and edge / interval[0] - 1 <= tolerance


def disagreement(edges: Sequence[float | None]) -> float | None:
    """Ratio of the 75th to the 25th percentile of the per-sweep edges; None below two."""
    present = np.asarray([e for e in edges if e is not None and e > 0], dtype=np.float64)
    if present.size < 2:
        return None
    low, high = np.percentile(present, [25.0, 75.0])
    return float(high / low)


@dataclass(frozen=True)
class Reliability:
    """The verdict of a range test and the numbers behind it.

    Attributes:
        verdict: "reliable" or "unreliable".
        reasons: why not reliable (empty when reliable).
        edge_interval: the 80% interval of `edge_lr`, or None.
        max_lr_interval: the same interval for `max_lr`, or None.
        sweeps: sweeps the estimate rests on.
        steps: optimizer steps the whole test used.
        sweep_edges: each sweep's own `edge_lr` (None where its loss never fell).
        signals: the numbers the verdict read (`finder.rangetest.verdict`): the chance
            loss, the held-out floor, the sweeps' spread, the validation curve's turn.
    """

    verdict: str
    reasons: list[str] = field(default_factory=list)
    edge_interval: list[float] | None = None
    max_lr_interval: list[float] | None = None
    sweeps: int = 0
    steps: int = 0
    sweep_edges: list[float | None] = field(default_factory=list)
    confidence: float = CONFIDENCE
    tolerance: float = TOLERANCE
    signals: dict[str, Any] = field(default_factory=dict)

    @property
    def reliable(self) -> bool:
        return self.verdict == "reliable"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "edge_interval": self.edge_interval,
            "max_lr_interval": self.max_lr_interval,
            "sweeps": self.sweeps,
            "steps": self.steps,
            "sweep_edges": list(self.sweep_edges),
            "confidence": self.confidence,
            "tolerance": self.tolerance,
            "signals": dict(self.signals),
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Reliability:
        return cls(**document)

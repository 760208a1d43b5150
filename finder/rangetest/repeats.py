"""Combine several sweeps of one range test into a median curve with its spread.

All sweeps share the same learning-rate grid. A sweep that stopped early (diverged or hit a
non-finite loss) counts as infinitely bad at every later step, so

```
median_i = median over runs of loss_run_i   (loss = +inf past a run's end)
```

is finite exactly while at least half of the runs are still going, and the combined curve
ends where the median becomes infinite. The spread is the 25th..75th percentile band.
Pure numpy, no Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SPREAD_PERCENTILES = (25.0, 75.0)


@dataclass(frozen=True)
class CombinedCurve:
    """Median curves and their percentile band, truncated where the median is infinite."""

    losses: np.ndarray
    smoothed_losses: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def padded(curves: Sequence[Sequence[float]], length: int) -> np.ndarray:
    """Runs as rows of a (runs, length) array, +inf past each run's end."""
    table = np.full((len(curves), length), np.inf)
    for row, curve in enumerate(curves):
        table[row, : len(curve)] = curve
    return table


def combine(
    losses: Sequence[Sequence[float]], smoothed: Sequence[Sequence[float]], length: int
) -> CombinedCurve:
    """Median raw and smoothed curves of several runs, and the raw spread band."""
    raw = padded(losses, length)
    smooth = padded(smoothed, length)
    median_raw = np.median(raw, axis=0)
    median_smooth = np.median(smooth, axis=0)
    with np.errstate(invalid="ignore"):
        lower, upper = np.percentile(raw, SPREAD_PERCENTILES, axis=0)
    finite = np.isfinite(median_raw) & np.isfinite(median_smooth)
    end = int(np.argmin(finite)) if not finite.all() else length
    return CombinedCurve(
        losses=median_raw[:end],
        smoothed_losses=median_smooth[:end],
        lower=lower[:end],
        upper=np.where(np.isfinite(upper[:end]), upper[:end], np.nan),
    )


def spread(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Median, min, max and max/min ratio of one suggestion across runs (None ignored)."""
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    if present.size == 0:
        return {"median": None, "min": None, "max": None, "ratio": None, "count": 0}
    low, high = float(present.min()), float(present.max())
    return {
        "median": float(np.median(present)),
        "min": low,
        "max": high,
        "ratio": high / low if low > 0 else None,
        "count": int(present.size),
    }

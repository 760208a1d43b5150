"""The rules that end a sweep, one small object each, fed one recorded step at a time by the
recorder (`finder.rangetest.recorder.SweepRecorder`), as Keras keeps one concern per callback.

The smoothed curve is the debiased exponential moving average (`DebiasedEma`)

```
avg_i = beta * avg_{i-1} + (1 - beta) * loss_i,   avg_{-1} = 0
smoothed_i = avg_i / (1 - beta ** (i + 1))
```

and a sweep stops at the first non-finite loss (the recorder's own check, before any rule), or
when a rule fires:

- `Divergence`: `smoothed_i > divergence * min(smoothed_0..i)`, only while that minimum is
  positive (a ratio means nothing for losses that go below zero);
- `DeadNetwork`, for a network that DIED instead of blowing up (a classifier whose loss jumps
  back to chance level and stays there never passes 4x its minimum). With window `w`, after
  step `w`,

  ```
  start = mean(loss_0 .. loss_{w-1})           # the level the sweep started from
  best  = min over i of mean(loss_{i-w+1} .. loss_i)
  fire when  start - best >= DEAD_MIN_DROP * |start|      # it had learned (30%)
        and  mean(last w losses) >= best + DEAD_RETURN * (start - best)   # 75%
  ```

  a raw-loss window rather than the EMA, whose lag (up to 49 steps at beta 0.98) would spend
  a decade of a fast sweep on a dead network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# A dead network: it had fallen by >= 30% of its start and climbed back >= 75% of the way.
# 30%, because the mean of a few noisy batch losses moves by 10-15% on its own (least squares
# with noisy targets tripped a 10% rule within nine steps of the start).
DEAD_MIN_DROP = 0.3
DEAD_RETURN = 0.75


class StopRule(Protocol):
    """Told every recorded step; says whether the sweep ends there."""

    def fires(self, smoothed: float, losses: Sequence[float]) -> bool:
        """After a step: its smoothed loss, and every raw loss so far (this step's last)."""
        ...


@dataclass
class DebiasedEma:
    """The debiased EMA of the module docstring; `beta = 0` returns the raw loss."""

    beta: float
    _average: float = 0.0
    _steps: int = 0

    def __call__(self, loss: float) -> float:
        self._steps += 1
        if self.beta == 0:
            return loss
        self._average = self.beta * self._average + (1 - self.beta) * loss
        return self._average / (1 - self.beta**self._steps)


@dataclass
class Divergence:
    """The smoothed loss above `factor` times its minimum so far (module docstring)."""

    factor: float
    _best: float = math.inf

    def fires(self, smoothed: float, losses: Sequence[float]) -> bool:
        self._best = min(self._best, smoothed)
        return self._best > 0 and smoothed > self.factor * self._best


@dataclass
class DeadNetwork:
    """A loss that fell, then climbed back most of the way and stays (module docstring)."""

    window: int
    _window_best: float = math.inf

    def fires(self, smoothed: float, losses: Sequence[float]) -> bool:
        window = self.window
        if len(losses) < window:
            return False
        recent = sum(losses[-window:]) / window
        self._window_best = min(self._window_best, recent)
        if len(losses) < 2 * window:
            return False
        start = sum(losses[:window]) / window
        drop = start - self._window_best
        return drop >= DEAD_MIN_DROP * abs(start) and recent >= (
            self._window_best + DEAD_RETURN * drop
        )

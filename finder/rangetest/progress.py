"""What a range test reports after every recorded step (`SweepProgress`), for the CLI's bar,
the service's job rows and the dashboard. Plain data, without Keras: the service's job process
and its test stand-in build it without loading TensorFlow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from finder.errors import InvalidArgumentError


@dataclass(frozen=True)
class SweepProgress:
    """One recorded step, as handed to a `progress` callable.

    `steps_done` out of `steps_total`, with `label` for the sweep, is the progress every
    consumer shows (the CLI's bar, the service's job rows). `steps_total` is a bound, not a
    count: sweeps stop early, so a test that ended ran `RangeTestResult.steps_run` steps.
    """

    repeat: int
    repeats: int
    step: int
    num_steps: int
    lr: float
    loss: float
    smoothed_loss: float
    phase: str = "sweep"
    steps_before: int = 0
    budget: int | None = None

    @property
    def steps_done(self) -> int:
        """Steps the range test has run up to this one, over all its sweeps."""
        # `steps_before` counts what earlier sweeps ran, not their grids' lengths: a sweep
        # that stopped early leaves no gap in the count.
        return self.steps_before + self.step + 1

    @property
    def steps_total(self) -> int:
        """The most steps the range test may run: the auto range's budget, else every
        sweep's grid."""
        return self.budget if self.budget is not None else self.repeats * self.num_steps

    @property
    def label(self) -> str:
        """Which sweep this step belongs to, in words: "sweep 2/3", "sweep 2" (the auto range,
        which decides as it goes how many it runs: `repeats` 0), or the phase's name."""
        if self.phase == "sweep":
            count = f"/{self.repeats}" if self.repeats > 0 else ""
            return f"sweep {self.repeat + 1}{count}"
        return self.phase


def checked_progress(progress: object) -> Callable[[SweepProgress], None] | None:
    """`progress` as given, once checked to be a callable or None: a flag such as
    `progress=False` fails here, before any training, and not at the test's first step."""
    if progress is None or callable(progress):
        return progress
    raise InvalidArgumentError(
        f"progress must be a callable that takes a SweepProgress, or None; got "
        f"{progress!r}. The test reports nothing unless given one (the CLI draws its bar "
        "from it)."
    )

"""Matplotlib figures: the range-test curve and schedule curves, written as PNG or SVG.

The Agg backend is used for every figure, so plotting works on machines without a display
and never changes the caller's pyplot state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from finder.errors import InvalidArgumentError

FIGURE_FORMATS = ("png", "svg")


def new_figure(width: float = 8.0, height: float = 5.0) -> Figure:
    """A figure detached from pyplot (no global state, no display needed)."""
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write `fig` to `path`; the suffix (`.png` or `.svg`) picks the format.

    Raises:
        InvalidArgumentError: the suffix is not `.png` or `.svg`.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise InvalidArgumentError(
            f"Figure path must end in .png or .svg. Received: path={str(path)!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=fmt, dpi=dpi)
    return path


def plot_schedule(
    schedules: Any,
    total_steps: int,
    *,
    steps_per_epoch: int | None = None,
    path: str | Path | None = None,
    labels: Sequence[str] | None = None,
    log_y: bool = False,
    title: str | None = None,
    max_points: int = 2000,
) -> Figure:
    """Learning rate against optimizer step for one or several schedules on one axis.

    Example:

    ```python
    fig = plot_schedule(
        [ScheduleSpec("one_cycle", {"max_lr": 0.1, "total_steps": 1000}), 0.01],
        total_steps=1000,
        steps_per_epoch=100,
        path="schedules.png",
    )
    ```

    Args:
        schedules: a `ScheduleSpec`, a `LearningRateSchedule`, a float, or a list of them,
            or a dict from label to any of those.
        total_steps: int. Steps to draw, `0 .. total_steps - 1`.
        steps_per_epoch: int or `None`. When given, a dotted vertical line marks the start
            of every epoch after the first. Defaults to `None`.
        path: str, `Path` or `None`. Where to write the figure (`.png` or `.svg`).
            Defaults to `None` (not written).
        labels: list of str or `None`. Legend labels, one per schedule; defaults to the
            dict keys, else the spec family or class name.
        log_y: bool. Logarithmic learning-rate axis. Defaults to `False`.
        title: str or `None`. The axes title. Defaults to `None`.
        max_points: int. Above this many steps, curves are sampled at this many evenly
            spaced steps (plus every epoch start). Defaults to `2000`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        InvalidArgumentError: a bad `total_steps`, `steps_per_epoch` or label count, or a
            schedule that is none of the types above.
    """
    # Imported here so that `finder.plot` stays importable without loading Keras.
    from finder.schedules.spec import ScheduleSpec, evaluate_learning_rate

    if isinstance(schedules, Mapping):
        labels = list(schedules) if labels is None else labels
        schedules = list(schedules.values())
    elif isinstance(schedules, list | tuple):
        schedules = list(schedules)
    else:
        schedules = [schedules]
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise InvalidArgumentError(
            f"Argument `total_steps` must be an integer > 0. Received: total_steps={total_steps!r}"
        )
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool)
        or not isinstance(steps_per_epoch, int)
        or steps_per_epoch < 1
    ):
        raise InvalidArgumentError(
            "Argument `steps_per_epoch` must be an integer > 0 or None. "
            f"Received: steps_per_epoch={steps_per_epoch!r}"
        )
    if labels is not None and len(labels) != len(schedules):
        raise InvalidArgumentError(
            f"Argument `labels` must have one label per schedule ({len(schedules)}). "
            f"Received: labels={labels!r}"
        )

    steps = np.arange(total_steps)
    if total_steps > max_points:
        steps = np.unique(np.linspace(0, total_steps - 1, max_points).round().astype(np.int64))
        if steps_per_epoch is not None:
            epoch_starts = np.arange(0, total_steps, steps_per_epoch)
            steps = np.union1d(steps, epoch_starts)

    fig = new_figure()
    ax = fig.add_subplot()
    for index, schedule in enumerate(schedules):
        if isinstance(schedule, ScheduleSpec):
            values = schedule.lr_at(steps)
            label = schedule.family
        else:
            values = evaluate_learning_rate(schedule, steps)
            label = type(schedule).__name__ if not isinstance(schedule, float | int) else "constant"
        if labels is not None:
            label = labels[index]
        ax.plot(steps, values, label=label, linewidth=1.5)
    if steps_per_epoch is not None:
        for epoch_start in range(steps_per_epoch, total_steps, steps_per_epoch):
            ax.axvline(epoch_start, color="grey", linestyle=":", linewidth=0.8)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_xlim(0, max(total_steps - 1, 1))
    if title is not None:
        ax.set_title(title)
    ax.legend()
    ax.grid(True, alpha=0.3)
    if path is not None:
        save_figure(fig, path)
    return fig

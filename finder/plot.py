"""Matplotlib figures: the range-test curve and schedule curves, written as PNG or SVG.

The Agg backend is used for every figure, so plotting works on machines without a display
and never changes the caller's pyplot state.
"""

from __future__ import annotations

import textwrap
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
    from finder.schedules.sampling import evaluate_learning_rate
    from finder.schedules.spec import ScheduleSpec

    if isinstance(schedules, Mapping):
        labels = list(schedules) if labels is None else labels
        schedules = list(schedules.values())
    elif isinstance(schedules, list | tuple):
        schedules = list(schedules)
    else:
        schedules = [schedules]
    from finder.schedules import _checks  # here: finder.plot alone does not load Keras

    _checks.integer("total_steps", total_steps, low=1)
    _checks.optional_integer("steps_per_epoch", steps_per_epoch, low=1)
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


SUGGESTION_COLOURS = {"steepest": "tab:green", "valley": "tab:purple", "minimum": "tab:red"}


def plot_range_test(
    result: Any,
    *,
    path: str | Path | None = None,
    title: str | None = None,
    show_raw: bool = True,
    ax: Any = None,
) -> Figure:
    """The loss-vs-learning-rate curve of a range test on a log-x axis.

    Draws the raw per-batch losses, the smoothed curve, the repeats' 25-75% band and the
    validation curve when present, each suggestion as a labelled vertical marker, and the
    bounds as a shaded range. The y-axis is logarithmic when the loss spans more than two
    decades, and clipped so the final blow-up does not flatten the rest of the curve.

    Args:
        result: a `RangeTestResult` (or anything with its attributes).
        path: str or Path or None. Where to write the figure (`.png` or `.svg`).
        title: str or None. Defaults to the model and optimizer names.
        show_raw: bool. Draw the raw losses under the smoothed curve. Defaults to `True`.
        ax: a matplotlib `Axes` to draw into (a subplot of your own figure), or None for a
            new figure. Defaults to `None`.

    Returns:
        The matplotlib `Figure` drawn into (`ax.figure` when `ax` is given).
    """
    if ax is None:
        fig = new_figure(9.0, 5.5)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    trials = (getattr(result, "auto", None) or {}).get("trials")
    if trials is not None:
        _plot_trials(ax, result, trials, title)
        if path is not None:
            save_figure(fig, path)
        return fig
    lrs = np.asarray(result.lrs, dtype=np.float64)
    raw = np.asarray(result.losses, dtype=np.float64)
    smoothed = np.asarray(result.smoothed_losses, dtype=np.float64)
    if show_raw and len(raw):
        ax.plot(lrs, raw, color="tab:blue", alpha=0.3, linewidth=0.8, label="loss (per batch)")
    repeats = result.repeats or {}
    if repeats.get("loss_lower"):
        lower = np.array([np.nan if v is None else v for v in repeats["loss_lower"]], dtype=float)
        upper = np.array([np.nan if v is None else v for v in repeats["loss_upper"]], dtype=float)
        ax.fill_between(
            lrs[: len(lower)],
            lower,
            upper,
            color="tab:blue",
            alpha=0.15,
            label=f"25-75% over {repeats['count']} sweeps",
        )
    ax.plot(lrs, smoothed, color="tab:blue", linewidth=2.0, label="loss (smoothed)")
    # Documents written before the auto range swept one grid kept a separate coarse pass (its
    # grid starts elsewhere); today's first sweep is one of the curves already drawn.
    coarse = (getattr(result, "auto", None) or {}).get("coarse")
    if coarse and coarse["lrs"] and not np.isclose(coarse["lrs"][0], lrs[0]):
        ax.plot(
            coarse["lrs"],
            [np.nan if v is None else v for v in coarse["losses"]],
            color="tab:gray",
            alpha=0.6,
            linewidth=0.8,
            label="coarse pass (auto range)",
        )
    if result.val_lrs:
        ax.plot(
            result.val_lrs,
            result.val_losses,
            "o-",
            color="tab:orange",
            markersize=3,
            linewidth=1.2,
            label="validation loss",
        )
    bounds = result.bounds
    if bounds.min_lr is not None and bounds.max_lr is not None:
        ax.axvspan(
            bounds.min_lr,
            bounds.max_lr,
            color="tab:green",
            alpha=0.12,
            label=f"bounds {bounds.min_lr:.2g} .. {bounds.max_lr:.2g}",
        )
    for name, value in result.suggestions.items():
        if value is None:
            continue
        ax.axvline(
            value,
            color=SUGGESTION_COLOURS.get(name, "tab:gray"),
            linestyle="--",
            linewidth=1.2,
            label=f"{name} {value:.2g}",
        )
    _draw_reliability(ax, getattr(result, "reliability", None))
    ax.set_xscale("log")
    _set_loss_limits(ax, np.concatenate([raw, smoothed]) if show_raw else smoothed)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="best", fontsize="small")
    ax.set_title(title or _default_title(result), fontsize="medium")
    if path is not None:
        save_figure(fig, path)
    return fig


def _plot_trials(ax: Any, result: Any, trials: dict[str, Any], title: str | None) -> None:
    """Constant-LR trials (`finder.rangetest.trials`): each trial's score against its LR, the
    threshold a score must fall below to count as learning, and the pick."""
    lrs = np.asarray(result.lrs, dtype=np.float64)
    scores = np.asarray(result.losses, dtype=np.float64)
    ax.plot(
        lrs,
        scores,
        "o-",
        color="tab:blue",
        linewidth=1.5,
        label=f"{trials['source']} loss after {trials['steps_per_trial']} steps at each LR",
    )
    if trials.get("threshold") is not None:
        ax.axhline(
            trials["threshold"],
            color="tab:gray",
            linestyle=":",
            linewidth=1.0,
            label=f"learned below {trials['threshold']:.3g}",
        )
    if trials.get("pick") is not None:
        ax.axvline(
            trials["pick"],
            color="tab:green",
            linestyle="--",
            linewidth=1.5,
            label=f"pick {trials['pick']:.2g} (constant LR)",
        )
    _draw_reliability(ax, getattr(result, "reliability", None), unit="trial")
    ax.set_xscale("log")
    _set_loss_limits(ax, scores)
    ax.set_xlabel("learning rate (constant within each trial)")
    ax.set_ylabel("loss")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="best", fontsize="small")
    default = (
        f"Constant-LR trials: {result.model.get('name', 'model')}, "
        f"{result.optimizer.get('name', 'optimizer')}"
    )
    ax.set_title(title or default, fontsize="medium")


def _draw_reliability(ax: Any, reliability: Any, unit: str = "sweep") -> None:
    """The 80% interval of max_lr as a hatched band and the verdict in a corner box."""
    if reliability is None:
        return
    if reliability.max_lr_interval is not None:
        low, high = reliability.max_lr_interval
        ax.axvspan(
            low,
            high,
            facecolor="none",
            edgecolor="tab:green",
            hatch="//",
            linewidth=0.0,
            label=f"max_lr 80% interval {low:.2g} .. {high:.2g}",
        )
    count = f"{reliability.sweeps} {unit}{'' if reliability.sweeps == 1 else 's'}"
    lines = [f"{reliability.verdict}: {count}, {reliability.steps} steps"]
    lines += [textwrap.shorten(reason, 70, placeholder="...") for reason in reliability.reasons]
    ax.text(
        0.01,
        0.02,
        "\n".join(lines),
        transform=ax.transAxes,
        fontsize="x-small",
        va="bottom",
        ha="left",
        color="darkgreen" if reliability.verdict == "reliable" else "darkred",
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "edgecolor": "0.8"},
    )


def _set_loss_limits(ax: Any, losses: np.ndarray) -> None:
    finite = losses[np.isfinite(losses)]
    if finite.size == 0:
        return
    low = float(finite.min())
    start = float(np.median(finite[: max(1, finite.size // 10)]))
    high = max(start, float(np.percentile(finite, 90))) * 1.15
    if low > 0 and high / low > 100:
        ax.set_yscale("log")
        ax.set_ylim(low * 0.8, high)
    else:
        span = max(high - low, 1e-12)
        ax.set_ylim(low - 0.05 * span, high)


def _default_title(result: Any) -> str:
    stop = result.stop_reason
    if result.stopped_at_lr is not None:
        stop += f" at lr {result.stopped_at_lr:.2g}"
    return (
        f"LR range test: {result.model.get('name', 'model')}, "
        f"{result.optimizer.get('name', 'optimizer')} ({stop})"
    )

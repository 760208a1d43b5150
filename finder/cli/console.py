"""Terminal output for the CLI: a progress bar for sweeps and a readable summary table.

Progress goes to stderr so that `finder run --json` leaves clean JSON on stdout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from finder.lr_finder.outcome import describe_climb
from finder.rangetest.progress import SweepProgress
from finder.rangetest.result import RangeTestResult

stdout = Console()
stderr = Console(stderr=True)


def format_lr(value: float | None) -> str:
    """An LR as 3 significant digits in scientific notation, or an em dash for None."""
    return "—" if value is None else f"{value:.3g}" if 1e-3 <= value < 100 else f"{value:.2e}"


def progress_bar(label: str, **options: Any) -> Progress:
    """A progress bar on stderr: `label` and a description, the bar, done/total, time."""
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(TextColumn(f"[bold]{label}[/bold] {{task.description}}"), *columns, **options)


class SweepBar:
    """A range test's `progress` callable that draws its steps on a bar: the steps done out of
    the most it may run while it runs, then (`finish`) the steps it ran out of those.

    Args:
        bar: Progress. Where the bar is drawn.
        task: TaskID. The bar's task in `bar`.
    """

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self.bar = bar
        self.task = task

    def __call__(self, event: SweepProgress) -> None:
        # The total comes with every step: the auto range sizes its budget to the data and
        # the plan once the test starts (often below the default the bar was opened with).
        self.bar.update(
            self.task,
            total=event.steps_total,
            completed=event.steps_done,
            description=f"{event.label}  lr {event.lr:.2e}  loss {event.loss:.4f}",
        )

    def finish(self, steps_run: int) -> None:
        """End the bar at N/N: sweeps stop early, so the bound it counted to is not what ran.

        Args:
            steps_run: int. The result's `steps_run` (a sweep that stopped on a non-finite
                loss ran one step more than the events reported).
        """
        self.bar.update(self.task, total=steps_run, completed=steps_run)


@contextmanager
def sweep_progress(total: int) -> Iterator[SweepBar]:
    """A progress bar over a range test's steps, opened at `total`; yields the `progress`
    callable for range_test, to be `finish`ed with the steps the test ran."""
    bar = progress_bar("range test", console=stderr, transient=False)
    with bar:
        yield SweepBar(bar, bar.add_task("", total=total))


def print_trials(trials: dict[str, Any]) -> None:
    """Constant-LR trials (`finder.rangetest.trials`) as a table: each LR, its score, why it
    ended; the pick marked."""
    table = Table(
        title=(
            f"Constant-LR trials ({trials['steps_per_trial']} steps each, scored by the "
            f"{trials['source']} loss after them)"
        ),
        title_justify="left",
        caption=(
            None
            if trials["threshold"] is None
            else f"a trial learned if its loss fell below {trials['threshold']:.4g}"
        ),
        caption_justify="left",
    )
    for column in ("lr", "loss", "steps", "ended"):
        table.add_column(column, justify="right" if column != "ended" else "left")
    for trial in trials["trials"]:
        score = "—" if trial["score"] is None else f"{trial['score']:.4g}"
        mark = "  <- pick" if trial["lr"] == trials["pick"] else ""
        table.add_row(
            format_lr(trial["lr"]), score, str(trial["steps_run"]), trial["stop_reason"] + mark
        )
    stdout.print(table)


def print_summary(result: RangeTestResult) -> None:
    """Suggestions, bounds and the sweep's outcome as tables on stdout (for constant-LR
    trials, the trials in place of the suggestions)."""
    trials = (result.auto or {}).get("trials")
    if trials is not None:
        print_trials(trials)
        if result.bounds.max_lr is not None:  # else the verdict says why there are none
            stdout.print(
                f"bounds: {format_lr(result.bounds.min_lr)} .. "
                f"{format_lr(result.bounds.max_lr)} ({result.bounds.note})"
            )
    else:
        print_suggestions(result)
    _print_outcome(result, "trials" if trials is not None else "sweep")
    print_verdict(result)


def print_suggestions(result: RangeTestResult) -> None:
    """Suggestions and bounds as a table on stdout."""
    spreads = (result.repeats or {}).get("suggestion_spread", {})
    # With several sweeps the lr is read off their median curve, and the range is the same
    # rule on each sweep alone: the median curve of two near-flat sweeps can turn before
    # either does, so the lr may fall outside that range (the caption says which is which).
    caption = (
        "lr: read off the median of the sweeps' curves; each sweep alone: min .. max of the "
        "same rule applied to every sweep"
        if spreads
        else None
    )
    table = Table(
        title="Learning-rate suggestions",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    table.add_column("name")
    table.add_column("lr", justify="right")
    if spreads:
        count = result.repeats["count"]  # type: ignore[index]
        table.add_column(f"each sweep alone ({count})", justify="right")
    table.add_column("note")
    rows: list[tuple[str, float | None, str]] = [
        (name, value, result.suggestion_notes.get(name, ""))
        for name, value in result.suggestions.items()
    ]
    rows.append(("bounds.min_lr", result.bounds.min_lr, ""))
    rows.append(("bounds.max_lr", result.bounds.max_lr, result.bounds.note or ""))
    for name, value, note in rows:
        cells = [name, format_lr(value)]
        if spreads:
            spread = spreads.get(name.removeprefix("bounds."), {})
            cells.append(
                f"{format_lr(spread.get('min'))} .. {format_lr(spread.get('max'))}"
                if spread.get("count")
                else "—"
            )
        cells.append(note)
        table.add_row(*cells)
    stdout.print(table)


def _print_outcome(result: RangeTestResult, what: str) -> None:
    """How the test ended and what it cost."""
    stopped = "" if result.stopped_at_lr is None else f" at lr {format_lr(result.stopped_at_lr)}"
    skipped = (
        f" (+{result.skipped_steps} skipped by loss scaling, not recorded)"
        if result.skipped_steps
        else ""
    )
    plan = (result.config or {}).get("plan_steps")
    share = f", {result.extra_steps / plan:.0%} of the {plan}-step plan" if plan else ""
    stdout.print(
        f"{what}: {result.stop_reason}{stopped}; {result.steps_run} steps{skipped} in "
        f"{result.wall_time_s:.1f} s ({result.steps_per_second:.0f} steps/s); "
        f"optimizer {result.optimizer['name']}, model {result.model['name']}"
    )
    handover = (result.auto or {}).get("handover")
    if handover is not None:  # the test ran inside the fit (finder.LearningRateFinder)
        stdout.print(
            f"cost: {result.extra_steps} of the fit's steps thrown away{share} (the ramp ran "
            f"{handover['ramp_steps']}, training resumed from step {handover['rollback_step']})"
        )
    else:
        stdout.print(f"cost: {result.extra_steps} steps added to your training{share}")
    climb = (result.auto or {}).get("climb")
    if climb is not None:  # the edge was read early (finder.lr_finder.climb)
        stdout.print(f"climb: {describe_climb(climb)}")


def verdict_lines(result: RangeTestResult) -> list[str]:
    """The reliability verdict as plain lines (also drawn on the plot)."""
    reliability = result.reliability
    if reliability is None:
        return []
    lines = [f"verdict: {reliability.verdict.upper()}"]
    if reliability.max_lr_interval is not None:
        low, high = reliability.max_lr_interval
        lines[0] += (
            f"  max_lr {format_lr(result.bounds.max_lr)} "
            f"(80% interval {format_lr(low)} .. {format_lr(high)})"
        )
    unit = "trial" if (result.auto or {}).get("trials") is not None else "sweep"
    sweeps = f"1 {unit}" if reliability.sweeps == 1 else f"{reliability.sweeps} {unit}s"
    lines[0] += f"  from {sweeps}, {reliability.steps} steps"
    lines.extend(f"  - {reason}" for reason in reliability.reasons)
    return lines


def print_verdict(result: RangeTestResult) -> None:
    """How sure the bounds are, in colour: green when reliable, yellow with the reasons."""
    colour = "green" if result.reliability and result.reliability.reliable else "yellow"
    for line in verdict_lines(result):
        stdout.print(f"[{colour}]{line}[/{colour}]", highlight=False)


def print_proposals(result: RangeTestResult) -> None:
    """The ranked schedule proposals as a table on stdout, or why there are none."""
    if not result.proposals:
        if result.bounds.max_lr is None:
            stdout.print(
                "no schedule proposal: the test found no bounds (see the verdict); "
                "`finder.fit` trains with the optimizer's own learning rate"
            )
        return
    plan = result.proposals[0].plan
    table = Table(
        title=(
            f"Schedule proposals for {plan.epochs} epochs x {plan.steps_per_epoch} steps "
            "(1 = recommended)"
        ),
        title_justify="left",
    )
    for column in ("#", "family", "parameters", "why"):
        table.add_column(column)
    for proposal in result.proposals:
        shown = ", ".join(
            f"{k}={format_lr(v) if isinstance(v, float) else v}"
            for k, v in proposal.spec.params.items()
            if k not in ("total_steps",)
        )
        table.add_row(str(proposal.rank), proposal.family, shown, proposal.rationale)
    stdout.print(table)


def print_training(history: Any) -> None:
    """The training `finder.fit` ran: its schedule, then every epoch's logged values."""
    proposal = history.proposal
    stdout.print(f"trained {len(history.epoch)} epochs with proposal 1: {proposal.family}")
    for epoch in history.epoch:
        values = "  ".join(f"{k} {v[epoch]:.4g}" for k, v in history.history.items())
        stdout.print(f"epoch {epoch + 1}  {values}", highlight=False)


def print_written(paths: Sequence[Path]) -> None:
    """Tell the user where the files went (stderr)."""
    for path in paths:
        stderr.print(f"wrote {path}")

"""`finder tune`: search schedules with keras-tuner inside the range test's bounds.

    finder tune [--model fashion_cnn|PATH.keras]
                [--data fashion_mnist_sample|fashion_mnist|PATH.npz]
                [--optimizer sgd --opt momentum=0.9] [--loss ...] [--metric accuracy]
                [--result RESULT.json | --budget 300 | --lr-range 1e-4 10 --steps 300]
                [--families one_cycle,cyclical,cosine_warmup] [--tuner bayesian]
                [--max-trials 10] [--epochs 3] [--batch-size 64] [--objective val_loss]
                [--workers 0] [--out finder-out] [--json]

Without `--result` it runs the range test first (as `finder run` does) and writes its
result.json next to tuning.json. Progress goes to stderr, one line per finished trial.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from finder.cli import options
from finder.families import DEFAULT_TUNED_FAMILIES, FAMILY_NAMES

if TYPE_CHECKING:
    from finder.tuning import TrialProgress, TuningResult


@click.command()
@options.model_options(
    data_help="fashion_mnist_sample (bundled), fashion_mnist (full set) or a path to a .npz. "
    "Without a validation set, the last 10% of the training set scores the trials.",
    optimizer_help="Keras optimizer name. Default: the model's, else sgd.",
    loss_help="Keras loss name. Default: sparse_categorical_crossentropy.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    default=("accuracy",),
    show_default=True,
    help="Metric to compile with, repeatable (objectives may use val_<metric>).",
)
@click.option(
    "--result",
    "result_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A range-test result.json to take the bounds from (skips the range test).",
)
@options.config_options()
@click.option(
    "--families",
    default=None,
    help=(
        f"Comma-separated schedule families, from {', '.join(FAMILY_NAMES)}. "
        f"Default: {','.join(DEFAULT_TUNED_FAMILIES)}."
    ),
)
@click.option(
    "--tuner",
    "tuner_name",
    type=click.Choice(["bayesian", "random", "hyperband"]),
    default="bayesian",
    show_default=True,
)
@click.option("--max-trials", type=int, default=10, show_default=True)
@click.option("--epochs", type=int, default=3, show_default=True, help="Epochs per trial.")
@click.option("--objective", default="val_loss", show_default=True, help="A validation metric.")
@click.option("--executions", type=int, default=1, show_default=True, help="Trainings per trial.")
@click.option("--workers", type=int, default=0, show_default=True, help="Ray worker tasks.")
@options.output_options(
    out_help="Directory for tuning.json (and result.json when the range test runs).",
    json_help="Print the tuning JSON on stdout.",
)
def tune(
    source: dict[str, Any],
    metrics: tuple[str, ...],
    result_file: str | None,
    settings: dict[str, Any],
    families: str | None,
    tuner_name: str,
    max_trials: int,
    epochs: int,
    objective: str,
    executions: int,
    workers: int,
    out_dir: str,
    as_json: bool,
    debug: bool,
    verbose: bool,
) -> None:
    """Tune the LR schedule with keras-tuner inside the range test's bounds."""
    with options.training_command(debug, verbose):
        from finder.cli import console
        from finder.data import load_dataset
        from finder.jobs import RunSpec, TuneSpec, run_tune_spec, tuning_range_test
        from finder.rangetest.result import RangeTestResult

        run = RunSpec(**options.run_spec_fields(source, settings))
        search = TuneSpec(
            families=[f.strip() for f in families.split(",")] if families else None,
            tuner=tuner_name,
            max_trials=max_trials,
            epochs=epochs,
            executions_per_trial=executions,
            objective=objective,
            metrics=metrics,
            workers=workers,
        )
        out = Path(out_dir)
        dataset = load_dataset(source["data"])
        written = []
        if result_file is not None:
            result = RangeTestResult.load(result_file)
        else:
            with console.sweep_progress(total=run.progress_steps) as sweep:
                result = tuning_range_test(run, search, progress=sweep, dataset=dataset)
                sweep.finish(result.steps_run)
            written.append(result.save(out / "result.json"))
        with _trial_display(max_trials if tuner_name != "hyperband" else None) as display:
            tuning = run_tune_spec(
                run, search, result=result, dataset=dataset, trial_progress=display
            )
        written.append(tuning.save(out / "tuning.json"))
        if as_json:
            click.echo(tuning.to_json())
        else:
            _print_summary(tuning)
        console.print_written(written)


def _describe(spec: Any) -> str:
    """A schedule's family and its parameters, briefly."""
    if spec is None:
        return "—"
    shown = {k: v for k, v in spec.params.items() if k not in ("total_steps", "decay_steps")}
    parts = [f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()]
    return f"{spec.family} " + " ".join(parts)


@contextmanager
def _trial_display(max_trials: int | None) -> Iterator[Any]:
    """A progress bar over trials on stderr (shown from the first trial on, so that errors
    before it stay one line), and one printed line per finished trial."""
    from finder.cli.console import progress_bar, stderr

    bar = progress_bar("tuning", console=stderr)
    task = bar.add_task("", total=max_trials)

    def update(event: TrialProgress) -> None:
        if not bar.live.is_started:
            bar.start()
        head = f"trial {event.trial_id} {event.spec.family if event.spec else ''}"
        if event.event == "trial_begin":
            bar.update(task, description=f"{head} starting")
        elif event.event == "epoch_end":
            val = "  ".join(f"{k} {v:.4f}" for k, v in event.logs.items() if k.startswith("val_"))
            bar.update(task, description=f"{head} epoch {event.epoch}/{event.epochs}  {val}")
        elif event.record is not None:
            record = event.record
            score = "—" if record.score is None else f"{record.score:.4f}"
            bar.console.print(
                f"trial {record.trial_id}  {record.status.lower()}  {_describe(record.spec)}"
                f"  score {score}  {record.outcome or ''}",
                markup=False,
                highlight=False,
            )
            bar.update(task, completed=event.number)

    try:
        yield update
        bar.update(task, description="done")
    finally:
        if bar.live.is_started:
            bar.stop()


def _print_summary(tuning: TuningResult) -> None:
    """The ranked trials as a table and the best schedule as code, on stdout."""
    from rich.table import Table

    from finder.cli.console import stdout

    table = Table(
        title=f"Schedules tried ({tuning.tuner}, {tuning.objective['name']} "
        f"{tuning.objective['direction']})",
        title_justify="left",
    )
    for column in ("rank", "trial", "schedule", "score", "outcome"):
        table.add_column(column, justify="right" if column in ("rank", "score") else "left")
    for trial in tuning.trials:
        table.add_row(
            "—" if trial.rank is None else str(trial.rank),
            trial.trial_id,
            _describe(trial.spec),
            "—" if trial.score is None else f"{trial.score:.4f}",
            trial.outcome or trial.status.lower(),
        )
    stdout.print(table)
    stdout.print(f"space: {tuning.space.rule}", markup=False, highlight=False)
    if tuning.best is not None:
        stdout.print(
            f"best schedule for {tuning.plan['epochs']} epochs (trial {tuning.best_trial_id}):"
        )
        stdout.print(tuning.best.to_code(), markup=False, highlight=False)

"""`finder run`: the LR range test with suggestions, bounds and schedule proposals.

    finder run [--model fashion_cnn|PATH.keras] [--data fashion_mnist_sample|fashion_mnist|PATH.npz]
               [--optimizer sgd --opt momentum=0.9] [--budget 300 | --lr-range 1e-4 10]
               [--steps 500] [--repeats 3] [--batch-size 64] [--out finder-out] [--json]
               [--train] [--tensorboard DIR] [--mlflow] [--verbose]

Without `--lr-range` the range is automatic (`finder.rangetest.auto_range`); with it, the sweep
covers exactly that range (`--steps` per sweep, 500 unless given) `--repeats` times. With
`--train` the model is then trained for `--epochs` with the first proposal (`finder.fit`, through
`finder.jobs.train_spec`) and saved as `model.keras` next to the result. `--tensorboard` and
`--mlflow` also send the result where Keras users look already (`finder.integrations`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from finder.cli import options

if TYPE_CHECKING:
    from finder.propose import Proposal


@click.command()
@options.model_options(
    data_help="fashion_mnist_sample (bundled), fashion_mnist (full set) or a path to a .npz.",
    optimizer_help="Keras optimizer name (sgd, adam, adamw, rmsprop, ...). "
    "Default: a model file's own optimizer, else sgd.",
    loss_help="Keras loss name. Default: a model file's own loss, "
    "else sparse_categorical_crossentropy.",
)
@options.config_options()
@click.option(
    "--epochs",
    type=int,
    default=10,
    show_default=True,
    help="Training plan the schedule proposals are sized for (0 = no proposals).",
)
@click.option(
    "--steps-per-epoch",
    type=int,
    default=None,
    help="Optimizer steps per epoch of the plan. Default: one pass over the data.",
)
@click.option(
    "--train",
    is_flag=True,
    help="Then train the model for --epochs with the first proposal (finder.fit) and save it "
    "as model.keras.",
)
@click.option(
    "--validation/--no-validation",
    default=True,
    show_default=True,
    help="Score a fixed validation subset along the sweep (when the data has one).",
)
@click.option(
    "--tensorboard",
    "tensorboard_dir",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Also write TensorBoard event files to DIR: loss, smoothed and validation loss and "
    "the LR against the sweep step, bounds and suggestions as text, the curve as an image.",
)
@click.option(
    "--mlflow",
    "to_mlflow",
    is_flag=True,
    help="Also log to MLflow (needs finder[mlflow]): bounds and suggestions as params, the "
    "curve as metrics per step, result.json and curve.png as artifacts. Store, experiment "
    "and run come from MLflow's environment (MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME, "
    "MLFLOW_RUN_ID); by default a new run in ./mlflow.db.",
)
@options.output_options(
    out_help="Directory for result.json and curve.png.",
    json_help="Print the result JSON on stdout.",
)
def run(
    source: dict[str, Any],
    settings: dict[str, Any],
    epochs: int,
    steps_per_epoch: int | None,
    train: bool,
    validation: bool,
    tensorboard_dir: str | None,
    to_mlflow: bool,
    out_dir: str,
    as_json: bool,
    debug: bool,
    verbose: bool,
) -> None:
    """Run the LR range test and print suggestions and bounds."""
    with options.training_command(debug, verbose):
        from finder.cli import console
        from finder.jobs import RunSpec, run_spec, train_spec
        from finder.plot import plot_range_test

        if to_mlflow:
            from finder.integrations.mlflow import mlflow_module

            mlflow_module()  # a missing extra fails now, not after the sweep
        if epochs < 0 or (steps_per_epoch is not None and steps_per_epoch < 1):
            raise click.BadParameter("--epochs must be >= 0 and --steps-per-epoch >= 1")
        spec = RunSpec(
            **options.run_spec_fields(source, settings),
            validation=validation,
            epochs=epochs or None,
            steps_per_epoch=steps_per_epoch,
        )
        out = Path(out_dir)
        history = None
        with console.sweep_progress(total=spec.progress_steps) as progress:
            if train:
                model, history = train_spec(spec, progress=progress)
                result = history.range_test_result
            else:
                result = run_spec(spec, progress=progress)
            progress.finish(result.steps_run)
        result_path = result.save(out / "result.json")
        curve_path = out / "curve.png"
        plot_range_test(result, path=curve_path)
        written = [result_path, curve_path]
        if result.proposals:
            written.append(plot_proposals(result.proposals, out / "schedules.png"))
        if history is not None:
            model.save(out / "model.keras")
            written.append(out / "model.keras")
        if tensorboard_dir is not None:
            written.append(result.to_tensorboard(tensorboard_dir))
        run_id = result.log_to_mlflow() if to_mlflow else None
        if as_json:
            click.echo(result.to_json())
        else:
            console.print_summary(result)
            console.print_proposals(result)
            if history is not None:
                console.print_training(history)
        console.print_written(written)
        if run_id is not None:
            console.stderr.print(f"logged to MLflow run {run_id}")


def plot_proposals(proposals: list[Proposal], path: Path) -> Path:
    """All proposed schedules' LR against step on one figure."""
    from finder.plot import plot_schedule

    plan = proposals[0].plan
    plot_schedule(
        {f"{p.rank}. {p.family}": p.spec for p in proposals},
        plan.total_steps,
        steps_per_epoch=plan.steps_per_epoch,
        path=path,
        title=f"Proposed schedules for {plan.epochs} epochs",
    )
    return path

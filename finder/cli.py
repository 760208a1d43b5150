"""`finder` command line: parsing and printing only; the work is done by library calls.

    finder run [--model fashion_cnn|PATH.keras] [--data fashion_mnist_sample|fashion_mnist|PATH.npz]
               [--optimizer sgd --opt momentum=0.9] [--budget 1500 | --lr-range 1e-4 10]
               [--steps 500] [--repeats 3] [--batch-size 64] [--out finder-out] [--json]

Without `--lr-range` the range is automatic (`finder.auto_range`); with it, the sweep covers
exactly that range (`--steps` per sweep, 500 unless given) `--repeats` times.
    finder plot RESULT.json [--out curve.png]

Every error the user can cause (missing file, unreadable model, bad range, shape mismatch)
ends with a one-line message on stderr and exit status 1, never a traceback; usage errors exit
with status 2 as usual for click.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from finder.errors import FinderError  # noqa: E402

DEFAULT_OUT = "finder-out"
# Steps per sweep of an explicit --lr-range without --steps (the pre-auto default).
EXPLICIT_STEPS = 500


def parse_setting(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


@contextmanager
def one_line_errors(debug: bool) -> Iterator[None]:
    """Turn any failure into `Error: ...` and exit status 1 (a traceback only with --debug)."""
    try:
        yield
    except click.exceptions.Exit:
        raise
    except (FinderError, OSError, ValueError, TypeError, RuntimeError) as exc:
        if debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        prefix = "" if isinstance(exc, FinderError) else f"{type(exc).__name__}: "
        click.echo(f"Error: {prefix}{message}", err=True)
        raise SystemExit(1) from None


# Commands defined in their own modules, imported only when invoked (`finder serve` must not
# load FastAPI for `finder run`, and the library never imports the service).
LAZY_COMMANDS = {
    "tune": ("finder.cli_tune", "tune"),
    "serve": ("finder.cli_service", "serve"),
    "worker": ("finder.cli_service", "worker"),
}


class LazyGroup(click.Group):
    """A click group whose extra commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        available = [name for name, (module, _) in LAZY_COMMANDS.items() if find_spec(module)]
        return sorted([*super().list_commands(ctx), *available])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and find_spec(LAZY_COMMANDS[cmd_name][0]):
            module, attribute = LAZY_COMMANDS[cmd_name]
            command: click.Command = getattr(import_module(module), attribute)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="finder")
def cli() -> None:
    """finder: learning-rate range test and schedule tuning for Keras 3."""


@cli.command()
@click.option(
    "--model",
    default="fashion_cnn",
    show_default=True,
    help="Built-in model (fashion_cnn, mlp) or a path to a .keras file.",
)
@click.option(
    "--data",
    default="fashion_mnist_sample",
    show_default=True,
    help="fashion_mnist_sample (bundled), fashion_mnist (full set) or a path to a .npz.",
)
@click.option(
    "--optimizer",
    default=None,
    help="Keras optimizer name (sgd, adam, adamw, rmsprop, ...). "
    "Default: a model file's own optimizer, else sgd.",
)
@click.option(
    "--opt",
    "optimizer_settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Optimizer setting, repeatable: --opt momentum=0.9 --opt nesterov=true.",
)
@click.option(
    "--loss",
    default=None,
    help="Keras loss name. Default: a model file's own loss, else sparse_categorical_crossentropy.",
)
@click.option(
    "--lr-range",
    nargs=2,
    type=float,
    default=None,
    metavar="MIN MAX",
    help="First and last learning rate of the sweep. Default: found automatically.",
)
@click.option(
    "--steps",
    type=int,
    default=None,
    help="Optimizer steps per sweep. Default: 500 with --lr-range, else 80 per decade.",
)
@click.option(
    "--budget",
    type=int,
    default=None,
    help="Auto range: optimizer steps for all sweeps (default 1500, at most the plan).",
)
@click.option(
    "--repeats",
    type=int,
    default=3,
    show_default=True,
    help="Sweeps over different batch orders; the median curve is reported.",
)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--mode", type=click.Choice(["exp", "linear"]), default="exp", show_default=True)
@click.option(
    "--smoothing",
    type=float,
    default=0.98,
    show_default=True,
    help="EMA coefficient of the smoothed curve (0 = off).",
)
@click.option(
    "--divergence",
    type=float,
    default=4.0,
    show_default=True,
    help="Stop when the smoothed loss exceeds this multiple of its minimum.",
)
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
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--validation/--no-validation",
    default=True,
    show_default=True,
    help="Score a fixed validation subset along the sweep (when the data has one).",
)
@click.option(
    "--out",
    "out_dir",
    default=DEFAULT_OUT,
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory for result.json and curve.png.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result JSON on stdout.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def run(
    model: str,
    data: str,
    optimizer: str | None,
    optimizer_settings: tuple[str, ...],
    loss: str | None,
    lr_range: tuple[float, float] | None,
    steps: int | None,
    budget: int | None,
    repeats: int,
    batch_size: int,
    mode: str,
    smoothing: float,
    divergence: float,
    epochs: int,
    steps_per_epoch: int | None,
    seed: int,
    validation: bool,
    out_dir: str,
    as_json: bool,
    debug: bool,
) -> None:
    """Run the LR range test and print suggestions and bounds."""
    with one_line_errors(debug):
        from finder import console
        from finder.plot import plot_range_test
        from finder.runner import RunSpec, run_spec

        sweep = sweep_options(lr_range, steps, budget, mode)
        if epochs < 0 or (steps_per_epoch is not None and steps_per_epoch < 1):
            raise click.BadParameter("--epochs must be >= 0 and --steps-per-epoch >= 1")
        spec = RunSpec(
            model=model,
            data=data,
            optimizer=optimizer,
            optimizer_settings=dict(parse_setting(s) for s in optimizer_settings),
            loss=loss,
            batch_size=batch_size,
            **sweep,
            smoothing=smoothing,
            divergence=divergence,
            repeats=repeats,
            seed=seed,
            validation=validation,
            epochs=epochs or None,
            steps_per_epoch=steps_per_epoch,
        )
        with console.sweep_progress(total=spec.progress_steps) as progress:
            result = run_spec(spec, progress=progress)
        out = Path(out_dir)
        result_path = result.save(out / "result.json")
        curve_path = out / "curve.png"
        plot_range_test(result, path=curve_path)
        written = [result_path, curve_path]
        if result.proposals:
            written.append(plot_proposals(result.proposals, out / "schedules.png"))
        if as_json:
            click.echo(result.to_json())
        else:
            console.print_summary(result)
            console.print_proposals(result)
        console.print_written(written)


def sweep_options(
    lr_range: tuple[float, float] | None, steps: int | None, budget: int | None, mode: str
) -> dict[str, Any]:
    """`RunSpec` fields of the sweep: the auto range unless `--lr-range` is given."""
    from finder.defaults import AUTO
    from finder.sweep import validate_sweep

    if lr_range is None:
        if steps is not None:
            validate_sweep(1e-7, 1.0, steps, "exp")
        return {"num_steps": steps or AUTO, "budget": budget, "mode": "exp"}
    if budget is not None:
        raise click.BadParameter("--budget applies to the auto range; drop it or --lr-range")
    steps = steps or EXPLICIT_STEPS
    validate_sweep(lr_range[0], lr_range[1], steps, mode)
    return {"min_lr": lr_range[0], "max_lr": lr_range[1], "num_steps": steps, "mode": mode}


def plot_proposals(proposals: list[dict[str, Any]], path: Path) -> Path:
    """All proposed schedules' LR against step on one figure."""
    from finder.plot import plot_schedule
    from finder.schedules import ScheduleSpec

    plan = proposals[0]["plan"]
    plot_schedule(
        {f"{p['rank']}. {p['family']}": ScheduleSpec.from_dict(p["spec"]) for p in proposals},
        plan["total_steps"],
        steps_per_epoch=plan["steps_per_epoch"],
        path=path,
        title=f"Proposed schedules for {plan['epochs']} epochs",
    )
    return path


@cli.command()
@click.argument("result_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out", "out_path", default="curve.png", show_default=True, help="Output figure; .png or .svg."
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def plot(result_file: str, out_path: str, debug: bool) -> None:
    """Draw the loss-vs-LR curve of a saved result.json."""
    with one_line_errors(debug):
        from finder.plot import plot_range_test
        from finder.result import RangeTestResult

        result = RangeTestResult.load(result_file)
        plot_range_test(result, path=out_path)
        click.echo(f"wrote {out_path}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    runner: Callable[..., Any] = cli
    runner(args=argv if argv is not None else sys.argv[1:], prog_name="finder")

"""What the `finder` commands share: the click options of a job (model, data, optimizer,
range-test sweep, output), their conversion to `RunSpec` fields, and one-line errors."""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import click

from finder.cli import quiet
from finder.defaults import (
    AUTO,
    DEFAULT_BUDGET,
    EXPLICIT_STEPS,
    JOB_REPEATS,
    MAX_STEPS_PER_DECADE,
    MIN_PLAN_BUDGET,
    PLAN_FRACTION,
)
from finder.errors import FinderError, UnreliableAnswerWarning

DEFAULT_OUT = "finder-out"
F = TypeVar("F", bound=Callable[..., Any])


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


@contextmanager
def training_command(debug: bool, verbose: bool) -> Iterator[None]:
    """`one_line_errors` around a command that trains, TensorFlow loaded first (its start-up
    logs dropped unless `verbose`, `finder.cli.quiet`). `finder.fit`'s warning on an unreliable
    answer is silenced: the command prints the verdict and its reasons before it trains."""
    with one_line_errors(debug), warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreliableAnswerWarning)
        quiet.load_tensorflow(verbose)
        yield


def _apply(options: Sequence[Callable[[Any], Any]], function: F) -> F:
    """`function` decorated with `options`, the first one outermost (as if written above it)."""
    for option in reversed(options):
        function = option(function)
    return function


SOURCE_OPTIONS = ("model", "data", "optimizer", "optimizer_settings", "loss")


def model_options(*, data_help: str, optimizer_help: str, loss_help: str) -> Callable[[F], F]:
    """`--model --data --optimizer --opt --loss`: what a job trains, and how. The command
    receives them together, as the dict `source` (see `run_spec_fields`)."""
    options = [
        click.option(
            "--model",
            default="fashion_cnn",
            show_default=True,
            help="Built-in model (fashion_cnn, mlp) or a path to a .keras file.",
        ),
        click.option("--data", default="fashion_mnist_sample", show_default=True, help=data_help),
        click.option("--optimizer", default=None, help=optimizer_help),
        click.option(
            "--opt",
            "optimizer_settings",
            multiple=True,
            metavar="KEY=VALUE",
            help="Optimizer setting, repeatable: --opt momentum=0.9 --opt nesterov=true.",
        ),
        click.option("--loss", default=None, help=loss_help),
    ]

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def command(**kwargs: Any) -> Any:
            source = {name: kwargs.pop(name) for name in SOURCE_OPTIONS}
            return function(source=source, **kwargs)

        return _apply(options, cast(F, command))

    return decorate


BUDGET_HELP = (
    f"Auto range: optimizer steps for all sweeps. Default: {PLAN_FRACTION:.0%} of the training "
    f"plan, at least {MIN_PLAN_BUDGET}; {DEFAULT_BUDGET} without a plan."
)


def sweep_click_options(
    *, lr_range_help: str, budget_help: str, repeats_help: str
) -> Callable[[F], F]:
    """`--lr-range --steps --budget --repeats`: the range test's sweep (see `sweep_options`)."""
    options = [
        click.option(
            "--lr-range",
            nargs=2,
            type=float,
            default=None,
            metavar="MIN MAX",
            help=lr_range_help,
        ),
        click.option(
            "--steps",
            type=int,
            default=None,
            help=f"Optimizer steps per sweep. Default: {EXPLICIT_STEPS} with --lr-range, "
            f"else as dense as the budget allows (at most {MAX_STEPS_PER_DECADE} per decade).",
        ),
        click.option("--budget", type=int, default=None, help=budget_help),
        click.option(
            "--repeats",
            type=int,
            default=None,
            help=f"{repeats_help} Default: {JOB_REPEATS} with --lr-range; the auto range sweeps "
            "as its budget allows.",
        ),
    ]
    return lambda function: _apply(options, function)


def output_options(*, out_help: str, json_help: str) -> Callable[[F], F]:
    """`--out --json --debug --verbose`."""
    options = [
        click.option(
            "--out",
            "out_dir",
            default=DEFAULT_OUT,
            show_default=True,
            type=click.Path(file_okay=False),
            help=out_help,
        ),
        click.option("--json", "as_json", is_flag=True, help=json_help),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
        click.option(
            "--verbose", is_flag=True, help="Show TensorFlow's own log lines (finder.cli.quiet)."
        ),
    ]
    return lambda function: _apply(options, function)


def sweep_options(
    lr_range: tuple[float, float] | None, steps: int | None, budget: int | None, mode: str
) -> dict[str, Any]:
    """`RunSpec` fields of the sweep: the auto range unless `--lr-range` is given."""
    from finder.rangetest.sweep import validate_sweep

    if lr_range is None:
        if steps is not None:
            validate_sweep(1e-7, 1.0, steps, "exp")
        return {"num_steps": steps or AUTO, "budget": budget, "mode": "exp"}
    if budget is not None:
        raise click.BadParameter("--budget applies to the auto range; drop it or --lr-range")
    steps = steps or EXPLICIT_STEPS
    validate_sweep(lr_range[0], lr_range[1], steps, mode)
    return {"min_lr": lr_range[0], "max_lr": lr_range[1], "num_steps": steps, "mode": mode}


def run_spec_fields(
    source: dict[str, Any], batch_size: int, repeats: int | None, seed: int
) -> dict[str, Any]:
    """The `RunSpec` fields that `finder run` and `finder tune` read the same way: the
    `source` of `model_options`, the batch size, the sweeps and the seed."""
    settings = dict(parse_setting(s) for s in source["optimizer_settings"])
    return {
        **source,
        "optimizer_settings": settings,
        "batch_size": batch_size,
        "repeats": repeats,
        "seed": seed,
    }

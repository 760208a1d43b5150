"""What the `finder` commands share: the click options of a job (model, data, optimizer, the
range test's settings generated from `RangeTestConfig`, output), their conversion to `RunSpec`
fields, and one-line errors."""

from __future__ import annotations

import dataclasses
import functools
import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import click

from finder.cli import quiet
from finder.defaults import AUTO, EXPLICIT_STEPS
from finder.errors import FinderError, UnreliableAnswerWarning
from finder.rangetest.config import RangeTestConfig, config_fields, setting_of

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


def config_options(config_type: type[Any] = RangeTestConfig) -> Callable[[F], F]:
    """One option per field of `config_type` (a `RangeTestConfig`): its flag (`--field-name`,
    or the `Setting`'s own), type, default, choices and help text all come from the field, so
    a new field is an option of every command without editing it. `min_lr` and `max_lr` come
    together as `--lr-range MIN MAX`. The command receives them as the dict `settings` (see
    `range_test_settings`)."""
    items = config_fields(config_type)
    names = [item.name for item in items]
    options = [
        click.option(
            "--lr-range",
            nargs=2,
            type=float,
            default=None,
            metavar="MIN MAX",
            help="First and last learning rate of the sweep. Default: found automatically.",
        ),
        *(_config_option(item) for item in items if setting_of(item).flag != ""),
    ]

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def command(**kwargs: Any) -> Any:
            settings = {name: kwargs.pop(name) for name in names if name in kwargs}
            settings["lr_range"] = kwargs.pop("lr_range")
            return function(settings=settings, **kwargs)

        return _apply(options, cast(F, command))

    return decorate


def _config_option(item: dataclasses.Field[Any]) -> Callable[[F], F]:
    """The click option of one config field."""
    rule = setting_of(item)
    flag = rule.flag or "--" + item.name.replace("_", "-")
    if rule.kind is bool:
        negative = "--no-" + flag.removeprefix("--")
        return click.option(
            f"{flag}/{negative}", item.name, default=item.default, show_default=True, help=rule.help
        )
    shown = not (rule.auto or rule.optional)  # "auto" and None are spelled by leaving it out
    return click.option(
        flag,
        item.name,
        type=click.Choice(rule.choices) if rule.choices else rule.kind,
        default=item.default if shown else None,
        show_default=shown,
        help=rule.help,
    )


def range_test_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`RunSpec` fields of the range test from `config_options`' `settings`: the auto range
    unless `--lr-range` is given, whose sweep takes `EXPLICIT_STEPS` unless `--steps` says.

    Raises:
        click.BadParameter: `--budget` with `--lr-range`.
    """
    chosen = {k: v for k, v in settings.items() if k != "lr_range"}
    lr_range = settings.get("lr_range")
    if lr_range is None:
        # An "auto" field left out stays "auto"; the auto range sweeps geometric steps.
        for item in config_fields(RangeTestConfig):
            if setting_of(item).auto and chosen.get(item.name) is None:
                chosen[item.name] = AUTO
        return {**chosen, "mode": "exp"}
    if chosen.get("budget") is not None:
        raise click.BadParameter("--budget applies to the auto range; drop it or --lr-range")
    steps = chosen.get("num_steps")
    return {
        **chosen,
        "min_lr": lr_range[0],
        "max_lr": lr_range[1],
        "num_steps": EXPLICIT_STEPS if steps is None else steps,
    }


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


def run_spec_fields(source: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The `RunSpec` fields that `finder run` and `finder tune` read the same way: the
    `source` of `model_options` and the range test's `settings` of `config_options`."""
    optimizer_settings = dict(parse_setting(s) for s in source["optimizer_settings"])
    return {
        **source,
        "optimizer_settings": optimizer_settings,
        **range_test_settings(settings),
    }

"""`finder` command line: parsing and printing only; the work is done by library calls.

    finder run ...      the LR range test (`finder.cli.run`)
    finder tune ...     schedule tuning inside its bounds (`finder.cli.tune`)
    finder plot ...     a saved result's curve (`finder.cli.plot`)
    finder serve|worker the HTTP service, when installed (`finder.commands` entry points)

Every error the user can cause (missing file, unreadable model, bad range, shape mismatch)
ends with a one-line message on stderr and exit status 1, never a traceback; usage errors exit
with status 2 as usual for click.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click

# finder's own commands, each imported only when invoked (`finder run` must not load
# keras-tuner, nor `finder --help` TensorFlow).
COMMANDS = {
    "plot": ("finder.cli.plot", "plot"),
    "run": ("finder.cli.run", "run"),
    "tune": ("finder.cli.tune", "tune"),
}
# Commands other distributions contribute: the service's `serve` and `worker` (declared in
# pyproject.toml), so that the library never imports the service.
PLUGIN_GROUP = "finder.commands"


def plugin_commands() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name not in COMMANDS}


def unavailable(name: str, exc: ImportError) -> click.Command:
    """A stand-in for a contributed command whose dependencies are missing."""

    install = "pip install 'finder[service]'"

    def fail() -> None:
        raise click.ClickException(f"`finder {name}` needs the service extra: {install} ({exc})")

    return click.Command(name, callback=fail, help=f"(unavailable: {install}; {exc})")


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS, *plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            command: click.Command = getattr(import_module(module), attribute)
            return command
        plugin = plugin_commands().get(cmd_name)
        if plugin is not None:
            try:
                loaded: click.Command = plugin.load()
            except ImportError as exc:
                return unavailable(cmd_name, exc)
            return loaded
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="finder")
def cli() -> None:
    """finder: learning-rate range test and schedule tuning for Keras 3."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    runner: Callable[..., Any] = cli
    runner(args=argv if argv is not None else sys.argv[1:], prog_name="finder")

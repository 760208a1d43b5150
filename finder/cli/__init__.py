"""The `finder` command line: one module per command (`run`, `tune`, `plot`), shared options
(`options`) and terminal output (`console`); `main` holds the click group. `serve` and `worker`
come from the service through the `finder.commands` entry-point group."""

from finder.cli.main import cli, main

__all__ = ["cli", "main"]

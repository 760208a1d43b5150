"""`finder serve` and `finder worker`: the service's commands, contributed to the `finder` CLI
through the `finder.commands` entry-point group (pyproject.toml) and loaded only when invoked.

    finder serve [--host 127.0.0.1] [--port 8000] [--no-dispatcher] [--log-level info]
    finder worker

Both read the service's settings from `FINDER_*` environment variables (see `service.core.config`);
the options here override them. The library never imports this module: the `finder` group finds
it through its entry point, and says which extra to install when the service's dependencies are
missing.
"""

from __future__ import annotations

from typing import Any

import click

from finder.cli.options import one_line_errors
from service.core.config import load_settings
from service.core.errors import InvalidSettingsError


def settings_or_exit(**overrides: Any) -> Any:
    """The service's settings, or `Error: <why>` and exit status 1."""
    try:
        return load_settings(**overrides)
    except InvalidSettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option("--host", default=None, help="Address to bind. Default: FINDER_HOST or 127.0.0.1.")
@click.option("--port", type=int, default=None, help="Port. Default: FINDER_PORT or 8000.")
@click.option(
    "--dispatcher/--no-dispatcher",
    default=None,
    help="Run a dispatcher in the API process (default) or leave jobs to `finder worker`.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def serve(
    host: str | None, port: int | None, dispatcher: bool | None, log_level: str, debug: bool
) -> None:
    """Run the HTTP API (uvicorn) with its job dispatcher."""
    with one_line_errors(debug):
        import uvicorn

        from service.main import create_app

        overrides: dict[str, Any] = {}
        if host is not None:
            overrides["host"] = host
        if port is not None:
            overrides["port"] = port
        if dispatcher is not None:
            overrides["run_dispatcher"] = dispatcher
        settings = settings_or_exit(**overrides)
        uvicorn.run(
            create_app(settings), host=settings.host, port=settings.port, log_level=log_level
        )


@click.command()
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def worker(debug: bool) -> None:
    """Run a job dispatcher alone (no HTTP), for more dispatchers or other hosts."""
    with one_line_errors(debug):
        import signal

        from service.core.db import create_db_engine, init_db
        from service.jobs.dispatch import Dispatcher

        settings = settings_or_exit()
        engine = create_db_engine(settings.database_url)
        init_db(engine)
        dispatcher = Dispatcher(settings, engine)

        def shut_down(signum: int, frame: Any) -> None:
            dispatcher.request_stop()

        def drain(signum: int, frame: Any) -> None:
            # The first SIGTERM drains (no new claims, FINDER_DRAIN_GRACE_S for the running
            # jobs to finish); a second one, or SIGINT, stops at once. Either way the jobs
            # still running then go back to the queue without using an attempt.
            if dispatcher.draining:
                dispatcher.request_stop()
            else:
                dispatcher.drain(settings.drain_grace_s)

        signal.signal(signal.SIGTERM, drain)
        signal.signal(signal.SIGINT, shut_down)
        click.echo(
            f"finder worker {dispatcher.id} dispatching jobs of "
            f"{engine.url.render_as_string(hide_password=True)}",
            err=True,
        )
        dispatcher.run_forever()
        dispatcher.stop()

"""`finder plot RESULT.json [--out curve.png]`: draw a saved range test's curve."""

from __future__ import annotations

import click

from finder.cli.options import one_line_errors


@click.command()
@click.argument("result_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out", "out_path", default="curve.png", show_default=True, help="Output figure; .png or .svg."
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def plot(result_file: str, out_path: str, debug: bool) -> None:
    """Draw the loss-vs-LR curve of a saved result.json."""
    with one_line_errors(debug):
        from finder.plot import plot_range_test
        from finder.rangetest.result import RangeTestResult

        result = RangeTestResult.load(result_file)
        plot_range_test(result, path=out_path)
        click.echo(f"wrote {out_path}", err=True)

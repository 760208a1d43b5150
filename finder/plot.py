"""Matplotlib figures: the range-test curve and schedule curves, written as PNG or SVG.

The Agg backend is used for every figure, so plotting works on machines without a display
and never changes the caller's pyplot state.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from finder.errors import InvalidArgumentError

FIGURE_FORMATS = ("png", "svg")


def new_figure(width: float = 8.0, height: float = 5.0) -> Figure:
    """A figure detached from pyplot (no global state, no display needed)."""
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write `fig` to `path`; the suffix (`.png` or `.svg`) picks the format.

    Raises:
        InvalidArgumentError: the suffix is not `.png` or `.svg`.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise InvalidArgumentError(
            f"Figure path must end in .png or .svg. Received: path={str(path)!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=fmt, dpi=dpi)
    return path

"""TensorBoard event files: a range test's curve, its suggestions and bounds, and its figure.

`write_range_test(result, log_dir)` (also `RangeTestResult.to_tensorboard` and
`finder run --tensorboard DIR`) writes, under `log_dir`:

- scalars against the sweep step: `range_test/loss` (each step's own batch loss),
  `range_test/smoothed_loss`, `range_test/val_loss` (where validation was scored) and
  `range_test/learning_rate` (the LR of each step), so TensorBoard's step axis lines loss up
  with LR (`finder.integrations.curve`);
- text: `range_test/bounds` and `range_test/suggestions` (Markdown);
- an image: `range_test/curve`, the figure of `finder.plot.plot_range_test`.

TensorBoard's own format is written with TensorFlow's `tf.summary`, which is TensorFlow-only
(Keras on JAX or PyTorch still needs TensorFlow installed for it); every `tf.summary` call of
finder lives here, `EventWriter` included, which `finder.LearningRateLogger` writes through.
Without TensorFlow, `MissingDependencyError` says so instead of a bare ImportError.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from finder.errors import MissingDependencyError
from finder.integrations.curve import PREFIX, curve_series


def tensorflow() -> Any:
    """The `tensorflow` module, or a `MissingDependencyError` that says what to install."""
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise MissingDependencyError(
            "Writing TensorBoard event files needs TensorFlow (tf.summary), also on the JAX "
            f"and PyTorch backends: pip install tensorflow ({exc})"
        ) from exc
    return tf


class EventWriter:
    """One TensorBoard event file under `log_dir`: scalars, Markdown text and PNG images.

    ```python
    with EventWriter("logs/run1") as writer:
        writer.scalar("lr", 0.1, step=0)
    ```

    Args:
        log_dir: str or Path. The directory TensorBoard is pointed at (created if missing).

    Raises:
        MissingDependencyError: TensorFlow is not importable.
    """

    def __init__(self, log_dir: str | Path) -> None:
        self._tf = tensorflow()
        self.log_dir = Path(log_dir)
        self._writer = self._tf.summary.create_file_writer(str(self.log_dir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        with self._writer.as_default():
            self._tf.summary.scalar(tag, value, step=step)

    def text(self, tag: str, markdown: str, step: int = 0) -> None:
        with self._writer.as_default():
            self._tf.summary.text(tag, markdown, step=step)

    def image(self, tag: str, png: bytes, step: int = 0) -> None:
        """A PNG, decoded to RGB pixels (what `tf.summary.image` takes)."""
        pixels = self._tf.image.decode_png(png, channels=3)
        with self._writer.as_default():
            self._tf.summary.image(tag, pixels[None], step=step)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:.4g}"


def bounds_markdown(result: Any) -> str:
    """The bounds (and the reliability verdict, when the result has one) as Markdown."""
    bounds = result.bounds
    lines = [
        f"min_lr **{_number(bounds.min_lr)}**, max_lr **{_number(bounds.max_lr)}**, "
        f"edge_lr {_number(bounds.edge_lr)}"
    ]
    if bounds.note:
        lines.append(f"note: {bounds.note}")
    reliability = getattr(result, "reliability", None)
    if reliability is not None:
        lines.append(f"reliability: {reliability.verdict} ({'; '.join(reliability.reasons)})")
    return "\n\n".join(lines)


def suggestions_markdown(result: Any) -> str:
    """One table row per suggestion rule: its LR (or none) and the note on it."""
    rows = ["| rule | learning rate | note |", "| --- | --- | --- |"]
    for name, value in result.suggestions.items():
        note = result.suggestion_notes.get(name, "").replace("|", "/")
        rows.append(f"| {name} | {_number(value)} | {note} |")
    return "\n".join(rows)


def figure_png(result: Any) -> bytes:
    """The range-test figure (`result.plot()`, i.e. `finder.plot.plot_range_test`) as PNG."""
    buffer = io.BytesIO()
    result.plot().savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def write_range_test(result: Any, log_dir: str | Path) -> Path:
    """Write a range-test result as TensorBoard scalars, text and an image under `log_dir`.

    Args:
        result: a `RangeTestResult`.
        log_dir: str or Path. The event files' directory; `tensorboard --logdir` on it (or a
            parent) shows them.

    Returns:
        `log_dir` as a Path.

    Raises:
        MissingDependencyError: TensorFlow is not importable.
    """
    with EventWriter(log_dir) as writer:
        for name, points in curve_series(result).items():
            for step, value in points:
                writer.scalar(PREFIX + name, value, step)
        writer.text(PREFIX + "bounds", bounds_markdown(result))
        writer.text(PREFIX + "suggestions", suggestions_markdown(result))
        writer.image(PREFIX + "curve", figure_png(result))
    return writer.log_dir

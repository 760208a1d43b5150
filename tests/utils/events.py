"""TensorBoard event files read back with TensorBoard's own reader (EventAccumulator)."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util


def read_events(log_dir: Path) -> event_accumulator.EventAccumulator:
    """Every event under `log_dir`. TF2's tf.summary stores scalars, text and images as
    tensors; size 0 keeps all of them (the default samples 500 per tag)."""
    events = event_accumulator.EventAccumulator(
        str(log_dir), size_guidance={event_accumulator.TENSORS: 0}
    )
    return events.Reload()


def scalars(events: event_accumulator.EventAccumulator, tag: str) -> tuple[list[int], list[float]]:
    """(steps, values) of a scalar tag."""
    points = events.Tensors(tag)
    return [p.step for p in points], [
        float(tensor_util.make_ndarray(p.tensor_proto)) for p in points
    ]


def plugin(events: event_accumulator.EventAccumulator, tag: str) -> str:
    return events.summary_metadata[tag].plugin_data.plugin_name


def tensor(events: event_accumulator.EventAccumulator, tag: str):
    """The one value (step 0) of a text or image tag, as a numpy array."""
    (point,) = events.Tensors(tag)
    return tensor_util.make_ndarray(point.tensor_proto)

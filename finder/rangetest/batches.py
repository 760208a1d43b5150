"""Turn the user's data into exactly the batches one range-test sweep consumes.

Three kinds of input are accepted, each cycled when it has fewer batches than the sweep needs:

- numpy arrays (`x` and `y`, or nests of arrays): batches of `batch_size` drawn through a
  sample order; with `shuffle=True` the order is a fresh permutation (from `seed`) per pass.
- `tf.data.Dataset` yielding batches: used as given, repeated.
- `keras.utils.PyDataset`: indexed as given, cycled.
- a Python generator yielding batches: its next batches, as they come (read once:
  `finder.rangetest.generators`).

Repeat `r > 0` of a multi-sweep test reads the data in another order drawn from `seed + r`:
numpy inputs are permuted sample by sample, datasets batch by batch (a small shuffle buffer of
whole batches for `tf.data`, a permutation of batch indices for `PyDataset`).

Everything that touches `tf.data` (reading a user's dataset, the pipeline that feeds arrays)
is in `finder.rangetest.tfdata`; this module is plain Keras and numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from finder.errors import DataError, InvalidArgumentError
from finder.rangetest import tfdata
from finder.rangetest.generators import NextBatches, is_generator

# Whole batches held by the tf.data shuffle buffer for repeats > 0; small because batches of
# large images are large.
DATASET_SHUFFLE_BATCHES = 16


@dataclass
class SweepBatches:
    """What to pass to `model.fit` for one sweep: `data` (and `y`) and `steps`; from a
    generator, `drawn` checks afterwards that it gave them all."""

    data: Any
    steps: int
    drawn: NextBatches | None = None

    def check(self) -> None:
        """Raise `DataError` if the sweep's generator ran out before its batches."""
        if self.drawn is not None:
            self.drawn.check()


def describe_input(x: Any, y: Any, batch_size: int) -> dict[str, Any]:
    """JSON-ready description of the input: its kind, size and batch size."""
    if tfdata.is_dataset(x):
        cardinality = tfdata.cardinality(x)
        return {
            "kind": "tf.data.Dataset",
            "batches": cardinality if cardinality >= 0 else None,
            "element_spec": str(x.element_spec),
        }
    if isinstance(x, keras.utils.PyDataset):
        return {"kind": "PyDataset", "batches": len(x), "class": type(x).__name__}
    if is_generator(x):
        return {"kind": "generator", "batches": None}
    first = keras.tree.flatten(x)[0]
    return {
        "kind": "numpy",
        "samples": int(first.shape[0]),
        "input_shape": [int(d) for d in first.shape[1:]],
        "batch_size": min(batch_size, int(first.shape[0])),
    }


def validate_input(x: Any, y: Any, batch_size: int) -> None:
    """Raise a clear error for input the range test cannot read.

    Raises:
        DataError: unsupported type, empty data, mismatched sample counts, `y` missing for
            arrays or given for a dataset.
        InvalidArgumentError: `batch_size` is not a positive integer.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(
            f"Argument `batch_size` must be an integer >= 1. Received: batch_size={batch_size!r}"
        )
    if tfdata.is_dataset(x) or isinstance(x, keras.utils.PyDataset) or is_generator(x):
        if y is not None:
            raise DataError(f"`y` must be None when `x` is a {type(x).__name__}: it yields (x, y).")
        if tfdata.is_dataset(x) and tfdata.cardinality(x) == 0:
            raise DataError("The tf.data.Dataset is empty.")
        if isinstance(x, keras.utils.PyDataset) and len(x) == 0:
            raise DataError("The PyDataset is empty (len 0).")
        return
    if y is None:
        raise DataError(
            "`y` is required when `x` is an array; pass a tf.data.Dataset or PyDataset to "
            "train without separate targets."
        )
    arrays = keras.tree.flatten(x) + keras.tree.flatten(y)
    for array in arrays:
        if not isinstance(array, np.ndarray):
            raise DataError(
                "Expected numpy arrays, a tf.data.Dataset or a keras.utils.PyDataset. "
                f"Received: {type(array).__name__}"
            )
    counts = {int(a.shape[0]) if a.ndim else 0 for a in arrays}
    if len(counts) != 1:
        raise DataError(f"x and y have different numbers of samples: {sorted(counts)}")
    if counts == {0}:
        raise DataError("x is empty.")


def sweep_batches(
    x: Any,
    y: Any,
    *,
    batch_size: int,
    num_batches: int,
    shuffle: bool,
    seed: int,
    repeat: int,
) -> SweepBatches:
    """The batches of repeat `repeat` of a sweep that needs `num_batches` batches."""
    if tfdata.is_dataset(x):
        shuffle_seed = seed + repeat if repeat > 0 else None
        dataset = tfdata.shuffled_repeat(x, DATASET_SHUFFLE_BATCHES, shuffle_seed)
        return SweepBatches(data=dataset, steps=num_batches)
    if isinstance(x, keras.utils.PyDataset):
        order = _batch_order(len(x), num_batches, seed + repeat if repeat > 0 else None)
        return SweepBatches(data=CycledPyDataset(x, order), steps=num_batches)
    if is_generator(x):
        drawn = NextBatches(x, num_batches)
        return SweepBatches(data=drawn.data, steps=num_batches, drawn=drawn)
    return SweepBatches(
        data=_array_batches(x, y, batch_size, num_batches, shuffle or repeat > 0, seed + repeat),
        steps=num_batches,
    )


def _batch_order(length: int, num_batches: int, seed: int | None) -> np.ndarray:
    """`num_batches` indices into `range(length)`, cycling; permuted per pass when seeded."""
    passes = -(-num_batches // length)
    if seed is None:
        return np.arange(num_batches) % length
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(length) for _ in range(passes)])[:num_batches]


def _array_batches(
    x: Any, y: Any, batch_size: int, num_batches: int, shuffle: bool, seed: int
) -> Any:
    samples = int(keras.tree.flatten(x)[0].shape[0])
    batch_size = min(batch_size, samples)
    needed = num_batches * batch_size
    order = _batch_order(samples, needed, seed if shuffle else None)
    return tfdata.array_batches(x, y, order.reshape(num_batches, batch_size))


class CycledPyDataset(keras.utils.PyDataset):
    """A PyDataset read through a fixed order of batch indices (cycling past its end)."""

    def __init__(self, inner: keras.utils.PyDataset, order: np.ndarray) -> None:
        super().__init__(
            workers=inner.workers,
            use_multiprocessing=inner.use_multiprocessing,
            max_queue_size=inner.max_queue_size,
        )
        self.inner = inner
        self.order = order

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> Any:
        return self.inner[int(self.order[index])]


def steps_per_pass(x: Any, y: Any, batch_size: int) -> int | None:
    """Batches in one pass over the input; None for a dataset of unknown or infinite size."""
    if tfdata.is_dataset(x):
        cardinality = tfdata.cardinality(x)
        return cardinality if cardinality > 0 else None
    if isinstance(x, keras.utils.PyDataset):
        return len(x)
    if is_generator(x):
        return None
    samples = int(keras.tree.flatten(x)[0].shape[0])
    return -(-samples // min(batch_size, samples))


def take_samples(data: Any, max_samples: int) -> tuple[Any, Any]:
    """Up to `max_samples` (x, y) from arrays (a tuple), a tf.data.Dataset or a PyDataset.

    Used for the fixed validation subset: always the first batches/samples, so every sweep
    (and every repeat) is scored on the same data. Sample weights, where the data has them
    (a third array, or a dataset's third element), are left out: the curve is the plain mean
    loss of the subset.

    Raises:
        DataError: the data is empty or not one of the accepted kinds.
    """
    if tfdata.is_dataset(data):
        return _first_samples(tfdata.numpy_batches(data), max_samples)
    if isinstance(data, keras.utils.PyDataset):
        return _first_samples((data[i] for i in range(len(data))), max_samples)
    if is_generator(data):
        raise DataError(
            "`validation_data` cannot be a Python generator: the range test scores the same "
            "samples at every point of its curve, and a generator gives its batches once. "
            "Pass arrays, a tf.data.Dataset or a keras.utils.PyDataset."
        )
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y = data[0], data[1]
        validate_input(x, y, 1)
        return keras.tree.map_structure(lambda a: a[:max_samples], (x, y))
    raise DataError(
        "`validation_data` must be (x_val, y_val) or (x_val, y_val, sample_weight) arrays, a "
        "tf.data.Dataset or a PyDataset. "
        f"Received: {type(data).__name__}"
    )


def _first_samples(batches: Any, max_samples: int) -> tuple[Any, Any]:
    taken: list[tuple[Any, Any]] = []
    count = 0
    for batch in batches:
        pair = _as_numpy(batch)
        taken.append(pair)
        count += int(keras.tree.flatten(pair[0])[0].shape[0])
        if count >= max_samples:
            break
    return _concat_batches(taken, max_samples)


def _as_numpy(batch: Any) -> tuple[Any, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise DataError("Validation batches must be (x, y) pairs.")
    return keras.tree.map_structure(np.asarray, (batch[0], batch[1]))


def _concat_batches(batches: list[tuple[Any, Any]], max_samples: int) -> tuple[Any, Any]:
    if not batches:
        raise DataError("`validation_data` is empty.")
    merged = keras.tree.map_structure(lambda *parts: np.concatenate(parts), *batches)
    return keras.tree.map_structure(lambda a: a[:max_samples], merged)

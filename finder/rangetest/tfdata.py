"""Every use of `tf.data` by the range test and tuning, in one module.

finder's core paths are Keras APIs (`model.fit`, `keras.ops`, `keras.tree`), which run on
TensorFlow, JAX and PyTorch alike. `tf.data` is TensorFlow's own, and it enters in two ways:

- the user hands finder a `tf.data.Dataset`: its length (`cardinality`), a shuffled repeat for
  the repeats of a sweep (`shuffled_repeat`) and its first samples for the validation subset
  (`numpy_batches`) are read here;
- numpy arrays are fed to a sweep through a small `tf.data` pipeline (`array_batches`): index
  batches gathered in tf.data's threads and prefetched, so the next batch is ready when a step
  ends. Keras reads a `tf.data.Dataset` on every backend (on JAX and PyTorch it iterates it as
  numpy), so the same pipeline serves all three.

TensorFlow is one of finder's dependencies, but a process that never imported it cannot hold a
`tf.data.Dataset`: `is_dataset` looks in `sys.modules` and never imports TensorFlow itself, so
checking a PyDataset or arrays costs nothing on JAX or PyTorch. What needs TensorFlow and cannot
find it raises `MissingDependencyError` with what to install, never an ImportError traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import keras
import numpy as np

from finder.errors import MissingDependencyError


def is_dataset(x: Any) -> bool:
    """Whether `x` is a `tf.data.Dataset` (False without importing TensorFlow when it is not
    loaded: then nothing can be one)."""
    tf = sys.modules.get("tensorflow")
    data = getattr(tf, "data", None)
    return data is not None and isinstance(x, data.Dataset)


def cardinality(dataset: Any) -> int:
    """Batches in `dataset`; negative when infinite (-1) or unknown (-2), as tf.data says."""
    return int(dataset.cardinality().numpy())


def shuffled_repeat(dataset: Any, buffer_batches: int, seed: int | None) -> Any:
    """`dataset` repeated forever; its batches shuffled in a buffer of `buffer_batches` when
    `seed` is given."""
    if seed is not None:
        dataset = dataset.shuffle(buffer_batches, seed=seed)
    return dataset.repeat()


def numpy_batches(dataset: Any) -> Iterator[Any]:
    """The elements of `dataset` as numpy."""
    return iter(dataset.as_numpy_iterator())


def array_batches(x: Any, y: Any, index_batches: np.ndarray) -> Any:
    """A `tf.data.Dataset` of the batches `(x[i], y[i])` for each row `i` of `index_batches`,
    gathered in parallel, in order, and prefetched.

    Raises:
        MissingDependencyError: TensorFlow is not installed.
    """
    tf = _tensorflow()
    tensors = keras.tree.map_structure(tf.convert_to_tensor, (x, y))

    def gather(index: Any) -> Any:
        return keras.tree.map_structure(lambda t: tf.gather(t, index), tensors)

    return (
        tf.data.Dataset.from_tensor_slices(index_batches)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def _tensorflow() -> ModuleType:
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise MissingDependencyError(
            "finder feeds numpy arrays to the range test through tf.data, which needs "
            f"TensorFlow (pip install tensorflow-cpu), on any Keras backend. ({exc})"
        ) from exc
    return tf

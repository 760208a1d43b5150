"""TensorFlow-only code is confined to `finder.rangetest.tfdata`: off TensorFlow it is not
imported for inputs that do not need it, and without TensorFlow it fails with a finder error."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from finder.errors import MissingDependencyError
from finder.rangetest import batches, tfdata
from tests.utils.processes import run_python

pytestmark = pytest.mark.backend_neutral


def test_is_dataset_tells_datasets_from_everything_else():
    assert tfdata.is_dataset(tf.data.Dataset.from_tensor_slices(np.zeros((4, 2))).batch(2))
    assert not tfdata.is_dataset(np.zeros((4, 2)))
    assert not tfdata.is_dataset([1, 2])


def test_array_batches_gather_the_index_batches_in_order():
    x = np.arange(10, dtype="float32").reshape(5, 2)
    y = np.arange(5)
    dataset = tfdata.array_batches(x, y, np.array([[4, 0], [2, 2]]))
    got = [(bx.tolist(), by.tolist()) for bx, by in tfdata.numpy_batches(dataset)]
    assert got == [([[8.0, 9.0], [0.0, 1.0]], [4, 0]), ([[4.0, 5.0], [4.0, 5.0]], [2, 2])]


# Run in a fresh JAX process: a PyDataset and numpy arrays are checked and described without
# TensorFlow being imported, and with TensorFlow made unimportable the array pipeline says what
# to install.
FRESH_PROCESS = """
import json, sys
import keras, numpy as np
from finder.rangetest import batches, tfdata

class Pairs(keras.utils.PyDataset):
    def __len__(self):
        return 3
    def __getitem__(self, index):
        return np.zeros((2, 4), "float32"), np.zeros((2,), "int64")

x, y = np.zeros((6, 4), "float32"), np.zeros((6,), "int64")
batches.validate_input(Pairs(), None, 2)
batches.validate_input(x, y, 2)
described = [batches.describe_input(d, t, 2)["kind"] for d, t in ((Pairs(), None), (x, y))]
steps = [batches.steps_per_pass(Pairs(), None, 2), batches.steps_per_pass(x, y, 4)]
tensorflow_loaded = "tensorflow" in sys.modules
sys.modules["tensorflow"] = None  # `import tensorflow` now raises ImportError
try:
    batches.sweep_batches(x, y, batch_size=2, num_batches=3, shuffle=False, seed=0, repeat=0)
    error = None
except Exception as exc:
    error = [type(exc).__name__, str(exc)]
print(json.dumps({"described": described, "steps": steps,
                  "tensorflow_loaded": tensorflow_loaded, "error": error}))
"""


def test_off_tensorflow_nothing_imports_it_until_needed_and_its_absence_is_a_finder_error():
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    completed = run_python("-c", FRESH_PROCESS, env=env)
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["described"] == ["PyDataset", "numpy"]
    assert report["steps"] == [3, 2]
    assert report["tensorflow_loaded"] is False
    name, message = report["error"]
    assert name == MissingDependencyError.__name__
    assert "tf.data" in message and "pip install tensorflow" in message


def test_sweep_batches_of_a_dataset_repeat_and_shuffle_whole_batches():
    dataset = tf.data.Dataset.from_tensor_slices((np.arange(8.0), np.arange(8))).batch(2)
    plain = batches.sweep_batches(
        dataset, None, batch_size=2, num_batches=6, shuffle=False, seed=0, repeat=0
    )
    firsts = [int(b[1][0]) for b in tfdata.numpy_batches(plain.data.take(6))]
    assert firsts == [0, 2, 4, 6, 0, 2]
    shuffled = batches.sweep_batches(
        dataset, None, batch_size=2, num_batches=4, shuffle=False, seed=0, repeat=1
    )
    pairs = [b[1].tolist() for b in tfdata.numpy_batches(shuffled.data.take(4))]
    assert sorted(pairs) == [[0, 1], [2, 3], [4, 5], [6, 7]]  # whole batches, each once

"""Upload files for the tests: valid ones, and malicious ones that leave a sentinel if they run.

Each malicious file carries a payload that would create `sentinel` when deserialised or
executed; the tests assert the upload is refused AND the sentinel never appears.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np


def tiny_dataset_npz(path: Path, samples: int = 256, seed: int = 0) -> Path:
    """A learnable 10-class problem on 28x28x1 images (fits the built-in models)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=samples).astype("int64")
    x = rng.integers(0, 40, size=(samples, 28, 28, 1)).astype("uint8")
    x[np.arange(samples), y, :, 0] = 255
    np.savez_compressed(path, x_train=x, y_train=y, x_val=x[:64], y_val=y[:64])
    return path


def tiny_model_keras(path: Path) -> Path:
    """A small compiled Keras model for 28x28x1 inputs and 10 classes."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="tiny_upload",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(path)
    return path


def keras_archive(
    path: Path, config: dict[str, object], extra: dict[str, bytes] | None = None
) -> Path:
    """A `.keras` zip holding `config` as config.json (and optional extra members)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("config.json", json.dumps(config))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def lambda_model(path: Path, sentinel: Path) -> Path:
    """A model whose Lambda layer would create `sentinel` when loaded and called."""
    code = f"lambda x: (open({str(sentinel)!r}, 'w').close(), x)[1]"
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "evil",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {"batch_shape": [None, 28, 28, 1]},
                },
                {
                    "module": "keras.layers",
                    "class_name": "Lambda",
                    "config": {"function": {"class_name": "__lambda__", "config": {"code": code}}},
                },
            ],
        },
    }
    return keras_archive(path, config)


def foreign_module_model(path: Path, sentinel: Path) -> Path:
    """A config naming a class from outside Keras whose import would create `sentinel`."""
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "evil",
            "layers": [
                {
                    "module": "os",
                    "class_name": "system",
                    "config": {"command": f"touch {sentinel}"},
                    "registered_name": "system",
                }
            ],
        },
    }
    return keras_archive(path, config)


def zip_bomb_model(path: Path, uncompressed_bytes: int) -> Path:
    """A valid-looking model archive with a member of zeros that compresses ~1000:1."""
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "bomb", "layers": []},
    }
    return keras_archive(path, config, {"model.weights.h5": bytes(uncompressed_bytes)})


def zip_bomb_npz(path: Path, uncompressed_bytes: int) -> Path:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(uncompressed_bytes // 8, dtype="float64"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x_train.npy", buffer.getvalue())
        archive.writestr("y_train.npy", buffer.getvalue()[:256])
    return path


class _Touch:
    """Unpickling this creates the sentinel file."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.sentinel,))


def pickled_npz(path: Path, sentinel: Path) -> Path:
    """An npz whose x_train is an object array: loading it with pickle would run `_Touch`."""
    x = np.empty(2, dtype=object)
    x[0] = _Touch(sentinel)
    x[1] = _Touch(sentinel)
    np.savez(path, x_train=x, y_train=np.array([0, 1]))
    return path

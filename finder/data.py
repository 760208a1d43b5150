"""Datasets: Fashion-MNIST (full set or the bundled sample) and user `.npz` files.

Fashion-MNIST is looked for, in order, in:

1. an explicit `path` argument,
2. the directory named by the `FINDER_DATA_DIR` environment variable,
3. `/usr/share/datasets/fashion-mnist` (Debian package `dataset-fashion-mnist`),
4. the Keras cache `~/.keras/datasets/fashion-mnist`,
5. otherwise Keras downloads it (`keras.datasets.fashion_mnist.load_data()`), which needs a network.

Each directory must hold the four original idx files (`train-images-idx3-ubyte.gz`, ...).
A stratified sample (`fashion_mnist_sample`: 400 train images per class, 100 test images per
class) ships inside the package, so the default `finder run` works offline with no flags; it is
made by `scripts/make_fashion_sample.py` from the real files.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from finder.errors import DataError, DatasetNotFoundError
from finder.npz import READ_ERRORS, read_headers

FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_CACHE_FASHION_MNIST_DIR = Path("~/.keras/datasets/fashion-mnist")
SAMPLE_RESOURCE = "fashion_mnist_sample.npz"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
BUILTIN_DATASETS = ("fashion_mnist", "fashion_mnist_sample")

_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049


@dataclass(frozen=True)
class Dataset:
    """Arrays for training and (optionally) validation, plus where they came from.

    Images keep their stored dtype (uint8 for Fashion-MNIST); models rescale them.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    name: str
    source: str

    def describe(self) -> dict[str, object]:
        """JSON-ready description: name, source, shapes and dtypes."""
        return {
            "name": self.name,
            "source": self.source,
            "train_samples": int(self.x_train.shape[0]),
            "val_samples": None if self.x_val is None else int(self.x_val.shape[0]),
            "input_shape": list(self.x_train.shape[1:]),
            "x_dtype": str(self.x_train.dtype),
            "y_dtype": str(self.y_train.dtype),
        }


def with_channel_axis(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) grey images as (N, 28, 28, 1), the layout `fashion_cnn` takes."""
    return images[..., np.newaxis] if images.ndim == 3 else images


def read_idx(path: str | Path) -> np.ndarray:
    """Read one gzipped idx file (the original MNIST/Fashion-MNIST format) as uint8.

    Raises:
        DataError: the file is not a uint8 idx1/idx3 file or is truncated.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise DataError(f"Cannot read idx file {str(path)!r}: {exc}") from exc
    if len(raw) < 8:
        raise DataError(f"Idx file {str(path)!r} is truncated ({len(raw)} bytes).")
    magic, count = struct.unpack(">II", raw[:8])
    if magic == _IDX_LABELS_MAGIC:
        shape: tuple[int, ...] = (count,)
        offset = 8
    elif magic == _IDX_IMAGES_MAGIC:
        rows, cols = struct.unpack(">II", raw[8:16])
        shape = (count, rows, cols)
        offset = 16
    else:
        raise DataError(f"{str(path)!r} is not a uint8 idx1/idx3 file (magic number {magic}).")
    expected = int(np.prod(shape))
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    if data.size != expected:
        raise DataError(
            f"Idx file {str(path)!r} holds {data.size} values, its header promises {expected}."
        )
    return data.reshape(shape)


def fashion_mnist_search_path(path: str | Path | None = None) -> list[Path]:
    """The directories searched for the idx files, in order."""
    candidates: list[Path] = []
    if path is not None:
        candidates.append(Path(path).expanduser())
    env_dir = os.environ.get("FINDER_DATA_DIR")
    if env_dir:
        candidates.append(Path(env_dir).expanduser())
    candidates.append(DEBIAN_FASHION_MNIST_DIR)
    candidates.append(KERAS_CACHE_FASHION_MNIST_DIR.expanduser())
    return candidates


def find_fashion_mnist_dir(path: str | Path | None = None) -> Path | None:
    """First directory on the search path holding all four idx files, or None."""
    for candidate in fashion_mnist_search_path(path):
        if all((candidate / name).is_file() for name in FASHION_MNIST_FILES.values()):
            return candidate
    return None


def load_fashion_mnist(path: str | Path | None = None, *, download: bool = True) -> Dataset:
    """Full Fashion-MNIST: 60k train and 10k test images (28x28x1 uint8), labels 0..9.

    Args:
        path: str or Path. A directory holding the four idx `.gz` files, searched first.
            Defaults to `None`.
        download: bool. Whether to fall back to Keras's download when no local copy exists.
            Defaults to `True`.

    Returns:
        A `Dataset` whose validation split is the official test set.

    Raises:
        DatasetNotFoundError: no local copy was found and downloading is off or failed.
    """
    if path is not None and not Path(path).expanduser().is_dir():
        raise DatasetNotFoundError(f"Fashion-MNIST directory {str(path)!r} does not exist.")
    directory = find_fashion_mnist_dir(path)
    if directory is not None:
        arrays = {key: read_idx(directory / name) for key, name in FASHION_MNIST_FILES.items()}
        source = str(directory)
    else:
        searched = ", ".join(str(p) for p in fashion_mnist_search_path(path))
        if not download:
            raise DatasetNotFoundError(
                f"Fashion-MNIST not found in: {searched}. "
                "Install it with `apt-get install dataset-fashion-mnist` or set FINDER_DATA_DIR."
            )
        import keras

        try:
            (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
        except Exception as exc:  # Keras raises plain Exception on network failures.
            raise DatasetNotFoundError(
                f"Fashion-MNIST not found in: {searched}, and the Keras download failed ({exc}). "
                "Install it with `apt-get install dataset-fashion-mnist` or set FINDER_DATA_DIR."
            ) from exc
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        source = "keras download"
    return Dataset(
        x_train=with_channel_axis(arrays["x_train"]),
        y_train=arrays["y_train"],
        x_val=with_channel_axis(arrays["x_test"]),
        y_val=arrays["y_test"],
        name="fashion_mnist",
        source=source,
    )


def load_fashion_mnist_sample() -> Dataset:
    """The stratified Fashion-MNIST sample bundled with finder (4000 train, 1000 test)."""
    resource = resources.files("finder.assets").joinpath(SAMPLE_RESOURCE)
    with resources.as_file(resource) as sample_path:
        dataset = load_npz(sample_path)
    assert dataset.x_val is not None
    return Dataset(
        x_train=with_channel_axis(dataset.x_train),
        y_train=dataset.y_train,
        x_val=with_channel_axis(dataset.x_val),
        y_val=dataset.y_val,
        name="fashion_mnist_sample",
        source="bundled with finder",
    )


def load_npz(path: str | Path, *, max_bytes: int | None = None) -> Dataset:
    """A user dataset from `.npz` with `x_train`, `y_train` and optionally `x_val`, `y_val`.

    The arrays' headers are read first (`finder.npz.read_headers`), so a file that declares more
    than it holds, or more than `max_bytes`, is refused before numpy allocates anything. Loaded
    with `allow_pickle=False`: object arrays are refused, nothing in the file can run. Empty
    arrays and NaN or inf values are refused: a model cannot learn from them, and a range test
    over them would only report a flat loss.

    Args:
        path: str or Path. The `.npz` file.
        max_bytes: int or None. Cap on the arrays' declared bytes together. Defaults to `None`.

    Raises:
        DatasetNotFoundError: the file does not exist.
        DataError: the file is not a readable npz, lacks keys, holds object arrays, declares
            sizes it does not hold, has mismatched sample counts, or empty or non-finite arrays.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetNotFoundError(f"Dataset file {str(path)!r} does not exist.")
    keys = set(read_headers(path, max_bytes=max_bytes))
    missing = {"x_train", "y_train"} - keys
    if missing:
        raise DataError(
            f"{path.name} lacks {sorted(missing)}; an npz dataset needs x_train and "
            f"y_train (and optionally x_val, y_val). Found: {sorted(keys)}"
        )
    if ("x_val" in keys) != ("y_val" in keys):
        raise DataError(f"{path.name} has only one of x_val / y_val; give both or none.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays: dict[str, np.ndarray] = {
                key: npz[key] for key in ("x_train", "y_train", "x_val", "y_val") if key in keys
            }
    except (*READ_ERRORS, MemoryError) as exc:
        raise DataError(f"{path.name} cannot be loaded without pickle: {exc}") from exc
    check_arrays(path.name, arrays)
    return Dataset(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_val=arrays.get("x_val"),
        y_val=arrays.get("y_val"),
        name=path.stem,
        source=str(path),
    )


def check_arrays(name: str, arrays: dict[str, np.ndarray]) -> None:
    """Refuse arrays a model cannot train on: non-numeric, scalar, empty, non-finite, or with
    sample counts that differ between inputs and labels.

    Raises:
        DataError: naming the file, the array and the reason.
    """
    for key, array in arrays.items():
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise DataError(f"{name}: {key} has non-numeric dtype {array.dtype}.")
        if array.ndim == 0:
            raise DataError(f"{name}: {key} is a scalar, expected one row per sample.")
        if array.size == 0:
            raise DataError(f"{name}: {key} is empty (shape {array.shape}).")
        if np.issubdtype(array.dtype, np.inexact):
            bad = int(array.size - np.count_nonzero(np.isfinite(array)))
            if bad:
                raise DataError(
                    f"{name}: {key} holds {bad} non-finite values (NaN or inf); "
                    "a model cannot learn from them."
                )
    for x_key, y_key in (("x_train", "y_train"), ("x_val", "y_val")):
        if x_key in arrays and arrays[x_key].shape[0] != arrays[y_key].shape[0]:
            raise DataError(
                f"{name}: {x_key} has {arrays[x_key].shape[0]} samples but {y_key} has "
                f"{arrays[y_key].shape[0]}."
            )


def load_dataset(name_or_path: str | Path) -> Dataset:
    """A builtin dataset by name (`fashion_mnist`, `fashion_mnist_sample`) or an `.npz` path.

    Raises:
        DataError: the name is neither a builtin nor a path ending in `.npz`.
    """
    text = str(name_or_path)
    if text == "fashion_mnist":
        return load_fashion_mnist()
    if text == "fashion_mnist_sample":
        return load_fashion_mnist_sample()
    if text.lower().endswith(".npz"):
        return load_npz(text)
    raise DataError(
        f"Unknown dataset {text!r}: use one of {', '.join(BUILTIN_DATASETS)} "
        "or a path to a .npz file."
    )


def stratified_sample(
    x: np.ndarray, y: np.ndarray, per_class: int, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` samples of every label, drawn without replacement, in a shuffled order.

    Raises:
        DataError: a class has fewer than `per_class` samples.
    """
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        if members.size < per_class:
            raise DataError(f"Class {label} has {members.size} samples, fewer than {per_class}.")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    index = rng.permutation(np.concatenate(chosen))
    return x[index], y[index]

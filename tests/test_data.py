"""Datasets: idx parsing, the search path, the bundled sample, and .npz input."""

from __future__ import annotations

import gzip
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from finder import data
from finder.errors import DataError, DatasetNotFoundError


def write_idx(path: Path, array: np.ndarray) -> None:
    if array.ndim == 1:
        header = struct.pack(">II", 2049, array.shape[0])
    else:
        header = struct.pack(">IIII", 2051, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_fashion_dir(directory: Path, train: int = 12, test: int = 6, fill: int = 0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(fill)
    arrays = {
        "x_train": rng.integers(0, 255, size=(train, 28, 28)),
        "y_train": np.arange(train) % 10,
        "x_test": rng.integers(0, 255, size=(test, 28, 28)),
        "y_test": np.arange(test) % 10,
    }
    for key, name in data.FASHION_MNIST_FILES.items():
        write_idx(directory / name, arrays[key])
    return directory


def test_read_idx_images_and_labels(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    write_idx(tmp_path / "i.gz", images)
    write_idx(tmp_path / "l.gz", np.array([7, 1, 5]))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "i.gz"), images)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "l.gz"), [7, 1, 5])


def test_read_idx_refuses_truncated_and_foreign_files(tmp_path):
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, 5, 28, 28) + b"\0" * 10)
    with pytest.raises(DataError, match="header promises"):
        data.read_idx(tmp_path / "short.gz")
    with gzip.open(tmp_path / "other.gz", "wb") as f:
        f.write(struct.pack(">II", 1234, 1))
    with pytest.raises(DataError, match="magic"):
        data.read_idx(tmp_path / "other.gz")


def test_search_order_explicit_then_env_then_debian_then_keras_cache(tmp_path, monkeypatch):
    explicit = fake_fashion_dir(tmp_path / "explicit", train=11)
    env_dir = fake_fashion_dir(tmp_path / "env", train=13)
    monkeypatch.setenv("FINDER_DATA_DIR", str(env_dir))
    assert data.find_fashion_mnist_dir(explicit) == explicit
    assert data.load_fashion_mnist(explicit).x_train.shape == (11, 28, 28, 1)
    assert data.find_fashion_mnist_dir() == env_dir
    assert data.load_fashion_mnist().source == str(env_dir)
    assert data.fashion_mnist_search_path()[1:] == [
        data.DEBIAN_FASHION_MNIST_DIR,
        data.KERAS_CACHE_FASHION_MNIST_DIR.expanduser(),
    ]


def test_missing_dataset_without_download_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FINDER_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(data, "KERAS_CACHE_FASHION_MNIST_DIR", tmp_path / "no-cache")
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(download=False)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        data.load_fashion_mnist(tmp_path / "nowhere")


def test_bundled_sample_is_stratified_and_small():
    sample = data.load_fashion_mnist_sample()
    assert sample.x_train.shape == (4000, 28, 28, 1) and sample.x_train.dtype == np.uint8
    assert sample.x_val.shape == (1000, 28, 28, 1)
    assert np.bincount(sample.y_train).tolist() == [400] * 10
    assert np.bincount(sample.y_val).tolist() == [100] * 10
    asset = Path(data.__file__).parent / "assets" / data.SAMPLE_RESOURCE
    assert asset.stat().st_size <= 3 * 1024 * 1024


@pytest.mark.slow
def test_full_fashion_mnist_from_debian_and_the_sample_is_reproducible(tmp_path):
    """Needs `apt-get install dataset-fashion-mnist` (CI installs it)."""
    full = data.load_fashion_mnist(download=False)
    assert full.x_train.shape == (60000, 28, 28, 1) and full.x_val.shape == (10000, 28, 28, 1)
    assert np.bincount(full.y_train).tolist() == [6000] * 10
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "scripts" / "make_fashion_sample.py"
    out = tmp_path / "sample.npz"
    subprocess.run([sys.executable, str(script), "--output", str(out)], check=True)
    made, shipped = data.load_npz(out), data.load_fashion_mnist_sample()
    np.testing.assert_array_equal(made.x_train, shipped.x_train)
    np.testing.assert_array_equal(made.y_val, shipped.y_val)


def test_npz_with_and_without_validation(tmp_path):
    x, y = np.zeros((10, 3), "float32"), np.arange(10)
    np.savez(tmp_path / "a.npz", x_train=x, y_train=y)
    np.savez(tmp_path / "b.npz", x_train=x, y_train=y, x_val=x[:4], y_val=y[:4])
    assert data.load_npz(tmp_path / "a.npz").x_val is None
    loaded = data.load_dataset(str(tmp_path / "b.npz"))
    assert loaded.x_val.shape == (4, 3) and loaded.name == "b"


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros((3, 2))}, "lacks"),  # no labels
        ({"x_train": np.zeros((3, 2)), "y_train": np.zeros(4)}, "samples"),  # length mismatch
        (
            {"x_train": np.zeros((3, 2)), "y_train": np.zeros(3), "x_val": np.zeros((1, 2))},
            "only one",
        ),
        ({"x_train": np.array(["a", "b"]), "y_train": np.zeros(2)}, "non-numeric"),
        ({"x_train": np.zeros((0, 2)), "y_train": np.zeros(0)}, "empty"),
        # a model cannot learn from NaN or inf; the reason names the array
        ({"x_train": np.full((3, 2), np.nan), "y_train": np.zeros(3)}, "x_train holds 6 non-f"),
        ({"x_train": np.zeros((3, 2)), "y_train": np.array([0, np.inf, 1])}, "y_train holds 1"),
        (
            {
                "x_train": np.zeros((3, 2)),
                "y_train": np.zeros(3),
                "x_val": np.zeros((0, 2)),
                "y_val": np.zeros(0),
            },
            "x_val is empty",
        ),  # fmt: skip
    ],
)
def test_bad_npz_files_are_refused(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        data.load_npz(tmp_path / "bad.npz")


def test_npz_declaring_more_than_it_holds_is_refused_before_loading(tmp_path):
    # shape (10**12,) float64 is 7.28 TiB: np.load would raise MemoryError trying to allocate it
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    member = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(64)
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as archive:
        archive.writestr("x_train.npy", member)
    with pytest.raises(DataError, match=r"\(8000000000000 bytes\) but holds 64 bytes"):
        data.load_npz(tmp_path / "lie.npz")
    np.savez(tmp_path / "big.npz", x_train=np.zeros(100), y_train=np.zeros(100))
    with pytest.raises(DataError, match="declare 1600 bytes, limit 1000"):
        data.load_npz(tmp_path / "big.npz", max_bytes=1000)


def test_pickled_npz_is_refused_and_nothing_runs(tmp_path):
    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (sentinel,))

    np.savez(
        tmp_path / "evil.npz", x_train=np.array([Payload()], dtype=object), y_train=np.zeros(1)
    )
    with pytest.raises(DataError, match="pickle"):
        data.load_npz(tmp_path / "evil.npz")
    assert not sentinel.exists()


def test_unknown_dataset_names_and_missing_files():
    with pytest.raises(DataError, match="Unknown dataset"):
        data.load_dataset("imagenet")
    with pytest.raises(DatasetNotFoundError):
        data.load_dataset("/nope/missing.npz")

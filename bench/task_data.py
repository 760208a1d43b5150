"""Data of the benchmark tasks (see `tasks.py`): Fashion-MNIST and scikit-learn's bundled sets.

Nothing here downloads. Fashion-MNIST comes from a local copy (the Debian package
`dataset-fashion-mnist`, see `finder.data`); subsets are stratified draws with `DATA_SEED`, so
every run, test and machine sees the same images. Each loader is cached: repeated calls return
the same arrays, which callers must not modify.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from finder.data import Dataset, load_fashion_mnist, stratified_sample

DATA_SEED = 0


@functools.cache
def load_fashion() -> Dataset:
    """Full Fashion-MNIST: 60k train, the official 10k test set as validation (uint8)."""
    return load_fashion_mnist(download=False)


def sample(
    x: np.ndarray, y: np.ndarray, per_class: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` images of each label, drawn with `seed` (all of them when `None`)."""
    return (x, y) if per_class is None else stratified_sample(x, y, per_class, seed=seed)


@functools.cache
def load_fashion_subset(
    train_per_class: int, val_per_class: int | None, classes: tuple[int, ...] = tuple(range(10))
) -> Dataset:
    """A stratified subset of Fashion-MNIST's `classes`, relabelled 0..len(classes)-1.

    Validation images come from the official test set (`None`: all of its images of `classes`).
    """
    full = load_fashion()
    assert full.x_val is not None and full.y_val is not None
    relabel = np.zeros(10, dtype=full.y_train.dtype)
    relabel[list(classes)] = np.arange(len(classes))
    splits = []
    for x, y, per_class, seed in (
        (full.x_train, full.y_train, train_per_class, DATA_SEED),
        (full.x_val, full.y_val, val_per_class, DATA_SEED + 1),
    ):
        keep = np.isin(y, classes)
        x, y = sample(x[keep], y[keep], per_class, seed)
        splits.append((x, relabel[y]))
    (x_train, y_train), (x_val, y_val) = splits
    name = f"fashion_mnist_{len(x_train)}"
    if len(classes) < 10:
        name += "_classes" + "".join(map(str, classes))
    return Dataset(x_train, y_train, x_val, y_val, name=name, source=full.source)


def _split_80_20(
    x: np.ndarray, y: np.ndarray, *, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    parts = train_test_split(
        x, y, test_size=0.2, random_state=DATA_SEED, stratify=y if stratify else None
    )
    x_train, x_val, y_train, y_val = parts
    return x_train, y_train, x_val, y_val


@functools.cache
def load_diabetes() -> Dataset:
    """scikit-learn's diabetes regression (442 x 10), 80/20 split, features and target
    standardised with the training split's mean and std. Targets have shape (N, 1)."""
    from sklearn.datasets import load_diabetes as sklearn_diabetes

    x, y = sklearn_diabetes(return_X_y=True)
    x_train, y_train, x_val, y_val = _split_80_20(x, y, stratify=False)
    x_mean, x_std = x_train.mean(axis=0), x_train.std(axis=0)
    y_mean, y_std = y_train.mean(), y_train.std()

    def scale(a: np.ndarray, mean: Any, std: Any) -> np.ndarray:
        return ((a - mean) / std).astype("float32")

    return Dataset(
        x_train=scale(x_train, x_mean, x_std),
        y_train=scale(y_train, y_mean, y_std)[:, None],
        x_val=scale(x_val, x_mean, x_std),
        y_val=scale(y_val, y_mean, y_std)[:, None],
        name="diabetes",
        source="sklearn.datasets.load_diabetes",
    )


@functools.cache
def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits (1797 x 64, 10 classes), stratified 80/20 split, pixels
    scaled from 0..16 to [0, 1]."""
    from sklearn.datasets import load_digits as sklearn_digits

    x, y = sklearn_digits(return_X_y=True)
    x_train, y_train, x_val, y_val = _split_80_20((x / 16.0).astype("float32"), y, stratify=True)
    return Dataset(
        x_train, y_train, x_val, y_val, name="digits", source="sklearn.datasets.load_digits"
    )

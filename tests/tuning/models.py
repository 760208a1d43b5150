"""Tiny real models and data for the tuning tests, importable by worker processes."""

from __future__ import annotations

import keras
import numpy as np

from finder.tuning.space import SearchSpace

# LRs the tiny classifier learns with under plain SGD (its range test's edge is near 1).
TINY_SPACE = SearchSpace(
    families=("one_cycle", "cosine_warmup", "constant"),
    peak_range=(0.05, 0.5),
    held_range=(0.02, 0.2),
)


def tiny_data(samples: int = 320, seed: int = 1) -> tuple[np.ndarray, ...]:
    """(x, y, x_val, y_val): 6x6x1 'images', 3 classes that depend on the pixels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, 6, 6, 1)).astype("float32")
    y = (x[:, :3].mean(axis=(1, 2, 3)) > 0).astype("int64") + (x[:, 3:].mean(axis=(1, 2, 3)) > 0.2)
    split = samples * 4 // 5
    return x[:split], y[:split], x[split:], y[split:]


def tiny_classifier() -> keras.Model:
    """A small CNN compiled with plain SGD, sparse cross-entropy and accuracy."""
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model

"""Builders for tiny real models and problems used across the tests."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np


def dense_regressor(seed: int = 0, optimizer: object = "sgd", inputs: int = 4) -> keras.Model:
    """Linear model for regression, compiled with MSE."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def small_classifier(seed: int = 0, optimizer: object = "sgd", num_classes: int = 3) -> keras.Model:
    """Tiny CNN with every kind of state a range test must restore: conv + dense weights,
    BatchNormalization moving statistics, Dropout's seed generator, and compiled metrics."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits scaled to [0, 1]: 1,500 samples to train on, the other 297 held
    out, as (x, y, x_val, y_val)."""
    from sklearn.datasets import load_digits  # only the tests that use it pay for the import

    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    return x[:1500], data.target[:1500], x[1500:], data.target[1500:]


def mlp_classifier(
    inputs: int, hidden: int, classes: int, optimizer: keras.optimizers.Optimizer
) -> keras.Model:
    """inputs -> hidden ReLU -> classes logits, seed 0, compiled with sparse cross-entropy
    from logits and accuracy."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(classes),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def digits_mlp(optimizer: keras.optimizers.Optimizer | None = None) -> keras.Model:
    """A small MLP for `digits_split` (64 -> 32 ReLU -> 10 logits), seed 0, Adam by default."""
    return mlp_classifier(64, 32, 10, optimizer or keras.optimizers.Adam())


@dataclass(frozen=True)
class LeastSquares:
    """y = x w + noise with a known input covariance.

    For the mean squared error mean((x w - y)^2) the Hessian is 2 C with C = x^T x / n, so
    gradient descent diverges for lr > 2 / (2 lambda_max(C)) = 1 / lambda_max(C).
    """

    x: np.ndarray
    y: np.ndarray
    divergence_lr: float


def least_squares_problem(dim: int = 20, samples: int = 2048, seed: int = 0) -> LeastSquares:
    rng = np.random.default_rng(seed)
    eigenvalues = np.geomspace(1.0, 10.0, dim)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    x = ((rng.normal(size=(samples, dim)) * np.sqrt(eigenvalues)) @ rotation.T).astype("float32")
    w = rng.normal(size=dim)
    y = (x @ w + 0.1 * rng.normal(size=samples)).astype("float32")[:, None]
    covariance = x.astype(np.float64).T @ x.astype(np.float64) / samples
    return LeastSquares(x=x, y=y, divergence_lr=float(1.0 / np.linalg.eigvalsh(covariance).max()))


def tiny_range_test(**options: object):
    """A real range test of `dense_regressor` on a noiseless 4-input linear problem (128
    samples, batches of 16, LRs 1e-3..5, validation scored on the first 32); `options` go to
    `finder.range_test` (`num_steps`, `repeats`, ...)."""
    import finder

    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    y = (x @ np.array([1.0, -1.0, 2.0, 0.5])).astype("float32")[:, None]
    return finder.range_test(
        dense_regressor(),
        x,
        y,
        batch_size=16,
        min_lr=1e-3,
        max_lr=5.0,
        validation_data=(x[:32], y[:32]),
        **options,
    )

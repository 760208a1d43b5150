"""The hand computation that checks a range test on a linear model: each batch's mean squared
error under the weights the step started from, in float64."""

from __future__ import annotations

from typing import Any

import numpy as np

import finder


def regression_data() -> tuple[np.ndarray, np.ndarray]:
    """256 samples of a noisy 4-feature linear target (the `regression_data` fixture's)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=256)).astype("float32")
    return x, y[:, None]


def batch_losses(
    weights: list[list[np.ndarray]], x: np.ndarray, y: np.ndarray, batch_size: int
) -> np.ndarray:
    """MSE of batch `i` (in order, cycling: `shuffle=False`) under `weights[i]` (kernel, bias)."""
    losses = []
    for step, (kernel, bias) in enumerate(weights):
        start = (step * batch_size) % len(x)
        xb, yb = x[start : start + batch_size].astype(np.float64), y[start : start + batch_size]
        losses.append(np.mean((xb @ kernel + bias - yb) ** 2))
    return np.array(losses)


def sweep_in_order(model: Any, x: Any, y: Any, callbacks: list[Any], **options: Any) -> Any:
    """An explicit sweep in batch order with no smoothing, as the hand computation reads it."""
    settings = {"batch_size": 32, "min_lr": 1e-3, "max_lr": 0.3, "num_steps": 12}
    return finder.range_test(
        model, x, y, shuffle=False, smoothing=0.0, callbacks=callbacks, **{**settings, **options}
    )

"""Built-in models: the reference CNN of TensorFlow's CLR tutorial and a small MLP.

Builders return UNCOMPILED models; the caller picks the optimizer and loss (the range test
needs a compiled model, see `compile_for_classification`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from finder.errors import InvalidArgumentError

FASHION_INPUT_SHAPE = (28, 28, 1)


def fashion_cnn(
    input_shape: tuple[int, ...] = FASHION_INPUT_SHAPE, num_classes: int = 10
) -> keras.Model:
    """The CNN of TensorFlow's cyclical-learning-rate tutorial, for 28x28x1 images.

    Rescaling 1/255, Conv2D 16 5x5 relu, MaxPool 2, Conv2D 32 5x5 relu, MaxPool 2,
    SpatialDropout2D 0.2, GlobalAveragePooling2D, Dense 128 relu, Dense `num_classes` softmax.
    """
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Rescaling(1.0 / 255),
            keras.layers.Conv2D(16, 5, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 5, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.SpatialDropout2D(0.2),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name="fashion_cnn",
    )


def mlp(input_shape: tuple[int, ...] = FASHION_INPUT_SHAPE, num_classes: int = 10) -> keras.Model:
    """A small multi-layer perceptron: Rescaling 1/255, Flatten, Dense 128 relu, Dense 64 relu,
    Dense `num_classes` softmax."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Rescaling(1.0 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name="mlp",
    )


BUILTIN_MODELS: dict[str, Callable[..., keras.Model]] = {"fashion_cnn": fashion_cnn, "mlp": mlp}


def build_model(
    name: str,
    input_shape: tuple[int, ...] = FASHION_INPUT_SHAPE,
    num_classes: int = 10,
    *,
    seed: int | None = None,
) -> keras.Model:
    """A built-in model by name, with weights drawn from `seed` when given.

    Raises:
        InvalidArgumentError: `name` is not a built-in model.
    """
    if name not in BUILTIN_MODELS:
        raise InvalidArgumentError(
            f"Unknown model {name!r}: built-in models are {', '.join(sorted(BUILTIN_MODELS))}."
        )
    if seed is not None:
        keras.utils.set_random_seed(seed)
    return BUILTIN_MODELS[name](input_shape=tuple(input_shape), num_classes=num_classes)


def make_optimizer(
    name: str, learning_rate: Any = 0.01, **settings: Any
) -> keras.optimizers.Optimizer:
    """A Keras optimizer by its registered name (`sgd`, `adam`, `adamw`, `rmsprop`, ...).

    Raises:
        InvalidArgumentError: the name is unknown or a setting is not accepted.
    """
    try:
        return keras.optimizers.get(
            {"class_name": name, "config": {"learning_rate": learning_rate, **settings}}
        )
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(
            f"Cannot build optimizer {name!r} with {settings}: {exc}"
        ) from exc


def compile_for_classification(
    model: keras.Model, optimizer: keras.optimizers.Optimizer | str = "sgd"
) -> keras.Model:
    """Compile with sparse categorical cross-entropy and accuracy (integer labels)."""
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

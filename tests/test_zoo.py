"""Built-in models: the tutorial's CNN layer by layer, the MLP, optimizers by name."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from finder import zoo
from finder.errors import InvalidArgumentError


def test_fashion_cnn_is_the_tutorial_architecture():
    model = zoo.fashion_cnn()
    described = [
        (type(layer).__name__, getattr(layer, "filters", None) or getattr(layer, "units", None))
        for layer in model.layers
    ]
    assert described == [
        ("Rescaling", None),
        ("Conv2D", 16),
        ("MaxPooling2D", None),
        ("Conv2D", 32),
        ("MaxPooling2D", None),
        ("SpatialDropout2D", None),
        ("GlobalAveragePooling2D", None),
        ("Dense", 128),
        ("Dense", 10),
    ]
    assert model.input_shape == (None, 28, 28, 1)
    assert model.layers[1].kernel_size == (5, 5) and model.layers[3].kernel_size == (5, 5)
    assert model.layers[0].scale == pytest.approx(1 / 255)
    assert model.layers[5].rate == pytest.approx(0.2)
    assert model.layers[-1].activation is keras.activations.softmax


def test_seeded_builds_are_identical_and_mlp_predicts():
    a, b = zoo.build_model("mlp", seed=3), zoo.build_model("mlp", seed=3)
    for va, vb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(va.numpy(), vb.numpy())
    probabilities = a.predict(np.zeros((2, 28, 28, 1), "uint8"), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_model_and_optimizer_names():
    with pytest.raises(InvalidArgumentError, match="fashion_cnn"):
        zoo.build_model("resnet")
    assert type(zoo.make_optimizer("adamw", 1e-3)).__name__ == "AdamW"
    assert zoo.make_optimizer("sgd", 0.1, momentum=0.9).momentum == pytest.approx(0.9)
    with pytest.raises(InvalidArgumentError, match="nope"):
        zoo.make_optimizer("nope")
    with pytest.raises(InvalidArgumentError, match="bogus"):
        zoo.make_optimizer("sgd", 0.1, bogus=1)

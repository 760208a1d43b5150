"""finder's own errors for the common mistakes in the data (`finder.rangetest.input_checks`).

Each mistake goes through `finder.range_test` and `finder.fit` with a real (tiny) Keras model,
and must raise finder's `DataError` naming the fix, short, before any training step: the model's
optimizer has taken no step. A list of lists (which Keras's own `fit` refuses) trains.
The `tf.data` tests are TensorFlow's own; the rest run on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest

import finder
from finder.errors import DataError
from finder.rangetest.input_checks import check_data

SAMPLES, FEATURES, CLASSES = 64, 4, 3
MAX_MESSAGE = 400
neutral = pytest.mark.backend_neutral


def classifier(loss: Any = "sparse_categorical_crossentropy", inputs: bool = True) -> keras.Model:
    keras.utils.set_random_seed(0)
    layers = [keras.layers.Dense(CLASSES, activation="softmax")]
    model = keras.Sequential([keras.Input((FEATURES,)), *layers] if inputs else layers)
    model.compile(optimizer="sgd", loss=loss)
    return model


def data(samples: int = SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, FEATURES)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)


def run_range_test(model: keras.Model, x: Any, y: Any = None, **options: Any) -> Any:
    return finder.range_test(
        model, x, y, batch_size=16, min_lr=1e-3, max_lr=1.0, num_steps=8, **options
    )


def run_fit(model: keras.Model, x: Any, y: Any = None, **options: Any) -> Any:
    return finder.fit(model, x, y, epochs=1, batch_size=16, verbose=0, **options)


ENTRY_POINTS = pytest.mark.parametrize(
    "entry", [run_range_test, run_fit], ids=["range_test", "fit"]
)


def raises_with_fix(
    entry: Callable[..., Any], model: keras.Model, x: Any, y: Any, *fixes: str, **options: Any
) -> str:
    """Run `entry`, check that finder's DataError names every one of `fixes` in a short
    message before any training step, and return the message."""
    with pytest.raises(DataError) as caught:
        entry(model, x, y, **options)
    error = caught.value
    assert isinstance(error, finder.FinderError)
    assert type(error).__module__ == "finder.errors"  # not TensorFlow's, nor Keras's
    message = str(error)
    assert len(message) < MAX_MESSAGE, message
    for fix in fixes:
        assert fix in message, message
    assert int(model.optimizer.iterations.numpy()) == 0  # refused before any step
    return message


@neutral
@ENTRY_POINTS
def test_string_labels_name_an_encoder(entry):
    x, ids = data()
    labels = np.array(["cat", "dog", "bird"])[ids]
    message = raises_with_fix(entry, classifier(), x, labels, "LabelEncoder", "StringLookup")
    assert "strings (e.g. 'dog')" in message or "strings (e.g. 'cat')" in message


@neutral
@ENTRY_POINTS
def test_object_labels_holding_strings_name_an_encoder(entry):
    x, ids = data()
    labels = np.array(["cat", "dog", "bird"], dtype=object)[ids]  # as pandas stores text
    raises_with_fix(entry, classifier(), x, labels, "are strings", "LabelEncoder")


@neutral
def test_string_labels_for_categorical_crossentropy_also_name_to_categorical():
    x, ids = data()
    labels = np.array(["cat", "dog", "bird"])[ids]
    model = classifier("categorical_crossentropy")
    raises_with_fix(run_range_test, model, x, labels, "LabelEncoder", "to_categorical")


@neutral
@ENTRY_POINTS
def test_string_labels_of_validation_data_are_named_as_such(entry):
    x, ids = data()
    labels = np.array(["cat", "dog", "bird"])[ids]
    message = raises_with_fix(
        entry, classifier(), x, ids, "LabelEncoder", validation_data=(x[:16], labels[:16])
    )
    assert message.startswith("validation_data: ")


@ENTRY_POINTS
def test_string_labels_in_a_dataset_name_a_string_lookup(entry):
    import tensorflow as tf

    x, ids = data()
    labels = tf.constant(np.array(["cat", "dog", "bird"])[ids])
    dataset = tf.data.Dataset.from_tensor_slices((x, labels)).batch(16)
    raises_with_fix(entry, classifier(), dataset, None, "StringLookup", "dataset.map")


@ENTRY_POINTS
def test_an_unbatched_dataset_is_told_to_call_batch(entry):
    import tensorflow as tf

    x, y = data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    raises_with_fix(entry, classifier(), dataset, None, "single samples", "dataset.batch(16)")


def test_an_unbatched_dataset_is_told_to_call_batch_for_a_model_without_input():
    import tensorflow as tf

    x, y = data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y))  # scalar labels: single samples
    raises_with_fix(run_fit, classifier(inputs=False), dataset, None, "dataset.batch(16)")


@neutral
@ENTRY_POINTS
def test_inputs_of_the_wrong_shape_name_the_shape_the_model_takes(entry):
    x, y = data()
    wide = np.concatenate([x, x[:, :1]], axis=1)  # 5 features for a model built on 4
    message = raises_with_fix(entry, classifier(), wide, y, "reshape x", "keras.Input(shape=(5,))")
    assert "shape (5,)" in message and "takes (4,)" in message


@ENTRY_POINTS
def test_a_dataset_of_the_wrong_shape_names_the_shape_the_model_takes(entry):
    import tensorflow as tf

    x, y = data()
    images = x.reshape(SAMPLES, 2, 2)
    dataset = tf.data.Dataset.from_tensor_slices((images, y)).batch(16)
    raises_with_fix(entry, classifier(), dataset, None, "(2, 2)", "takes (4,)")


@neutral
@ENTRY_POINTS
def test_one_hot_labels_with_a_sparse_loss_name_categorical_crossentropy(entry):
    x, y = data()
    one_hot = keras.utils.to_categorical(y, CLASSES)
    raises_with_fix(
        entry, classifier(), x, one_hot, "loss='categorical_crossentropy'", "argmax(axis=-1)"
    )


@neutral
@ENTRY_POINTS
def test_class_ids_with_a_categorical_loss_name_the_sparse_loss(entry):
    x, y = data()
    model = classifier(keras.losses.CategoricalCrossentropy())
    raises_with_fix(
        entry,
        model,
        x,
        y,
        "loss='sparse_categorical_crossentropy'",
        f"keras.utils.to_categorical(y, {CLASSES})",
    )


@neutral
@ENTRY_POINTS
def test_class_ids_past_the_model_outputs_name_the_units_needed(entry):
    x, y = data()
    raises_with_fix(entry, classifier(), x, y + 3, "from 3 to 5", "3 classes", "6 units")


@neutral
def test_fractional_labels_with_a_sparse_loss_name_a_regression_loss():
    x, y = data()
    raises_with_fix(run_range_test, classifier(), x, y + 0.5, "non-integer", "loss='mse'")


@neutral
def test_class_ids_with_binary_crossentropy_name_the_sparse_loss():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    x, y = data()
    raises_with_fix(run_fit, model, x, y, "[0, 1]", "sparse_categorical_crossentropy")


@neutral
@ENTRY_POINTS
def test_arrays_of_no_samples_are_refused(entry):
    x, y = data()
    raises_with_fix(entry, classifier(), x[:0], y[:0], "0 samples")


@ENTRY_POINTS
def test_a_dataset_of_cardinality_zero_is_refused(entry):
    import tensorflow as tf

    x, y = data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).take(0)
    raises_with_fix(entry, classifier(), dataset, None, "empty (cardinality 0)")


@neutral
def test_a_ragged_list_of_lists_names_pad_sequences():
    model = classifier()
    raises_with_fix(run_range_test, model, [[1.0, 2.0], [3.0]], [0, 1], "pad_sequences")


@neutral
def test_a_list_of_lists_trains_through_range_test():
    x, y = data()
    result = run_range_test(classifier(), x.tolist(), y.tolist())
    assert len(result.losses) == 8
    assert result.data["kind"] == "numpy" and result.data["samples"] == SAMPLES


@neutral
# 16 batches a pass are too few for a reliable answer: this test is about the data's type.
@pytest.mark.filterwarnings("ignore::finder.errors.UnreliableAnswerWarning")
@pytest.mark.parametrize(
    "options",
    [{}, {"range_test_options": {"min_lr": 1e-3, "max_lr": 1.0, "num_steps": 8}}],
    ids=["in_fit", "explicit_range"],
)
def test_a_list_of_lists_trains_through_fit(options):
    x, y = data(256)
    model = classifier()
    validation = (x[:32].tolist(), y[:32])
    history = run_fit(model, x.tolist(), y.tolist(), validation_data=validation, **options)
    assert len(history.history["loss"]) == 1
    assert int(model.optimizer.iterations.numpy()) > 0


@neutral
@pytest.mark.parametrize(
    "x_shape, input_shape",
    [((FEATURES,), (FEATURES,)), ((), (1,)), ((FEATURES, 1), (FEATURES,)), ((5, 3), (None, 3))],
)
def test_shapes_keras_accepts_pass_the_checks(x_shape, input_shape):
    keras.utils.set_random_seed(0)
    pool = keras.layers.GlobalAveragePooling1D() if None in input_shape else keras.layers.Flatten()
    layers = [keras.Input(input_shape), pool, keras.layers.Dense(CLASSES)]
    model = keras.Sequential(layers)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.zeros((8, *x_shape), "float32")
    y = np.zeros((8, 1), "int64")  # (n, 1) class ids suit a sparse loss too
    checked_x, checked_y = check_data(model, x, y, batch_size=4)
    assert checked_x is x and checked_y is y


class Batches(keras.utils.PyDataset):
    """(x, y) batches of 16 from arrays."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        super().__init__()
        self.x, self.y = x, y

    def __len__(self) -> int:
        return -(-len(self.x) // 16)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.x[16 * index : 16 * (index + 1)], self.y[16 * index : 16 * (index + 1)]


@neutral
@ENTRY_POINTS
def test_string_labels_in_a_py_dataset_name_an_encoder(entry):
    x, ids = data()
    labels = np.array(["cat", "dog", "bird"])[ids]
    raises_with_fix(entry, classifier(), Batches(x, labels), None, "LabelEncoder")


@neutral
def test_an_empty_py_dataset_is_refused():
    x, y = data()
    raises_with_fix(run_range_test, classifier(), Batches(x[:0], y[:0]), None, "len 0")

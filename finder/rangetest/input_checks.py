"""finder's own errors for the common mistakes in the training data, raised before TensorFlow
sees it (`range_test` and `finder.fit` call `check_data` first).

Without these a mistake surfaces as a raw trace from deep inside a train step (string labels:
"Cast string to float", ~40 lines; an unbatched dataset: a Keras shape error). Each check reads
only what is cheap: the shapes and dtypes of arrays, a `tf.data.Dataset`'s `element_spec` and
cardinality (never one of its elements), the first batch of a `PyDataset` or of a generator
(put back in front of it: `check_data` returns the generator to read instead), and at most
the first `MAX_LABELS` labels. What none of them recognises goes on to
`batches.validate_input` and Keras.

Each raises `DataError` naming its fix:

- string (or object) labels: LabelEncoder, or a StringLookup (in `dataset.map`);
- a dataset of single samples: `dataset.batch(batch_size)`;
- samples whose shape the model's input refuses: reshape x, or the `keras.Input` shape;
- one-hot labels with a sparse loss, class ids with a categorical one, ids past the model's
  outputs, fractional ids, labels outside [0, 1] for binary cross-entropy: the loss to use,
  or `argmax` / `to_categorical` / the units the last layer needs;
- no samples (0 rows, a dataset of cardinality 0): where the data may have gone;
- a list of lists of different lengths: `keras.utils.pad_sequences`.

Keras's own `fit` refuses a list of lists ("Unrecognized data type"); finder converts it with
numpy, as it converts pandas frames (`to_numpy`) and other array-likes (`__array__`), so that
`range_test` and `finder.fit` take them (and `finder.fit` hands Keras the arrays).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import keras
import numpy as np

from finder.errors import DataError
from finder.rangetest import tfdata
from finder.rangetest.generators import is_generator, peeked

MAX_LABELS = 1_000
Shape = tuple[int | None, ...]

_SPARSE = "sparsecategoricalcrossentropy"
_CATEGORICAL = ("categoricalcrossentropy", "categoricalfocalcrossentropy")
_BINARY = ("binarycrossentropy", "binaryfocalcrossentropy")


def check_data(
    model: keras.Model, x: Any, y: Any, *, batch_size: int, where: str = ""
) -> tuple[Any, Any]:
    """`x` and `y` with lists and pandas objects converted to numpy (a generator replaced by
    one that yields the batch the checks read, then the rest), after checking them against
    `model` for the common mistakes (see the module's table). `where` names the
    argument in messages ("validation_data"); `batch_size` is the one a fix suggests.

    Raises:
        DataError: a mistake this module recognises, with its fix.
    """
    prefix = f"{where}: " if where else ""
    if tfdata.is_dataset(x):
        peek = _peek_dataset(model, x, batch_size, prefix)
    elif isinstance(x, keras.utils.PyDataset):
        peek = _peek_py_dataset(x, prefix)
    elif is_generator(x):  # its first batch is read, then put back in front
        first, x = peeked(x, prefix)
        peek = _peek_batch(first, "generator")
    else:
        x, y = as_arrays(x, "x", prefix), as_arrays(y, "y", prefix)
        peek = _peek_arrays(x, y, prefix)
    if peek is not None:
        _check_peek(model, peek, prefix)
    return x, y


def check_validation_data(model: keras.Model, data: Any, *, batch_size: int) -> Any:
    """`validation_data` (a pair of arrays, a dataset, ...) converted and checked as
    `check_data` does the training data."""
    if data is None:
        return None
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y = check_data(model, data[0], data[1], batch_size=batch_size, where="validation_data")
        return (x, y, *data[2:])
    check_data(model, data, None, batch_size=batch_size, where="validation_data")
    return data


# --- conversion ---------------------------------------------------------------------------


def as_arrays(data: Any, name: str, prefix: str = "") -> Any:
    """`data` with lists of numbers (or strings), pandas objects and other array-likes as
    numpy arrays; a nest of arrays (a multi-input model's list or dict) keeps its structure."""
    if data is None:
        return None
    if isinstance(data, (list, tuple)) and not any(
        _is_array_like(leaf) for leaf in keras.tree.flatten(data)
    ):
        try:
            return np.asarray(data)
        except ValueError as exc:
            raise DataError(
                f"{prefix}{name} is a list of lists of different lengths, which is not an "
                "array: pad them to one length first (keras.utils.pad_sequences)."
            ) from exc
    return keras.tree.map_structure(_as_array, data)


def _is_array_like(value: Any) -> bool:
    """An array of one or more dimensions (numpy scalars are numbers, as in a list)."""
    return _is_pandas(value) or (hasattr(value, "__array__") and np.ndim(value) > 0)


def _is_pandas(value: Any) -> bool:
    return type(value).__module__.startswith("pandas") and hasattr(value, "to_numpy")


def _as_array(leaf: Any) -> Any:
    if isinstance(leaf, np.ndarray) or leaf is None:
        return leaf
    if _is_pandas(leaf):
        return leaf.to_numpy()
    if hasattr(leaf, "__array__"):
        return np.asarray(leaf)
    return leaf  # not an array: batches.validate_input names its type


# --- what the checks read ----------------------------------------------------------------


class _Peek:
    """What the checks read of the data: per-sample shapes and dtypes of the inputs and the
    labels, and (arrays and PyDataset only) up to MAX_LABELS label values."""

    def __init__(
        self,
        x: list[tuple[Shape, str]],
        y: tuple[Shape, str] | None,
        labels: np.ndarray | None,
        source: str,
    ) -> None:
        self.x, self.y, self.labels, self.source = x, y, labels, source


def _peek_arrays(x: Any, y: Any, prefix: str) -> _Peek | None:
    leaves = [a for a in keras.tree.flatten(x) if isinstance(a, np.ndarray)]
    if not leaves or len(leaves) != len(keras.tree.flatten(x)):
        return None  # not arrays: validate_input says what is wrong
    if any(a.ndim == 0 or a.shape[0] == 0 for a in leaves):
        raise DataError(
            f"{prefix}x holds 0 samples: there is nothing to train on. Check how x was "
            "loaded or split (an empty file, a filter that matched nothing)."
        )
    labels = y if isinstance(y, np.ndarray) else None
    y_spec = (tuple(labels.shape[1:]), _kind(labels)) if labels is not None else None
    return _Peek(
        [(tuple(a.shape[1:]), _kind(a)) for a in leaves],
        y_spec,
        labels[:MAX_LABELS] if labels is not None else None,
        "arrays",
    )


def _peek_py_dataset(data: keras.utils.PyDataset, prefix: str) -> _Peek | None:
    if len(data) == 0:
        raise DataError(
            f"{prefix}the PyDataset has no batches (len 0): check its __len__ and the data "
            "it reads."
        )
    return _peek_batch(data[0], "PyDataset")


def _peek_batch(batch: Any, source: str) -> _Peek | None:
    """What the checks read of one batch of a PyDataset or a generator."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        return None
    x, y = as_arrays(batch[0], "x"), as_arrays(batch[1], "y")
    leaves = keras.tree.flatten(x)
    if not isinstance(y, np.ndarray) or not all(isinstance(a, np.ndarray) for a in leaves):
        return None
    return _Peek(
        [(tuple(a.shape[1:]), _kind(a)) for a in leaves],
        (tuple(y.shape[1:]), _kind(y)),
        y[:MAX_LABELS],
        source,
    )


def _peek_dataset(model: keras.Model, dataset: Any, batch_size: int, prefix: str) -> _Peek | None:
    if tfdata.cardinality(dataset) == 0:
        raise DataError(
            f"{prefix}the tf.data.Dataset is empty (cardinality 0): check its source and "
            "its filter/take steps, and batch(..., drop_remainder=True) on fewer samples than "
            "a batch."
        )
    spec = dataset.element_spec
    if not isinstance(spec, (tuple, list)) or len(spec) < 2:
        return None
    x_specs, y_spec = keras.tree.flatten(spec[0]), spec[1]
    if not all(_is_tensor_spec(s) for s in [*x_specs, y_spec]):
        return None  # ragged or sparse elements: left to Keras
    if _unbatched(model, spec[0], x_specs, y_spec):
        raise DataError(
            f"{prefix}the tf.data.Dataset yields single samples (x {_shape(x_specs[0])}, y "
            f"{_shape(y_spec)}), not batches: call dataset.batch({batch_size}) before passing "
            "it."
        )
    return _Peek(
        [(_shape(s)[1:], _spec_kind(s)) for s in x_specs],
        (_shape(y_spec)[1:], _spec_kind(y_spec)),
        None,
        "dataset",
    )


def _is_tensor_spec(spec: Any) -> bool:
    return type(spec).__name__ == "TensorSpec" and spec.shape.rank is not None


def _shape(spec: Any) -> Shape:
    return tuple(spec.shape.as_list())


def _kind(array: np.ndarray) -> str:
    """The dtype's kind, with "T" for text: numpy strings, or objects that are strings."""
    if array.dtype.kind in "US":
        return "T"
    if array.dtype.kind == "O":
        sample = array.reshape(-1)[:MAX_LABELS]
        return "T" if any(isinstance(v, (str, bytes)) for v in sample) else "O"
    return str(array.dtype.kind)


def _spec_kind(spec: Any) -> str:
    return "T" if spec.dtype.name == "string" else np.dtype(spec.dtype.as_numpy_dtype).kind


def _unbatched(model: keras.Model, x_struct: Any, x_specs: list[Any], y_spec: Any) -> bool:
    """Whether a dataset's elements are single samples: scalar labels or inputs, or inputs one
    rank below the model's, with a known first dimension that fits the model's sample shape."""
    if y_spec.shape.rank == 0 or any(s.shape.rank == 0 for s in x_specs):
        return True
    expected = _input_shapes(model, x_struct)
    if expected is None:
        return False
    return any(
        len(shape) == len(want) - 1 and shape[0] is not None and _fits(shape, want[1:])
        for shape, want in zip((_shape(s) for s in x_specs), expected, strict=True)
    )


# --- the checks ---------------------------------------------------------------------------


def _check_peek(model: keras.Model, peek: _Peek, prefix: str) -> None:
    _check_text(model, peek, prefix)
    _check_input_shapes(model, peek, prefix)
    _check_labels(model, peek, prefix)


def _check_text(model: keras.Model, peek: _Peek, prefix: str) -> None:
    loss = _loss_family(model)
    if peek.y is not None and peek.y[1] == "T":
        example = ""
        if peek.labels is not None and peek.labels.size:
            example = f" (e.g. {str(peek.labels.reshape(-1)[0])[:20]!r})"
        then = ", then keras.utils.to_categorical" if loss in _CATEGORICAL else ""
        if peek.source == "dataset":
            how = (
                "dataset.map(lambda x, y: (x, lookup(y))) with lookup = "
                "keras.layers.StringLookup(num_oov_indices=0) adapted to the labels"
            )
        else:
            how = (
                "sklearn.preprocessing.LabelEncoder().fit_transform(y), or "
                "keras.layers.StringLookup(num_oov_indices=0)"
            )
        raise DataError(
            f"{prefix}the labels y are strings{example}; a loss needs numbers. Encode them as "
            f"integer class ids 0..n-1 first{then}: {how}."
        )
    if peek.y is not None and peek.y[1] == "O":
        raise DataError(
            f"{prefix}the labels y are Python objects (dtype object), not numbers: convert "
            "them, e.g. np.asarray(y, dtype='int64') for class ids or 'float32' for targets."
        )
    inputs = _model_tensors(model, "inputs")
    numeric = inputs is not None and all(str(t.dtype) != "string" for t in inputs)
    for _, kind in peek.x:
        if kind == "T" and numeric:
            raise DataError(
                f"{prefix}the inputs x are strings but the model takes numbers: encode them "
                "first (keras.layers.StringLookup or TextVectorization), or give the model a "
                "keras.Input(dtype='string') and the encoding layer."
            )
        if kind == "O":
            raise DataError(
                f"{prefix}the inputs x are Python objects (dtype object), not numbers: convert "
                "them with np.asarray(x, dtype='float32') (a DataFrame: encode its text "
                "columns first)."
            )


def _check_input_shapes(model: keras.Model, peek: _Peek, prefix: str) -> None:
    if len(peek.x) != 1:
        return  # several inputs: matching them to the model's is left to Keras
    expected = _input_shapes(model, None)
    if expected is None or len(expected) != 1:
        return
    shape, want = peek.x[0][0], expected[0][1:]
    if _fits(shape, want) or _adjustable(shape, want):
        return
    raise DataError(
        f"{prefix}each sample of x has shape {_text(shape)} but the model's input takes "
        f"{_text(want)}: reshape x to (samples, {', '.join(_dim(d) for d in want)}), or build "
        f"the model on keras.Input(shape={_text(shape)})."
    )


def _check_labels(model: keras.Model, peek: _Peek, prefix: str) -> None:
    loss = _loss_family(model)
    outputs = _model_tensors(model, "outputs")
    if loss is None or peek.y is None or outputs is None or len(outputs) != 1:
        return
    out = tuple(outputs[0].shape)[1:]
    labels, shape = peek.labels, peek.y[0]
    classes = out[-1] if out else None
    per_sample = (out[:-1], (*out[:-1], 1))  # one class id per sample, as sparse losses take
    as_ids = any(_fits(shape, ids) for ids in per_sample)
    if loss == _SPARSE:
        if as_ids:
            _check_class_ids(labels, classes, prefix)
            return
        if _fits(shape, out) and classes not in (None, 1):
            raise DataError(
                f"{prefix}the labels y are one-hot rows of {classes} classes but the loss is "
                "sparse_categorical_crossentropy, which takes integer class ids: use "
                "loss='categorical_crossentropy', or pass y.argmax(axis=-1)."
            )
        _mismatch(
            shape, out, "sparse_categorical_crossentropy takes one class id per sample", prefix
        )
    if loss in _CATEGORICAL:
        if _fits(shape, out):
            return
        if as_ids and classes not in (None, 1):
            raise DataError(
                f"{prefix}the labels y are integer class ids (shape {_text(shape)} per sample) "
                f"but categorical_crossentropy takes one-hot rows of {classes}: use "
                "loss='sparse_categorical_crossentropy', or pass "
                f"keras.utils.to_categorical(y, {classes})."
            )
        _mismatch(shape, out, "categorical_crossentropy takes one-hot rows", prefix)
    if loss in _BINARY:
        if labels is not None and labels.size and labels.dtype.kind in "iufb":
            low, high = float(labels.min()), float(labels.max())
            if low < 0 or high > 1:
                raise DataError(
                    f"{prefix}the labels y go from {low:g} to {high:g} but binary_crossentropy "
                    "takes labels in [0, 1]: for more than two classes use "
                    "loss='sparse_categorical_crossentropy' and a Dense(classes) output."
                )
        if not (_fits(shape, out) or _adjustable(shape, out)):
            _mismatch(shape, out, "binary_crossentropy takes one label per output", prefix)


def _check_class_ids(labels: np.ndarray | None, classes: int | None, prefix: str) -> None:
    if labels is None or not labels.size or labels.dtype.kind not in "iuf":
        return
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels) & (labels == np.round(labels))):
        example = labels[~(np.isfinite(labels) & (labels == np.round(labels)))].reshape(-1)[0]
        raise DataError(
            f"{prefix}the labels y hold non-integer values (e.g. {example:g}) but "
            "sparse_categorical_crossentropy takes integer class ids: for continuous targets "
            "use loss='mse' (or 'binary_crossentropy' for probabilities)."
        )
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or (classes is not None and high >= classes):
        raise DataError(
            f"{prefix}the labels y hold class ids from {low} to {high} but the model outputs "
            f"{classes} classes (ids 0..{(classes or 1) - 1}): give its last layer "
            f"{high + 1} units, or encode the labels as 0..n-1 (e.g. "
            "sklearn.preprocessing.LabelEncoder)."
        )


def _mismatch(shape: Shape, out: Shape, rule: str, prefix: str) -> NoReturn:
    raise DataError(
        f"{prefix}each label in y has shape {_text(shape)} but the model outputs "
        f"{_text(out)} per sample ({rule}): check that y matches the model's last layer and loss."
    )


# --- the model ----------------------------------------------------------------------------


def _model_tensors(model: keras.Model, attribute: str) -> list[Any] | None:
    """The model's symbolic inputs or outputs (flat), None when it has none yet (a Sequential
    built without keras.Input, a subclassed model)."""
    try:
        tensors = getattr(model, attribute)
    except (AttributeError, ValueError):
        return None
    flat = keras.tree.flatten(tensors) if tensors is not None else []
    return flat or None


def _input_shapes(model: keras.Model, x_struct: Any) -> list[Shape] | None:
    """The model's input shapes (batch dimension first), matched to the data's flat inputs;
    None when unknown or when the data's inputs are not the model's one by one."""
    inputs = _model_tensors(model, "inputs")
    if inputs is None:
        return None
    if x_struct is not None and len(keras.tree.flatten(x_struct)) != len(inputs):
        return None
    if x_struct is not None and isinstance(x_struct, dict):
        return None  # dict inputs are matched by name, not order
    return [tuple(t.shape) for t in inputs]


def _loss_family(model: keras.Model) -> str | None:
    """The compiled loss's normalised name (lower case, no underscores) when it is one loss."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        name: Any = loss
    else:
        name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
        wrapped = getattr(loss, "fn", None)
        if wrapped is not None and not isinstance(name, str):
            name = getattr(wrapped, "__name__", None)
    return name.replace("_", "").lower() if isinstance(name, str) else None


# --- shapes -------------------------------------------------------------------------------


def _fits(shape: Sequence[int | None], want: Sequence[int | None]) -> bool:
    return len(shape) == len(want) and all(
        a is None or b is None or a == b for a, b in zip(shape, want, strict=True)
    )


def _adjustable(shape: Shape, want: Shape) -> bool:
    """Shapes one rank apart by a trailing 1, which Keras squeezes or expands by itself."""
    if len(shape) == len(want) + 1 and shape[-1] == 1:
        return _fits(shape[:-1], want)
    if len(shape) == len(want) - 1 and want[-1] == 1:
        return _fits(shape, want[:-1])
    return False


def _dim(d: int | None) -> str:
    return "any" if d is None else str(d)


def _text(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join(_dim(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"

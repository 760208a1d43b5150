"""Models of the benchmark tasks that `finder.zoo` does not provide (see `tasks.py`).

Builders return UNCOMPILED models and draw their weights from Keras's global seed: call
`keras.utils.set_random_seed(seed)` first. `finetune_model` is the exception: it takes the seed
of its fresh head, and its base comes pretrained from a cache (`load_pretrained_base`).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import task_data

FASHION_SHAPE = (28, 28, 1)
# Keras's default 0.99 averages over ~100 steps, about an epoch of the ResNet task: its
# validation scores would lag the weights for the first epochs.
BN_MOMENTUM = 0.9


def _residual_block(x: keras.KerasTensor, filters: int, strides: int) -> keras.KerasTensor:
    """Conv-BN-ReLU-Conv-BN plus a shortcut (1x1 conv + BN when the shape changes), ReLU."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False)(x)
        shortcut = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(shortcut)
    y = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    y = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(y)
    return keras.layers.ReLU()(keras.layers.Add()([shortcut, y]))


def residual_cnn(num_classes: int = 10) -> keras.Model:
    """A small ResNet with BatchNormalization for 28x28x1 images.

    Rescaling 1/255, stem Conv2D 16 3x3 stride 2 + BN + ReLU (28x28 -> 14x14), one residual
    block per stage with 16, 32, 64 channels (stages 2 and 3 halve the resolution: 14, 7, 4),
    GlobalAveragePooling2D, Dense `num_classes` softmax; BatchNorm momentum `BN_MOMENTUM`.
    Without the strided stem, an image costs about 4x as much.
    """
    inputs = keras.Input(shape=FASHION_SHAPE)
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = keras.layers.ReLU()(x)
    for stage, filters in enumerate((16, 32, 64)):
        x = _residual_block(x, filters, strides=1 if stage == 0 else 2)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="residual_cnn")


@keras.saving.register_keras_serializable(package="finder_bench")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding to each position of a `(batch, length, dim)` sequence."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.embedding = self.add_weight(
            shape=tuple(input_shape[1:]), initializer="random_normal", name="embedding"
        )

    def call(self, inputs: keras.KerasTensor) -> keras.KerasTensor:
        return inputs + self.embedding


def patch_transformer(
    num_classes: int = 10,
    *,
    patch_size: int = 7,
    dim: int = 32,
    heads: int = 2,
    blocks: int = 2,
) -> keras.Model:
    """A small pre-LayerNorm transformer encoder over image patches (a tiny ViT).

    Rescaling 1/255, 7x7 patches embedded by a strided Conv2D (28x28 -> 16 tokens of `dim`),
    learned position embedding, `blocks` x [LayerNorm, MultiHeadAttention (`heads` heads),
    residual; LayerNorm, Dense 2*dim gelu, Dense dim, residual], LayerNorm, mean over tokens,
    Dense `num_classes` softmax. On 2 CPU cores `dim=64, heads=4` makes a step ~3x slower.
    """
    inputs = keras.Input(shape=FASHION_SHAPE)
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Conv2D(dim, patch_size, strides=patch_size)(x)
    x = keras.layers.Reshape((-1, dim))(x)
    x = PositionEmbedding()(x)
    for _ in range(blocks):
        y = keras.layers.LayerNormalization()(x)
        y = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=dim // heads)(y, y)
        x = keras.layers.Add()([x, y])
        y = keras.layers.LayerNormalization()(x)
        y = keras.layers.Dense(2 * dim, activation="gelu")(y)
        y = keras.layers.Dense(dim)(y)
        x = keras.layers.Add()([x, y])
    x = keras.layers.LayerNormalization()(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="patch_transformer")


def dense_net(
    input_dim: int, units: tuple[int, ...], outputs: int, activation: str | None, name: str
) -> keras.Model:
    """Dense layers of `units` (ReLU) and an output layer of `outputs` units."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=(input_dim,))]
    layers += [keras.layers.Dense(n, activation="relu") for n in units]
    layers.append(keras.layers.Dense(outputs, activation=activation))
    return keras.Sequential(layers, name=name)


def fashion_base() -> keras.Model:
    """The feature extractor that the fine-tuning task pretrains and then fine-tunes.

    Rescaling 1/255, Conv2D 16 5x5 relu, MaxPool 2, Conv2D 32 5x5 relu, MaxPool 2, Flatten
    (512 features): `fashion_cnn`'s convolutions without dropout or BatchNormalization, so
    that freezing it changes nothing but which weights train.
    """
    return keras.Sequential(
        [
            keras.Input(shape=FASHION_SHAPE),
            keras.layers.Rescaling(1.0 / 255),
            keras.layers.Conv2D(16, 5, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 5, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
        ],
        name="pretrained_base",
    )


def with_head(base: keras.Model, num_classes: int, hidden: int = 0) -> keras.Model:
    """`base` followed by an optional Dense `hidden` relu layer and a softmax classifier."""
    inputs = keras.Input(shape=base.input_shape[1:])
    x = base(inputs)
    if hidden:
        x = keras.layers.Dense(hidden, activation="relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=f"{base.name}_classifier")


def small_cnn(num_classes: int = 10) -> keras.Model:
    """`fashion_base`'s convolutions, trained from scratch, under Dense 64 relu and a softmax:
    the second host of the optimizer variants, a convolutional net beside digits' MLP."""
    return with_head(fashion_base(), num_classes, hidden=64)


# --- the pretrained base of the fine-tuning task -----------------------------------------

PRETRAIN_CLASSES = (0, 1, 2, 3, 4)
FINETUNE_CLASSES = (5, 6, 7, 8, 9)
PRETRAIN_EPOCHS = 3
PRETRAIN_SEED = 0
# The cache is keyed by this name: change the version when the pretraining recipe changes.
PRETRAIN_FILE = "fashion_base_classes01234_seed0_v1.keras"


def cache_dir() -> Path:
    """`$FINDER_BENCH_CACHE`, else `$XDG_CACHE_HOME/finder-bench` (`~/.cache/finder-bench`)."""
    if os.environ.get("FINDER_BENCH_CACHE"):
        return Path(os.environ["FINDER_BENCH_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "finder-bench"


def pretrain_base(
    path: Path, *, samples_per_class: int | None = None, epochs: int = PRETRAIN_EPOCHS
) -> Path:
    """Pretrain `fashion_base` on Fashion-MNIST classes 0-4 and save it to `path`.

    All 30k training images of those classes (or `samples_per_class` of each), Adam 1e-3,
    batch 64, `epochs` epochs, seed `PRETRAIN_SEED`. Written to a temporary file first, so a
    concurrent reader never sees half a file.
    """
    data = task_data.load_fashion()
    keep = np.isin(data.y_train, PRETRAIN_CLASSES)
    x, y = task_data.sample(
        data.x_train[keep], data.y_train[keep], samples_per_class, PRETRAIN_SEED
    )
    keras.utils.set_random_seed(PRETRAIN_SEED)
    base = fashion_base()
    model = with_head(base, len(PRETRAIN_CLASSES))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=epochs, shuffle=True, verbose=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.keras")
    base.save(partial)
    os.replace(partial, path)
    return path


def load_pretrained_base() -> keras.Model:
    """The pretrained base from the cache, pretraining it first (under a minute) if missing."""
    path = cache_dir() / PRETRAIN_FILE
    if not path.is_file():
        pretrain_base(path)
    return keras.saving.load_model(path, compile=False)


def finetune_model(seed: int) -> keras.Model:
    """The pretrained base, frozen, under a fresh head (Dense 64 relu, Dense 5 softmax)."""
    base = load_pretrained_base()
    base.trainable = False
    keras.utils.set_random_seed(seed)
    return with_head(base, len(FINETUNE_CLASSES), hidden=64)

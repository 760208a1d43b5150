"""Which multi-device setups the range test drives, and the scope its state changes run in.

On TensorFlow a model built under a `tf.distribute` strategy keeps its variables (weights,
optimizer slots, `iterations`) as mirrored variables. Creating optimizer slots or assigning
them from outside the strategy's scope raises TensorFlow's `RuntimeError: Need to be inside
"with strategy.scope()"`, so every capture and restore of `ModelState` runs inside
`model_scope(model)`. `fit` itself needs no scope: Keras runs the train step through
`strategy.run` and the optimizer reads the (replicated) `iterations`, so the sweep schedule
sets the learning rate of every replica at once, and the logged loss is the mean over the
global batch (Keras divides each replica's loss by the replica count and sums them).

Supported: the default strategy, `OneDeviceStrategy` and `MirroredStrategy` (one machine,
synchronous). Anything else (`TPUStrategy`, `MultiWorkerMirroredStrategy`,
`ParameterServerStrategy`, `CentralStorageStrategy`) raises `UnsupportedStrategyError`
naming it: none is tested here, and parameter-server training runs steps asynchronously,
which breaks "one recorded loss per learning rate".

On JAX, `keras.distribution.DataParallel` needs nothing from finder: Keras lays the
variables and batches out over the devices, and assignments from the host work unchanged.
Other backends have no strategies; `model_scope` is a no-op there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras

from finder.errors import UnsupportedStrategyError

SUPPORTED_STRATEGIES = ("_DefaultDistributionStrategy", "OneDeviceStrategy", "MirroredStrategy")


def model_strategy(model: keras.Model) -> Any:
    """The `tf.distribute` strategy `model` was built under, or None off TensorFlow."""
    if keras.backend.backend() != "tensorflow":
        return None
    return getattr(model, "distribute_strategy", None)


def check_strategy(model: keras.Model) -> None:
    """Raise `UnsupportedStrategyError` for a strategy the range test cannot drive.

    Raises:
        UnsupportedStrategyError: the model was built under a strategy other than the
            default one, `OneDeviceStrategy` or `MirroredStrategy`.
    """
    strategy = model_strategy(model)
    if strategy is None:
        return
    name = type(strategy).__name__
    # By class name, so that this module needs no TensorFlow import; subclasses (the V1
    # classes) count as their base.
    names = {cls.__name__ for cls in type(strategy).__mro__}
    if not names & set(SUPPORTED_STRATEGIES):
        raise UnsupportedStrategyError(
            f"Model {model.name!r} is distributed with {name}, which the range test does not "
            "support. Supported: the default strategy, OneDeviceStrategy and MirroredStrategy "
            "(one machine); on JAX, keras.distribution.DataParallel."
        )


@contextlib.contextmanager
def model_scope(model: keras.Model) -> Iterator[None]:
    """The model's strategy scope (creating or assigning its variables needs it), else nothing."""
    strategy = model_strategy(model)
    if strategy is None:
        yield
        return
    with strategy.scope():
        yield

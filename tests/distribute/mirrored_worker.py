"""Runs finder under `tf.distribute.MirroredStrategy` over two logical CPUs; used by
`test_mirrored.py`.

Logical devices must be configured before TensorFlow initialises its devices, which the
test process has long done; so this runs as `python -m tests.distribute.mirrored_worker OUT`
CHECK...` in a fresh process, runs the named checks (`CHECKS`), and writes what each saw to
`OUT` (JSON) for the test to assert on. One process for several checks: importing TensorFlow
costs seconds.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import finder  # noqa: E402
from finder.schedules import ScheduleSpec  # noqa: E402
from tests.utils.linear import batch_losses, regression_data, sweep_in_order  # noqa: E402

BATCH = 32


def mirrored() -> tf.distribute.Strategy:
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def linear_model(strategy: tf.distribute.Strategy, optimizer: Any) -> keras.Model:
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer=optimizer(), loss="mse")
    return model


class ReplicaProbe(keras.callbacks.Callback):
    """Before every batch: the weights, each replica's copy of the kernel, and the learning
    rate every replica's optimizer will use for the step about to run."""

    def __init__(self, strategy: tf.distribute.Strategy) -> None:
        super().__init__()
        self.strategy = strategy
        self.weights: list[list[np.ndarray]] = []
        self.replica_lrs: list[list[float]] = []
        self.kernel_copies_equal: list[bool] = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.weights.append([v.numpy().astype(np.float64) for v in self.model.trainable_variables])
        optimizer = self.model.optimizer
        per_replica = self.strategy.run(lambda: tf.identity(optimizer.learning_rate))
        local = self.strategy.experimental_local_results(per_replica)
        self.replica_lrs.append([float(v) for v in local])
        kernel = self.model.trainable_variables[0].value
        copies = [c.numpy() for c in getattr(kernel, "values", (kernel,))]
        self.kernel_copies_equal.append(all(np.array_equal(copies[0], c) for c in copies))


def all_values(model: keras.Model) -> list[np.ndarray]:
    return [v.numpy().copy() for v in model.variables + model.optimizer.variables]


def check_range_test(strategy: tf.distribute.Strategy) -> dict[str, Any]:
    """Global-batch loss against a hand computation, every replica's LR, exact restore."""
    x, y = regression_data()
    model = linear_model(strategy, lambda: keras.optimizers.SGD(0.01, momentum=0.9))
    # Train a little first, so that slots and `iterations` hold something to restore.
    model.fit(x, y, batch_size=BATCH, epochs=1, steps_per_epoch=3, verbose=0)
    before = all_values(model)
    iterations = int(model.optimizer.iterations.numpy())
    probe = ReplicaProbe(strategy)
    result = sweep_in_order(model, x, y, [probe])
    expected = batch_losses(probe.weights, x, y, BATCH).tolist()
    after = all_values(model)
    return {
        "replicas": strategy.num_replicas_in_sync,
        "losses": result.losses,
        "expected_losses": expected,
        "lrs": result.lrs,
        "replica_lrs": probe.replica_lrs,
        "kernel_copies_equal": probe.kernel_copies_equal,
        "restored": all(np.array_equal(a, b) for a, b in zip(before, after, strict=True)),
        "iterations_before": iterations,
        "iterations_after": int(model.optimizer.iterations.numpy()),
        "auto_verdict": finder.range_test(
            model, x, y, batch_size=BATCH, budget=200
        ).reliability.verdict,
    }


def check_proposals_train(strategy: tf.distribute.Strategy) -> dict[str, Any]:
    """A proposal's 1cycle with momentum cycling, then a plateau policy, fit under the strategy;
    then the 1cycle model saved mid-run and resumed under the strategy."""
    x, y = regression_data()
    spec = ScheduleSpec("one_cycle", {"max_lr": 0.05, "total_steps": 16, "cycle_momentum": True})
    model = linear_model(strategy, lambda: keras.optimizers.SGD(spec.to_keras(), momentum=0.9))
    momentums: list[float] = []
    log = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda b, logs: momentums.append(float(model.optimizer.momentum))
    )
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=1,
        steps_per_epoch=8,
        verbose=0,
        callbacks=[*spec.callbacks(), log],
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "m.keras"
        model.save(path)
        with strategy.scope():
            resumed = keras.models.load_model(path)
        resumed_iterations = int(resumed.optimizer.iterations.numpy())
        resumed_lr = float(keras.ops.convert_to_numpy(resumed.optimizer.learning_rate))
        resumed.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=1,
            steps_per_epoch=8,
            verbose=0,
            callbacks=spec.callbacks(),
        )
    plateau = ScheduleSpec(
        "plateau",
        {"initial_lr": 0.01, "factor": 0.5, "patience": 0, "monitor": "loss", "min_delta": 100.0},
    )
    plateau_model = linear_model(strategy, lambda: keras.optimizers.SGD(plateau.to_keras()))
    plateau_model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, callbacks=plateau.callbacks())
    return {
        "momentums": momentums,
        "resumed_iterations": resumed_iterations,
        "resumed_lr": resumed_lr,
        "expected_resumed_lr": float(spec.to_keras()(8)),
        "resumed_final_iterations": int(resumed.optimizer.iterations.numpy()),
        "plateau_lr": float(keras.ops.convert_to_numpy(plateau_model.optimizer.learning_rate)),
    }


def check_tune(strategy: tf.distribute.Strategy) -> dict[str, Any]:
    """`finder.tune`, one tiny trial, with a model built under the strategy."""
    x, y = regression_data()

    def build() -> keras.Model:
        return linear_model(strategy, lambda: keras.optimizers.SGD(0.01))

    tuning = finder.tune(
        build,
        x[:192],
        y[:192],
        validation_data=(x[192:], y[192:]),
        epochs=1,
        batch_size=BATCH,
        max_trials=1,
        tuner="random",
        families=["one_cycle"],
        range_test_options={"num_steps": 30},
    )
    return {"trials": [t.status for t in tuning.trials], "best": tuning.best.family}


def check_unsupported() -> dict[str, Any]:
    strategy = tf.distribute.experimental.CentralStorageStrategy(["/cpu:0", "/cpu:1"])
    model = linear_model(strategy, lambda: keras.optimizers.SGD(0.01))
    x, y = regression_data()
    try:
        finder.range_test(model, x, y, min_lr=1e-3, max_lr=0.3, num_steps=5)
    except finder.FinderError as error:
        return {"error": type(error).__name__, "message": str(error)}
    return {"error": None}


CHECKS = {
    "range_test": check_range_test,
    "train": check_proposals_train,
    "tune": check_tune,
    "unsupported": lambda strategy: check_unsupported(),
}


def main(out: Path, names: list[str]) -> None:
    strategy = mirrored()
    out.write_text(json.dumps({name: CHECKS[name](strategy) for name in names}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])

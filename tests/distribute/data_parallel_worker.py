"""Runs a range test under `keras.distribution.DataParallel` over two JAX host devices; used
by `test_data_parallel.py`.

`XLA_FLAGS=--xla_force_host_platform_device_count=2` must be set before JAX starts, so this
runs as `python -m tests.distribute.data_parallel_worker OUT` in a fresh process (the test
sets the environment) and writes what it saw to `OUT` (JSON).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jax
import keras
import numpy as np

from tests.utils.linear import batch_losses, regression_data, sweep_in_order

BATCH = 32


class WeightProbe(keras.callbacks.Callback):
    """The weights before every batch, and the devices every batch's kernel lives on."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []
        self.devices: set[int] = set()

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.weights.append([v.numpy().astype(np.float64) for v in self.model.trainable_variables])
        kernel = self.model.trainable_variables[0].value
        self.devices |= {device.id for device in kernel.sharding.device_set}


def main(out: Path) -> None:
    devices = jax.devices("cpu")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    x, y = regression_data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    model.fit(x, y, batch_size=BATCH, epochs=1, steps_per_epoch=3, verbose=0)
    before = [v.numpy().copy() for v in model.variables + model.optimizer.variables]
    probe = WeightProbe()
    result = sweep_in_order(model, x, y, [probe])
    expected = batch_losses(probe.weights, x, y, BATCH).tolist()
    after = [v.numpy() for v in model.variables + model.optimizer.variables]
    report = {
        "backend": keras.backend.backend(),
        "devices": len(devices),
        "kernel_devices": len(probe.devices),
        "losses": result.losses,
        "expected_losses": expected,
        "restored": all(np.array_equal(a, b) for a, b in zip(before, after, strict=True)),
        "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
    }
    out.write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

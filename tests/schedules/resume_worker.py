"""Training helpers for `test_resume.py`, and the fresh process it resumes training in.

Run as `python -m tests.schedules.resume_worker DIR` from the repository root: for every
family in `RESUME_SPECS`, loads `DIR/<family>.keras`, trains `RESUMED_EPOCHS` more epochs
with the spec's callbacks, and writes what it recorded to `DIR/<family>.npz`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

from finder.schedules import ScheduleSpec

BATCH_SIZE = 16
NUM_SAMPLES = 64  # 4 steps per epoch
FIRST_EPOCHS = 2
RESUMED_EPOCHS = 2

# Each crosses a phase, cycle or boundary change around the save at step 8 (of 16).
RESUME_SPECS: dict[str, dict[str, Any]] = {
    "one_cycle": {
        "family": "one_cycle",
        "params": {"max_lr": 0.05, "total_steps": 16, "cycle_momentum": True},
    },
    "cyclical": {
        "family": "cyclical",
        "params": {
            "base_lr": 0.001,
            "max_lr": 0.05,
            "step_size_up": 3,
            "step_size_down": 2,
            "mode": "triangular2",
        },
    },
    "cosine_warmup": {
        "family": "cosine_warmup",
        "params": {"max_lr": 0.05, "total_steps": 14, "warmup_steps": 3, "initial_lr": 0.001},
    },
    "exponential": {
        "family": "exponential",
        "params": {"initial_lr": 0.05, "decay_steps": 3, "decay_rate": 0.7, "staircase": True},
    },
    "inverse_time": {
        "family": "inverse_time",
        "params": {"initial_lr": 0.05, "decay_steps": 2, "decay_rate": 0.5},
    },
    "power": {
        "family": "power",
        "params": {"initial_lr": 0.05, "decay_steps": 12, "end_lr": 0.001, "power": 2.0},
    },
    "piecewise_constant": {
        "family": "piecewise_constant",
        "params": {"boundaries": [5, 9], "values": [0.05, 0.02, 0.005]},
    },
    "wsd": {
        "family": "wsd",
        "params": {
            "max_lr": 0.05,
            "total_steps": 14,
            "warmup_steps": 3,
            "decay_steps": 8,
            "initial_lr": 0.001,
            "final_lr": 0.0005,
            "decay": "sqrt",
        },
    },
}


class StepRecorder(keras.callbacks.Callback):
    """Records, before every batch, the step and the learning rate and momentum it will use.

    `optimizer.learning_rate` evaluates the schedule at `optimizer.iterations`, the step
    about to run; it runs after the spec's callbacks, so it sees the momentum they set.
    """

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[int] = []
        self.learning_rates: list[float] = []
        self.momentums: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        optimizer = self.model.optimizer
        self.steps.append(int(optimizer.iterations))
        self.learning_rates.append(float(optimizer.learning_rate))
        self.momentums.append(float(optimizer.momentum))


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(NUM_SAMPLES, 4)).astype("float32")
    y = x @ np.array([[0.5], [-1.0], [0.25], [2.0]]) + 0.1 * rng.normal(size=(NUM_SAMPLES, 1))
    return x, y.astype("float32")


def build_model(spec: ScheduleSpec) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.SGD(learning_rate=spec.to_keras(), momentum=0.9)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    return model


def train(model: keras.Model, spec: ScheduleSpec, epochs: int) -> StepRecorder:
    x, y = make_data()
    recorder = StepRecorder()
    model.fit(
        x,
        y,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[*spec.callbacks(), recorder],
    )
    return recorder


def main(directory: Path) -> None:
    for name, data in RESUME_SPECS.items():
        spec = ScheduleSpec.from_dict(data)
        model = keras.models.load_model(directory / f"{name}.keras")
        recorder = train(model, spec, RESUMED_EPOCHS)
        np.savez(
            directory / f"{name}.npz",
            steps=np.array(recorder.steps),
            learning_rates=np.array(recorder.learning_rates),
            momentums=np.array(recorder.momentums),
            **{f"weight_{i}": w for i, w in enumerate(model.get_weights())},
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""Shared pieces of the benchmarks: the machine's description, the reference training run,
and writing results. Run benchmarks from the repository root: `python bench/<name>.py`."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _cpuinfo(field: str) -> str | None:
    """The value of `field` in /proc/cpuinfo's first processor; None off Linux or without it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    return None


def vector_extensions() -> str:
    """The widest x86 vector extension the CPU has ("AVX-512", "AVX2", "none"; "unknown" off
    Linux): TensorFlow's CPU kernels differ with it, so the same seed can read another edge
    and train to another score on a machine with another."""
    if not Path("/proc/cpuinfo").exists():
        return "unknown"
    names = set((_cpuinfo("flags") or "").split())
    return "AVX-512" if "avx512f" in names else "AVX2" if "avx2" in names else "none"


def machine() -> dict[str, Any]:
    """CPU model, cores, memory and library versions of the machine running the benchmark."""
    cpu = _cpuinfo("model name") or "unknown"
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = int(meminfo.read_text().split()[1])
        memory_gib = round(total_kib / 2**20, 1)
    import tensorflow as tf

    return {
        "cpu": cpu,
        "vector_extensions": vector_extensions(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "gpu": bool(tf.config.list_physical_devices("GPU")),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "platform": platform.platform(),
    }


def edge_rule() -> dict[str, float]:
    """finder's rule for reading the edge of stability (`finder.suggest.smith_bounds`)."""
    from finder.suggest import FLOOR_FRACTION, ZERO_LAG_HALF_WIDTH

    return {"zero_lag_half_width": ZERO_LAG_HALF_WIDTH, "floor_fraction": FLOOR_FRACTION}


def write_result(name: str, payload: dict[str, Any], path: Path | None = None) -> Path:
    """Write `bench/results/<name>.json` (or `path`) with the machine, command and date added."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "command": "python " + " ".join(sys.argv),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "edge_rule": edge_rule(),
        **payload,
    }
    path = path or RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    return path


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch (training plus validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def train_reference(
    model: keras.Model,
    data: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> dict[str, Any]:
    """Train on `data` (a finder Dataset) and report validation accuracy after every epoch.

    A run "diverged" when its final training loss is not finite or its final validation
    accuracy is at chance level (<= 0.15 for 10 classes).
    """
    keras.utils.set_random_seed(seed)
    timer = EpochTimer()
    history = model.fit(
        data.x_train,
        data.y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(data.x_val, data.y_val),
        shuffle=True,
        verbose=0,
        callbacks=[timer, *(callbacks or [])],
    )
    val_accuracy = [float(v) for v in history.history["val_accuracy"]]
    loss = [float(v) for v in history.history["loss"]]
    steps_per_epoch = int(np.ceil(len(data.x_train) / batch_size))
    return {
        "val_accuracy": val_accuracy[-1],
        "val_accuracy_per_epoch": val_accuracy,
        "final_train_loss": loss[-1] if np.isfinite(loss[-1]) else None,
        "diverged": (not np.isfinite(loss[-1])) or val_accuracy[-1] <= 0.15,
        "train_steps": steps_per_epoch * epochs,
        "wall_s": round(sum(timer.seconds), 1),
    }

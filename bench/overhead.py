"""Per-step cost of the range test against plain `model.fit`, per backend and strategy.

Same model (`fashion_cnn`), same data (full Fashion-MNIST, or the bundled sample with
--sample), batch 64, the same number of steps. Each arm runs `--rounds` times, alternating, on
a fresh model; the per-step time runs from the end of step 20 to the end of training (so graph
tracing and compilation are excluded from both, and JAX's asynchronous dispatch has caught up
by the end). The range test sweeps 1e-4..1, completes every step, no validation.

The headline ratio is the median over rounds of each round's range-test / fit ratio: the two
arms of a round run back to back, so the pair sees the same machine (this VM's step time
drifts by 50% within minutes); the ratio of the arms' medians and the process CPU time per
step (all threads, steal time excluded) are reported beside it.

Setups, each in a fresh process (a backend, logical devices and XLA's host device count are
fixed when a process starts):

- `tf_default`: TensorFlow, the default strategy (the first GPU if there is one).
- `tf_mirrored`: TensorFlow, `MirroredStrategy` over all GPUs when there are two or more, over
  the one GPU when there is one, else over two logical CPU devices.
- `jax`: JAX, one device.
- `jax_data_parallel`: JAX, `keras.distribution.DataParallel` over every device (two host
  devices on a CPU machine, by `XLA_FLAGS=--xla_force_host_platform_device_count=2`).
- `torch`: PyTorch, one device (the GPU if there is one); run by default only where torch is
  installed (`bash scripts/test_torch.sh` installs its CPU build into .venv).

Each records the devices it ran on, so the script runs unchanged on a GPU machine.

Plain `fit`'s clock is an async-safe callback, which leaves Keras's asynchronous callbacks on,
except for `jax_data_parallel` on host (CPU) devices: there Keras's asynchronous callbacks
deadlock XLA:CPU's in-process all-reduce within the first 300 steps of a plain `model.fit`, no
finder code involved (`rendezvous.cc: ... all reduce ... Expected 2 threads to join the
rendezvous, but only 1 of them arrived on time`, then an abort after 40 s; reproduced three
times on a quiet 2-core machine with jax 0.10.2, with and without JAX's asynchronous CPU
dispatch; the same fit with a synchronous callback completes). There both arms run with Keras's
synchronous callbacks (`fit_callbacks: "sync"` in the result), so that ratio leaves out the
host copy the range test makes every step, which the other setups include.

    python bench/overhead.py [--steps 300] [--rounds 11] [--sample] [--setups tf_default,jax]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BATCH_SIZE = 64
SKIP = 20
SETUPS = ("tf_default", "tf_mirrored", "jax", "jax_data_parallel", "torch")
ENVIRONMENTS = {
    "tf_default": {"KERAS_BACKEND": "tensorflow"},
    "tf_mirrored": {"KERAS_BACKEND": "tensorflow"},
    "jax": {"KERAS_BACKEND": "jax"},
    "jax_data_parallel": {
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    },
    "torch": {"KERAS_BACKEND": "torch"},
}


def prepare(setup: str) -> tuple[Any, list[str]]:
    """A function giving the context models are built in, and the devices the setup runs on.
    Runs before anything else touches the devices (logical CPUs must be set before TensorFlow
    starts)."""
    if setup.startswith("tf_"):
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if setup == "tf_default":
            return contextlib.nullcontext, [gpus[0].name if gpus else "/cpu:0"]
        if not gpus:
            cpu = tf.config.list_physical_devices("CPU")[0]
            logical = [tf.config.LogicalDeviceConfiguration()] * 2
            tf.config.set_logical_device_configuration(cpu, logical)
            devices = ["/cpu:0", "/cpu:1"]
        else:
            devices = [f"/gpu:{i}" for i in range(len(gpus))]
        return tf.distribute.MirroredStrategy(devices).scope, devices
    if setup == "torch":
        import torch

        device = "cuda:0" if torch.cuda.is_available() else "cpu"
        return contextlib.nullcontext, [device]
    import jax
    import keras

    devices = jax.devices()
    if setup == "jax_data_parallel":
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return contextlib.nullcontext, [f"{d.platform}:{d.id}" for d in devices]


class StepClock:
    """Wall and process CPU time at the end of every batch and at the end of training."""

    def __init__(self, async_safe: bool = True) -> None:
        import keras

        class Clock(keras.callbacks.Callback):
            # Async-safe, so that it leaves plain `fit` asynchronous: a callback with a batch
            # hook that is not makes Keras copy every step's logs to the host before the next
            # step starts. Keras then runs it on a thread that waits for the step's logs, so
            # its times are those of the steps' completion. (Not for JAX's data parallelism
            # over host devices: see the module docstring.)
            def on_train_batch_end(inner, batch: int, logs: Any = None) -> None:
                self.times.append(time.perf_counter())
                self.cpu_times.append(time.process_time())

            def on_train_end(inner, logs: Any = None) -> None:
                self.end, self.cpu_end = time.perf_counter(), time.process_time()

        Clock.async_safe = async_safe
        self.callback = Clock()
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self.end = self.cpu_end = 0.0

    def per_step(self) -> float:
        return (self.end - self.times[SKIP]) / (len(self.times) - 1 - SKIP)

    def cpu_per_step(self) -> float:
        return (self.cpu_end - self.cpu_times[SKIP]) / (len(self.cpu_times) - 1 - SKIP)


def fresh_model(scope: Any) -> Any:
    import keras

    from finder.zoo import build_model, compile_for_classification

    with scope():
        model = build_model("fashion_cnn", seed=0)
        return compile_for_classification(model, keras.optimizers.SGD(0.01))


def async_callbacks_work(setup: str) -> bool:
    """False where Keras's asynchronous callbacks deadlock (see the module docstring)."""
    if setup != "jax_data_parallel":
        return True
    import jax

    return jax.devices()[0].platform != "cpu"


def plain_fit(scope: Any, data: Any, steps: int, async_safe: bool) -> StepClock:
    clock, model = StepClock(async_safe), fresh_model(scope)
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=BATCH_SIZE,
        epochs=1,
        steps_per_epoch=steps,
        shuffle=True,
        verbose=0,
        callbacks=[clock.callback],
    )
    assert len(clock.times) == steps
    return clock


def range_test(scope: Any, data: Any, steps: int, async_safe: bool) -> StepClock:
    import finder

    clock, model = StepClock(async_safe), fresh_model(scope)
    result = finder.range_test(
        model,
        data.x_train,
        data.y_train,
        batch_size=BATCH_SIZE,
        min_lr=1e-4,
        max_lr=1.0,
        num_steps=steps,
        callbacks=[clock.callback],
    )
    assert result.steps_run == steps and len(clock.times) == steps, result.stop_reason
    return clock


def run_setup(setup: str, steps: int, rounds: int, sample: bool) -> dict[str, Any]:
    """Both arms of one setup, `rounds` times, in this process."""
    scope, devices = prepare(setup)
    import keras

    from finder.data import load_fashion_mnist, load_fashion_mnist_sample

    data = load_fashion_mnist_sample() if sample else load_fashion_mnist(download=False)
    async_safe = async_callbacks_work(setup)
    results: list[dict[str, float]] = []
    for index in range(rounds):
        fit = plain_fit(scope, data, steps, async_safe)
        test = range_test(scope, data, steps, async_safe)
        fit_step, test_step = fit.per_step(), test.per_step()
        results.append(
            {
                "fit_ms_per_step": fit_step * 1e3,
                "range_test_ms_per_step": test_step * 1e3,
                "ratio": test_step / fit_step,
                "fit_cpu_ms_per_step": fit.cpu_per_step() * 1e3,
                "range_test_cpu_ms_per_step": test.cpu_per_step() * 1e3,
            }
        )
        print(
            f"{setup} round {index}: fit {fit_step * 1e3:.2f} ms/step, "
            f"range test {test_step * 1e3:.2f} ms/step, ratio {test_step / fit_step:.3f}",
            file=sys.stderr,
            flush=True,
        )
    return {
        "backend": keras.backend.backend(),
        "devices": devices,
        "fit_callbacks": "async" if async_safe else "sync",
        "data": data.name,
        **summarise(results),
    }


def summarise(rounds: list[dict[str, float]]) -> dict[str, Any]:
    fit_ms = statistics.median(r["fit_ms_per_step"] for r in rounds)
    test_ms = statistics.median(r["range_test_ms_per_step"] for r in rounds)
    ratios = sorted(r["ratio"] for r in rounds)
    ratio = statistics.median(ratios)
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratio] * 3
    fit_cpu = statistics.median(r["fit_cpu_ms_per_step"] for r in rounds)
    test_cpu = statistics.median(r["range_test_cpu_ms_per_step"] for r in rounds)
    return {
        "rounds": rounds,
        "fit_ms_per_step": fit_ms,
        "range_test_ms_per_step": test_ms,
        "ratio": ratio,
        "ratio_quartiles": [quartiles[0], quartiles[2]],
        "ratio_of_medians": test_ms / fit_ms,
        "fit_cpu_ms_per_step": fit_cpu,
        "range_test_cpu_ms_per_step": test_cpu,
        "cpu_ratio": test_cpu / fit_cpu,
        "meets_target": ratio <= 1.10,
    }


def spawn(setup: str, args: argparse.Namespace) -> dict[str, Any]:
    """`run_setup` in a fresh process with the setup's environment."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, **ENVIRONMENTS[setup], "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "setup.json"
        command = [sys.executable, __file__, "--setup", setup, "--out", str(out)]
        command += ["--steps", str(args.steps), "--rounds", str(args.rounds)]
        subprocess.run(command + (["--sample"] if args.sample else []), env=env, check=True)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--sample", action="store_true", help="use the bundled sample")
    available = [s for s in SETUPS if s != "torch" or importlib.util.find_spec("torch")]
    parser.add_argument("--setups", default=",".join(available), help="comma-separated")
    parser.add_argument("--setup", help=argparse.SUPPRESS)  # one setup, in this process
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        result = run_setup(args.setup, args.steps, args.rounds, args.sample)
        Path(args.out).write_text(json.dumps(result))
        return
    load_before = os.getloadavg()[0]
    setups = {name: spawn(name, args) for name in args.setups.split(",")}
    from common import write_result

    payload = {
        "setup": {
            "model": "fashion_cnn",
            "batch_size": BATCH_SIZE,
            "steps": args.steps,
            "rounds": args.rounds,
            "timed_steps": args.steps - 1 - SKIP,
        },
        "setups": setups,
        "target": "ratio <= 1.10",
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
    }
    summary = ", ".join(f"{name} {s['ratio']:.3f}" for name, s in setups.items())
    print(f"wrote {write_result('overhead', payload)}: ratios {summary}")


if __name__ == "__main__":
    main()

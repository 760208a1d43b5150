"""Per-step cost of the range test against plain `model.fit`, measured side by side.

Same model (`fashion_cnn`), same data (full Fashion-MNIST, or the bundled sample with
--sample), batch 64, the same number of steps. Each arm runs `--rounds` times, alternating, on
a fresh model; the per-step time is taken between step 20 and the last step (so graph tracing
is excluded from both). The range test sweeps 1e-4..1, completes every step, no validation.

The headline ratio is the median over rounds of each round's range-test / fit ratio: the two
arms of a round run back to back, so the pair sees the same machine (this VM's step time
drifts by 50% within minutes); the ratio of the arms' medians and the process CPU time per
step (both threads, steal time excluded) are reported beside it.

    python bench/overhead.py [--steps 300] [--rounds 11] [--sample]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import keras
from common import write_result

import finder
from finder.data import load_fashion_mnist, load_fashion_mnist_sample
from finder.zoo import build_model, compile_for_classification

BATCH_SIZE = 64
SKIP = 20


class StepClock(keras.callbacks.Callback):
    """Wall and process CPU time at the end of every batch."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self.cpu_times: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.times.append(time.perf_counter())
        self.cpu_times.append(time.process_time())

    def per_step(self) -> float:
        return (self.times[-1] - self.times[SKIP]) / (len(self.times) - 1 - SKIP)

    def cpu_per_step(self) -> float:
        return (self.cpu_times[-1] - self.cpu_times[SKIP]) / (len(self.cpu_times) - 1 - SKIP)


def fresh_model() -> keras.Model:
    model = build_model("fashion_cnn", seed=0)
    return compile_for_classification(model, keras.optimizers.SGD(0.01))


def plain_fit(data: Any, steps: int) -> tuple[StepClock, float]:
    clock, model = StepClock(), fresh_model()
    started = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=BATCH_SIZE,
        epochs=1,
        steps_per_epoch=steps,
        shuffle=True,
        verbose=0,
        callbacks=[clock],
    )
    assert len(clock.times) == steps
    return clock, time.perf_counter() - started


def range_test(data: Any, steps: int) -> tuple[StepClock, float]:
    clock, model = StepClock(), fresh_model()
    started = time.perf_counter()
    result = finder.range_test(
        model,
        data.x_train,
        data.y_train,
        batch_size=BATCH_SIZE,
        min_lr=1e-4,
        max_lr=1.0,
        num_steps=steps,
        callbacks=[clock],
    )
    assert result.steps_run == steps and len(clock.times) == steps, result.stop_reason
    return clock, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--sample", action="store_true", help="use the bundled sample")
    args = parser.parse_args()
    data = load_fashion_mnist_sample() if args.sample else load_fashion_mnist(download=False)
    rounds: list[dict[str, float]] = []
    load_before = os.getloadavg()[0]
    for index in range(args.rounds):
        fit_clock, fit_wall = plain_fit(data, args.steps)
        test_clock, test_wall = range_test(data, args.steps)
        fit_step, test_step = fit_clock.per_step(), test_clock.per_step()
        rounds.append(
            {
                "fit_ms_per_step": fit_step * 1e3,
                "range_test_ms_per_step": test_step * 1e3,
                "ratio": test_step / fit_step,
                "fit_cpu_ms_per_step": fit_clock.cpu_per_step() * 1e3,
                "range_test_cpu_ms_per_step": test_clock.cpu_per_step() * 1e3,
                "fit_wall_s": fit_wall,
                "range_test_wall_s": test_wall,
            }
        )
        print(
            f"round {index}: fit {fit_step * 1e3:.2f} ms/step, "
            f"range test {test_step * 1e3:.2f} ms/step, ratio {test_step / fit_step:.3f}",
            flush=True,
        )
    fit_ms = statistics.median(r["fit_ms_per_step"] for r in rounds)
    test_ms = statistics.median(r["range_test_ms_per_step"] for r in rounds)
    ratios = sorted(r["ratio"] for r in rounds)
    ratio = statistics.median(ratios)
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratio, ratio, ratio]
    fit_cpu = statistics.median(r["fit_cpu_ms_per_step"] for r in rounds)
    test_cpu = statistics.median(r["range_test_cpu_ms_per_step"] for r in rounds)
    payload = {
        "setup": {
            "model": "fashion_cnn",
            "data": data.name,
            "batch_size": BATCH_SIZE,
            "steps": args.steps,
            "rounds": args.rounds,
            "timed_steps": args.steps - 1 - SKIP,
        },
        "rounds": rounds,
        "fit_ms_per_step": fit_ms,
        "range_test_ms_per_step": test_ms,
        "ratio": ratio,
        "ratio_quartiles": [quartiles[0], quartiles[2]],
        "ratio_of_medians": test_ms / fit_ms,
        "fit_cpu_ms_per_step": fit_cpu,
        "range_test_cpu_ms_per_step": test_cpu,
        "cpu_ratio": test_cpu / fit_cpu,
        "target": "ratio <= 1.10",
        "meets_target": ratio <= 1.10,
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
    }
    print(f"wrote {write_result('overhead', payload)}: ratio {ratio:.3f}")


if __name__ == "__main__":
    main()

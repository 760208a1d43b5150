"""Bounds and suggestions of the range test across seeds (model init and batch order).

Two parts, each figure's spread being max/min over the seeds:

1. `fashion`: full Fashion-MNIST, `fashion_cnn`, plain SGD, batch 64. The first configuration
   is the default, the auto range with no range arguments and no plan (its 300-step default
   budget; target: max bound spread <= 1.25x); the others are the explicit sweeps measured
   before it (target 1.5x).
2. `tasks`: the auto range, no range arguments, on every task of the benchmark suite
   (`bench/tasks.py`), with the task's optimizer at its default LR and the task's training
   plan as `plan_steps` (a tenth of it, at least 100 steps). Target: <= 1.25x on every task.

Each seed builds the model with that seed and runs the range test with it.

    python bench/stability.py [--seeds 5] [--part fashion|tasks|all] [--task NAME ...]

Results merge into `bench/results/stability.json`: `--task NAME` re-runs one task alone.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from typing import Any

import keras
from common import RESULTS_DIR, write_result
from tasks import TASKS, auto_range_test

import finder
from finder.data import load_fashion_mnist
from finder.zoo import build_model, compile_for_classification

AUTO_TARGET = 1.25
EXPLICIT_TARGET = 1.5
CONFIGS: dict[str, dict[str, Any]] = {
    # The default: no range arguments at all (finder.auto_range), default budget.
    "auto (default)": {},
    # What bench/reference_table.py ran before its SGD row, before the auto range.
    "reference: 1e-3..10, 500 steps x 3": {
        "min_lr": 1e-3,
        "max_lr": 10.0,
        "num_steps": 500,
        "repeats": 3,
    },
    # `finder run`'s defaults before the auto range.
    "old cli default: 1e-4..10, 500 steps x 3": {
        "min_lr": 1e-4,
        "max_lr": 10.0,
        "num_steps": 500,
        "repeats": 3,
    },
}
FIGURES = ("min_lr", "max_lr", "edge_lr", "steepest", "valley", "minimum")


def seed_row(seed: int, result: Any) -> dict[str, Any]:
    figures = {
        **result.suggestions,
        **{k: v for k, v in result.bounds.to_dict().items() if k != "note"},
    }
    reliability = result.reliability
    return {
        "seed": seed,
        "verdict": reliability.verdict if reliability else None,
        "reasons": reliability.reasons if reliability else None,
        "max_lr_interval": reliability.max_lr_interval if reliability else None,
        "sweeps": reliability.sweeps if reliability else None,
        "stop_reason": result.stop_reason,
        "steps": result.steps_run,
        "seconds": round(result.wall_time_s, 1),
        **{name: figures[name] for name in FIGURES},
    }


def spread_of(rows: list[dict[str, Any]], target: float) -> dict[str, Any]:
    spread: dict[str, float | None] = {}
    for name in FIGURES:
        values = [row[name] for row in rows if row[name] is not None]
        spread[name] = max(values) / min(values) if len(values) == len(rows) else None
    return {
        "seeds": rows,
        "spread": spread,
        "max_steps": max(row["steps"] for row in rows),
        "reliable": sum(row["verdict"] == "reliable" for row in rows),
        "target": target,
        "meets_target": spread["max_lr"] is not None and spread["max_lr"] <= target,
    }


def measure(run_one: Callable[[int], Any], seeds: int, target: float, label: str) -> dict[str, Any]:
    rows = []
    for seed in range(seeds):
        row = seed_row(seed, run_one(seed))
        rows.append(row)
        print(
            f"  {label} seed {seed}: max_lr {row['max_lr']}, {row['steps']} steps, "
            f"{row['verdict']}",
            flush=True,
        )
    summary = spread_of(rows, target)
    print(f"  {label}: max_lr spread {summary['spread']['max_lr']}", flush=True)
    return summary


def fashion_part(seeds: int) -> dict[str, Any]:
    data = load_fashion_mnist(download=False)
    configs = {}
    for name, options in CONFIGS.items():

        def run_one(seed: int, options: dict[str, Any] = options) -> Any:
            model = build_model("fashion_cnn", seed=seed)
            compile_for_classification(model, keras.optimizers.SGD(0.01))
            return finder.range_test(
                model, data.x_train, data.y_train, batch_size=64, seed=seed, **options
            )

        target = AUTO_TARGET if not options else EXPLICIT_TARGET
        configs[name] = {"options": options, **measure(run_one, seeds, target, name)}
    return {
        "setup": {"model": "fashion_cnn", "data": data.name, "optimizer": "SGD", "batch_size": 64},
        "configs": configs,
    }


def task_part(name: str, seeds: int) -> dict[str, Any]:
    task = TASKS[name]
    return {
        "description": task.description,
        "optimizer": type(task.make_optimizer(task.default_lr)).__name__,
        "batch_size": task.batch_size,
        "plan_steps": task.plan.total_steps,
        **measure(functools.partial(auto_range_test, task), seeds, AUTO_TARGET, name),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--part", choices=["fashion", "tasks", "all"], default="all")
    parser.add_argument("--task", action="append", choices=sorted(TASKS), default=None)
    args = parser.parse_args()
    previous_path = RESULTS_DIR / "stability.json"
    previous = json.loads(previous_path.read_text()) if previous_path.exists() else {}
    payload: dict[str, Any] = {
        "seeds": args.seeds,
        "targets": {
            "auto": f"max bound spread across seeds <= {AUTO_TARGET}x",
            "explicit": f"max bound spread across seeds <= {EXPLICIT_TARGET}x",
            "steps": "the default budget: 300 steps without a plan, max(10% of the plan, 100)",
        },
        "fashion": previous.get("fashion"),
        "tasks": dict(previous.get("tasks") or {}),
    }
    if args.part in ("fashion", "all") and not args.task:
        print("fashion_cnn + SGD, full Fashion-MNIST", flush=True)
        payload["fashion"] = fashion_part(args.seeds)
    if args.part in ("tasks", "all") or args.task:
        for name in args.task or sorted(TASKS):
            print(f"task {name}", flush=True)
            payload["tasks"][name] = task_part(name, args.seeds)
    print(f"wrote {write_result('stability', payload)}")


if __name__ == "__main__":
    main()

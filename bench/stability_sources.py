"""Where the auto range's spread across seeds comes from: the model's initial weights, or the
batch order.

`bench/stability.py` changes both with the seed, as a user's next run would. Here each task's
auto range test (as `tasks.auto_range_test` runs it: the task's optimizer at its default LR, no
range arguments, the plan as `plan_steps`) runs three ways over seeds 0..N-1:

- `both`: the model built with seed s and the range test's batch order seed s (stability.py);
- `init only`: the model built with seed s, batch order seed 0;
- `order only`: the model built with seed 0, batch order seed s.

Spread = max / min of `bounds.max_lr` over the seeds. If `order only` is already wide, more
sweeps with fresh batch orders (what the auto range does) is the lever; if `init only` is wide
and `order only` narrow, the edge belongs to the initialisation, and no estimator run on one
model can give one number for every seed's model.

    python bench/stability_sources.py [--seeds 5] [--task NAME ...] [--way WAY ...] \
        [--budget STEPS] [--out PATH]

`--budget` gives the range test an explicit step budget (still capped by the plan); `--out`
writes elsewhere than `bench/results/stability_sources.json` (for such variants).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common import write_result
from tasks import TASKS, auto_range_test

WAYS = {"both": (True, True), "init only": (True, False), "order only": (False, True)}
DEFAULT_TASKS = ("diabetes_mse_adam", "digits_rmsprop", "mlp_adam", "transformer_adamw")


def measure(task: Any, seeds: int, ways: list[str], budget: int | None) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    for way in ways:
        vary_init, vary_order = WAYS[way]
        bounds, steps, verdicts = [], [], []
        for seed in range(seeds):
            result = auto_range_test(
                task,
                seed if vary_init else 0,
                order_seed=seed if vary_order else 0,
                budget=budget,
            )
            bounds.append(result.bounds.max_lr)
            steps.append(result.steps_run)
            verdicts.append(result.reliability.verdict if result.reliability else None)
            print(f"  {task.name} {way} seed {seed}: max_lr {result.bounds.max_lr:.4g}", flush=True)
        found = [b for b in bounds if b is not None]
        measured[way] = {
            "max_lr": bounds,
            "steps": steps,
            "verdicts": verdicts,
            "spread": max(found) / min(found) if len(found) == len(bounds) else None,
        }
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    parser.add_argument("--way", action="append", choices=list(WAYS))
    parser.add_argument("--budget", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    names = args.task or list(DEFAULT_TASKS)
    ways = args.way or list(WAYS)
    tasks = {name: measure(TASKS[name], args.seeds, ways, args.budget) for name in names}
    payload = {"seeds": args.seeds, "budget": args.budget, "tasks": tasks}
    path = write_result("stability_sources", payload, args.out)
    for name, ways in tasks.items():
        summary = ", ".join(f"{way} {w['spread']:.2f}x" for way, w in ways.items() if w["spread"])
        print(f"{name}: {summary}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

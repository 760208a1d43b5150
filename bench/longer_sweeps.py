"""Does a longer sweep read a later edge where the edge was read early?

The verdict calls an edge "read early" when the held-out loss had fallen less than a quarter
below the chance loss when the sweep's loss turned (`finder/rangetest/verdict.py`, rule 6), and
says what a user can try. This measures whether a longer sweep is worth naming there: each
task's auto range test (as `tasks.auto_range_test` runs it: the task's optimizer at its default
LR, no range arguments, the plan as `plan_steps`) runs with finder's own budget and with
`MULTIPLES` times it, over seeds 0..N-1, and records the edge it reads, how far the held-out
loss had fallen below chance, and the verdict. Beside them: the grid oracle's best 1cycle peak
at seed 0, from `bench/results/suite.json` (`bench/suite.py`), the peak a later edge would have
to approach.

    python bench/longer_sweeps.py [--seeds 3] [--task NAME ...]

The default tasks are the suite's whose edges the verdict read early on most seeds: the small
CNN trained from scratch with plain SGD, Adagrad and Adadelta. Its longer plan (`cnn16_*`) gets
the same range test (both plans take the 100-step floor), so only the shorter one is run.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from common import RESULTS_DIR, write_result
from tasks import TASKS, auto_range_test

from finder.rangetest.auto_range import limits

DEFAULT_TASKS = ("cnn_sgd", "cnn_adagrad", "cnn_adadelta")
MULTIPLES = (1, 3, 10)


def best_one_cycle_peak(name: str) -> float | None:
    """The grid oracle's best 1cycle peak at seed 0 for task `name`, None without a suite run."""
    path = RESULTS_DIR / "suite.json"
    if not path.exists():
        return None
    runs = json.loads(path.read_text())["tasks"].get(name, {}).get("runs", {})
    scores = {
        float(label.split("@")[1].split("#")[0]): run["score"]
        for label, run in runs.items()
        if label.startswith("one_cycle@") and label.endswith("#0") and run["score"] is not None
    }
    if not scores:
        return None
    higher = TASKS[name].higher_is_better
    return (max if higher else min)(scores, key=scores.__getitem__)


def measure(name: str, seeds: int) -> dict[str, Any]:
    task = TASKS[name]
    plan_steps = task.plan.total_steps
    default_budget = limits(None, plan_steps, None).budget
    runs: dict[str, Any] = {}
    for multiple in MULTIPLES:
        budget = default_budget * multiple
        rows = []
        for seed in range(seeds):
            result = auto_range_test(task, seed, budget=None if multiple == 1 else budget)
            reliability = result.reliability
            signals = reliability.signals if reliability else {}
            floor, chance = signals.get("held_out_floor"), signals.get("chance_loss")
            fall = 1 - floor / chance if floor is not None and chance else None
            reasons = reliability.reasons if reliability else []
            rows.append(
                {
                    "seed": seed,
                    "edge_lr": result.bounds.edge_lr,
                    "steps_run": result.steps_run,
                    "held_out_fall": fall,
                    "read_early": any(r.startswith("the edge was read early") for r in reasons),
                    "verdict": reliability.verdict if reliability else None,
                }
            )
            print(f"  {name} budget {budget} seed {seed}: edge {result.bounds.edge_lr}", flush=True)
        runs[str(multiple)] = {"budget": budget, "seeds": rows}
    return {"plan_steps": plan_steps, "best_one_cycle_peak": best_one_cycle_peak(name), **runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    args = parser.parse_args()
    names = args.task or list(DEFAULT_TASKS)
    tasks = {name: measure(name, args.seeds) for name in names}
    payload = {"seeds": args.seeds, "multiples": list(MULTIPLES), "tasks": tasks}
    print(f"wrote {write_result('longer_sweeps', payload)}")


if __name__ == "__main__":
    main()

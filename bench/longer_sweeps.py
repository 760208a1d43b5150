"""Does a longer sweep read a later edge where the edge was read early?

The verdict calls an edge "read early" when the held-out loss had fallen less than a quarter
below the chance loss when the sweep's loss turned (`finder/rangetest/verdict.py`, rule 6), and
says what a user can try. This measures whether a longer sweep is worth naming there: each
task's auto range test (as `tasks.auto_range_test` runs it: the task's optimizer at its default
LR, no range arguments, the plan as `plan_steps`) runs with finder's own budget and with
`MULTIPLES` times it, over seeds 0..N-1, and records the edge it reads, how far the held-out
loss had fallen below chance, and the verdict; then trains the first proposal of each test over
the task's plan (as `finder.fit` does when the test runs before the fit) and scores it against
the grid oracle's schedule retrained with the held-out seeds, from `bench/results/suite.json`
(`bench/suite.py`): whether a verdict given after a longer sweep still predicts a run within 1%.
Beside them: the grid oracle's best 1cycle peak at seed 0, the peak a later edge would have to
approach.

    python bench/longer_sweeps.py [--seeds 3] [--task NAME ...]

The default tasks are the suite's whose edges the verdict read early on most seeds: the small
CNN trained from scratch with plain SGD, Adagrad and Adadelta, on both plan lengths (both take
the 100-step floor, so their range tests are the same; their proposals and plans are not).
"""

from __future__ import annotations

import argparse
from typing import Any

from common import write_result
from frontier import trained_first_proposal
from suite import better, holdout_mean, suite_rows
from tasks import TASKS, Task, auto_range_test

from finder.rangetest.auto_range import limits
from finder.rangetest.verdict import EARLY_EDGE

DEFAULT_TASKS = (
    "cnn_sgd", "cnn16_sgd", "cnn_adagrad", "cnn16_adagrad", "cnn_adadelta", "cnn16_adadelta",
)  # fmt: skip
MULTIPLES = (1, 3, 10)


def best_one_cycle_peak(task: Task, oracle: dict[str, Any] | None) -> float | None:
    """The best 1cycle peak of the suite's oracle grid at seed 0 (its row's `seed0` scores,
    labelled by `suite.spec_label`), None without a suite run."""
    scores = {
        float(label.split("@")[1].split("#")[0]): score
        for label, score in (oracle or {}).get("seed0", {}).items()
        if label.startswith("one_cycle@")
    }
    best = None
    for peak, score in scores.items():
        if best is None or better(task, score, scores[best]):
            best = peak
    return best


def measure(name: str, seeds: int, rows: dict[str, Any]) -> dict[str, Any]:
    """`name`'s tests at each budget multiple, with `rows` the task's rows in the suite's
    results (empty without them)."""
    task = TASKS[name]
    plan_steps = task.plan.total_steps
    default_budget = limits(None, plan_steps, None).budget
    reference = holdout_mean(rows)
    runs: dict[str, Any] = {}
    for multiple in MULTIPLES:
        budget = default_budget * multiple
        seeds_run = []
        for seed in range(seeds):
            result = auto_range_test(task, seed, budget=None if multiple == 1 else budget)
            reliability = result.reliability
            signals = reliability.signals if reliability else {}
            floor, chance = signals.get("held_out_floor"), signals.get("chance_loss")
            fall = 1 - floor / chance if floor is not None and chance else None
            reasons = reliability.reasons if reliability else []
            trained = trained_first_proposal(task, result, seed, reference)
            seeds_run.append(
                {
                    "seed": seed,
                    "edge_lr": result.bounds.edge_lr,
                    "steps_run": result.steps_run,
                    "held_out_fall": fall,
                    "read_early": any(r.startswith(EARLY_EDGE) for r in reasons),
                    "verdict": reliability.verdict if reliability else None,
                    **trained,
                }
            )
            print(f"  {name} budget {budget} seed {seed}: edge {result.bounds.edge_lr}, "
                  f"score {trained['score']}, vs held-out {trained['vs_holdout']}",
                  flush=True)  # fmt: skip
        runs[str(multiple)] = {"budget": budget, "seeds": seeds_run}
    return {
        "plan_steps": plan_steps,
        "best_one_cycle_peak": best_one_cycle_peak(task, rows.get("oracle")),
        "oracle_holdout_mean": reference,
        **runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    args = parser.parse_args()
    names = args.task or list(DEFAULT_TASKS)
    suite = suite_rows()
    tasks = {name: measure(name, args.seeds, suite.get(name, {})) for name in names}
    payload = {"seeds": args.seeds, "multiples": list(MULTIPLES), "tasks": tasks}
    print(f"wrote {write_result('longer_sweeps', payload)}")


if __name__ == "__main__":
    main()

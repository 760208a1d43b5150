"""How the density of an explicit sweep moves the edge it reads, and the first proposal after it.

The auto range never sweeps sparser than about 15 steps a decade (its 100-step budget over the
accumulators' 6.5 decades), so the verdict was only ever calibrated at those densities. A user's
explicit range can be sparser (fastai's 100 steps over eight decades: 12 a decade), and the loss
turns a few steps past the edge, steps that span more of a decade the sparser the sweep. Should
the verdict distrust a sparse sweep? This measures it on suite tasks whose auto range the
verdict trusts: per task and seed, an explicit sweep over the auto range's own span (two
decades below the optimizer's default LR to 300x it, 4.5 decades) at each of `DENSITIES` steps
per decade (8 and 12 below that floor, 16 just above, 22 the auto range's on a 100-step budget,
66 on 300 steps), the edge it reads, the verdict, and the first proposal trained over the
task's plan (as `finder.fit` trains it after a test before the fit), scored against the grid
oracle's schedule retrained with the held-out seeds (`bench/results/suite.json`,
`bench/suite.py`).

    python bench/sweep_density.py [--seeds 3] [--task NAME ...]
"""

from __future__ import annotations

import argparse
from typing import Any

from common import write_result
from frontier import trained_first_proposal
from suite import holdout_mean, suite_rows
from tasks import TASKS, range_test

from finder.rangetest.auto_range import ANCHOR_DECADES_BELOW, SPAN_DECADES

# Tasks whose auto range the verdict calls reliable on every seed, one optimizer family each,
# on both hosts and plan lengths; fast enough to train 15 times each.
DEFAULT_TASKS = ("digits_rmsprop", "digits8_sgd", "digits8_adam", "cnn_adam", "cnn16_adamw")
DENSITIES = (8, 12, 16, 22, 66)


def measure(name: str, seeds: int, rows: dict[str, Any]) -> dict[str, Any]:
    """`name`'s explicit sweeps at each density, with `rows` the task's rows in the suite's
    results (empty without them)."""
    task = TASKS[name]
    reference = holdout_mean(rows)
    min_lr = task.default_lr / 10**ANCHOR_DECADES_BELOW
    max_lr = min_lr * 10**SPAN_DECADES
    runs: dict[str, Any] = {}
    for density in DENSITIES:
        num_steps = round(density * SPAN_DECADES) + 1
        seeds_run = []
        for seed in range(seeds):
            result = range_test(task, seed, min_lr=min_lr, max_lr=max_lr, num_steps=num_steps)
            reliability = result.reliability
            trained = trained_first_proposal(task, result, seed, reference)
            seeds_run.append(
                {
                    "seed": seed,
                    "edge_lr": result.bounds.edge_lr,
                    "steps_run": result.steps_run,
                    "verdict": reliability.verdict if reliability else None,
                    "reasons": reliability.reasons if reliability else [],
                    **trained,
                }
            )
            print(f"  {name} {density}/decade seed {seed}: edge {result.bounds.edge_lr}, "
                  f"score {trained['score']}, vs held-out {trained['vs_holdout']}",
                  flush=True)  # fmt: skip
        runs[str(density)] = {"num_steps": num_steps, "seeds": seeds_run}
    return {"min_lr": min_lr, "max_lr": max_lr, "oracle_holdout_mean": reference, **runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    args = parser.parse_args()
    names = args.task or list(DEFAULT_TASKS)
    suite = suite_rows()
    tasks = {name: measure(name, args.seeds, suite.get(name, {})) for name in names}
    payload = {"seeds": args.seeds, "densities": list(DENSITIES), "tasks": tasks}
    print(f"wrote {write_result('sweep_density', payload)}")


if __name__ == "__main__":
    main()

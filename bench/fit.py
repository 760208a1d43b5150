"""`finder.fit`'s price: its wall time and score against the plain `model.fit` it stands in for.

On suite tasks (`bench/tasks.py`), per seed, two routes train the same model (built with the
seed), with the same data, batch order (drawn from the seed), callbacks and plan
(`tasks.train`):

- **plain**: `model.fit` with the task's optimizer at its Keras default LR, held constant:
  the run a user makes without finder.
- **finder.fit**: `finder.fit` with its defaults in place of `model.fit`: the range test as
  the warm-up of this very fit (`finder.LearningRateFinder`), rolled back to the snapshot at
  the proposal's peak, or, on a plan under 500 steps, the test before the fit; then the first
  proposal over the rest of the plan.

Both are timed from the call to its return, so finder's time includes everything it adds: the
checks of the data, the ramp's snapshots and validation curve, the steps it throws away
(`extra_steps`), the rollback and any retracing. The figure is finder.fit's time over the plain
fit's, per seed; the routes alternate which goes first from seed to seed, so neither always
meets a cold process. The score of finder.fit is set beside the frontier's `fit` design
(`bench/frontier.py`), which composes the same route from its parts, a check that the frontier
measures what `finder.fit` does: inside the fit the two are the same computation (the same
callback first in the same `fit`); before it, on a short plan, the frontier seeds the test's
batch order with the task's seed where `finder.fit` keeps the test's default (0), so from seed
1 on the two read different edges and differ by the seeds' noise.

Results go to `bench/results/fit.json` (tasks already there are kept unless rerun);
`python bench/report.py` renders them into BENCHMARKS.md.

    python bench/fit.py                         # the default tasks, seeds 0-2 (~15 min, 2 cores)
    python bench/fit.py --task digits_rmsprop --seeds 1 --out /tmp/fit.json   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from pathlib import Path
from typing import Any

from common import RESULTS_DIR, write_result
from frontier import RESULT_PATH as FRONTIER_PATH
from frontier import design_runs, fit_route
from tasks import TASKS, Task, train

import finder

# Every host's plan length and both of finder.fit's routes: the test inside the fit on plans
# from 752 to 9,380 steps, before it on the short plans (360-480 steps).
DEFAULT_TASKS = (
    "digits_rmsprop", "diabetes_mse_adam", "digits8_adam", "cnn_adam", "cnn16_adam",
    "mlp_adam", "finetune_sgdm", "transformer_adamw", "resnet_bn_sgdm", "fashion_cnn_sgd",
)  # fmt: skip
RESULT_PATH = RESULTS_DIR / "fit.json"


def plain_route(task: Task, seed: int) -> dict[str, Any]:
    """`model.fit` at the optimizer's default LR."""
    run = train(task, task.default_lr, seed)
    return {"score": run["score"], "wall_s": run["wall_s"]}


def finder_route(task: Task, seed: int) -> dict[str, Any]:
    """`finder.fit` in place of `model.fit`, with its defaults."""
    histories: list[Any] = []

    def fit(model: Any, x: Any, y: Any, **fit_kwargs: Any) -> Any:
        histories.append(finder.fit(model, x, y, **fit_kwargs))
        return histories[-1]

    with warnings.catch_warnings():  # its verdict is read from the result
        warnings.simplefilter("ignore", finder.UnreliableAnswerWarning)
        run = train(task, task.default_lr, seed, fit=fit)
    history = histories[-1]
    result = history.range_test_result
    proposal = history.proposal
    return {
        "score": run["score"],
        "wall_s": run["wall_s"],
        "steps_run": result.steps_run,
        "extra_steps": result.extra_steps,
        "verdict": result.reliability.verdict if result.reliability else None,
        "max_lr": proposal.spec.params.get("max_lr") if proposal else None,
    }


def run_task(task: Task, seeds: range, frontier: dict[str, Any]) -> dict[str, Any]:
    """Both routes on `task` over `seeds`, alternating which runs first."""
    reference = design_runs(frontier, "fit", task.name)
    runs = []
    for seed in seeds:
        order = [plain_route, finder_route]
        if seed % 2:
            order.reverse()
        rows = {route.__name__: route(task, seed) for route in order}
        plain, ours = rows["plain_route"], rows["finder_route"]
        row = {
            "seed": seed,
            "plain_s": plain["wall_s"],
            "plain_score": plain["score"],
            **{f"finder_{k}" if k in ("score", "wall_s") else k: v for k, v in ours.items()},
            "time_ratio": ours["wall_s"] / plain["wall_s"],
            "frontier_score": reference.get(str(seed), {}).get("score"),
        }
        runs.append(row)
        print(
            f"  {task.name:18s} seed {seed}: plain {plain['wall_s']:.1f} s, finder.fit "
            f"{ours['wall_s']:.1f} s (x{row['time_ratio']:.2f}, {ours['extra_steps']} extra "
            f"steps), scores {plain['score']} / {ours['score']}",
            flush=True,
        )
    return {
        "plan_steps": task.plan.total_steps,
        "route": "inside the fit" if fit_route(task) == "in_fit" else "before the fit",
        "runs": runs,
        **summarise(runs, task.plan.total_steps),
    }


def summarise(runs: list[dict[str, Any]], plan_steps: int) -> dict[str, Any]:
    """Per task: the median time ratio over seeds, and means of the rest."""
    return {
        "time_ratio": statistics.median(r["time_ratio"] for r in runs),
        "extra_share": statistics.fmean(r["extra_steps"] for r in runs) / plan_steps,
        "plain_s": statistics.fmean(r["plain_s"] for r in runs),
        "finder_s": statistics.fmean(r["finder_wall_s"] for r in runs),
        "plain_score": _mean(r["plain_score"] for r in runs),
        "finder_score": _mean(r["finder_score"] for r in runs),
        "frontier_score": _mean(r["frontier_score"] for r in runs),
    }


def _mean(values: Any) -> float | None:
    """Mean of the values, None when any is missing (a diverged run, a seed not run)."""
    values = list(values)
    return None if any(v is None for v in values) else statistics.fmean(values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", action="append", choices=sorted(TASKS), help="repeatable")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument("--out", type=Path, default=RESULT_PATH)
    args = parser.parse_args(argv)
    frontier = json.loads(FRONTIER_PATH.read_text())
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    tasks = dict(previous.get("tasks", {}))
    for name in args.task or DEFAULT_TASKS:
        print(name, flush=True)
        tasks[name] = run_task(TASKS[name], range(args.seeds), frontier)
        path = write_result("fit", {"seeds": list(range(args.seeds)), "tasks": tasks}, args.out)
    ratios = [t["time_ratio"] for t in tasks.values()]
    print(f"finder.fit / model.fit: x{min(ratios):.2f} to x{max(ratios):.2f}; wrote {path}")


if __name__ == "__main__":
    main()

"""How precisely one sweep reads the edge of stability, per reading rule, on every suite task.

The auto range test reports `edge_lr`, the centre of the loss's floor on the median curve of its
refining sweeps (`finder.suggest.smith_bounds`). How far that figure moves from seed to seed
depends on how noisy the reading is for ONE sweep, and on how many sweeps the budget pays for.
This benchmark separates the two.

1. **record** (`--record`, ~45 min on 2 CPU cores): per task of `bench/tasks.py` and seed, the
   auto range test's coarse pass and then `--sweeps` (8) refining sweeps over its window, with
   no stop rule and no budget (the per-sweep pass cap applies, as in the real test). The raw
   losses go to `bench/results/edge_sweeps.json.gz`, so the analysis reruns in seconds.
2. **analyze** (default): for each rule, a (zero-lag half-width, floor fraction) pair of
   `smith_bounds`, and each task, from the recorded sweeps:

   ```
   e_sr        = ln edge of sweep r of seed s, read by the rule
   sd_within   = sqrt(mean_s var_r e_sr)          # one sweep's noise, seed fixed
   sd_between  = sqrt(max(0, var_s mean_r e_sr - sd_within^2 / R))   # what the seed adds
   ratio       = median over sweeps of edge(rule) / edge(finder's rule at the time of recording)
   spread      = max/min over seeds of the median curve's edge, with as many sweeps as the
                 task's budget (min(1,500, plan)) pays for after the coarse pass
   ```

   Five draws of a normal spread by about 2.33 sd, so a spread <= 1.25x across 5 seeds needs the
   final figure's sd below ln(1.25) / 2.33 = 0.096: a `sd_between` above it alone misses it.

    python bench/edge_precision.py --record [--seeds 5] [--sweeps 8] [--task NAME ...]
    python bench/edge_precision.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from typing import Any

import keras
import numpy as np
from common import RESULTS_DIR, write_result
from tasks import TASKS

from finder.defaults import DIVERGENCE, SMOOTHING
from finder.rangetest import batches
from finder.rangetest.auto_range import CEILING_LR, steps_per_decade
from finder.rangetest.reliability import MIN_INTERVAL_SWEEPS
from finder.rangetest.repeats import combine
from finder.rangetest.session import SweepSession
from finder.rangetest.sweep import sweep_lrs
from finder.suggest import FLOOR_FRACTION, ZERO_LAG_HALF_WIDTH, smith_bounds

SWEEPS_PATH = RESULTS_DIR / "edge_sweeps.json.gz"
# The rule when the sweeps were recorded (2026-12-03), against which ratios are read.
RECORDED_RULE = (0.03, 0.1)
HALF_WIDTHS = (0.02, 0.03, 0.04, 0.05, 0.06)
FLOOR_FRACTIONS = (0.1, 0.15, 0.2, 0.25, 0.3)
SPREAD_OF_FIVE_SD = 2.33
# The protocol the sweeps were recorded with: the auto range test as it was then, a coarse pass
# from 1e-7 at 20 steps per decade (EMA beta 0.9 for its stop rule), then refining sweeps at 80
# per decade from 2.5 decades below the coarse turn to half a decade past its divergence, each
# cut at 4 passes over the data; its budget was min(1,500, plan).
RECORDED_START_LR = 1e-7
COARSE_STEPS_PER_DECADE = 20
COARSE_SMOOTHING = 0.9
REFINE_STEPS_PER_DECADE = 80
DECADES_BELOW, DECADES_ABOVE = 2.5, 0.5
MAX_SWEEP_PASSES = 4
RECORDED_BUDGET = 1500
MIN_SWEEP_STEPS = 16
# Sweeps this sparse read memorisation more than the LR (scikit-learn's diabetes).
MIN_STEPS_PER_DECADE = 40


def record_one(name: str, seed: int, sweeps: int) -> dict[str, Any]:
    """The coarse pass and `sweeps` refining sweeps of `name`'s auto range test with `seed`.

    `sweeps` >= 4: the test stops once the jackknife interval exists (an infinite tolerance),
    and the jackknife needs 4 sweeps (`finder.rangetest.reliability.MIN_INTERVAL_SWEEPS`)."""
    if sweeps < MIN_INTERVAL_SWEEPS:
        raise ValueError(f"sweeps must be >= {MIN_INTERVAL_SWEEPS}. Received: {sweeps}")
    task = TASKS[name]
    data = task.load_data()
    keras.backend.clear_session()
    model = task.build_model(seed)
    task.compile(model, task.make_optimizer(task.default_lr))
    sweep_cap = MAX_SWEEP_PASSES * batches.steps_per_pass(data.x_train, None, task.batch_size)
    session = SweepSession(
        model,
        data.x_train,
        data.y_train,
        batch_size=task.batch_size,
        shuffle=True,
        seed=seed,
        accumulation=1,
        validation=None,
        validation_every=1,
        progress=None,
        callbacks=(),
    )
    with session:
        coarse_lrs, coarse, lrs, runs = record_protocol(session, sweep_cap, sweeps)
    return {
        "task": name,
        "seed": seed,
        "budget": min(RECORDED_BUDGET, task.plan.total_steps),
        "sweep_cap": sweep_cap,
        "coarse_lrs": [float(v) for v in coarse_lrs[: len(coarse.losses)]],
        "coarse_losses": [float(v) for v in coarse.losses],
        "lrs": [float(v) for v in lrs],
        "runs": [[float(v) for v in run.losses] for run in runs],
        "steps": [run.steps_run for run in runs],
    }


def record_protocol(session: SweepSession, sweep_cap: int, sweeps: int) -> tuple[Any, ...]:
    """The coarse pass and `sweeps` refining sweeps of the recording protocol (module
    constants), on an open `session`: (coarse grid, coarse run, refining grid, runs)."""
    coarse_steps = math.ceil(math.log10(CEILING_LR / RECORDED_START_LR) * COARSE_STEPS_PER_DECADE)
    coarse_lrs = sweep_lrs(RECORDED_START_LR, CEILING_LR, coarse_steps + 1)
    coarse = session.sweep(
        coarse_lrs, mode="exp", repeat=0, repeats=1, smoothing=COARSE_SMOOTHING,
        divergence=DIVERGENCE, score_validation=False, dead_window=_dead_window(coarse_lrs),
    )  # fmt: skip
    diverged_at = coarse.stopped_at_lr if coarse.stopped_at_lr is not None else CEILING_LR
    turn = edge(coarse_lrs, coarse.losses, ZERO_LAG_HALF_WIDTH, FLOOR_FRACTION)
    turn = min(turn if turn is not None else diverged_at, diverged_at / 10)
    low = max(RECORDED_START_LR, turn / 10**DECADES_BELOW)
    high = min(CEILING_LR, diverged_at * 10**DECADES_ABOVE)
    steps = math.ceil(math.log10(high / low) * REFINE_STEPS_PER_DECADE) + 1
    lrs = sweep_lrs(low, high, max(2, min(steps, sweep_cap)))
    runs = [
        session.sweep(
            lrs,
            mode="exp",
            repeat=index + 1,
            repeats=0,
            smoothing=SMOOTHING,
            divergence=DIVERGENCE,
            score_validation=False,
            dead_window=_dead_window(lrs),
        )  # fmt: skip
        for index in range(sweeps)
    ]
    return coarse_lrs, coarse, lrs, runs


def _dead_window(lrs: np.ndarray) -> int:
    """The recorder's dead-network window as the protocol set it: a tenth of a decade, >= 10."""
    return max(10, round(steps_per_decade(lrs) * 0.1))


def affords_sweep(remaining: int, earlier: list[int], expected: int, grid_steps: int) -> bool:
    """The protocol's budget rule: a sweep as long as the longest earlier one fits."""
    needed = max(earlier) if earlier else expected
    return remaining >= max(MIN_SWEEP_STEPS, min(needed, grid_steps))


def edge(lrs: np.ndarray, losses: Any, half_width: float, fraction: float) -> float | None:
    """`smith_bounds`' edge read with the zero-lag `half_width` and floor `fraction`, without
    the lag correction (these sweeps all share one density; `lag_report` measures the lag)."""
    losses = np.asarray(losses, dtype=np.float64)
    return smith_bounds(
        lrs[: len(losses)], losses, half_width_fraction=half_width, floor_fraction=fraction,
        lag_steps=0,
    ).edge_lr  # fmt: skip


def affordable_sweeps(doc: dict[str, Any]) -> int:
    """Refining sweeps the task's budget pays for after the coarse pass (`run_auto`'s rule,
    with the first sweep's own length standing in for the coarse pass's expectation)."""
    spent, count = len(doc["coarse_losses"]), 0
    for index, steps in enumerate(doc["steps"]):
        if not affords_sweep(doc["budget"] - spent, doc["steps"][:index], steps, len(doc["lrs"])):
            break
        spent, count = spent + steps, count + 1
    return max(1, count)


def rule_figures(docs: list[dict[str, Any]], half_width: float, fraction: float) -> dict[str, Any]:
    """sd_within, sd_between, ratio and spread (module docstring) of one rule on one task."""
    per_seed: list[list[float]] = []
    ratios = []
    for doc in docs:
        lrs = np.asarray(doc["lrs"])
        logs = []
        for run in doc["runs"]:
            value, old = edge(lrs, run, half_width, fraction), edge(lrs, run, *RECORDED_RULE)
            if value is not None and old is not None:
                logs.append(math.log(value))
                ratios.append(value / old)
        per_seed.append(logs)
    within = float(np.mean([np.var(logs, ddof=1) for logs in per_seed if len(logs) > 1]))
    means = np.asarray([np.mean(logs) for logs in per_seed if logs])
    count = float(np.mean([len(logs) for logs in per_seed]))
    between = max(0.0, float(np.var(means, ddof=1)) - within / count) if len(means) > 1 else 0.0
    finals = []
    affordable = [affordable_sweeps(doc) for doc in docs]
    for doc, count in zip(docs, affordable, strict=True):
        runs = doc["runs"][:count]
        median = combine(runs, runs, len(doc["lrs"])).losses
        finals.append(edge(np.asarray(doc["lrs"]), median, half_width, fraction))
    found = [v for v in finals if v is not None]
    return {
        "half_width": half_width,
        "floor_fraction": fraction,
        "sd_within": math.sqrt(within),
        "sd_between": math.sqrt(between),
        "ratio": float(np.median(ratios)) if ratios else None,
        "spread": max(found) / min(found) if found and len(found) == len(finals) else None,
        "sweeps_at_budget": affordable,
    }


def _pooled(figures: Any) -> float:
    return math.sqrt(float(np.mean([f["sd_within"] ** 2 for f in figures])))


def analyze(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Every rule's figures per task, and each rule's pooled sd_within over the tasks."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for doc in documents:
        by_task.setdefault(doc["task"], []).append(doc)
    # Tasks whose sweeps are dense enough for the auto range to trust (its verdict flags the
    # others as "too little data"): their sd says how the rule reads a real curve.
    dense = [
        name
        for name, docs in by_task.items()
        if steps_per_decade(docs[0]["lrs"]) >= MIN_STEPS_PER_DECADE
    ]
    rules = []
    for half_width in HALF_WIDTHS:
        for fraction in FLOOR_FRACTIONS:
            tasks = {
                name: rule_figures(docs, half_width, fraction) for name, docs in by_task.items()
            }
            dense_tasks = [tasks[name] for name in dense]
            rules.append(
                {
                    "half_width": half_width,
                    "floor_fraction": fraction,
                    "pooled_sd_within": _pooled(tasks.values()),
                    "pooled_sd_within_dense": _pooled(dense_tasks),
                    "tasks": tasks,
                }
            )
    return {
        "current_rule": {"half_width": ZERO_LAG_HALF_WIDTH, "floor_fraction": FLOOR_FRACTION},
        "recorded_rule": {"half_width": RECORDED_RULE[0], "floor_fraction": RECORDED_RULE[1]},
        "seeds": {name: len(docs) for name, docs in by_task.items()},
        "dense_tasks": dense,
        "sweeps": {name: len(docs[0]["runs"]) for name, docs in by_task.items()},
        "target_sd": math.log(1.25) / SPREAD_OF_FIVE_SD,
        "rules": rules,
        "lag": lag_report(by_task),
    }


def lag_report(by_task: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """How many steps late a fast sweep reads the edge (`finder.suggest.lag_factor`).

    Per task and seed, the coarse pass (20 steps per decade) against the median curve of the
    first four refining sweeps (80 per decade), both read with finder's rule:

    ```
    lag_steps = log10(edge_coarse / edge_dense) / (1 / 20 - 1 / 80)
    ```

    the median over seeds per task, and the median over tasks."""
    per_task: dict[str, float | None] = {}
    for name, docs in by_task.items():
        lags = []
        for doc in docs:
            coarse = edge(np.asarray(doc["coarse_lrs"]), doc["coarse_losses"],
                          ZERO_LAG_HALF_WIDTH, FLOOR_FRACTION)  # fmt: skip
            runs = doc["runs"][:MIN_INTERVAL_SWEEPS]
            median = combine(runs, runs, len(doc["lrs"])).losses
            dense = edge(np.asarray(doc["lrs"]), median, ZERO_LAG_HALF_WIDTH, FLOOR_FRACTION)
            if coarse is not None and dense is not None:
                density_gap = 1 / COARSE_STEPS_PER_DECADE - 1 / REFINE_STEPS_PER_DECADE
                lags.append(math.log10(coarse / dense) / density_gap)
        per_task[name] = float(np.median(lags)) if lags else None
    found = [v for v in per_task.values() if v is not None]
    return {"per_task": per_task, "median": float(np.median(found)) if found else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="run the sweeps first (~45 min)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sweeps", type=int, default=8)
    parser.add_argument("--task", action="append", choices=sorted(TASKS), default=None)
    args = parser.parse_args()
    documents = []
    if SWEEPS_PATH.exists():
        with gzip.open(SWEEPS_PATH, "rt") as handle:
            documents = json.load(handle)
    if args.record:
        names = args.task or sorted(TASKS)
        documents = [doc for doc in documents if doc["task"] not in names]
        for name in names:
            for seed in range(args.seeds):
                documents.append(record_one(name, seed, args.sweeps))
                print(f"recorded {name} seed {seed}", flush=True)
        with gzip.open(SWEEPS_PATH, "wt") as handle:
            json.dump(documents, handle)
    print(f"wrote {write_result('edge_precision', analyze(documents))}")


if __name__ == "__main__":
    main()

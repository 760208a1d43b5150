"""The benchmark suite: finder's first proposal against a grid oracle and the user's alternatives.

Per task of `bench/tasks.py` (seven architectures / optimizer families / losses), every row
trained by this script on this machine, scored on the task's validation data after its
epochs (accuracy, or MSE for regression):

- **oracle**: a grid searched with seed 0, then its best configurations confirmed over seeds
  0, 1, 2 (mean). The grid: 1cycle (finder's shape: pct_start 0.3, div 25, cosine anneal,
  momentum cycled when the optimizer has momentum) at peaks half a decade apart over two
  decades, from the optimizer's default LR / sqrt(10) up (5 peaks), extended by half a decade
  while the best peak sits at either end (at most `MAX_EXTENSIONS` times), after climbing half
  a decade at a time while no run of the grid learned at all (`MAX_CLIMBS`); then cosine with a
  5% linear warm-up at the two best 1cycle peaks, and a constant LR at the best 1cycle peak and
  half a decade below it (at every peak of the grid when no 1cycle learned at all). The
  `CONFIRM` best seed-0 configurations are re-trained with seeds 1 and 2; the oracle is the
  best mean among them.
- **oracle_holdout**: the oracle's configuration re-trained with `HOLDOUT_SEEDS` (3 to 8),
  which took no part in choosing it: the oracle's own mean is the best of several noisy means
  and sits above what its schedule trains to on another seed (the winner's curse); this row
  does not.
- **default**: the optimizer's default LR, constant (what most users keep), seeds 0-2.
- **schedule_free**: `keras.optimizers.ScheduleFreeAdamW` as Keras documents it (its default
  LR 0.0025, other defaults) with a linear warm-up over 5% of the steps, for adaptive-optimizer
  tasks. Scored twice: at the weights Keras leaves in the model (the interpolated `y`
  sequence) and at the averaged `x` sequence Defazio et al. evaluate on (`x = (y - (1 -
  beta_1) z) / beta_1`, z the optimizer's `momentum` slot); the row's score is the better of
  the two, so the baseline is never under-sold.
- **finder**: per seed, the auto range test (no range arguments; the task's optimizer at its
  default LR, the task's plan as `plan_steps`), then finder's first proposal, trained with
  the same seed.

Targets (issue 10): finder >= 0.995 x oracle (for a loss: oracle / finder), >= default, >=
ScheduleFreeAdamW; the range test's steps <= 2% of the oracle grid's training steps.

Every training run is cached in `bench/results/suite.json` under its task and label, so an
interrupted run resumes, `--task NAME` runs one task alone, and `--refresh finder` re-trains
only finder's proposals from the cached range tests (e.g. after changing the first-proposal
rule), `--refresh range_test` also re-runs the range tests.

    python bench/suite.py                      # every task (~3 h on 2 CPU cores)
    python bench/suite.py --task digits_rmsprop --task diabetes_mse_adam
    python bench/suite.py --refresh finder     # re-run finder's rows, keep the rest

`python bench/report.py` renders the table into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
from common import RESULTS_DIR, edge_rule, machine
from tasks import TASKS, Task, auto_range_test, train

import finder
from finder.propose import has_momentum, propose_schedules
from finder.schedules import ScheduleSpec

SEEDS = (0, 1, 2)
# Seeds the oracle's chosen schedule is re-trained with, apart from those that chose it.
HOLDOUT_SEEDS = (3, 4, 5, 6, 7, 8)
HOLDOUT = "holdout/"  # the label prefix of those runs
GRID_POINTS = 5
GRID_STEP_DECADES = 0.5
# Three decades past either end: Keras's defaults for Adagrad, Adadelta and Adafactor sit
# 2.5 decades or more below their best peaks on the suite's hosts (Adadelta's four).
MAX_EXTENSIONS = 6
MAX_CLIMBS = 6  # three decades above the grid, while no run of it learned
CONFIRM = 2
WARMUP_FRACTION = 0.05
SCHEDULE_FREE_LR = 0.0025
RESULT_PATH = RESULTS_DIR / "suite.json"
ROWS = ("oracle", "oracle_holdout", "default", "schedule_free", "finder")


# --- scoring -----------------------------------------------------------------------------------


def ratio(task: Task, score: float | None, reference: float | None) -> float | None:
    """How good `score` is relative to `reference`: score / reference for a metric to
    maximise, reference / score for a loss. `None` when either is missing."""
    if score is None or reference is None or score <= 0 or reference <= 0:
        return None
    return score / reference if task.higher_is_better else reference / score


def better(task: Task, a: float | None, b: float | None) -> bool:
    """Whether score `a` beats score `b` (a missing score loses)."""
    if a is None:
        return False
    if b is None:
        return True
    return a > b if task.higher_is_better else a < b


def summarize(task: Task, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, spread and divergences of a configuration's runs; a diverged run scores chance."""
    scores = [run["score"] if run["score"] is not None else task.chance_score for run in runs]
    return {
        "mean": statistics.fmean(scores),
        "min": min(scores),
        "max": max(scores),
        "seeds": len(scores),
        "diverged": sum(bool(run["diverged"]) for run in runs),
    }


def nothing_learned(row: dict[str, Any]) -> bool:
    """Whether every seed of a `summarize`d row ended at chance: for the oracle's, no LR the grid
    tried trained, so a ratio against it compares runs that learned nothing."""
    return bool(row["diverged"] == row["seeds"])


# --- one run, cached ---------------------------------------------------------------------------


class Cache:
    """Runs of one task in `suite.json`, keyed by a label, written after every run."""

    def __init__(self, document: dict[str, Any], task: Task, path: Path) -> None:
        self.document = document
        self.path = path
        self.task = task
        self.entry = document["tasks"].setdefault(task.name, {"runs": {}})
        self.entry["plan"] = task.plan.to_dict()

    def save(self) -> None:
        save(self.document, self.path)

    def run(self, label: str, fit: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        cached = self.entry["runs"].get(label)
        if cached is not None:
            return cached
        started = time.perf_counter()
        outcome = fit()
        outcome["seconds"] = round(time.perf_counter() - started, 1)
        self.entry["runs"][label] = outcome
        self.save()
        score = outcome["score"]
        shown = "diverged" if score is None else f"{score:.4f}"
        print(f"  {self.task.name:18s} {label:48s} {shown:>9s}  ({outcome['seconds']:.0f} s)")
        return outcome


def spec_label(spec: ScheduleSpec, seed: int) -> str:
    params = spec.params
    peak = params.get("max_lr", params.get("learning_rate"))
    return f"{spec.family}@{peak:.4g}#{seed}"


def train_spec(task: Task, spec: ScheduleSpec, seed: int) -> dict[str, Any]:
    return train(task, spec.to_keras(), seed, callbacks=spec.callbacks())


def grid_spec(task: Task, family: str, peak: float) -> ScheduleSpec:
    """The oracle's configurations, built the way finder's proposals are."""
    total = task.plan.total_steps
    if family == "constant":
        return ScheduleSpec("constant", {"learning_rate": peak})
    if family == "cosine_warmup":
        warmup = max(1, round(WARMUP_FRACTION * total))
        return ScheduleSpec(
            "cosine_warmup", {"max_lr": peak, "total_steps": total, "warmup_steps": warmup}
        )
    params: dict[str, Any] = {"max_lr": peak, "total_steps": total}
    if has_momentum(task.make_optimizer(1e-3)):
        params.update(cycle_momentum=True, base_momentum=0.85, max_momentum=0.95)
    return ScheduleSpec("one_cycle", params)


# --- the rows ----------------------------------------------------------------------------------


def oracle(cache: Cache) -> dict[str, Any]:
    task = cache.task
    exponent = math.log10(task.default_lr) - GRID_STEP_DECADES
    exponents = [exponent + i * GRID_STEP_DECADES for i in range(GRID_POINTS)]

    def one_cycle(e: float) -> dict[str, Any]:
        spec = grid_spec(task, "one_cycle", 10.0**e)
        return {
            "spec": spec,
            "run": cache.run(spec_label(spec, 0), lambda: train_spec(task, spec, 0)),
        }

    grid = {e: one_cycle(e) for e in exponents}
    # A grid where no run learned, each ending at chance with a finite loss, says nothing about
    # where the best peak is, only that it is not on the grid: the LRs were too small to learn
    # (Keras's default LR sits decades low for some optimizers, e.g. Ftrl), so climb.
    for _ in range(MAX_CLIMBS):
        runs = [grid[e]["run"] for e in grid]
        if not all(run["diverged"] and run["score"] is not None for run in runs):
            break
        new = max(grid) + GRID_STEP_DECADES
        grid[new] = one_cycle(new)
    for _ in range(MAX_EXTENSIONS):
        ranked = sorted(grid, key=lambda e: _sort_key(task, grid[e]["run"]["score"]))
        best = ranked[0]
        if best == min(grid):
            new = best - GRID_STEP_DECADES
        elif best == max(grid):
            new = best + GRID_STEP_DECADES
        else:
            break
        grid[new] = one_cycle(new)
    ranked = sorted(grid, key=lambda e: _sort_key(task, grid[e]["run"]["score"]))
    seed0 = {spec_label(grid[e]["spec"], 0): grid[e]["spec"] for e in grid}
    more = [("cosine_warmup", ranked[0]), ("cosine_warmup", ranked[1])]
    more += [("constant", ranked[0]), ("constant", ranked[0] - GRID_STEP_DECADES)]
    # No 1cycle learned at any peak: an optimizer that a decaying schedule itself defeats (Ftrl's
    # weights are proportional to the current LR, so an annealed run ends with them near 0) may
    # still train at a constant LR, so the grid's peaks are tried as constant LRs too.
    if all(grid[e]["run"]["diverged"] for e in grid):
        more += [("constant", e) for e in sorted(grid)]
    for family, e in more:
        spec = grid_spec(task, family, 10.0**e)
        cache.run(spec_label(spec, 0), lambda spec=spec: train_spec(task, spec, 0))
        seed0[spec_label(spec, 0)] = spec
    scored = sorted(seed0, key=lambda label: _sort_key(task, cache.entry["runs"][label]["score"]))
    confirmed = []
    for label in scored[:CONFIRM]:
        spec = seed0[label]
        runs = [
            cache.run(
                spec_label(spec, seed), lambda spec=spec, seed=seed: train_spec(task, spec, seed)
            )
            for seed in SEEDS
        ]
        confirmed.append({"spec": spec.to_dict(), **summarize(task, runs)})
    best = min(confirmed, key=lambda row: _sort_key(task, row["mean"]))
    grid_steps = sum(
        run["train_steps"] for label, run in cache.entry["runs"].items() if _is_oracle(label)
    )
    return {
        **best,
        "grid_peaks": sorted(10.0**e for e in grid),
        "seed0": {label: cache.entry["runs"][label]["score"] for label in scored},
        "confirmed": confirmed,
        "grid_train_steps": grid_steps,
    }


def holdout_label(spec: ScheduleSpec, seed: int) -> str:
    """The cache label of the oracle's schedule re-trained with a held-out seed."""
    return HOLDOUT + spec_label(spec, seed)


def holdout_scores(entry: dict[str, Any]) -> list[float | None] | None:
    """The scores of the oracle's schedule re-trained with each of `HOLDOUT_SEEDS`, read from a
    task's entry in suite.json (None for a run not cached); None for a task without that row."""
    row = entry["rows"].get("oracle_holdout")
    if row is None:
        return None
    spec = ScheduleSpec.from_dict(row["spec"])
    return [entry["runs"].get(holdout_label(spec, seed), {}).get("score") for seed in HOLDOUT_SEEDS]


def oracle_holdout(cache: Cache, spec: ScheduleSpec) -> dict[str, Any]:
    """The oracle's chosen schedule re-trained with `HOLDOUT_SEEDS`, seeds that took no part in
    choosing it. The oracle's own mean is the best of many noisy means (its grid on seed 0,
    then the best `CONFIRM` over seeds 0-2), so it sits above what its schedule trains to on
    another seed by the spread of the seeds times the lead of a maximum (the winner's curse);
    this row measures that schedule without the bias."""
    task = cache.task
    runs = [
        cache.run(holdout_label(spec, seed), lambda seed=seed: train_spec(task, spec, seed))
        for seed in HOLDOUT_SEEDS
    ]
    return {"spec": spec.to_dict(), **summarize(task, runs)}


def _is_oracle(label: str) -> bool:
    """Whether a cached run's label is one of the oracle's grid runs."""
    return not label.startswith(("default", "schedule_free", "finder", HOLDOUT))


def _sort_key(task: Task, score: float | None) -> float:
    if score is None:
        return math.inf
    return -score if task.higher_is_better else score


def default(cache: Cache) -> dict[str, Any]:
    task = cache.task
    runs = [
        cache.run(
            f"default@{task.default_lr:.4g}#{seed}",
            lambda seed=seed: train(task, task.default_lr, seed),
        )
        for seed in SEEDS
    ]
    return {"learning_rate": task.default_lr, **summarize(task, runs)}


class ScheduleFreeScore(keras.callbacks.Callback):
    """After training with `ScheduleFreeAdamW`, score the model at the averaged `x` sequence.

    The model's variables hold `y = (1 - beta_1) z + beta_1 x` (see Keras's
    `schedule_free_adamw.py`), `z` in the optimizer's `momentum` slot; the averaged iterate is
    `x = (y - (1 - beta_1) z) / beta_1`. Keras offers no swap, so this callback computes it at
    the end of training, evaluates, and puts `y` back.
    """

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task
        self.score_x: float | None = None

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        optimizer = self.model.optimizer
        beta_1 = float(optimizer.beta_1)
        saved = []
        for variable in self.model.trainable_variables:
            index = optimizer._get_variable_index(variable)
            z = keras.ops.convert_to_numpy(optimizer._momentums[index])
            y = keras.ops.convert_to_numpy(variable)
            saved.append((variable, y))
            variable.assign((y - (1 - beta_1) * z) / beta_1)
        data = self.task.load_data()
        values = self.model.evaluate(
            data.x_val, data.y_val, batch_size=self.task.batch_size, verbose=0, return_dict=True
        )
        score = float(values[self.task.metric])
        self.score_x = score if math.isfinite(score) else None
        for variable, y in saved:
            variable.assign(y)


def schedule_free(cache: Cache) -> dict[str, Any] | None:
    task = cache.task
    if not task.adaptive:
        return None
    warmup = max(1, round(WARMUP_FRACTION * task.plan.total_steps))

    def fit(seed: int) -> dict[str, Any]:
        scorer = ScheduleFreeScore(task)
        outcome = train(
            task,
            SCHEDULE_FREE_LR,
            seed,
            callbacks=[scorer],
            optimizer=lambda lr: keras.optimizers.ScheduleFreeAdamW(lr, warmup_steps=warmup),
        )
        outcome["score_y"] = outcome["score"]
        outcome["score_x"] = scorer.score_x
        if better(task, scorer.score_x, outcome["score"]):
            outcome["score"] = scorer.score_x
            outcome["diverged"] = False
        return outcome

    runs = [
        cache.run(f"schedule_free@{SCHEDULE_FREE_LR}#{seed}", lambda seed=seed: fit(seed))
        for seed in SEEDS
    ]
    return {
        "learning_rate": SCHEDULE_FREE_LR,
        "warmup_steps": warmup,
        "mean_y": statistics.fmean(
            r["score_y"] if r["score_y"] is not None else task.chance_score for r in runs
        ),
        "mean_x": statistics.fmean(
            r["score_x"] if r["score_x"] is not None else task.chance_score for r in runs
        ),
        **summarize(task, runs),
    }


def suite_rows() -> dict[str, dict[str, Any]]:
    """Each task's rows of the last suite run (`RESULT_PATH`), by task name; empty without
    one."""
    if not RESULT_PATH.exists():
        return {}
    tasks = json.loads(RESULT_PATH.read_text())["tasks"]
    return {name: entry.get("rows", {}) for name, entry in tasks.items()}


def holdout_mean(rows: dict[str, Any]) -> float | None:
    """The mean score of the grid oracle's schedule retrained with the held-out seeds, from a
    task's suite `rows`; None without that row."""
    holdout = rows.get("oracle_holdout")
    return None if holdout is None else float(holdout["mean"])


def first_spec(task: Task, result: finder.RangeTestResult) -> ScheduleSpec:
    """What `finder.fit` trains `task` with after `result`: the first proposal, or, when the
    test found no bounds, the optimizer's own LR as compiled (a constant)."""
    if result.bounds.max_lr is None:
        return ScheduleSpec("constant", {"learning_rate": task.default_lr})
    return propose_schedules(
        result,
        epochs=task.epochs,
        steps_per_epoch=task.steps_per_epoch,
        optimizer=task.make_optimizer(task.default_lr),
    )[0].spec


def finder_row(cache: Cache) -> dict[str, Any]:
    task = cache.task
    runs, details = [], []
    for seed in SEEDS:
        key = f"range_test#{seed}"
        tests = cache.entry.setdefault("range_tests", {})
        if key not in tests:
            started = time.perf_counter()
            document = auto_range_test(task, seed).to_dict()
            seconds = round(time.perf_counter() - started, 1)
            tests[key] = {"seconds": seconds, "result": {**document, "proposals": []}}
            cache.save()
            steps = document["steps_run"]
            print(f"  {task.name:18s} {key:48s} {steps:>6d} steps ({seconds:.0f} s)")
        result = finder.RangeTestResult.from_dict(tests[key]["result"])
        spec = first_spec(task, result)
        label = "finder:" + spec_label(spec, seed)
        runs.append(cache.run(label, lambda spec=spec, seed=seed: train_spec(task, spec, seed)))
        details.append(
            {
                "seed": seed,
                "steps_run": result.steps_run,
                "edge_lr": result.bounds.edge_lr,
                "max_lr": result.bounds.max_lr,
                "verdict": None if result.reliability is None else result.reliability.verdict,
                "proposal": spec.to_dict(),
            }
        )
    return {
        **summarize(task, runs),
        "range_test_steps": sum(d["steps_run"] for d in details) / len(details),
        "seeds_detail": details,
    }


# --- the table ---------------------------------------------------------------------------------


def run_task(document: dict[str, Any], task: Task, path: Path = RESULT_PATH) -> None:
    cache = Cache(document, task, path)
    print(f"{task.name}: plan {task.plan.total_steps} steps", flush=True)
    rows = {"oracle": oracle(cache)}
    rows["oracle_holdout"] = oracle_holdout(cache, ScheduleSpec.from_dict(rows["oracle"]["spec"]))
    rows |= {
        "default": default(cache),
        "schedule_free": schedule_free(cache),
        "finder": finder_row(cache),
    }
    finder_mean = rows["finder"]["mean"]
    rows["finder"]["vs_oracle"] = ratio(task, finder_mean, rows["oracle"]["mean"])
    rows["finder"]["vs_default"] = ratio(task, finder_mean, rows["default"]["mean"])
    if rows["schedule_free"] is not None:
        rows["finder"]["vs_schedule_free"] = ratio(task, finder_mean, rows["schedule_free"]["mean"])
    rows["finder"]["range_test_share_of_grid"] = (
        rows["finder"]["range_test_steps"] / rows["oracle"]["grid_train_steps"]
    )
    cache.entry.update(
        {
            "description": task.description,
            "metric": task.metric,
            "higher_is_better": task.higher_is_better,
            "rows": rows,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    cache.save()


def load(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    return {"benchmark": "suite", "tasks": {}}


def save(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, allow_nan=False, default=_json) + "\n")


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def refresh(document: dict[str, Any], names: Iterable[str], rows: Iterable[str]) -> None:
    """Drop the cached runs of `rows` for the tasks `names`. `finder` drops the trainings of
    finder's proposals and keeps the range tests (a new proposal rule re-uses them);
    `range_test` drops both."""
    rows = set(rows)
    if "range_test" in rows:
        rows.add("finder")
    prefixes = tuple(
        HOLDOUT if row == "oracle_holdout" else row
        for row in rows
        if row not in ("oracle", "range_test")
    )
    for name in names:
        entry = document["tasks"].get(name)
        if entry is None:
            continue
        runs = entry["runs"]
        for label in list(runs):
            oracle_run = _is_oracle(label) or label.startswith(HOLDOUT)
            if label.startswith(prefixes) or ("oracle" in rows and oracle_run):
                del runs[label]
        if "range_test" in rows:
            entry.pop("range_tests", None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", action="append", choices=sorted(TASKS), help="repeatable")
    parser.add_argument(
        "--refresh",
        action="append",
        choices=(*ROWS, "range_test"),
        default=[],
        help="re-run these rows (repeatable); `finder` keeps the cached range tests",
    )
    parser.add_argument("--out", type=Path, default=RESULT_PATH, help="the results file")
    args = parser.parse_args(argv)
    names = args.task or list(TASKS)
    document = load(args.out)
    document.update(
        {
            "command": "python bench/suite.py"
            + "".join(f" --task {n}" for n in args.task or [])
            + "".join(f" --refresh {r}" for r in args.refresh),
            "machine": machine(),
            "edge_rule": edge_rule(),
            "seeds": list(SEEDS),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    refresh(document, names, args.refresh)
    for name in names:
        run_task(document, TASKS[name], args.out)


if __name__ == "__main__":
    main()

"""The range test's cost/quality frontier: range-test designs x suite tasks x seeds.

Each design is a way to run the range test before training a task (its budget, its grid).
For every design, task and seed this script runs the range test as a user would (the task's
optimizer at its default LR, the task's plan), trains finder's first proposal for the
task's plan with that seed, and records:

- **cost**: the range test's `extra_steps` (steps it adds to the user's training) as a share
  of the plan's steps;
- **quality**: the proposal's validation score against the suite's grid oracle
  (`bench/suite.py`, same tasks, same seeds, cached in `bench/results/suite.json`), against
  the oracle's schedule on the suite's held-out seeds, and against the optimizer's default
  constant LR;
- **verdict**: the range test's verdict, its reasons, and the features the verdict reads, so
  that `bench/verdict.py` can tabulate verdict x outcome without re-running anything.

Designs (`DESIGNS`):
- `dense_multi`: the auto range before the cost cap, as cached by `bench/suite.py`
  (a coarse pass from 1e-7 and dense refining sweeps, budget up to the whole plan);
- `fastai_100`: fastai's `lr_find` grid, 100 steps from 1e-7 to 10, one sweep;
- `anchored_10pct`: finder's default, the anchored auto range at max(10% of the plan, 100),
  its first proposal trained as `finder.fit` trains it after a test before the fit: where the
  edge was read early, with the guarded climb towards four times the edge
  (`finder.lr_finder.climb`; the runs stored before the climb existed trained the proposal);
- `anchored_30pct`: the same at max(30% of the plan, 300);
- `in_fit`: the range test as the run's own warm-up (`finder.LearningRateFinder` in the
  task's `fit`, which is what `finder.fit` runs): the ramp over the fit's first batches
  (budget max(10% of the plan, 100)), rollback to the snapshot at the 1cycle's peak, and the
  1cycle resumed at its peak, annealing over the batches left. Its cost is the steps thrown
  away; its score is that fit's;
- `in_fit_cycle`: the same, but the 1cycle spans the whole run with its own linear warm-up,
  the ramp standing in for its first steps;
- `anchored_peak1x`, `anchored_peak3x`: `anchored_10pct` with the first proposal's 1cycle
  peaking at 1x and 3x the edge instead of the library's multiple (`PEAK_AT`), on the plans
  under 500 steps, where finder peaks at 2x: the comparison the short-plan multiple rests on;
- `short_cosine`: `anchored_10pct` with the first proposal a cosine with a linear warm-up over
  5% of the plan (the grid oracle's `cosine_warmup`) at the 1cycle's peak, on the plans under
  500 steps: does a short run want a shorter warm-up than 1cycle's 30%?
- `fit`: what `finder.fit` runs by default, `in_fit`, or `anchored_10pct` on a plan where the
  ramp would take over a fifth of it (`finder.train.runs_before_fit`; never for an optimizer
  that takes no schedule, whose ramp is a warm-up it keeps); it runs nothing of its own and
  reads those designs' runs.

Every run is cached in `bench/results/frontier.json` under design, task and seed. Beside the
designs it stores the targets' ceiling (`oracle_as_design`): the grid oracle's own schedule on
the suite's held-out seeds, scored as a design is, which trains nothing of its own.

    python bench/frontier.py                               # every design and task
    python bench/frontier.py --design anchored_10pct --task digits_rmsprop
    python bench/frontier.py --screen                      # range tests only, no training
    python bench/frontier.py --design anchored_10pct --task NAME --rerun   # after a change
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import RESULTS_DIR, edge_rule, machine, vector_extensions
from suite import RESULT_PATH as SUITE_PATH
from suite import (
    SEEDS,
    first_spec,
    grid_spec,
    holdout_scores,
    nothing_learned,
    ratio,
    spec_label,
    train_spec,
)
from tasks import TASKS, Task, range_test, train

import finder
from finder.lr_finder import PeakClimb, climb_after_test
from finder.propose import SHORT_PLAN_STEPS, Plan, Proposal
from finder.rangetest.calibration import schedule_free_reason
from finder.rangetest.verdict import chance_loss
from finder.train import runs_before_fit

RESULT_PATH = RESULTS_DIR / "frontier.json"
DESIGNS: dict[str, Callable[[Task], dict[str, Any] | None]] = {
    "dense_multi": lambda task: None,  # read from the suite's cache
    "fastai_100": lambda task: {"min_lr": 1e-7, "max_lr": 10.0, "num_steps": 100},
    "anchored_10pct": lambda task: {"plan_steps": task.plan.total_steps},
    "anchored_30pct": lambda task: {"budget": max(300, math.floor(0.3 * task.plan.total_steps))},
    "anchored_peak1x": lambda task: {"plan_steps": task.plan.total_steps},
    "anchored_peak3x": lambda task: {"plan_steps": task.plan.total_steps},
    "short_cosine": lambda task: {"plan_steps": task.plan.total_steps},
    "in_fit": lambda task: {},  # no separate range test: see `run_in_fit`
    "in_fit_cycle": lambda task: {},
    "fit": lambda task: None,  # read from `fit_route(task)`'s runs
}
IN_FIT = ("in_fit", "in_fit_cycle")
# The designs whose 1cycle peaks at a set multiple of the edge, whatever the library's rule.
PEAK_AT = {"anchored_peak1x": 1.0, "anchored_peak3x": 3.0}
# The designs whose first proposal is another family at the 1cycle's peak.
FAMILY_AT = {"short_cosine": "cosine_warmup"}
# The designs measured on the plans under SHORT_PLAN_STEPS only.
SHORT_ONLY = (*PEAK_AT, *FAMILY_AT)
# Designs that run nothing of their own.
READ_ONLY = ("dense_multi", "fit")
# The design `finder.fit` runs before the fit (`fit_route`): its proposal is trained as the fit
# trains it, with the guarded climb where the edge was read early (`finder.lr_finder.climb`).
CLIMBS_BEFORE_FIT = "anchored_10pct"
WITHIN = 0.99  # "the first proposal trains within 1% of the best schedule we know"
# The tasks the design before the cost cap was run on (the optimizer variants came after it).
BASE_TASKS = (
    "fashion_cnn_sgd", "mlp_adam", "resnet_bn_sgdm", "transformer_adamw", "diabetes_mse_adam",
    "digits_rmsprop", "finetune_sgdm",
)  # fmt: skip


def optimizer_name(task: Task) -> str:
    """The class name of the task's optimizer (what finder's calibration reads)."""
    return type(task.make_optimizer(task.default_lr)).__name__


def fit_route(task: Task) -> str:
    """The design `finder.fit` runs for `task` by default (the test inside the fit, or before it
    on a short plan, unless the optimizer takes no schedule)."""
    before = runs_before_fit(task.plan.total_steps, optimizer_name=optimizer_name(task))
    return "anchored_10pct" if before else "in_fit"


def design_runs(document: dict[str, Any], design: str, name: str) -> dict[str, Any]:
    """The runs of `design` on task `name` by seed; `fit` reads its route's."""
    if design == "fit":
        design = fit_route(TASKS[name])
    return dict(document.get("runs", {}).get(design, {}).get(name, {}))


def suite_reference(suite: dict[str, Any], name: str) -> dict[str, Any]:
    """The suite's oracle (and its schedule on held-out seeds) and default rows for task
    `name`, and its cached finder row."""
    rows = suite["tasks"][name]["rows"]
    keys = ("oracle", "oracle_holdout", "default", "finder")
    return {key: rows.get(key) for key in keys}


def trained_first_proposal(
    task: Task, result: finder.RangeTestResult, seed: int, reference: float | None
) -> dict[str, Any]:
    """The first proposal after `result`'s test (`suite.first_spec`: as `finder.fit` trains it
    after a test before the fit) trained over `task`'s plan with `seed`: its spec, its score,
    its ratio to `reference` (the oracle's held-out mean, `suite.holdout_mean`) and whether
    that is within 1%."""
    spec = first_spec(task, result)
    score = train_spec(task, spec, seed)["score"]
    vs_holdout = ratio(task, score, reference)
    return {
        "proposal": spec.to_dict(),
        "score": score,
        "vs_holdout": vs_holdout,
        "within": vs_holdout is not None and vs_holdout >= WITHIN,
    }


def features(result: finder.RangeTestResult) -> dict[str, Any]:
    """What the verdict reads, kept so that verdict rules can be compared offline."""
    reliability = result.reliability
    return {
        "verdict": reliability.verdict if reliability else None,
        "reasons": list(reliability.reasons) if reliability else [],
        "signals": dict(reliability.signals) if reliability else {},
        "edge_lr": result.bounds.edge_lr,
        "max_lr": result.bounds.max_lr,
        "sweeps": (result.auto or {}).get("sweeps", 1),
        "stop": (result.auto or {}).get("stop"),
    }


def run_one(
    document: dict[str, Any], design: str, task: Task, seed: int, *, screen: bool, path: Path
) -> dict[str, Any] | None:
    """One (design, task, seed): the range test and (unless `screen`) the proposal's training."""
    entry = document.setdefault("runs", {}).setdefault(design, {}).setdefault(task.name, {})
    key = str(seed)
    record = entry.get(key)
    if record is None and design in IN_FIT:
        record = entry[key] = run_in_fit(task, seed, keep_warmup=design == "in_fit_cycle")
        record["vector_extensions"] = vector_extensions()
        _save(document, path)
        print(
            f"  {design:15s} {task.name:18s} seed {seed}: {record['extra_steps']:>5d} steps, "
            f"score {record['score']}, {record['verdict']} ({record['seconds']:.0f} s)",
            flush=True,
        )
    if record is None:
        options = DESIGNS[design](task)
        assert options is not None
        started = time.perf_counter()
        result = range_test(task, seed, **options)
        seconds = round(time.perf_counter() - started, 1)
        record = {
            "seconds": seconds,
            "steps_run": result.steps_run,
            "extra_steps": result.extra_steps,
            **features(result),
            "result": {**result.to_dict(), "proposals": []},
            "proposal": None,
            "score": None,
            "vector_extensions": vector_extensions(),
        }
        record["proposal"] = first_spec(task, result).to_dict()
        if design in PEAK_AT and record["proposal"]["family"] == "one_cycle":
            record["proposal"]["params"]["max_lr"] = PEAK_AT[design] * record["edge_lr"]
        if design in FAMILY_AT and record["proposal"]["family"] == "one_cycle":
            peak = record["proposal"]["params"]["max_lr"]
            record["proposal"] = grid_spec(task, FAMILY_AT[design], peak).to_dict()
        entry[key] = record
        _save(document, path)
        print(
            f"  {design:15s} {task.name:18s} seed {seed}: {result.extra_steps:>5d} steps, "
            f"edge {record['edge_lr']}, {record['verdict']} ({seconds:.0f} s)",
            flush=True,
        )
    if not screen and record["score"] is None:
        spec = finder.ScheduleSpec.from_dict(record["proposal"])
        climbing = _climbing(task, record, spec) if design == CLIMBS_BEFORE_FIT else None
        if climbing is None:
            run = _cached_training(task, spec, seed, document)
        else:  # as `finder.fit` trains after a test before the fit whose edge was read early
            proposal, climb = climbing
            spec = proposal.spec
            run = train(task, spec.to_keras(), seed, callbacks=[*spec.callbacks(), climb])
            assert climb.outcome is not None
            record.update(
                climb=climb.outcome,
                extra_steps=record["extra_steps"] + climb.outcome["discarded_steps"],
                proposal=spec.to_dict(),
            )
        record.update(score=run["score"], diverged=run["diverged"], label=spec_label(spec, seed))
        _save(document, path)
        print(f"  {design:15s} {task.name:18s} seed {seed}: score {run['score']}", flush=True)
    return record


def run_in_fit(task: Task, seed: int, *, keep_warmup: bool) -> dict[str, Any]:
    """The `in_fit` designs: one `fit` of the task with `finder.LearningRateFinder` first in its
    callbacks (as `finder.fit` lists it), scored as the suite scores every run."""
    data = task.load_data()
    lr_finder = finder.LearningRateFinder(
        validation_data=(data.x_val, data.y_val),
        chance_loss=chance_loss(task.loss, data.y_train),
        verbose=0,
    )
    lr_finder.keep_warmup = keep_warmup
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", finder.UnreliableAnswerWarning)
        run = train(task, task.default_lr, seed, before=[lr_finder])
    result = lr_finder.result
    assert result is not None
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "steps_run": result.steps_run,
        "extra_steps": result.extra_steps,
        **features(result),
        "result": {**result.to_dict(), "proposals": []},
        "proposal": lr_finder.proposal.spec.to_dict() if lr_finder.proposal else None,
        "handover": (result.auto or {}).get("handover"),
        "climb": (result.auto or {}).get("climb"),
        "score": run["score"],
        "diverged": run["diverged"],
    }


def _climbing(
    task: Task, record: dict[str, Any], spec: finder.ScheduleSpec
) -> tuple[Proposal, PeakClimb] | None:
    """The climbing 1cycle and its guard `finder.fit` trains with after the test `record`
    holds, None where the fit trains the first proposal itself (`finder.lr_finder.climb`)."""
    result = finder.RangeTestResult.from_dict(record["result"])
    first = Proposal(0, spec, "", "", Plan(task.epochs, task.steps_per_epoch))
    return climb_after_test(result, first, batches=task.plan.total_steps)


def _cached_training(
    task: Task, spec: finder.ScheduleSpec, seed: int, document: dict[str, Any]
) -> dict[str, Any]:
    """Train `spec` once per (task, spec, seed) across designs."""
    trained = document.setdefault("trained", {}).setdefault(task.name, {})
    label = spec_label(spec, seed)
    if label not in trained:
        trained[label] = train_spec(task, spec, seed)
    return dict(trained[label])


def summarize(document: dict[str, Any], suite: dict[str, Any]) -> dict[str, Any]:
    """Per design and task: cost (% of plan), finder / oracle (mean, worst seed), vs default,
    and each seed's outcome (within 1% of the oracle or not) beside its verdict; the ratios
    again against the oracle's schedule on held-out seeds (`suite.oracle_holdout`), where the
    best of the grid's noisy means does not favour the oracle."""
    table: dict[str, Any] = {}
    for design in DESIGNS:
        table[design] = {}
        for name, task in TASKS.items():
            if name not in suite["tasks"]:
                continue
            if "rows" not in suite["tasks"][name]:
                continue
            reference = suite_reference(suite, name)
            oracle = reference["oracle"]["mean"]
            if design == "dense_multi" and name not in BASE_TASKS:
                continue
            default = reference["default"]["mean"]
            plan = task.plan.total_steps
            if design == "dense_multi":
                frozen = _dense_multi(document, suite, name)
                if frozen is None:
                    continue
                steps, scores, verdicts = frozen["steps"], frozen["scores"], frozen["verdicts"]
            else:
                records = design_runs(document, design, name)
                seeds = [records.get(str(s)) for s in SEEDS]
                if any(r is None for r in seeds):
                    continue
                steps = [r["extra_steps"] for r in seeds]
                scores = [r["score"] for r in seeds]
                verdicts = [r["verdict"] for r in seeds]
            ratios = [ratio(task, s, oracle) if s is not None else 0.0 for s in scores]
            held_out = (reference["oracle_holdout"] or {}).get("mean")
            held_out_ratios = [
                ratio(task, s, held_out) if s is not None and held_out else None for s in scores
            ]
            mean_score = _mean_or_none(scores)
            table[design][name] = {
                "cost": sum(steps) / len(steps) / plan,
                "vs_oracle": ratio(task, mean_score, oracle) if mean_score else 0.0,
                "worst_vs_oracle": min(r or 0.0 for r in ratios),
                "vs_holdout": ratio(task, mean_score, held_out) if mean_score else None,
                "worst_vs_holdout": (min(r or 0.0 for r in held_out_ratios) if held_out else None),
                "vs_default": ratio(task, mean_score, default) if mean_score else 0.0,
                "nothing_learned": nothing_learned(reference["oracle"]),
                # No schedule is proposed for it: every design trains its own LR.
                "schedule_free": schedule_free_reason(optimizer_name(task)) is not None,
                "seeds": [
                    {
                        "ratio": r,
                        "within": (r or 0.0) >= WITHIN,
                        "ratio_holdout": h,
                        "within_holdout": None if h is None else h >= WITHIN,
                        "verdict": v,
                    }
                    for r, h, v in zip(ratios, held_out_ratios, verdicts, strict=True)
                ],
            }
    return table


def oracle_as_design(suite: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """The targets' ceiling: the best schedule we know, scored as a design is scored.

    The grid oracle's own schedule, re-trained with the suite's held-out seeds, split in two
    triples (seeds 3-5 and 6-8) that stand for a design's three seeds. Each triple gets the
    rows `summarize` gives a design: against the oracle's mean over seeds 0-2 (`vs_oracle`,
    `worst_vs_oracle`), against the other triple's mean, a reference that took no part in
    scoring it (`vs_holdout`, `worst_vs_holdout`), and against the default LR's mean
    (`vs_default`). A proposal that trained exactly as well as the oracle's schedule would meet
    the three targets on as many tasks as these triples do; the tasks where they miss are misses
    the seed alone makes, which no range test can remove.
    """
    triples = {"oracle, seeds 3-5": slice(0, 3), "oracle, seeds 6-8": slice(3, 6)}
    table: dict[str, dict[str, dict[str, float]]] = {label: {} for label in triples}
    for name, task in TASKS.items():
        entry = suite["tasks"].get(name, {})
        if "rows" not in entry or nothing_learned(entry["rows"]["oracle"]):
            continue
        scores = holdout_scores(entry)
        if scores is None or any(score is None for score in scores):
            continue
        oracle, default = entry["rows"]["oracle"]["mean"], entry["rows"]["default"]["mean"]
        for (label, own), other in zip(triples.items(), reversed(triples.values()), strict=True):
            mine, reference = scores[own], _mean_or_none(scores[other])
            mean = _mean_or_none(mine)
            table[label][name] = {
                "vs_oracle": ratio(task, mean, oracle) or 0.0,
                "worst_vs_oracle": min(ratio(task, score, oracle) or 0.0 for score in mine),
                "vs_holdout": ratio(task, mean, reference) or 0.0,
                "worst_vs_holdout": min(ratio(task, score, reference) or 0.0 for score in mine),
                "vs_default": ratio(task, mean, default) or 0.0,
            }
    return table


def _dense_multi(
    document: dict[str, Any], suite: dict[str, Any], name: str
) -> dict[str, Any] | None:
    """The design before the cost cap, as the suite last ran it with that design: read once from
    `suite.json`'s finder row (range tests recorded before the cap, `stop` "tight"/"budget"
    with a coarse pass) and kept here, since the suite's finder rows are re-run with finder's
    default since."""
    frozen = document.setdefault("dense_multi", {})
    if name not in frozen:
        row = suite["tasks"][name].get("rows", {}).get("finder")
        tests = suite["tasks"][name].get("range_tests", {})
        before_cap = all(
            "coarse" in (t["result"].get("auto") or {})
            and t["result"]["auto"].get("stop") in ("tight", "budget")
            and t["result"]["auto"]["coarse"].get("lrs", [1])[0] < 1e-6
            for t in tests.values()
        )
        if row is None or not before_cap:
            return None
        frozen[name] = {
            "steps": [d["steps_run"] for d in row["seeds_detail"]],
            "scores": _suite_scores(suite, name),
            "verdicts": [d["verdict"] for d in row["seeds_detail"]],
        }
    return dict(frozen[name])


def _suite_scores(suite: dict[str, Any], name: str) -> list[float | None]:
    runs = suite["tasks"][name]["runs"]
    return [
        next((run["score"] for label, run in runs.items() if label.startswith("finder:")
              and label.endswith(f"#{seed}")), None)
        for seed in SEEDS
    ]  # fmt: skip


def _mean_or_none(values: list[float | None]) -> float | None:
    if any(v is None for v in values):
        return None
    return sum(values) / len(values)  # type: ignore[arg-type]


def _save(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=1, default=float))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--design", action="append", choices=[d for d in DESIGNS if d not in READ_ONLY]
    )
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    parser.add_argument("--seed", action="append", type=int)
    parser.add_argument("--screen", action="store_true", help="range tests only, no training")
    parser.add_argument(
        "--rerun", action="store_true", help="drop the cached runs of these designs and tasks"
    )
    parser.add_argument("--out", type=Path, default=RESULT_PATH)
    args = parser.parse_args(argv)
    document = json.loads(args.out.read_text()) if args.out.exists() else {}
    document.update(benchmark="frontier", machine=machine(), seeds=list(SEEDS))
    suite = json.loads(SUITE_PATH.read_text())
    designs = args.design or [d for d in DESIGNS if d not in READ_ONLY]
    names = args.task or [n for n in TASKS if n in suite["tasks"]]
    for design in designs:
        for name in names:
            if design in SHORT_ONLY and TASKS[name].plan.total_steps >= SHORT_PLAN_STEPS:
                continue  # a long plan's peak is the edge already
            if args.rerun:
                document.get("runs", {}).get(design, {}).pop(name, None)
            for seed in args.seed or SEEDS:
                run_one(document, design, TASKS[name], seed, screen=args.screen, path=args.out)
    document["summary"] = summarize(document, suite)
    document["oracle_as_design"] = oracle_as_design(suite)
    document.update(
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        # Runs accumulate over invocations (cached per design, task and seed).
        command="python bench/frontier.py",
        edge_rule=edge_rule(),
    )
    _save(document, args.out)


if __name__ == "__main__":
    main()

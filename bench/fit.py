"""`finder.fit` against the manual route it replaces, on the seed experiment (issue 13).

Task `fashion_cnn_sgd` of `bench/tasks.py` (fashion_cnn, plain SGD, full Fashion-MNIST,
10 epochs of batch 64), seeds 0, 1, 2. Per seed, both routes start from the same model
(`task.build_model(seed)`, SGD at its default LR) and score the validation accuracy after the
last epoch:

- **manual**: `tasks.auto_range_test(task, seed)` (the auto range test, the plan as
  `plan_steps`), `propose_schedules(...)[0]`, then `tasks.train` with its schedule and
  callbacks, the batch order drawn from `seed`: README's route, as the suite runs it.
- **finder.fit**: one call, `finder.fit(model, x, y, epochs, batch_size, validation_data,
  range_test_options={"seed": seed})` (the range test then also records its validation
  curve, as `fit` passes `validation_data` on), the batch order drawn from `seed`.

The claim checked (issue 13's "same accuracy within noise"): the two routes' mean accuracies
differ by no more than the larger of their standard deviations over the seeds. Results go to
`bench/results/fit.json`; `python bench/report.py` renders them into BENCHMARKS.md. A route
whose range test finds no bounds (a plan too short for the loss to fall) scores 0, with the
reason in its row.

    python bench/fit.py                                   # the benchmark (~1 h on 2 CPU cores)
    python bench/fit.py --sample --seeds 1 --out /tmp/fit.json   # a smoke run (~5 min)
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

import keras
from common import RESULTS_DIR, write_result
from tasks import TASKS, Task, auto_range_test, train

import finder
from finder.data import load_fashion_mnist_sample
from finder.errors import FinderError
from finder.propose import propose_schedules

TASK = "fashion_cnn_sgd"


def manual_route(task: Task, seed: int) -> dict[str, Any]:
    """Range test, first proposal, fit: three calls, as README shows them."""
    start = time.perf_counter()
    result = auto_range_test(task, seed)
    proposal = propose_schedules(result, epochs=task.epochs, steps_per_epoch=task.steps_per_epoch)[
        0
    ]
    run = train(task, proposal.to_keras(), seed, callbacks=proposal.callbacks())
    return _row(run["score"], proposal, result, time.perf_counter() - start)


def fit_route(task: Task, seed: int) -> dict[str, Any]:
    """The same in one `finder.fit` call."""
    data = task.load_data()
    start = time.perf_counter()
    keras.backend.clear_session()
    model = task.build_model(seed)
    task.compile(model, task.make_optimizer(task.default_lr))
    keras.utils.set_random_seed(seed)
    history = finder.fit(
        model,
        data.x_train,
        data.y_train,
        epochs=task.epochs,
        batch_size=task.batch_size,
        validation_data=(data.x_val, data.y_val),
        range_test_options={"seed": seed},
        callbacks=[keras.callbacks.TerminateOnNaN()],
        shuffle=True,
        verbose=0,
    )
    score = history.history[f"val_{task.metric}"][-1]
    return _row(score, history.proposal, history.range_test_result, time.perf_counter() - start)


def _row(score: float | None, proposal: Any, result: Any, seconds: float) -> dict[str, Any]:
    return {
        "score": score,
        "max_lr": proposal.spec.params["max_lr"],
        "range_test_steps": result.steps_run,
        "wall_s": round(seconds, 1),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and sample standard deviation of the scores (a diverged run, or one whose range
    test found no bounds, scores 0)."""
    scores = [row["score"] if row["score"] is not None else 0.0 for row in rows]
    return {
        "mean": statistics.fmean(scores),
        "std": statistics.stdev(scores) if len(scores) > 1 else None,
        "runs": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument("--epochs", type=int, default=None, help="default: the task's (10)")
    parser.add_argument(
        "--sample", action="store_true", help="the bundled 4,000-image sample (smoke runs)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "fit.json")
    args = parser.parse_args(argv)
    task = TASKS[TASK]
    if args.epochs is not None:
        task = dataclasses.replace(task, epochs=args.epochs)
    if args.sample:
        task = dataclasses.replace(task, load_data=load_fashion_mnist_sample)
    routes = {"manual": manual_route, "finder_fit": fit_route}
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in routes}
    for seed in range(args.seeds):
        for name, route in routes.items():
            try:
                row = route(task, seed)
            except FinderError as exc:  # no bounds: the route has nothing to train with
                row = {"score": None, "error": str(exc)}
            rows[name].append({"seed": seed, **row})
            print(f"seed {seed} {name}: {rows[name][-1]}", flush=True)
    summary = {name: summarise(runs) for name, runs in rows.items()}
    spreads = [s["std"] for s in summary.values() if s["std"] is not None]
    difference = summary["finder_fit"]["mean"] - summary["manual"]["mean"]
    payload = {
        "task": TASK,
        "epochs": task.epochs,
        "data": "bundled sample" if args.sample else "full Fashion-MNIST",
        "seeds": list(range(args.seeds)),
        "routes": summary,
        "difference": difference,
        "within_noise": abs(difference) <= max(spreads) if spreads else None,
    }
    path = write_result("fit", payload, path=args.out)
    print(f"finder.fit - manual = {difference:+.4f}; wrote {path}")


if __name__ == "__main__":
    main()

"""The reference table: finder's proposals against the TensorFlow CLR tutorial and a grid oracle.

Full Fashion-MNIST, `fashion_cnn`, batch 64, 10 epochs, one seed, every row trained in this one
run on this one machine:

1. SGD, constant lr 0.01 (the tutorial's baseline)
2. SGD, CLR triangular2 between 1e-4 and 1e-2, step_size 2 epochs (the tutorial's CLR row)
3. Adam, constant lr 1e-3
4. oracle: SGD 1cycle at max_lr 0.1 / 0.3 / 1.0 / 3.0 and constant SGD at 0.03 / 0.1 / 0.3 /
   1.0; its best row
5. finder: range test with SGD, then its first proposal
6. finder with Adam: range test with Adam, then its first proposal

    python bench/reference_table.py            # ~30 min on 2 CPU cores
    python bench/reference_table.py --quick    # 1 epoch on the bundled sample, a smoke run

Writes bench/results/reference_table.json; `python bench/report.py` renders BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import keras
from common import train_reference, write_result

import finder
from finder.data import load_fashion_mnist, load_fashion_mnist_sample
from finder.propose import propose_schedules
from finder.schedules import CyclicalLearningRate, OneCycle, ScheduleSpec
from finder.zoo import build_model, compile_for_classification

SEED = 0
BATCH_SIZE = 64
# The range tests finder runs for rows 5 and 6: 500 steps per sweep, 3 sweeps; SGD from
# 1e-3 (below it plain SGD does not move this CNN), Adam over lower rates.
SGD_RANGE = {"min_lr": 1e-3, "max_lr": 10.0, "num_steps": 500, "repeats": 3}
ADAM_RANGE = {"min_lr": 1e-6, "max_lr": 1.0, "num_steps": 500, "repeats": 3}
ORACLE_ONE_CYCLE = (0.1, 0.3, 1.0, 3.0)
ORACLE_CONSTANT = (0.03, 0.1, 0.3, 1.0)


def train_row(
    name: str,
    optimizer: keras.optimizers.Optimizer,
    data: Any,
    epochs: int,
    callbacks: list[keras.callbacks.Callback] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    model = build_model("fashion_cnn", seed=SEED)
    compile_for_classification(model, optimizer)
    started = time.perf_counter()
    outcome = train_reference(
        model, data, epochs=epochs, batch_size=BATCH_SIZE, seed=SEED, callbacks=callbacks
    )
    print(
        f"{name:38s} val_accuracy {outcome['val_accuracy']:.4f} "
        f"({time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    return {"name": name, **extra, **outcome}


def finder_row(
    name: str, optimizer_name: str, range_options: dict[str, Any], data: Any, epochs: int
) -> dict[str, Any]:
    model = build_model("fashion_cnn", seed=SEED)
    compile_for_classification(model, finder.zoo.make_optimizer(optimizer_name, 1e-3))
    result = finder.range_test(
        model, data.x_train, data.y_train, batch_size=BATCH_SIZE, seed=SEED, **range_options
    )
    steps_per_epoch = -(-len(data.x_train) // BATCH_SIZE)
    proposal = propose_schedules(result, epochs=epochs, steps_per_epoch=steps_per_epoch)[0]
    print(
        f"{name}: range test {result.steps_run} steps in {result.wall_time_s:.1f} s, "
        f"bounds {result.bounds.min_lr:.3g}..{result.bounds.max_lr:.3g}, "
        f"edge {result.bounds.edge_lr:.3g}; proposal {proposal.spec.to_dict()}",
        flush=True,
    )
    optimizer = finder.zoo.make_optimizer(optimizer_name, proposal.to_keras())
    row = train_row(
        name,
        optimizer,
        data,
        epochs,
        callbacks=proposal.callbacks(),
        schedule=proposal.spec.to_dict(),
    )
    row["range_test"] = {
        "options": range_options,
        "steps": result.steps_run,
        "seconds": round(result.wall_time_s, 1),
        "bounds": result.bounds.to_dict(),
        "suggestions": result.suggestions,
    }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 epoch on the bundled sample (checks the script, not a result)",
    )
    args = parser.parse_args()
    data = load_fashion_mnist_sample() if args.quick else load_fashion_mnist(download=False)
    epochs = 1 if args.quick else 10
    steps_per_epoch = -(-len(data.x_train) // BATCH_SIZE)
    sgd = keras.optimizers.SGD

    rows = [
        train_row(
            "1. SGD lr 0.01 (tutorial baseline)",
            sgd(0.01),
            data,
            epochs,
            schedule={"family": "constant", "params": {"learning_rate": 0.01}},
        ),
        train_row(
            "2. SGD CLR triangular2 1e-4..1e-2 (tutorial)",
            sgd(CyclicalLearningRate(1e-4, 1e-2, 2 * steps_per_epoch, mode="triangular2")),
            data,
            epochs,
            schedule={
                "family": "cyclical",
                "params": {
                    "base_lr": 1e-4,
                    "max_lr": 1e-2,
                    "step_size_up": 2 * steps_per_epoch,
                    "mode": "triangular2",
                },
            },
        ),
        train_row(
            "3. Adam lr 1e-3",
            keras.optimizers.Adam(1e-3),
            data,
            epochs,
            schedule={"family": "constant", "params": {"learning_rate": 1e-3}},
        ),
    ]
    oracle = []
    for peak in ORACLE_ONE_CYCLE:
        oracle.append(
            train_row(
                f"4. oracle: SGD 1cycle max_lr {peak}",
                sgd(OneCycle(peak, epochs * steps_per_epoch)),
                data,
                epochs,
                schedule=ScheduleSpec(
                    "one_cycle",
                    {
                        "max_lr": peak,
                        "total_steps": epochs * steps_per_epoch,
                    },
                ).to_dict(),
            )
        )
    for lr in ORACLE_CONSTANT:
        oracle.append(
            train_row(
                f"4. oracle: SGD constant {lr}",
                sgd(lr),
                data,
                epochs,
                schedule={"family": "constant", "params": {"learning_rate": lr}},
            )
        )
    best_oracle = max(oracle, key=lambda row: row["val_accuracy"])
    finder_sgd = finder_row("5. finder (SGD)", "sgd", SGD_RANGE, data, epochs)
    finder_adam = finder_row("6. finder (Adam)", "adam", ADAM_RANGE, data, epochs)

    oracle_steps = sum(row["train_steps"] for row in oracle)
    summary = {
        "oracle_best": best_oracle["name"],
        "oracle_best_val_accuracy": best_oracle["val_accuracy"],
        "oracle_search_steps": oracle_steps,
        "finder_val_accuracy": finder_sgd["val_accuracy"],
        "finder_vs_oracle": finder_sgd["val_accuracy"] / best_oracle["val_accuracy"],
        "finder_search_steps": finder_sgd["range_test"]["steps"],
        "finder_search_fraction_of_oracle": finder_sgd["range_test"]["steps"] / oracle_steps,
        "finder_beats_rows_1_to_3": all(
            finder_sgd["val_accuracy"] > row["val_accuracy"] for row in rows
        ),
        "targets": {
            "finder >= 99% of oracle": finder_sgd["val_accuracy"]
            >= 0.99 * best_oracle["val_accuracy"],
            "finder search <= 2% of oracle steps": finder_sgd["range_test"]["steps"]
            <= 0.02 * oracle_steps,
            "finder beats rows 1-3": all(
                finder_sgd["val_accuracy"] > row["val_accuracy"] for row in rows
            ),
        },
    }
    payload = {
        "setup": {
            "data": data.name,
            "model": "fashion_cnn",
            "batch_size": BATCH_SIZE,
            "epochs": epochs,
            "seed": SEED,
            "quick": args.quick,
        },
        "rows": rows + oracle + [finder_sgd, finder_adam],
        "summary": summary,
    }
    name = "reference_table_quick" if args.quick else "reference_table"
    print(f"wrote {write_result(name, payload)}")
    print(summary)


if __name__ == "__main__":
    main()

"""Schedule tuning: keras-tuner over a wide LR space against finder's bounded space.

Full Fashion-MNIST, `fashion_cnn`, plain SGD, batch 64. Both arms run `finder.tune` with the
same tuner, seed, families (one_cycle, cyclical, cosine_warmup), objective (val_accuracy) and
trial budget; only the learning-rate ranges differ:

    (a) wide:    every LR log-uniform in [1e-4, 10] (what keras-tuner alone would search)
    (b) finder:  a range test on the search split, then SearchSpace.from_bounds

Trials train TRIAL_EPOCHS epochs on the first 50k training images and are scored on the last
10k (the test set stays out of the search). Each arm's best schedule is then re-sized to 10
epochs and retrained on all 60k, scored on the 10k test images exactly as the rows of
`bench/reference_table.py` are (same helper, same seeds). A second section measures memory:
the process RSS after each of 20 trials of a tiny model.

    python bench/tuning.py              # ~30-40 min on 2 CPU cores
    python bench/tuning.py --memory     # the memory section only (~2 min)
    python bench/tuning.py --quick      # smoke run on the bundled sample

Writes bench/results/tuning.json (tuning_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
from common import RESULTS_DIR, train_reference, write_result

from finder.data import Dataset, load_fashion_mnist, load_fashion_mnist_sample
from finder.tuning import SearchSpace, TrialProgress, TuningResult, tune
from finder.zoo import build_model, compile_for_classification

SEED = 0
BATCH_SIZE = 64
FAMILIES = ("one_cycle", "cyclical", "cosine_warmup")
WIDE = (1e-4, 10.0)
RANGE_TEST = {"min_lr": 1e-4, "max_lr": 10.0, "num_steps": 500, "repeats": 3}
MAX_TRIALS = 12
TRIAL_EPOCHS = 3
SEARCH_VALIDATION = 10_000
RETRAIN_EPOCHS = 10
RETRAIN_SEEDS = (0, 1)
MEMORY_TRIALS = 20
COMPARISON_KEYS = (
    "setup",
    "range_test",
    "arms",
    "oracle",
    "definitions",
    "summary",
    "comparison_run",
)


def reference_oracle() -> dict[str, Any] | None:
    """The best row of `bench/reference_table.py`'s grid, read from its result file."""
    path = RESULTS_DIR / "reference_table.json"
    if not path.exists():
        return None
    reference = json.loads(path.read_text())
    summary = reference["summary"]
    return {
        "name": summary["oracle_best"],
        "val_accuracy": summary["oracle_best_val_accuracy"],
        "source": f"bench/results/reference_table.json ({reference['date']})",
    }


def fashion_cnn() -> keras.Model:
    """fashion_cnn compiled with plain SGD (tune replaces the learning rate)."""
    return compile_for_classification(build_model("fashion_cnn"), keras.optimizers.SGD())


def rss_mib() -> float:
    """This process's resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_lr(trial: Any) -> float | None:
    params = trial.params
    return params.get("max_lr", params.get("learning_rate", params.get("initial_lr")))


def report_trial(arm: str) -> Any:
    def progress(event: TrialProgress) -> None:
        if event.event == "trial_end" and event.record is not None:
            record = event.record
            print(
                f"[{arm}] trial {record.trial_id} {record.family} peak {peak_lr(record):.4g} "
                f"val_accuracy {record.metrics.get('val_accuracy')} {record.outcome} "
                f"({time.strftime('%H:%M:%S')})",
                flush=True,
            )

    return progress


def search(arm: str, space: SearchSpace | None, train: Dataset, epochs: int, trials: int) -> Any:
    started = time.perf_counter()
    result = tune(
        fashion_cnn,
        train.x_train,
        train.y_train,
        validation_data=(train.x_val, train.y_val),
        space=space,
        families=None if space is not None else FAMILIES,
        range_test_options=RANGE_TEST,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        tuner="bayesian",
        max_trials=trials,
        objective="val_accuracy",
        seed=SEED,
        progress=report_trial(arm),
    )
    return result, time.perf_counter() - started


def summarize(result: TuningResult, edge_lr: float | None) -> dict[str, Any]:
    """Trials, their outcomes, and the wasted ones split by where their LR was."""
    trials = []
    for trial in result.trials:
        trials.append(
            {
                "trial_id": trial.trial_id,
                "family": trial.family,
                "peak_lr": peak_lr(trial),
                "spec": trial.spec.to_dict() if trial.spec else None,
                "val_accuracy": trial.metrics.get("val_accuracy"),
                "score": trial.score,
                "outcome": trial.outcome,
            }
        )
    wasted = [t for t in trials if t["outcome"] != "ok"]
    above = [t for t in wasted if edge_lr is not None and (t["peak_lr"] or 0) >= edge_lr]
    return {
        "space": result.space.to_dict(),
        "trials": trials,
        "outcomes": result.outcome_counts(),
        "chance_level_trials": sum(1 for t in trials if (t["val_accuracy"] or 0) <= 0.15),
        "wasted_trials": len(wasted),
        "wasted_on_divergence": sum(1 for t in wasted if t["outcome"] == "diverged")
        + sum(1 for t in above if t["outcome"] == "no_progress"),
        "best_trial": trials[0],
        "best_search_val_accuracy": trials[0]["val_accuracy"],
    }


def retrain(result: TuningResult, data: Dataset, epochs: int) -> dict[str, Any]:
    """The arm's best schedule re-sized to `epochs` on all the training data, per seed."""
    steps_per_epoch = -(-len(data.x_train) // BATCH_SIZE)
    spec = result.spec_for(epochs * steps_per_epoch)
    runs = []
    for seed in RETRAIN_SEEDS:
        model = build_model("fashion_cnn", seed=seed)
        compile_for_classification(model, keras.optimizers.SGD(learning_rate=spec.to_keras()))
        outcome = train_reference(
            model,
            data,
            epochs=epochs,
            batch_size=BATCH_SIZE,
            seed=seed,
            callbacks=spec.callbacks(),
        )
        print(f"retrain {spec.family} seed {seed}: val_accuracy {outcome['val_accuracy']:.4f}")
        runs.append({"seed": seed, **outcome})
    accuracies = [run["val_accuracy"] for run in runs]
    return {
        "spec": spec.to_dict(),
        "runs": runs,
        "val_accuracy": accuracies[0],
        "val_accuracy_mean": float(np.mean(accuracies)),
    }


def memory(trials: int) -> dict[str, Any]:
    """RSS after each of `trials` trials of a tiny MLP on the bundled sample, next to the same
    trainings in a plain Keras loop (`clear_session` + `gc.collect` between runs), which
    shows what TensorFlow itself keeps per model."""
    sample = load_fashion_mnist_sample()
    x, y = sample.x_train[:1024], sample.y_train[:1024]
    validation = (sample.x_val[:256], sample.y_val[:256])

    def mlp() -> keras.Model:
        return compile_for_classification(build_model("mlp"), keras.optimizers.SGD())

    plain: list[float] = []
    for _ in range(trials):
        keras.backend.clear_session()
        gc.collect()
        model = compile_for_classification(
            build_model("mlp"),
            keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(0.1, 16)),
        )
        model.evaluate(*validation, verbose=0)
        model.fit(x, y, batch_size=BATCH_SIZE, validation_data=validation, verbose=0)
        del model
        plain.append(round(rss_mib(), 1))

    tuned: list[float] = []

    def record(event: TrialProgress) -> None:
        if event.event == "trial_end":
            tuned.append(round(rss_mib(), 1))

    tune(
        mlp,
        x,
        y,
        validation_data=validation,
        space=SearchSpace.wide(1e-3, 1.0, FAMILIES),
        epochs=1,
        batch_size=BATCH_SIZE,
        tuner="random",
        max_trials=trials,
        seed=SEED,
        progress=record,
    )
    print(f"memory: plain Keras {plain[0]} -> {plain[-1]} MiB, tune {tuned[0]} -> {tuned[-1]} MiB")
    return {
        "model": "mlp on 1024 images of the bundled sample, 1 epoch per trial",
        "trials": trials,
        "plain_keras_rss_mib": plain,
        "tune_rss_mib": tuned,
        # The first runs trace and cache TensorFlow's functions: slopes start at run 5.
        "plain_keras_mib_per_run": slope(plain[4:]),
        "tune_mib_per_trial": slope(tuned[4:]),
        "tune_growth_mib_trial5_to_last": round(tuned[-1] - tuned[4], 1),
    }


def slope(values: list[float]) -> float:
    """Least-squares MiB per run."""
    return round(float(np.polyfit(np.arange(len(values)), values, 1)[0]), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smoke run on the bundled sample.")
    parser.add_argument("--memory", action="store_true", help="Only the memory section.")
    args = parser.parse_args()
    name = "tuning_quick" if args.quick else "tuning"
    command = "python " + " ".join(sys.argv)
    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    payload: dict[str, Any] = {}
    previous = RESULTS_DIR / f"{name}.json"
    if args.memory and previous.exists():
        # Keep the comparison of an earlier full run; each section says which run made it.
        document = json.loads(previous.read_text())
        payload = {k: v for k, v in document.items() if k in COMPARISON_KEYS}
    load_before = os.getloadavg()[0]
    payload["memory"] = {
        **memory(6 if args.quick else MEMORY_TRIALS),
        "command": command,
        "date": date,
    }
    if not args.memory:
        payload.update(compare(args.quick))
        payload["comparison_run"] = {
            "command": command,
            "date": date,
            "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        }
    print(f"wrote {write_result(name, payload)}")


def compare(quick: bool) -> dict[str, Any]:
    full = load_fashion_mnist_sample() if quick else load_fashion_mnist(download=False)
    held = 500 if quick else SEARCH_VALIDATION
    search_split = Dataset(
        x_train=full.x_train[:-held],
        y_train=full.y_train[:-held],
        x_val=full.x_train[-held:],
        y_val=full.y_train[-held:],
        name=f"{full.name} search split",
        source=full.source,
    )
    trials = 3 if quick else MAX_TRIALS
    epochs = 1 if quick else TRIAL_EPOCHS
    retrain_epochs = 1 if quick else RETRAIN_EPOCHS
    oracle = None if quick else reference_oracle()
    bounded, bounded_s = search("finder", None, search_split, epochs, trials)
    assert bounded.range_test is not None
    edge = bounded.range_test.bounds.edge_lr
    wide, wide_s = search("wide", SearchSpace.wide(*WIDE, FAMILIES), search_split, epochs, trials)
    arms = {}
    for arm, result, seconds in (("wide", wide, wide_s), ("finder", bounded, bounded_s)):
        arms[arm] = {
            **summarize(result, edge),
            "search_wall_s": round(seconds, 1),
            "retrain": retrain(result, full, retrain_epochs),
        }
    range_test = bounded.range_test
    return {
        "setup": {
            "data": full.name,
            "model": "fashion_cnn",
            "optimizer": "SGD (no momentum)",
            "batch_size": BATCH_SIZE,
            "families": list(FAMILIES),
            "tuner": "bayesian (keras-tuner defaults: 3 x dims initial random points, more "
            "than the budget, so both arms sample their spaces at random)",
            "objective": "val_accuracy",
            "max_trials": trials,
            "trial_epochs": epochs,
            "search_split": f"first {len(search_split.x_train)} training images, scored on "
            f"the last {held}",
            "retrain": f"{retrain_epochs} epochs on all {len(full.x_train)} training images, "
            f"val_accuracy on the {0 if full.x_val is None else len(full.x_val)} test images, "
            f"seeds {list(RETRAIN_SEEDS)}",
            "seed": SEED,
            "quick": quick,
        },
        "range_test": {
            "options": RANGE_TEST,
            "bounds": range_test.bounds.to_dict(),
            "steps_run": range_test.steps_run,
            "wall_time_s": round(range_test.wall_time_s, 1),
            "trial_steps": trials * epochs * bounded.plan["steps_per_epoch"],
        },
        "arms": arms,
        "oracle": oracle,
        "definitions": {
            "outcome": "finder's per-trial flag: diverged = non-finite training loss or a final "
            "training loss above the first batch's; no_progress = final loss above 95% of the "
            "first batch's",
            "wasted_trials": "trials whose outcome is not ok",
            "wasted_on_divergence": "diverged trials, plus no_progress trials whose peak LR is "
            "at or above the range test's edge_lr (dead networks, not too-small LRs)",
        },
        "summary": {
            "wide_val_accuracy": arms["wide"]["retrain"]["val_accuracy"],
            "finder_val_accuracy": arms["finder"]["retrain"]["val_accuracy"],
            "wide_val_accuracy_mean": arms["wide"]["retrain"]["val_accuracy_mean"],
            "finder_val_accuracy_mean": arms["finder"]["retrain"]["val_accuracy_mean"],
            "oracle_val_accuracy": None if oracle is None else oracle["val_accuracy"],
            "wide_wasted_trials": arms["wide"]["wasted_trials"],
            "finder_wasted_trials": arms["finder"]["wasted_trials"],
            "wide_wasted_on_divergence": arms["wide"]["wasted_on_divergence"],
            "finder_wasted_on_divergence": arms["finder"]["wasted_on_divergence"],
        },
    }


if __name__ == "__main__":
    main()

"""finder.fit against the optimizer's default constant LR on hosts the suite does not have.

The suite (`bench/suite.py`, `bench/frontier.py`) is where finder's rules were chosen, so its
figures flatter them. This benchmark runs `finder.fit` as a user would (defaults, the host's
plan, validation data) on three hosts that took no part in choosing any rule, each with five
optimizers, over seeds 0-2, beside a plain `model.fit` at the optimizer's own constant LR with
the same seed: the floor finder must never fall below, since a user can always keep that LR.
It records each run's score, the verdict and its first reason, the steps the test added and
the peak trained with. The hosts build their data from fixed generators (no download):

- `lstm_seq`: an LSTM(32) classifying sequences of 20 steps x 4 features by the sign of a
  product of two sums over them (an interaction a recurrent net needs hundreds of steps to
  find);
- `conv_text`: token embeddings, a 1-D convolution and max pooling, classifying sequences of 30
  tokens by whether two or more come from a set of 19;
- `friedman_mlp`: a two-layer MLP regressing scikit-learn's Friedman #1 function (10 inputs,
  noise 0.5, targets standardised), scored by the validation MSE.

Each trains 10 epochs of 3,200 samples at batch 32 (1,000 steps: `finder.fit` tests inside the
fit), and is scored on 800 held-out samples: accuracy, or MSE (lower is better).

    python bench/outside.py [--host NAME ...] [--optimizer NAME ...]
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from common import RESULTS_DIR, write_result
from sklearn.datasets import make_friedman1

import finder

RESULT_PATH = RESULTS_DIR / "outside.json"
SEEDS = (0, 1, 2)
EPOCHS = 10
BATCH_SIZE = 32
TRAIN = 3200  # samples; the remaining 800 of each host's 4,000 are the validation set

Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _split(x: np.ndarray, y: np.ndarray) -> Data:
    return x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]


def sequences() -> Data:
    rng = np.random.default_rng(123)
    x = rng.normal(size=(4000, 20, 4)).astype("float32")
    y = ((x[:, :10, 0].sum(1) * x[:, 10:, 1].sum(1)) > 0).astype("int32")
    return _split(x, y)


def tokens() -> Data:
    rng = np.random.default_rng(7)
    x = rng.integers(1, 300, size=(4000, 30))
    y = (np.isin(x, np.arange(1, 20)).sum(1) >= 2).astype("int32")
    return _split(x, y)


def friedman() -> Data:
    x, y = make_friedman1(n_samples=4000, noise=0.5, random_state=0)
    y = (y - y.mean()) / y.std()
    return _split(x.astype("float32"), y.astype("float32"))


def lstm() -> keras.Model:
    return keras.Sequential([keras.Input((20, 4)), keras.layers.LSTM(32), keras.layers.Dense(2)])


def conv_text() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((30,), dtype="int32"),
            keras.layers.Embedding(300, 16),
            keras.layers.Conv1D(32, 3, activation="relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(2),
        ]
    )


def regression_mlp() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ]
    )


# name -> (data, model, whether the score is an accuracy (else an MSE))
HOSTS: dict[str, tuple[Callable[[], Data], Callable[[], keras.Model], bool]] = {
    "lstm_seq": (sequences, lstm, True),
    "conv_text": (tokens, conv_text, True),
    "friedman_mlp": (friedman, regression_mlp, False),
}
OPTIMIZERS: dict[str, Callable[[], keras.optimizers.Optimizer]] = {
    "Lion": keras.optimizers.Lion,
    "Adam": keras.optimizers.Adam,
    "SGD(momentum=0.9)": lambda: keras.optimizers.SGD(momentum=0.9),
    "Adafactor": keras.optimizers.Adafactor,
    "Nadam": keras.optimizers.Nadam,
}


def run(host: str, optimizer: str, seed: int, *, with_finder: bool) -> dict[str, Any]:
    """One training run of `host` with `optimizer` and `seed`: `finder.fit`, or `model.fit` at
    the optimizer's own constant LR."""
    data, build, accuracy = HOSTS[host]
    x, y, x_val, y_val = data()
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build()
    if accuracy:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(OPTIMIZERS[optimizer](), loss, metrics=["accuracy"])
    else:
        model.compile(OPTIMIZERS[optimizer](), "mse")
    started = time.perf_counter()
    record: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arguments = dict(epochs=EPOCHS, batch_size=BATCH_SIZE, validation_data=(x_val, y_val))
        if with_finder:
            history = finder.fit(model, x, y, verbose=0, **arguments)
            result = history.range_test_result
            proposal = history.proposal
            record = {
                "verdict": result.reliability.verdict,
                "reason": (result.reliability.reasons or [None])[0],
                "extra_steps": result.extra_steps,
                "peak": None if proposal is None else proposal.spec.params.get("max_lr"),
            }
        else:
            model.fit(x, y, verbose=0, **arguments)
    scores = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    score = float(scores["accuracy"] if accuracy else scores["loss"])
    return {
        "score": score if math.isfinite(score) else None,
        "seconds": round(time.perf_counter() - started, 1),
        **record,
    }


def summarize(runs: dict[str, Any]) -> dict[str, Any]:
    """Per host and optimizer: finder's and the default's mean score over the seeds, and
    finder's over the default's (default / finder for an MSE), None where either has a seed
    without a finite score."""
    table: dict[str, Any] = {}
    for host, by_optimizer in runs.items():
        accuracy = HOSTS[host][2]
        for optimizer, pair in by_optimizer.items():
            finder_scores = [pair["finder"][str(s)]["score"] for s in SEEDS]
            default_scores = [pair["default"][str(s)]["score"] for s in SEEDS]
            complete = None not in finder_scores and None not in default_scores
            ours = float(np.mean(finder_scores)) if None not in finder_scores else None
            theirs = float(np.mean(default_scores)) if None not in default_scores else None
            ratio = None
            if complete and ours and theirs:
                ratio = ours / theirs if accuracy else theirs / ours
            table.setdefault(host, {})[optimizer] = {
                "finder": ours,
                "default": theirs,
                "vs_default": ratio,
                "verdicts": [pair["finder"][str(s)]["verdict"] for s in SEEDS],
            }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", action="append", choices=sorted(HOSTS))
    parser.add_argument("--optimizer", action="append", choices=sorted(OPTIMIZERS))
    args = parser.parse_args()
    stored = json.loads(RESULT_PATH.read_text()) if RESULT_PATH.exists() else {}
    runs: dict[str, Any] = stored.get("runs", {})
    for host in args.host or HOSTS:
        for optimizer in args.optimizer or OPTIMIZERS:
            pair = runs.setdefault(host, {}).setdefault(optimizer, {"default": {}, "finder": {}})
            for seed in SEEDS:
                for kind in ("default", "finder"):
                    record = run(host, optimizer, seed, with_finder=kind == "finder")
                    pair[kind][str(seed)] = record
                    print(f"  {host} {optimizer} seed {seed} {kind}: {record}", flush=True)
    payload = {"seeds": list(SEEDS), "epochs": EPOCHS, "runs": runs, "summary": summarize(runs)}
    print(f"wrote {write_result('outside', payload, RESULT_PATH)}")


if __name__ == "__main__":
    main()

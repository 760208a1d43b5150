"""Can short constant-LR trials find Ftrl's learning rate, where a range test cannot?

Ftrl sets every weight from its accumulators times the current LR, so the range test's ramp
rescales the whole model at each step and its curve says nothing about a constant LR
(`finder/rangetest/calibration.py`); finder trains it at its own LR, which left the suite's
networks at chance. This measures the alternative a user would try by hand: from the same
initial weights, `STEPS` steps at each constant LR of a half-decade grid from the optimizer's
own LR up to `DECADES` decades above it, each scored by the validation loss after them; the
trial picks the LR with the lowest. Beside them, each LR's full training run (seed 0, the
task's plan, constant LR), to see whether the trial's pick is the run's best.

    python bench/constant_trials.py [--seeds 3] [--task NAME ...]
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import keras
import numpy as np
from common import write_result
from tasks import TASKS, train

STEPS = 20
DECADES = 4
DEFAULT_TASKS = ("digits_ftrl", "digits8_ftrl", "cnn_ftrl")


def trial_loss(task: Any, lr: float, seed: int) -> float | None:
    """The validation loss after `STEPS` steps at constant `lr` from the weights of `seed`."""
    data = task.load_data()
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = task.build_model(seed)
    task.compile(model, task.make_optimizer(lr))
    order = np.random.default_rng(seed).permutation(len(data.x_train))[: STEPS * task.batch_size]
    model.fit(
        data.x_train[order], data.y_train[order], batch_size=task.batch_size, epochs=1, verbose=0
    )
    scores = model.evaluate(data.x_val, data.y_val, verbose=0)
    loss = float(scores[0] if isinstance(scores, list) else scores)
    return loss if math.isfinite(loss) else None


def measure(name: str, seeds: int) -> dict[str, Any]:
    task = TASKS[name]
    lrs = [task.default_lr * 10 ** (k / 2) for k in range(2 * DECADES + 1)]
    trials = []
    for seed in range(seeds):
        losses = [trial_loss(task, lr, seed) for lr in lrs]
        finite = [(loss, lr) for loss, lr in zip(losses, lrs, strict=True) if loss is not None]
        pick = min(finite)[1] if finite else None
        trials.append({"seed": seed, "losses": losses, "pick": pick})
        print(f"  {name} seed {seed}: trial picks {pick}", flush=True)
    runs = [train(task, lr, 0)["score"] for lr in lrs]
    print(f"  {name} full runs: {runs}", flush=True)
    return {"lrs": lrs, "trials": trials, "full_run_scores": runs, "chance": task.chance_score}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    args = parser.parse_args()
    names = args.task or list(DEFAULT_TASKS)
    tasks = {name: measure(name, args.seeds) for name in names}
    payload = {"seeds": args.seeds, "steps": STEPS, "tasks": tasks}
    print(f"wrote {write_result('constant_trials', payload)}")


if __name__ == "__main__":
    main()

"""How long must Ftrl's constant-LR trials be, and does their pick train as well as the best LR?

Ftrl sets every weight from its accumulators times the current LR, so the range test's ramp
rescales the whole model at each step and its curve says nothing about a constant LR
(`finder/rangetest/calibration.py`); the auto range runs constant-LR trials for it instead
(`finder/rangetest/trials.py`). This measures them on finder's own grid (`trial_grid` of the
optimizer's LR): from the same initial weights, `steps` steps at each LR, each scored by the
validation loss after them; the trial picks the lowest. It does so at several trial lengths,
finder's own (`MIN_PLAN_BUDGET // len(grid)`, what the 100-step budget pays for) among them,
to see where the pick stands clear of the chance loss. Beside them, each LR's full training run
(seed 0, the task's plan, constant LR), to see whether the trial's pick is the run's best.

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

from finder.defaults import MIN_PLAN_BUDGET
from finder.rangetest.trials import trial_grid
from finder.rangetest.verdict import chance_loss

DEFAULT_TASKS = ("digits_ftrl", "digits8_ftrl", "cnn_ftrl")
SHORTER = (5, 8)  # trial lengths below finder's own
LONGER = (20,)


def trial_loss(task: Any, lr: float, seed: int, steps: int) -> float | None:
    """The validation loss after `steps` steps at constant `lr` from the weights of `seed`."""
    data = task.load_data()
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = task.build_model(seed)
    task.compile(model, task.make_optimizer(lr))
    order = np.random.default_rng(seed).permutation(len(data.x_train))[: steps * task.batch_size]
    model.fit(
        data.x_train[order], data.y_train[order], batch_size=task.batch_size, epochs=1, verbose=0
    )
    scores = model.evaluate(data.x_val, data.y_val, verbose=0)
    loss = float(scores[0] if isinstance(scores, list) else scores)
    return loss if math.isfinite(loss) else None


def measure(name: str, seeds: int, lengths: list[int]) -> dict[str, Any]:
    task = TASKS[name]
    lrs = [float(lr) for lr in trial_grid(task.default_lr)]
    trials: dict[str, list[dict[str, Any]]] = {}
    for steps in lengths:
        trials[str(steps)] = []
        for seed in range(seeds):
            losses = [trial_loss(task, lr, seed, steps) for lr in lrs]
            finite = [(loss, lr) for loss, lr in zip(losses, lrs, strict=True) if loss is not None]
            pick = min(finite)[1] if finite else None
            trials[str(steps)].append({"seed": seed, "losses": losses, "pick": pick})
            print(f"  {name} {steps} steps, seed {seed}: trial picks {pick}", flush=True)
    runs = [train(task, lr, 0)["score"] for lr in lrs]
    print(f"  {name} full runs: {runs}", flush=True)
    return {
        "lrs": lrs,
        "trials": trials,
        "full_run_scores": runs,
        "chance": task.chance_score,
        "chance_loss": chance_loss(task.loss, task.load_data().y_train),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    args = parser.parse_args()
    names = args.task or list(DEFAULT_TASKS)
    own = MIN_PLAN_BUDGET // len(trial_grid(None))
    lengths = sorted({*SHORTER, own, *LONGER})
    tasks = {name: measure(name, args.seeds, lengths) for name in names}
    payload = {"seeds": args.seeds, "finder_steps": own, "lengths": lengths, "tasks": tasks}
    print(f"wrote {write_result('constant_trials', payload)}")


if __name__ == "__main__":
    main()

"""Write `torch_reference.json`: PyTorch's OneCycleLR and CyclicLR values, step by step.

NEEDS PyTorch, which is not a finder dependency; run it from a throwaway virtualenv:

    python3 -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch==2.13.0 numpy
    /tmp/torchref/bin/python tests/schedules/make_torch_reference.py

The tests read the JSON it writes (`test_torch_reference.py`) and never import torch.
Step `k` is the learning rate (and momentum) the `k`-th `optimizer.step()` uses: the
scheduler is stepped after each optimizer step, as PyTorch documents.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

OUTPUT = Path(__file__).with_name("torch_reference.json")

# (case name, OneCycleLR keyword arguments, record every n-th step); each also cycles the
# SGD momentum (0.95 -> 0.85 -> 0.95 unless the case says otherwise).
ONE_CYCLE_CASES = [
    ("cos, defaults", {"max_lr": 0.1, "total_steps": 100}, 1),
    (
        "linear, custom factors",
        {
            "max_lr": 0.05,
            "total_steps": 57,
            "pct_start": 0.25,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
            "anneal_strategy": "linear",
        },
        1,
    ),
    (
        "cos, three phases",
        {"max_lr": 1.0, "total_steps": 80, "pct_start": 0.4, "three_phase": True},
        1,
    ),
    (
        "linear, three phases, pct_start 0.5",
        {
            "max_lr": 0.3,
            "total_steps": 41,
            "pct_start": 0.5,
            "three_phase": True,
            "anneal_strategy": "linear",
        },
        1,
    ),
    ("cos, 3 steps (first phase ends before step 0)", {"max_lr": 0.2, "total_steps": 3}, 1),
    ("cos, 1 step", {"max_lr": 0.2, "total_steps": 1}, 1),
    (
        "cos, long, custom momentum",
        {"max_lr": 0.8, "total_steps": 5000, "base_momentum": 0.8, "max_momentum": 0.9},
        41,
    ),
]

# (case name, CyclicLR keyword arguments, number of steps, record every n-th step)
CYCLICAL_CASES = [
    ("triangular, symmetric", {"base_lr": 0.001, "max_lr": 0.006, "step_size_up": 10}, 61, 1),
    (
        "triangular, asymmetric",
        {"base_lr": 0.001, "max_lr": 0.006, "step_size_up": 4, "step_size_down": 7},
        50,
        1,
    ),
    (
        "triangular2, symmetric",
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "mode": "triangular2"},
        60,
        1,
    ),
    (
        "triangular2, asymmetric",
        {
            "base_lr": 0.0,
            "max_lr": 0.1,
            "step_size_up": 3,
            "step_size_down": 6,
            "mode": "triangular2",
        },
        60,
        1,
    ),
    (
        "exp_range, symmetric",
        {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 6, "mode": "exp_range", "gamma": 0.99},
        80,
        1,
    ),
    (
        "exp_range, asymmetric",
        {
            "base_lr": 0.001,
            "max_lr": 0.01,
            "step_size_up": 5,
            "step_size_down": 2,
            "mode": "exp_range",
            "gamma": 0.995,
        },
        80,
        1,
    ),
    (
        "exp_range, long, gamma close to 1",
        {
            "base_lr": 1e-4,
            "max_lr": 1e-2,
            "step_size_up": 250,
            "mode": "exp_range",
            "gamma": 0.99994,
        },
        20000,
        37,
    ),
]


def _optimizer() -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)


def _one_cycle(kwargs: dict, every: int) -> dict:
    optimizer = _optimizer()
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, **kwargs)
    steps, lrs, momentums = [], [], []
    last = kwargs["total_steps"] - 1
    for step in range(kwargs["total_steps"]):
        if step % every == 0 or step == last:
            steps.append(step)
            lrs.append(optimizer.param_groups[0]["lr"])
            momentums.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    return {"steps": steps, "lr": lrs, "momentum": momentums}


def _cyclical(kwargs: dict, num_steps: int, every: int) -> dict:
    optimizer = _optimizer()
    scheduler = torch.optim.lr_scheduler.CyclicLR(optimizer, cycle_momentum=False, **kwargs)
    steps, lrs = [], []
    for step in range(num_steps):
        if step % every == 0:
            steps.append(step)
            lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return {"steps": steps, "lr": lrs}


def main() -> None:
    reference = {
        "generator": f"tests/schedules/make_torch_reference.py with torch {torch.__version__}",
        "one_cycle": [
            {"case": name, "torch_kwargs": kwargs, **_one_cycle(kwargs, every)}
            for name, kwargs, every in ONE_CYCLE_CASES
        ],
        "cyclical": [
            {"case": name, "torch_kwargs": kwargs, **_cyclical(kwargs, num_steps, every)}
            for name, kwargs, num_steps, every in CYCLICAL_CASES
        ],
    }
    # One case per line: small, and a regenerated file diffs case by case.
    lines = ["{", f' "generator": {json.dumps(reference["generator"])},']
    for family in ("one_cycle", "cyclical"):
        cases = ",\n".join(f"  {json.dumps(case)}" for case in reference[family])
        lines.append(f' "{family}": [\n{cases}\n ]' + ("," if family == "one_cycle" else ""))
    lines.append("}")
    OUTPUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

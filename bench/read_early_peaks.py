"""Would a higher 1cycle peak rescue the runs whose edge was read early?

The verdict calls an edge "read early" when the held-out loss had fallen less than a quarter
below the chance loss when the sweep's loss turned (`finder/rangetest/verdict.py`, rule 6), and
advises a run at a peak a few times higher. This measures that advice, and whether finder could
follow it on its own: for every suite run of the design `finder.fit` runs (`bench/frontier.py`,
design `fit`) whose stored test the verdict reads early today (`bench/results/verdict.json`),
the 1cycle over the task's plan peaking at each of `MULTIPLES` times the edge that test read,
trained with the run's seed as the suite trains every schedule, scored against the grid
oracle's mean (seeds 0-2) and its schedule retrained with the held-out seeds (`bench/suite.py`).
finder's own first proposal peaks at 1x the edge on a plan of 500 steps or more and 2x on a
shorter one (`finder/propose.py`).

    python bench/read_early_peaks.py [--task NAME ...]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from common import RESULTS_DIR, write_result
from frontier import RESULT_PATH as FRONTIER_PATH
from frontier import WITHIN, design_runs
from suite import RESULT_PATH as SUITE_PATH
from suite import grid_spec, ratio, train_spec
from tasks import TASKS
from verdict import RESULT_PATH as VERDICT_PATH

from finder.propose import SHORT_PLAN_PEAK_MULTIPLE, SHORT_PLAN_STEPS
from finder.rangetest.verdict import EARLY_EDGE

MULTIPLES = (1.0, 2.0, 3.0, 4.0)
RESULT_PATH = RESULTS_DIR / "read_early_peaks.json"


def early_runs(verdict: dict[str, Any], names: list[str] | None) -> list[tuple[str, int]]:
    """The (task, seed) runs of the design `fit` whose verdict today says "read early"."""
    return [
        (run["task"], int(run["seed"]))
        for run in verdict["runs"]
        if any(reason.startswith(EARLY_EDGE) for reason in run["reasons"])
        and (names is None or run["task"] in names)
    ]


def measure(name: str, seed: int, frontier: dict[str, Any], rows: dict[str, Any]) -> dict[str, Any]:
    """One run's 1cycles at every multiple of its edge."""
    task = TASKS[name]
    record = design_runs(frontier, "fit", name)[str(seed)]
    edge = float(record["edge_lr"])
    signals = record.get("signals") or {}
    floor, chance = signals.get("held_out_floor"), signals.get("chance_loss")
    short = task.plan.total_steps < SHORT_PLAN_STEPS
    oracle, holdout = rows["oracle"]["mean"], rows["oracle_holdout"]["mean"]
    peaks = []
    for multiple in MULTIPLES:
        run = train_spec(task, grid_spec(task, "one_cycle", multiple * edge), seed)
        peaks.append(
            {
                "multiple": multiple,
                "peak": multiple * edge,
                "score": run["score"],
                "diverged": bool(run["diverged"]),
                "vs_oracle": ratio(task, run["score"], oracle),
                "vs_holdout": ratio(task, run["score"], holdout),
            }
        )
        print(f"  {name} seed {seed} peak {multiple:g}x {edge:.3g}: {run['score']}", flush=True)
    return {
        "task": name,
        "seed": seed,
        "plan_steps": task.plan.total_steps,
        "edge_lr": edge,
        "held_out_fall": None if floor is None or not chance else 1 - floor / chance,
        "finder_multiple": SHORT_PLAN_PEAK_MULTIPLE if short else 1.0,
        "peaks": peaks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    args = parser.parse_args()
    frontier = json.loads(FRONTIER_PATH.read_text())
    suite = json.loads(SUITE_PATH.read_text())["tasks"]
    verdict = json.loads(VERDICT_PATH.read_text())
    runs = [
        measure(name, seed, frontier, suite[name]["rows"])
        for name, seed in early_runs(verdict, args.task)
    ]
    payload = {"multiples": list(MULTIPLES), "within": WITHIN, "runs": runs}
    print(f"wrote {write_result('read_early_peaks', payload)}")


if __name__ == "__main__":
    main()

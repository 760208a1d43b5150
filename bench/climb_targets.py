"""Which target should the guarded climb aim at? The design `fit` again, on every task with a run
whose edge was read early, with the climb aimed at each of `MULTIPLES` times the edge.

For each multiple in turn, the climb's target (`finder.lr_finder.climb.CLIMB_MULTIPLE`) is set
to it and each task's runs of the design `fit` (`bench/frontier.py`: the range test and the
training, every seed, as `finder.fit` runs them) are run again, all in one invocation on one
machine: a machine with other CPU kernels reads other edges on the same seeds, so multiples are
only compared within one run of this script. The tasks are those of `bench/read_early_peaks.py`
(the runs the verdict read early); every seed of each is run, read early here or not. Each run
is scored over the grid oracle's schedule retrained with the held-out seeds (`bench/suite.py`).

    python bench/climb_targets.py [--multiple 3 --multiple 4] [--task NAME ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import frontier
from common import write_result
from read_early_peaks import RESULT_PATH as PEAKS_PATH
from suite import RESULT_PATH as SUITE_PATH
from suite import ratio
from tasks import TASKS

import finder.lr_finder.climb as climb

MULTIPLES = (3.0, 4.0)


def run_multiple(multiple: float, names: list[str], work: Path) -> dict[str, Any]:
    """The design `fit` on `names` with the climb aimed at `multiple` times the edge: a copy of
    the frontier document with those tasks' runs made again."""
    path = work / f"frontier_{multiple:g}x.json"
    shutil.copy(frontier.RESULT_PATH, path)
    aimed = climb.CLIMB_MULTIPLE
    climb.CLIMB_MULTIPLE = multiple
    try:
        for name in names:
            route = frontier.fit_route(TASKS[name])
            frontier.main(["--design", route, "--task", name, "--rerun", "--out", str(path)])
    finally:
        climb.CLIMB_MULTIPLE = aimed
    return json.loads(path.read_text())


def rows(document: dict[str, Any], names: list[str], suite: dict[str, Any]) -> list[dict]:
    """Each run's score over the held-out oracle, cost and what its climb did."""
    out = []
    for name in names:
        holdout = suite[name]["rows"]["oracle_holdout"]["mean"]
        for seed, run in sorted(frontier.design_runs(document, "fit", name).items()):
            outcome = run.get("climb")
            edge = run.get("edge_lr")
            out.append(
                {
                    "task": name,
                    "seed": int(seed),
                    "edge_lr": edge,
                    "verdict": run.get("verdict"),
                    "vs_holdout": ratio(TASKS[name], run.get("score"), holdout),
                    "extra_steps": run.get("extra_steps"),
                    "climb": outcome,
                    "peak_multiple": (
                        outcome["peak_lr"] / edge if outcome is not None and edge else None
                    ),
                }
            )
    return out


def totals(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, worst and within-1% count over `runs` (a run without a score counts as 0)."""
    scores = [run["vs_holdout"] or 0.0 for run in runs]
    return {
        "runs": len(scores),
        "mean": sum(scores) / len(scores),
        "worst": min(scores),
        "within": sum(score >= frontier.WITHIN for score in scores),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--multiple", action="append", type=float)
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    args = parser.parse_args(argv)
    peaks = json.loads(PEAKS_PATH.read_text())
    names = args.task or sorted({run["task"] for run in peaks["runs"]})
    suite = json.loads(SUITE_PATH.read_text())["tasks"]
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for multiple in args.multiple or MULTIPLES:
            document = run_multiple(multiple, names, Path(work))
            runs = rows(document, names, suite)
            results[f"{multiple:g}"] = {"runs": runs, "totals": totals(runs)}
            print(f"{multiple:g}x: {results[f'{multiple:g}']['totals']}", flush=True)
    write_result(
        "climb_targets",
        {"within": frontier.WITHIN, "aimed": climb.CLIMB_MULTIPLE, "multiples": results},
    )


if __name__ == "__main__":
    main()

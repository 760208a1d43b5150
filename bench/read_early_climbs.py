"""What the guarded climb did where the edge was read early, beside the peaks it aims between.

For every run of `bench/read_early_peaks.py` (the runs of the design `fit` whose edge the
verdict read early), this reads, without training anything: that script's 1cycles at finder's
own multiple of the edge and at `finder.lr_finder.climb.CLIMB_MULTIPLE` times it (unguarded,
from the first step), and the run of the design `fit` as `finder.fit` trains it today
(`bench/frontier.py`, with the guarded climb): its score over the grid oracle's schedule
retrained with the held-out seeds, whether the climb reached its target or where it stopped
(as a multiple of the edge), and the steps its rollback threw away.

    python bench/read_early_climbs.py     # after read_early_peaks.py and frontier.py
"""

from __future__ import annotations

import json
from typing import Any

from common import write_result
from frontier import RESULT_PATH as FRONTIER_PATH
from frontier import WITHIN, design_runs, fit_route
from read_early_peaks import RESULT_PATH as PEAKS_PATH
from suite import RESULT_PATH as SUITE_PATH
from suite import ratio
from tasks import TASKS

from finder.lr_finder.climb import CLIMB_MULTIPLE


def climb_row(
    run: dict[str, Any], frontier: dict[str, Any], suite: dict[str, Any]
) -> dict[str, Any]:
    """One read-early run: the unguarded peaks and the guarded climb `finder.fit` trains."""
    name, seed = run["task"], run["seed"]
    task = TASKS[name]
    record = design_runs(frontier, "fit", name)[str(seed)]
    holdout = suite[name]["rows"]["oracle_holdout"]["mean"]
    peaks = {peak["multiple"]: peak for peak in run["peaks"]}
    climb = record.get("climb")
    edge = float(record["edge_lr"]) if record.get("edge_lr") else None
    return {
        "task": name,
        "seed": seed,
        "route": fit_route(task),
        "finder_multiple": run["finder_multiple"],
        "at_finder_multiple": peaks[run["finder_multiple"]]["vs_holdout"],
        "at_climb_multiple": peaks[CLIMB_MULTIPLE]["vs_holdout"],
        "climb_diverged": peaks[CLIMB_MULTIPLE]["diverged"],
        "fit": ratio(task, record.get("score"), holdout),
        "climb": climb,
        "peak_multiple": (climb["peak_lr"] / edge if climb is not None and edge else None),
    }


def main() -> None:
    frontier = json.loads(FRONTIER_PATH.read_text())
    suite = json.loads(SUITE_PATH.read_text())["tasks"]
    peaks = json.loads(PEAKS_PATH.read_text())
    runs = [climb_row(run, frontier, suite) for run in peaks["runs"]]
    payload = {"within": WITHIN, "climb_multiple": CLIMB_MULTIPLE, "runs": runs}
    print(f"wrote {write_result('read_early_climbs', payload)}")


if __name__ == "__main__":
    main()

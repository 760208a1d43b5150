"""`bench/report.py`'s Markdown-table helper, which every table of BENCHMARKS.md goes through."""

from __future__ import annotations

import pytest
import report as bench_report

# The machine line every section ends with, as `bench/common.machine` records it.
MACHINE = {"cpu": "cpu", "cores": 2, "memory_gib": 1, "tensorflow": "t", "keras": "k"}


def _result(script: str, **fields: object) -> dict[str, object]:
    """A result file of `bench/<script>` as `bench/common.write_result` writes it: `fields`,
    with the machine, date, command and edge rule it adds."""
    return {
        **fields, "machine": MACHINE, "date": "2026-12-07", "command": f"python bench/{script}",
        "edge_rule": {"zero_lag_half_width": 0.05, "floor_fraction": 0.2},
    }  # fmt: skip


def test_table_writes_header_separator_and_one_line_per_row() -> None:
    lines = bench_report.table(["task", "score", "steps"], [["`a`", "0.9500", 12], ["`b`", "1", 3]])
    assert lines == [
        "| task | score | steps |",
        "|---|---|---|",
        "| `a` | 0.9500 | 12 |",
        "| `b` | 1 | 3 |",
    ]


def test_a_missing_value_is_formatted_by_the_caller_and_an_empty_cell_stays_empty() -> None:
    lines = bench_report.table(["a", "b", "c"], [[bench_report.fmt(None), "", "x"]])
    assert lines[2] == "| — | | x |"
    assert "None" not in lines[2]


def test_no_rows_gives_header_and_separator_only() -> None:
    assert bench_report.table(["a", "b"], []) == ["| a | b |", "|---|---|"]


@pytest.mark.parametrize("row", [["only one"], ["one", "two", "three"]])
def test_a_row_must_have_as_many_cells_as_the_header(row: list[str]) -> None:
    with pytest.raises(ValueError, match="cells under a header of 2"):
        bench_report.table(["a", "b"], [row])


def _seed(edge: float, early: bool, ratio: float) -> dict[str, object]:
    return {
        "edge_lr": edge, "held_out_fall": 0.1 if early else 0.4, "read_early": early,
        "verdict": "unreliable" if early else "reliable", "vs_holdout": ratio,
        "within": ratio >= 0.99,
    }  # fmt: skip


def test_longer_sweeps_counts_the_seeds_read_early_and_the_verdicts_outcomes() -> None:
    task = {
        "best_one_cycle_peak": 1.0,
        "1": {
            "budget": 100,
            "seeds": [_seed(0.1, True, 0.95), _seed(0.2, True, 1.0), _seed(0.5, False, 0.995)],
        },
        "10": {
            "budget": 1000,
            "seeds": [_seed(0.2, False, 0.97), _seed(0.25, True, 0.98), _seed(0.9, False, 1.0)],
        },
    }
    result = _result("longer_sweeps.py", seeds=3, multiples=[1, 10], tasks={"t": task})
    lines = bench_report.longer_sweeps(result)
    first = "| `t` | 1 | 100 | 0.1, 0.2, 0.5 | 10%, 10%, 40% | U, U, R | 0.9500, 1.0000, 0.9950 |"
    longest = "| `t` | | 1000 | 0.2, 0.25, 0.9 | 40%, 10%, 40% | R, U, R | 0.9700, 0.9800, 1.0000 |"
    assert first in lines and longest in lines
    assert "| 1x finder's | 0.9817 | 1 | 0 | 1 | 1 |" in lines
    assert "| 10x finder's | 0.9833 | 1 | 1 | 0 | 1 |" in lines
    summary = next(line for line in lines if line.startswith("Of the"))
    # Seeds 0 and 1 were read early; only seed 0's edge moved 1.5x and cleared the rule; the
    # best peak sat 4x and 5x above their longest sweep's edges (seed 2 is not counted).
    assert summary.startswith("Of the 2 runs")
    assert "1.5x later on 1, and no longer early on 1;" in summary
    assert "4x to 5x above" in summary
    assert "said reliable on 2 runs, of which 1 trained more than 1% below" in summary


def _peak(multiple: float, ratio: float, diverged: bool = False) -> dict[str, object]:
    return {"multiple": multiple, "vs_holdout": None if diverged else ratio, "diverged": diverged}


def test_read_early_peaks_bolds_finders_multiple_and_counts_a_divergence_as_zero() -> None:
    runs = [
        {
            "task": "short", "seed": 0, "plan_steps": 376, "edge_lr": 0.1, "held_out_fall": 0.12,
            "finder_multiple": 2.0, "peaks": [_peak(1.0, 0.95), _peak(2.0, 0.97), _peak(3.0, 1.0)],
        },
        {
            "task": "long", "seed": 1, "plan_steps": 9380, "edge_lr": 0.5, "held_out_fall": None,
            "finder_multiple": 1.0,
            "peaks": [_peak(1.0, 1.0), _peak(2.0, 0.0, True), _peak(3.0, 0.0, True)],
        },
    ]  # fmt: skip
    result = _result("read_early_peaks.py", multiples=[1.0, 2.0, 3.0], within=0.99, runs=runs)
    lines = bench_report.read_early_peaks(result)
    assert "| `short` | 0 | 376 | 0.1 | 12% | 0.9500 | **0.9700** | 1.0000 |" in lines
    assert "| `long` | 1 | 9380 | 0.5 | — | **1.0000** | diverged | diverged |" in lines
    assert "| 1x the edge | 0.9750 | 1 of 2 | 0 |" in lines
    assert "| 3x the edge | 0.5000 | 1 of 2 | 1 |" in lines


def test_read_early_climbs_says_where_each_climb_stopped_and_sums_up_each_column() -> None:
    stopped = {
        "target_lr": 0.9, "reached": False, "peak_lr": 0.75, "stopped_at_step": 400,
        "rollback_step": 380, "discarded_steps": 20, "found_peak": True,
    }  # fmt: skip
    runs = [
        {
            "task": "short", "seed": 0, "route": "anchored_10pct", "finder_multiple": 2.0,
            "at_finder_multiple": 0.96, "at_climb_multiple": 0.0, "climb_diverged": True,
            "fit": 0.995, "climb": {**stopped, "reached": True, "discarded_steps": 0},
            "peak_multiple": 3.0,
        },
        {
            "task": "long", "seed": 1, "route": "in_fit", "finder_multiple": 1.0,
            "at_finder_multiple": 1.0, "at_climb_multiple": 0.98, "climb_diverged": False,
            "fit": 0.985, "climb": stopped, "peak_multiple": 2.5,
        },
    ]  # fmt: skip
    result = _result("read_early_climbs.py", climb_multiple=3.0, within=0.99, runs=runs)
    lines = bench_report.read_early_climbs(result)
    assert "| `short` | 0 | 2x | 0.9600 | diverged | 0.9950 | reached |" in lines
    assert (
        "| `long` | 1 | 1x | 1.0000 | 0.9800 | 0.9850 | stopped at 2.5x, 20 steps rolled back, "
        "peak found |" in lines
    )
    assert "| unguarded | 0.4900 | 0.0000 | 0 of 2 |" in lines
    assert "| climb | 0.9900 | 0.9850 | 1 of 2 |" in lines


def test_climb_targets_puts_each_targets_run_side_by_side_and_sums_up_each_target() -> None:
    died = {"reached": False, "stop_rule": "died_back", "peak_lr": 0.3, "discarded_steps": 9}
    reached = {"reached": True, "stop_rule": None, "peak_lr": 0.4, "discarded_steps": 0}

    def runs(climb: dict | None, scores: tuple[float | None, float]) -> list[dict]:
        return [
            {"task": "cnn", "seed": 0, "vs_holdout": scores[0], "climb": climb,
             "peak_multiple": 1.5},
            {"task": "cnn", "seed": 1, "vs_holdout": scores[1], "climb": None,
             "peak_multiple": None},
        ]  # fmt: skip

    multiples = {
        "3": {"runs": runs(reached, (0.98, 1.0)),
              "totals": {"runs": 2, "mean": 0.99, "worst": 0.98, "within": 1}},
        "4": {"runs": runs(died, (None, 1.0)),
              "totals": {"runs": 2, "mean": 0.5, "worst": 0.0, "within": 1}},
    }  # fmt: skip
    result = _result("climb_targets.py", within=0.99, aimed=4.0, multiples=multiples)
    lines = bench_report.climb_targets(result)
    assert "| `cnn` | 0 | 0.9800 R | — died back 1.5x |" in lines
    assert "| `cnn` | 1 | 1.0000 — | 1.0000 — |" in lines
    assert "| 4x | 0.5000 | 0.0000 | 1 of 2 |" in lines
    assert any("`finder.fit` aimed at 4x" in line for line in lines)
    assert any(
        "Highest mean: 3x; most runs within 1%: 3x; best worst run: 3x." in line for line in lines
    )
    assert (
        "Runs the guard stopped that still trained more than 1% below: `cnn` seed 0 at 4x: died "
        "back, annealed from 1.5x the edge, —." in lines
    )


def test_constant_trials_marks_each_seeds_pick_and_scores_it_by_its_full_run() -> None:
    task = {
        "lrs": [0.001, 0.01, 0.1],
        "trials": {
            "5": [
                {"seed": 0, "losses": [2.3, 2.25, 2.4], "pick": 0.01},
                {"seed": 1, "losses": [2.3, 2.3, 2.2], "pick": 0.1},
            ],
            "11": [
                {"seed": 0, "losses": [2.3, 1.5, None], "pick": 0.01},
                {"seed": 1, "losses": [2.3, 2.0, 1.9], "pick": 0.1},
            ],
        },
        "full_run_scores": [0.1, 0.9, 0.8],
        "chance": 0.1,
        "chance_loss": 2.5,
    }
    result = _result(
        "constant_trials.py", seeds=2, finder_steps=11, lengths=[5, 11], tasks={"t": task}
    )
    lines = bench_report.constant_trials(result)
    # The table shows finder's own trial length.
    assert "| `t` | 0.01 | 1.5 ✓, 2 | 0.9 |" in lines
    assert "| `t` | 0.1 | —, 1.9 ✓ | 0.8 |" in lines
    # Every length: the picks, how far below the chance loss each fell, the full run at each.
    assert "| `t` | 5 | 0.01, 0.1 | 10.0%, 12.0% | 0.9, 0.8 |" in lines
    assert "| `t` | 11 | 0.01, 0.1 | 40.0%, 24.0% | 0.9, 0.8 |" in lines
    assert (
        "- `t`: at 11 steps the trials picked 0.01, 0.1; the full runs at those LRs scored "
        "0.9, 0.8, the best full run 0.9 (chance 0.1)."
    ) in lines


def _dense(edge: float, verdict: str, ratio: float) -> dict[str, object]:
    return {
        "seed": 0,
        "edge_lr": edge,
        "verdict": verdict,
        "vs_holdout": ratio,
        "within": ratio >= 0.99,
    }


def test_sweep_density_puts_each_edge_over_the_densest_sweeps_and_sums_up_each_density() -> None:
    task = {
        "8": {"num_steps": 37, "seeds": [_dense(0.3, "unreliable", 0.95)]},
        "66": {"num_steps": 298, "seeds": [_dense(0.2, "reliable", 1.0)]},
    }
    result = _result("sweep_density.py", seeds=1, densities=[8, 66], tasks={"t": task})
    lines = bench_report.sweep_density(result)
    assert "| `t` | 8 | 1.50x | U | 0.9500 |" in lines
    assert "| | 66 | 1.00x | R | 1.0000 |" in lines
    assert "| 8 | 1.5x | 0.9500 | 0.9500 | 0 of 1 | 0 | 0 | 0 | 1 |" in lines
    assert "| 66 | 1x | 1.0000 | 1.0000 | 1 of 1 | 1 | 0 | 0 | 0 |" in lines
    summary = next(line for line in lines if line.startswith("Sparser than"))
    assert "0 of 1 first proposals trained within 1%" in summary and "above, 1 of 1." in summary
    assert "(1 at 8, 0 at 66 per density)" in summary


def test_the_frontier_names_the_runs_stored_with_their_cpus_vector_extensions() -> None:
    runs = {
        "fit": {"cnn": {"0": {"vector_extensions": "AVX2"}, "1": {}}},
        "in_fit": {"mlp": {"0": {"vector_extensions": "AVX-512"}}},
    }
    lines = bench_report.cpu_note({"runs": runs})
    assert lines[0].startswith(
        "Runs stored with the CPU's vector extensions, on a CPU with AVX-512: `mlp` (in_fit); "
        "on a CPU with AVX2: `cnn` (fit). Runs stored before these were recorded: 1."
    )
    assert bench_report.cpu_note({"runs": {"fit": {"cnn": {"0": {}}}}}) == []


def test_the_frontier_counts_where_the_oracles_own_schedule_meets_the_targets() -> None:
    meets = {"vs_oracle": 1.0, "worst_vs_oracle": 0.995, "vs_holdout": 1.0,
             "worst_vs_holdout": 0.99, "vs_default": 1.1}  # fmt: skip
    low_seed = {**meets, "worst_vs_oracle": 0.98}
    triples = {
        "oracle, seeds 3-5": {"a": meets, "b": low_seed},
        "oracle, seeds 6-8": {"a": low_seed, "b": {**low_seed, "worst_vs_holdout": 0.97}},
    }
    lines = bench_report.oracle_ceiling({"oracle_as_design": triples})
    assert (
        "oracle, seeds 3-5: 1 of 2 against the oracle's mean, 2 against the other triple's; "
        "oracle, seeds 6-8: 0 of 2 against the oracle's mean, 1 against the other triple's."
    ) in lines[0]
    assert bench_report.oracle_ceiling({}) == []


def _outside_runs(finder_scores: list, default_scores: list, verdict: str) -> dict:
    return {
        "finder": {
            str(seed): {"score": score, "verdict": verdict, "peak": 0.01, "extra_steps": 30}
            for seed, score in enumerate(finder_scores)
        },
        "default": {str(seed): {"score": score} for seed, score in enumerate(default_scores)},
    }


def test_outside_marks_the_pairs_more_than_1_percent_below_the_default() -> None:
    runs = {
        "lstm_seq": {"Adam": _outside_runs([0.6, 0.6, 0.6], [0.8, 0.8, 0.8], "unreliable")},
        "friedman_mlp": {
            "Lion": _outside_runs([0.1, 0.1, 0.1], [0.02, 0.02, 0.02], "reliable"),
            "Adafactor": _outside_runs([None] * 3, [None] * 3, "unreliable"),
        },
    }
    summary = {
        "lstm_seq": {"Adam": {"vs_default": 0.75, "verdicts": ["unreliable"] * 3}},
        "friedman_mlp": {
            "Lion": {"vs_default": 0.2, "verdicts": ["reliable"] * 3},
            "Adafactor": {"vs_default": None, "verdicts": ["unreliable"] * 3},
        },
    }
    lines = bench_report.outside(
        _result("outside.py", runs=runs, summary=summary, seeds=[0, 1, 2], epochs=10)
    )
    text = "\n".join(lines)
    assert "| `lstm_seq` | Adam | 0.6, 0.6, 0.6 | 0.8, 0.8, 0.8 | 0.7500 ✗ |" in text
    assert (
        "| `friedman_mlp` | Adafactor | NaN, NaN, NaN | NaN, NaN, NaN | no finite score |" in text
    )
    assert (
        "More than 1% below the default on 2 of 2 host-optimizer pairs with finite scores: "
        "`lstm_seq` with Adam (unreliable, unreliable, unreliable); `friedman_mlp` with Lion "
        "(reliable, reliable, reliable)."
    ) in text

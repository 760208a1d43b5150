"""Render BENCHMARKS.md from bench/results/*.json, so every figure there comes from a result
file written by a benchmark script. Run after any benchmark: `python bench/report.py`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def machine_line(result: dict[str, Any]) -> str:
    m = result["machine"]
    gpu = ", GPU" if m.get("gpu") else ", no GPU"
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB{gpu}; "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}. Run {result['date']} with "
        f"`{result['command']}`."
    )


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def overhead(result: dict[str, Any]) -> list[str]:
    setup = result["setup"]
    return [
        "## Range-test overhead per step (`bench/overhead.py`)",
        "",
        f"`fashion_cnn`, {setup['data']}, batch {setup['batch_size']}, {setup['steps']} steps "
        f"per run, {setup['rounds']} alternating rounds; per-step time between step 20 and the "
        "last step (tracing excluded), median over rounds.",
        "",
        "| arm | ms / step |",
        "|---|---|",
        f"| plain `model.fit` | {result['fit_ms_per_step']:.2f} |",
        f"| `finder.range_test` | {result['range_test_ms_per_step']:.2f} |",
        f"| **ratio** (target <= 1.10) | **{result['ratio']:.3f}** |",
        "",
        f"Load average {result['load_average']['before']:.2f} before, "
        f"{result['load_average']['after']:.2f} after.",
        machine_line(result),
        "",
    ]


def stability(result: dict[str, Any]) -> list[str]:
    last_seed = result["setup"]["seeds"] - 1
    lines = [
        "## Bounds across seeds (`bench/stability.py`)",
        "",
        f"Full Fashion-MNIST, `fashion_cnn`, plain SGD, batch 64; seeds 0..{last_seed} "
        "each set the model's initial weights and the batch order. Spread = max / min over "
        "seeds. Target: max bound spread <= 1.5x.",
        "",
    ]
    for name, config in result["configs"].items():
        lines += [
            f"**{name}**",
            "",
            "| seed | min_lr | max_lr | edge_lr | steepest | valley | minimum | steps | s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in config["seeds"]:
            lines.append(
                f"| {row['seed']} | {fmt(row['min_lr'])} | {fmt(row['max_lr'])} | "
                f"{fmt(row['edge_lr'])} | {fmt(row['steepest'])} | {fmt(row['valley'])} | "
                f"{fmt(row['minimum'])} | {row['steps']} | {row['seconds']} |"
            )
        spread = config["spread"]
        lines.append(
            f"| **spread** | {fmt(spread['min_lr'])}x | **{fmt(spread['max_lr'])}x** | "
            f"{fmt(spread['edge_lr'])}x | {fmt(spread['steepest'])}x | {fmt(spread['valley'])}x | "
            f"{fmt(spread['minimum'])}x | | |"
        )
        lines += ["", f"Meets the 1.5x target: {fmt(config['meets_target'])}.", ""]
    lines += [machine_line(result), ""]
    return lines


def reference_table(result: dict[str, Any]) -> list[str]:
    setup, summary = result["setup"], result["summary"]
    lines = [
        "## Reference table (`bench/reference_table.py`)",
        "",
        f"Full Fashion-MNIST, `fashion_cnn`, batch {setup['batch_size']}, {setup['epochs']} "
        f"epochs, seed {setup['seed']}; every row trained in one run on one machine. "
        "val_accuracy after the last epoch.",
        "",
        "| row | schedule | val_accuracy | training steps | train s |",
        "|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        schedule = row.get("schedule") or {}
        params = ", ".join(
            f"{k}={fmt(v)}" for k, v in schedule.get("params", {}).items() if k != "total_steps"
        )
        name = row["name"] + (" (diverged)" if row.get("diverged") else "")
        lines.append(
            f"| {name} | {schedule.get('family', '')} {params} | {row['val_accuracy']:.4f} | "
            f"{row['train_steps']} | {row['wall_s']} |"
        )
    lines.append("")
    for row in result["rows"]:
        if "range_test" in row:
            test = row["range_test"]
            bounds = test["bounds"]
            lines.append(
                f"- {row['name']}: range test {test['steps']} steps in {test['seconds']} s "
                f"(sweep {fmt(test['options']['min_lr'])}..{fmt(test['options']['max_lr'])}, "
                f"{test['options']['num_steps']} steps x {test['options']['repeats']}); bounds "
                f"{fmt(bounds['min_lr'])}..{fmt(bounds['max_lr'])}, edge {fmt(bounds['edge_lr'])}."
            )
    targets = summary["targets"]
    lines += [
        "",
        f"Oracle's best: {summary['oracle_best']} at {summary['oracle_best_val_accuracy']:.4f}, "
        f"after a grid search of {summary['oracle_search_steps']} training steps.",
        f"finder (row 5): {summary['finder_val_accuracy']:.4f} = "
        f"{100 * summary['finder_vs_oracle']:.1f}% of the oracle (target >= 99%: "
        f"{fmt(targets['finder >= 99% of oracle'])}), after a search of "
        f"{summary['finder_search_steps']} steps = "
        f"{100 * summary['finder_search_fraction_of_oracle']:.2f}% of the oracle's (target <= 2%: "
        f"{fmt(targets['finder search <= 2% of oracle steps'])}); beats rows 1-3: "
        f"{fmt(targets['finder beats rows 1-3'])}.",
        "",
        machine_line(result),
        "",
    ]
    return lines


SECTIONS: list[tuple[str, Callable[[dict[str, Any]], list[str]]]] = [
    ("reference_table", reference_table),
    ("stability", stability),
    ("overhead", overhead),
]


def main() -> None:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python bench/report.py` from `bench/results/*.json`; each section names "
        "the script, the machine and the command that produced its numbers. Nothing here is "
        "typed by hand.",
        "",
    ]
    for name, render in SECTIONS:
        result = load(name)
        if result is not None:
            lines += render(result)
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()

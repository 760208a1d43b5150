"""The benchmark suite's machinery (`bench/suite.py`): scoring, caching, the ScheduleFree score,
and (slow) one whole task end to end.

`bench/` is on the path through pytest's `pythonpath` (see pyproject.toml).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest
import suite
from tasks import TASKS


def test_ratio_reads_a_loss_the_other_way_round() -> None:
    accuracy, mse = TASKS["digits_rmsprop"], TASKS["diabetes_mse_adam"]
    assert suite.ratio(accuracy, 0.9, 0.95) == pytest.approx(0.9 / 0.95)
    assert suite.ratio(mse, 0.5, 0.45) == pytest.approx(0.45 / 0.5)
    assert suite.ratio(mse, None, 0.45) is None
    assert suite.better(accuracy, 0.9, 0.8) and not suite.better(mse, 0.9, 0.8)
    assert suite.better(mse, 0.5, None) and not suite.better(mse, None, 0.5)


def test_a_diverged_run_counts_as_chance_in_the_mean() -> None:
    task = TASKS["digits_rmsprop"]
    runs = [
        {"score": 0.9, "diverged": False},
        {"score": None, "diverged": True},
        {"score": 0.8, "diverged": False},
    ]
    summary = suite.summarize(task, runs)
    assert summary["mean"] == pytest.approx((0.9 + 0.1 + 0.8) / 3)
    assert (summary["min"], summary["max"], summary["diverged"]) == (0.1, 0.9, 1)


def test_refresh_drops_only_the_named_rows() -> None:
    labels = (
        "one_cycle@0.01#0", "default@0.001#0", "finder:one_cycle@0.02#0",
        "holdout/one_cycle@0.01#3",
    )  # fmt: skip
    runs: dict[str, dict[str, object]] = {label: {} for label in labels}
    document = {"tasks": {"digits_rmsprop": {"runs": runs, "range_tests": {"range_test#0": {}}}}}
    suite.refresh(document, ["digits_rmsprop"], ["finder"])
    entry = document["tasks"]["digits_rmsprop"]
    assert sorted(entry["runs"]) == [
        "default@0.001#0", "holdout/one_cycle@0.01#3", "one_cycle@0.01#0"
    ]  # fmt: skip
    suite.refresh(document, ["digits_rmsprop"], ["oracle_holdout"])
    assert sorted(entry["runs"]) == ["default@0.001#0", "one_cycle@0.01#0"]
    entry["runs"]["holdout/one_cycle@0.01#3"] = {}
    assert "range_test#0" in entry["range_tests"]
    suite.refresh(document, ["digits_rmsprop"], ["range_test"])
    assert "range_tests" not in entry
    suite.refresh(document, ["digits_rmsprop"], ["oracle"])
    assert sorted(entry["runs"]) == ["default@0.001#0"]


def test_the_schedule_free_score_evaluates_the_averaged_weights() -> None:
    task = TASKS["digits_rmsprop"]
    keras.backend.clear_session()
    model = task.build_model(0)
    optimizer = keras.optimizers.ScheduleFreeAdamW(0.01)
    task.compile(model, optimizer)
    data = task.load_data()
    scorer = suite.ScheduleFreeScore(task)
    model.fit(data.x_train[:256], data.y_train[:256], batch_size=32, epochs=1, verbose=0)
    y = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    z = [
        keras.ops.convert_to_numpy(optimizer._momentums[optimizer._get_variable_index(v)])
        for v in model.trainable_variables
    ]
    x = [(yi - 0.1 * zi) / 0.9 for yi, zi in zip(y, z, strict=True)]
    assert not all(np.allclose(xi, yi) for xi, yi in zip(x, y, strict=True))
    scorer.set_model(model)
    scorer.on_train_end()
    # The model keeps the weights training left (y); the score was taken at x.
    for variable, yi in zip(model.trainable_variables, y, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), yi)
    for variable, xi in zip(model.trainable_variables, x, strict=True):
        variable.assign(xi)
    expected = model.evaluate(data.x_val, data.y_val, batch_size=task.batch_size, verbose=0)[1]
    assert scorer.score_x == pytest.approx(expected)


@pytest.mark.slow
def test_one_task_end_to_end(tmp_path: Path) -> None:
    """The whole protocol on the cheapest task (about 3 minutes): every row, over its seeds."""
    out = tmp_path / "suite.json"
    suite.main(["--task", "digits_rmsprop", "--out", str(out)])
    entry = json.loads(out.read_text())["tasks"]["digits_rmsprop"]
    rows = entry["rows"]
    assert set(rows) == set(suite.ROWS)
    for name in suite.ROWS:
        seeds = len(suite.HOLDOUT_SEEDS) if name == "oracle_holdout" else len(suite.SEEDS)
        assert rows[name]["seeds"] == seeds and rows[name]["diverged"] == 0, name
    oracle = rows["oracle"]
    assert len(oracle["grid_peaks"]) >= suite.GRID_POINTS
    assert math.log10(oracle["grid_peaks"][-1] / oracle["grid_peaks"][0]) >= 2 - 1e-9
    # The oracle is the best confirmed configuration, and its seed-0 run is in the grid.
    assert oracle["mean"] == max(row["mean"] for row in oracle["confirmed"])
    # Its schedule again, with the held-out seeds only: none of the grid's runs among them.
    assert rows["oracle_holdout"]["spec"] == oracle["spec"]
    held_out = [label for label in entry["runs"] if label.startswith(suite.HOLDOUT)]
    assert sorted(label[-1] for label in held_out) == [str(s) for s in suite.HOLDOUT_SEEDS]
    grid_steps = sum(
        run["train_steps"] for label, run in entry["runs"].items() if suite._is_oracle(label)
    )
    assert oracle["grid_train_steps"] == grid_steps and not any(map(suite._is_oracle, held_out))
    finder_row = rows["finder"]
    assert finder_row["vs_oracle"] == pytest.approx(finder_row["mean"] / oracle["mean"])
    assert 0 < finder_row["range_test_steps"] <= TASKS["digits_rmsprop"].plan.total_steps
    # finder's proposal must be a real contender on this task (measured: 0.994 of the oracle).
    assert finder_row["vs_oracle"] >= 0.98
    # A second run reuses every cached run: nothing is trained again.
    before = out.read_text()
    suite.main(["--task", "digits_rmsprop", "--out", str(out)])
    after = json.loads(out.read_text())["tasks"]["digits_rmsprop"]
    assert after["runs"] == json.loads(before)["tasks"]["digits_rmsprop"]["runs"]

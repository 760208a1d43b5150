"""`finder tune`, in-process with click's CliRunner: exit codes, files and output."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from finder.cli import cli
from finder.jobs import RunSpec, run_spec
from finder.rangetest.result import RangeTestResult
from finder.tuning import TUNABLE_FAMILIES, TuningResult

FAST = ["--model", "mlp", "--epochs", "1", "--max-trials", "2", "--tuner", "random"]


@pytest.fixture(scope="module")
def range_test_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = RunSpec(model="mlp", num_steps=60, repeats=1, validation=False)
    return run_spec(spec).save(tmp_path_factory.mktemp("range") / "result.json")


def test_families_help_lists_every_tunable_family() -> None:
    result = CliRunner().invoke(cli, ["tune", "--help"])
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    listed = help_text.split("families, from ", 1)[1].split(". Default", 1)[0]
    assert tuple(name.strip() for name in listed.split(",")) == TUNABLE_FAMILIES


def test_tune_with_a_saved_range_test_prints_trials_and_the_best_schedule(
    tmp_path: Path, range_test_file: Path
) -> None:
    out = tmp_path / "out"
    args = ["tune", *FAST, "--result", str(range_test_file), "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    tuning = TuningResult.load(out / "tuning.json")  # validates against the schema
    assert not (out / "result.json").exists()
    assert tuning.range_test is not None
    assert tuning.range_test.to_dict() == RangeTestResult.load(range_test_file).to_dict()
    assert len(tuning.trials) == 2 and tuning.plan["epochs"] == 1
    for trial in tuning.trials:  # one progress line per finished trial, on stderr
        assert f"trial {trial.trial_id}  completed  {trial.family}" in result.stderr
    assert "Schedules tried (random, val_loss min)" in result.stdout
    assert "best schedule for 1 epochs" in result.stdout
    assert "learning_rate = " in result.stdout


def test_tune_runs_the_range_test_first_and_prints_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["tune", *FAST, "--lr-range", "1e-4", "10", "--steps", "60", "--repeats", "1"]
    args += ["--json", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    printed = TuningResult.from_json(result.stdout)
    assert printed.to_dict() == TuningResult.load(out / "tuning.json").to_dict()
    saved = RangeTestResult.load(out / "result.json")
    assert printed.range_test is not None
    assert printed.range_test.to_dict() == saved.to_dict()
    assert saved.config["num_steps"] == 60
    assert "range test" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--families", "warp_drive"], "Argument `families` must be"),  # unknown family
        (["--objective", "loss"], "must be a validation metric"),  # not scored on validation
    ],
)
def test_tune_errors_are_one_line(
    tmp_path: Path, range_test_file: Path, extra: list[str], message: str
) -> None:
    args = ["tune", *FAST, "--result", str(range_test_file), "--out", str(tmp_path), *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output

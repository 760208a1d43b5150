"""`finder run` and `finder plot`, in-process with click's CliRunner: exit codes and output."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from finder.cli import cli
from finder.rangetest.result import RangeTestResult

# The pre-auto default range, swept explicitly: fast and deterministic.
FAST = [
    "--lr-range",
    "1e-4",
    "10",
    "--steps",
    "20",
    "--repeats",
    "1",
    "--epochs",
    "2",
    "--model",
    "mlp",
]


@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    x = rng.integers(0, 255, size=(160, 28, 28, 1)).astype("uint8")
    y = np.arange(160) % 10
    np.savez(path, x_train=x, y_train=y, x_val=x[:40], y_val=y[:40])
    return path


def test_run_writes_result_and_curve_and_prints_tables(tmp_path, tiny_npz):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", *FAST, "--data", str(tiny_npz), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "bounds.max_lr" in result.stdout and "steepest" in result.stdout
    assert "Schedule proposals for 2 epochs x 3 steps" in result.stdout
    saved = RangeTestResult.load(out / "result.json")  # validates against the schema
    assert saved.config["num_steps"] == 20 and saved.model["name"] == "mlp"
    assert saved.metadata["run"]["data"] == str(tiny_npz)
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "schedules.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_json_prints_only_the_result_on_stdout(tmp_path, tiny_npz):
    result = CliRunner().invoke(
        cli,
        [
            "run",
            *FAST,
            "--data",
            str(tiny_npz),
            "--out",
            str(tmp_path),
            "--json",
            "--optimizer",
            "sgd",
            "--opt",
            "momentum=0.9",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema_version"] == 2
    assert document["optimizer"]["config"]["momentum"] == pytest.approx(0.9)
    assert document["proposals"][0]["spec"]["params"]["cycle_momentum"] is True


def test_run_also_writes_tensorboard_and_logs_to_mlflow(tmp_path, tiny_npz, monkeypatch):
    from mlflow import MlflowClient

    from tests.utils.events import read_events, scalars

    monkeypatch.chdir(tmp_path)  # MLflow's artifacts go to ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    arguments = ["--data", str(tiny_npz), "--out", "out", "--tensorboard", "tb", "--mlflow"]
    result = CliRunner().invoke(cli, ["run", *FAST, *arguments])
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.load(tmp_path / "out" / "result.json")
    _, losses = scalars(read_events(tmp_path / "tb"), "range_test/loss")
    np.testing.assert_allclose(losses, saved.losses, rtol=1e-6)
    run_id = result.stderr.split("logged to MLflow run ")[1].split()[0]
    client = MlflowClient(uri)
    assert float(client.get_run(run_id).data.params["bounds.max_lr"]) == saved.bounds.max_lr
    assert len(client.get_metric_history(run_id, "range_test/loss")) == len(saved.losses)


def test_run_mlflow_without_the_extra_fails_before_the_sweep(tmp_path, tiny_npz, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now fails
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", *FAST, "--data", str(tiny_npz), "--out", str(out), "--mlflow"]
    )
    assert result.exit_code == 1
    assert "pip install 'finder[mlflow]'" in result.stderr
    assert not out.exists()


def test_run_on_a_user_keras_model(tmp_path, tiny_npz):
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    data = np.load(tiny_npz)
    model.fit(data["x_train"], data["y_train"], epochs=1, verbose=0)  # users save trained models
    model.save(tmp_path / "user.keras")
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--steps",
            "20",
            "--repeats",
            "1",
            "--model",
            str(tmp_path / "user.keras"),
            "--data",
            str(tiny_npz),
            "--out",
            str(tmp_path / "o"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["optimizer"]["name"] == "Adam"  # the file's own optimizer


def junk_model(tmp_path):
    path = tmp_path / "junk.keras"
    path.write_text("not a model")
    return str(path)


def mismatched_npz(tmp_path):
    path = tmp_path / "small.npz"
    np.savez(path, x_train=np.zeros((20, 5, 5, 1), "uint8"), y_train=np.zeros(20, "int64"))
    return str(path)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # Missing data file.
        (lambda p: ["--data", str(p / "missing.npz")], "does not exist"),
        # Unreadable model file.
        (lambda p: ["--model", junk_model(p)], "not a .keras archive"),
        # Refused model format.
        (lambda p: ["--model", str(p / "model.h5")], "only Keras v3"),
        # Images that do not fit the model.
        (lambda p: ["--model", "fashion_cnn", "--data", mismatched_npz(p)], "shape"),
        # Inverted range.
        (lambda p: ["--lr-range", "1", "0.1"], "min_lr"),
        # Non-positive steps.
        (lambda p: ["--steps", "0"], "num_steps"),
        # Unknown optimizer.
        (lambda p: ["--optimizer", "nope"], "nope"),
        # Unknown dataset.
        (lambda p: ["--data", "imagenet"], "Unknown dataset"),
    ],
)
def test_bad_input_gives_one_line_and_exit_1(tmp_path, arguments, message):
    result = CliRunner().invoke(cli, ["run", "--out", str(tmp_path / "o"), *arguments(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert not (tmp_path / "o" / "result.json").exists()


def test_plot_redraws_a_saved_result_and_refuses_other_json(tmp_path, tiny_npz):
    runner = CliRunner()
    assert (
        runner.invoke(
            cli, ["run", *FAST, "--data", str(tiny_npz), "--out", str(tmp_path)]
        ).exit_code
        == 0
    )
    svg = tmp_path / "again.svg"
    result = runner.invoke(cli, ["plot", str(tmp_path / "result.json"), "--out", str(svg)])
    assert result.exit_code == 0 and svg.read_text().lstrip().startswith("<?xml")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    result = runner.invoke(cli, ["plot", str(tmp_path / "other.json")])
    assert result.exit_code == 1 and "Not a finder range-test result" in result.stderr


def test_help_lists_commands_without_loading_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys; from finder.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('tensorflow' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "run" in output.stdout and "plot" in output.stdout
    assert output.stdout.strip().endswith("False")


def test_the_auto_range_progress_bar_counts_to_the_budget_it_was_given(monkeypatch):
    """The bar opens at the default budget; the auto test sizes its budget to the data and the
    plan (630 steps for the quick start's sample), and the bar must end at that, not at 1500."""
    import io

    from rich.console import Console

    from finder.cli import console
    from finder.rangetest.progress import SweepProgress

    captured = io.StringIO()
    monkeypatch.setattr(console, "stderr", Console(file=captured, width=160))
    with console.sweep_progress(total=1500) as update:
        for step in range(40):
            phase = "coarse" if step < 30 else "refine"
            before = 0 if step < 30 else 30
            update(
                SweepProgress(
                    repeat=0 if step < 30 else 1,
                    repeats=1,
                    step=step - before,
                    num_steps=30,
                    lr=1e-3,
                    loss=1.0,
                    smoothed_loss=1.0,
                    phase=phase,
                    steps_before=before,
                    budget=40,
                )
            )
    shown = captured.getvalue()
    assert "40/40" in shown and "1500" not in shown


def test_the_progress_bar_ends_at_the_steps_the_test_ran(monkeypatch):
    """A sweep that stops early ran fewer steps than the bar counted to: the bar ends at N/N."""
    import io

    from rich.console import Console

    from finder.cli import console
    from finder.rangetest.progress import SweepProgress

    captured = io.StringIO()
    monkeypatch.setattr(console, "stderr", Console(file=captured, width=160))
    with console.sweep_progress(total=1500) as update:
        for step in range(25):
            update(
                SweepProgress(
                    repeat=0, repeats=0, step=step, num_steps=40, lr=1e-3, loss=1.0,
                    smoothed_loss=1.0, budget=40,
                )
            )  # fmt: skip
        update.finish(26)  # the 26th loss was not finite: no event reports it
    (last,) = captured.getvalue().strip().splitlines()[-1:]
    assert "26/26" in last and "sweep 1 " in last


def test_run_ends_its_progress_bar_at_the_steps_it_ran(tmp_path, tiny_npz):
    arguments = [*FAST, "--data", str(tiny_npz), "--out", str(tmp_path)]
    arguments[arguments.index("10")] = "1000"  # diverges well before the grid's end
    result = CliRunner().invoke(cli, ["run", *arguments])
    assert result.exit_code == 0, result.output
    steps = RangeTestResult.load(tmp_path / "result.json").steps_run
    assert steps < 20
    (bar,) = [line for line in result.stderr.splitlines() if line.startswith("range test")]
    assert f" {steps}/{steps} " in bar


def test_several_sweeps_show_each_sweeps_range_and_say_where_the_lr_comes_from(tmp_path, tiny_npz):
    arguments = [*FAST, "--data", str(tiny_npz), "--out", str(tmp_path)]
    arguments[arguments.index("--repeats") + 1] = "2"
    result = CliRunner().invoke(cli, ["run", *arguments])
    assert result.exit_code == 0, result.output
    assert "each sweep alone (2)" in result.stdout
    assert "lr: read off the median of the sweeps' curves" in result.stdout


def test_the_quick_start_job_costs_a_hundred_steps_of_its_630_step_plan(tmp_path):
    """`finder run` on its bundled default (README's quick start): fashion_cnn + SGD on the
    4,000-image sample, a 10-epoch plan of 630 steps. A tenth of it is under the 100 steps any
    finder needs, so the test costs 100 steps and says so."""
    result = CliRunner().invoke(cli, ["run", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.load(tmp_path / "result.json")
    assert saved.extra_steps == saved.steps_run <= 100
    assert saved.config["plan_steps"] == 630
    assert f"cost: {saved.extra_steps} steps added to your training" in result.output
    assert "of the 630-step plan" in result.output
    assert saved.proposals and saved.proposals[0].family == "one_cycle"


def test_a_command_whose_extra_is_missing_says_what_to_install(monkeypatch):
    import importlib

    cli_main = importlib.import_module("finder.cli.main")  # the module, not its `main`

    class MissingExtra:
        name = "serve"

        def load(self):
            raise ImportError("No module named 'pydantic'")

    monkeypatch.setattr(cli_main, "plugin_commands", lambda: {"serve": MissingExtra()})
    listed = CliRunner().invoke(cli, ["--help"])
    # The listing shortens the help: the install line comes first, so it is what shows.
    assert "serve  (unavailable: pip install 'finder[service]'" in listed.output
    used = CliRunner().invoke(cli, ["serve"])
    assert used.exit_code == 1
    assert "needs the service extra: pip install 'finder[service]'" in used.output
    assert "No module named 'pydantic'" in used.output


def test_help_texts_docstrings_and_readme_state_the_defaults_the_code_uses():
    """Each figure below is read from `finder.defaults`, where the code reads it too, and
    searched in every text that states it."""
    import re
    from pathlib import Path

    import finder
    from finder.defaults import DEFAULT_BUDGET, MAX_STEPS_PER_DECADE, MIN_PLAN_BUDGET, PLAN_FRACTION
    from finder.rangetest.config import RangeTestConfig

    def words(text: str) -> str:
        return re.sub(r"\s+", " ", text)

    help_text = words(CliRunner().invoke(cli, ["run", "--help"]).output)
    assert f"{PLAN_FRACTION:.0%} of the training plan, at least {MIN_PLAN_BUDGET}" in help_text
    assert f"{DEFAULT_BUDGET} without a plan" in help_text
    assert f"at most {MAX_STEPS_PER_DECADE} per decade" in help_text
    docstring = words(finder.range_test.__doc__ or "")
    assert f"(at least {MIN_PLAN_BUDGET}; {DEFAULT_BUDGET} without a plan)" in docstring
    # The settings' own documentation is generated from their help texts.
    settings_doc = words(RangeTestConfig.__doc__ or "")
    assert f"at least {MIN_PLAN_BUDGET}; {DEFAULT_BUDGET} without a plan" in settings_doc
    assert f"most {MAX_STEPS_PER_DECADE} per decade" in settings_doc
    assert f"(at least {MIN_PLAN_BUDGET})" in words(finder.LearningRateFinder.__doc__ or "")
    readme = words((Path(__file__).parents[1] / "README.md").read_text())
    assert f"at least {MIN_PLAN_BUDGET} steps, and {DEFAULT_BUDGET} without a plan" in readme
    assert f"at most {MAX_STEPS_PER_DECADE} steps per decade" in readme


def test_ftrl_shows_its_constant_lr_trials_in_place_of_suggestions(tmp_path, tiny_npz):
    arguments = ["--model", "mlp", "--optimizer", "ftrl", "--epochs", "2", "--batch-size", "16"]
    result = CliRunner().invoke(
        cli, ["run", *arguments, "--data", str(tiny_npz), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.load(tmp_path / "result.json")
    trials = saved.auto["trials"]
    assert "Constant-LR trials (11 steps each" in result.stdout
    assert "steepest" not in result.stdout
    assert f"from {len(trials['trials'])} trials, {saved.steps_run} steps" in result.stdout
    (bar,) = [line for line in result.stderr.splitlines() if line.startswith("range test")]
    assert f" {saved.steps_run}/{saved.steps_run} " in bar


def test_the_outcome_says_where_a_climb_stopped_and_validates(tmp_path, tiny_npz, capsys):
    """A result whose fit climbed past an edge read early (`finder.lr_finder.climb`): the
    console says where the climb stopped, and the document with its `climb` validates."""
    import dataclasses

    from finder.cli import console

    out = tmp_path / "out"
    auto = ["--epochs", "2", "--model", "mlp"]  # the auto range: a climb follows only one
    ran = CliRunner().invoke(cli, ["run", *auto, "--data", str(tiny_npz), "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    saved = RangeTestResult.load(out / "result.json")
    assert saved.auto is not None
    climb = {
        "target_lr": 0.9, "reached": False, "peak_lr": 0.5, "stopped_at_step": 120,
        "rollback_step": 110, "discarded_steps": 10,
    }  # fmt: skip
    climbed = dataclasses.replace(saved, auto={**(saved.auto or {}), "climb": climb})
    capsys.readouterr()
    console._print_outcome(climbed, "range test")
    printed = capsys.readouterr().out
    assert "climb: the warm-up climbed towards 0.9 and stopped at step 120" in printed
    assert "annealing from 0.5 (10 steps rolled back, in the cost)" in printed
    # Why it stopped, by the rule the guard recorded.
    for rule, says in [
        ("died_back", "at step 120 where the training loss gave back most of its fall, annealing"),
        ("rise", "stopped at step 120 where the training loss rose, annealing from 0.5"),
        (None, "and the fit ended at step 120, before the warm-up did, at 0.5"),
    ]:
        ruled = {**climb, "stop_rule": rule}
        console._print_outcome(dataclasses.replace(climbed, auto={**saved.auto, "climb": ruled}),
                               "range test")  # fmt: skip
        assert says in " ".join(capsys.readouterr().out.split())  # the console wraps lines
    climbed.save(tmp_path / "climbed.json")
    assert RangeTestResult.load(tmp_path / "climbed.json").auto["climb"] == climb

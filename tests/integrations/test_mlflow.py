"""MLflow: params, metric histories and artifacts logged to a real local store (SQLite: MLflow
>= 3.13 refuses the file store by default), read back with MlflowClient."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from finder.errors import InvalidArgumentError, MissingDependencyError
from finder.integrations.curve import validation_steps
from finder.integrations.mlflow import run_params


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite tracking store in a temporary folder (creating one takes seconds, so the
    module's tests share it; each checks its own run). Artifacts go to ./mlruns: work there."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        yield MlflowClient(uri)


def history(client, run_id, key):
    points = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
    return [m.step for m in points], [m.value for m in points]


def test_a_new_run_holds_params_metric_histories_and_artifacts(store, range_result):
    run_id = range_result.log_to_mlflow()
    run = store.get_run(run_id)
    assert run.info.status == "FINISHED"  # the run it started, it ended
    params = run.data.params
    bounds = range_result.bounds
    assert float(params["bounds.max_lr"]) == bounds.max_lr
    assert float(params["bounds.min_lr"]) == bounds.min_lr
    assert params["stop_reason"] == range_result.stop_reason
    for name, value in range_result.suggestions.items():
        assert params[f"suggestion.{name}"] == str(value)
    for key, field in [
        ("range_test/loss", "losses"),
        ("range_test/smoothed_loss", "smoothed_losses"),
        ("range_test/learning_rate", "lrs"),
    ]:
        steps, values = history(store, run_id, key)
        assert steps == list(range(len(range_result.lrs)))
        np.testing.assert_allclose(values, getattr(range_result, field), rtol=1e-12)
    steps, values = history(store, run_id, "range_test/val_loss")
    assert steps == validation_steps(range_result.lrs, range_result.val_lrs)
    np.testing.assert_allclose(values, range_result.val_losses, rtol=1e-12)
    assert sorted(a.path for a in store.list_artifacts(run_id)) == ["curve.png", "result.json"]
    logged = json.loads(Path(store.download_artifacts(run_id, "result.json")).read_text())
    assert logged == range_result.to_dict()


def test_logs_to_the_active_run_and_leaves_it_open(store, range_result):
    with mlflow.start_run() as active:
        mlflow.log_param("epochs", 10)
        assert range_result.log_to_mlflow() == active.info.run_id
        assert store.get_run(active.info.run_id).info.status == "RUNNING"
    params = store.get_run(active.info.run_id).data.params
    assert params["epochs"] == "10" and "bounds.max_lr" in params


def test_logs_to_a_given_run(store, range_result):
    experiment = store.create_experiment("given")
    run = store.create_run(experiment)
    assert range_result.log_to_mlflow(run) == run.info.run_id
    assert "bounds.max_lr" in store.get_run(run.info.run_id).data.params


def test_params_are_text_mlflow_can_hold(range_result):
    params = run_params(range_result)
    assert all(isinstance(v, str) and len(v) <= 6000 for v in params.values())
    assert params["bounds.max_lr"] == repr(range_result.bounds.max_lr)


def test_a_bad_run_argument_is_refused(range_result):
    with pytest.raises(InvalidArgumentError, match="Argument `run`"):
        range_result.log_to_mlflow(run=42)


def test_without_mlflow_the_error_says_what_to_install(range_result, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now fails
    with pytest.raises(MissingDependencyError, match=r"pip install 'finder\[mlflow\]'"):
        range_result.log_to_mlflow()

"""MLflow: a range test's bounds and suggestions as params, its curve as metric histories, and
result.json and curve.png as artifacts of a run.

`log_range_test(result, run=None)` (also `RangeTestResult.log_to_mlflow` and
`finder run --mlflow`) logs to `run` when given, else to the active run, else to a new run
that it ends. The tracking URI is MLflow's own (`MLFLOW_TRACKING_URI`, `mlflow.set_tracking_uri`,
else MLflow's default, `sqlite:///mlflow.db` in the working directory since MLflow 3.7); so are
the experiment (`MLFLOW_EXPERIMENT_NAME` / `_ID`) and, for the CLI, `MLFLOW_RUN_ID`.

- params: `bounds.min_lr`, `bounds.max_lr`, `bounds.edge_lr`, `bounds.note` (when there is
  one), `suggestion.<rule>` for every rule (`None` where the rule does not apply), and
  `stop_reason`;
- metrics, one value per sweep step: `range_test/loss`, `range_test/smoothed_loss`,
  `range_test/learning_rate`, and `range_test/val_loss` at the steps it was scored
  (`finder.integrations.curve`);
- artifacts: `result.json` (the result document) and `curve.png` (its figure).

MLflow is an optional extra, `pip install 'finder[mlflow]'`: mlflow-skinny plus what its SQL
store needs (SQLAlchemy, alembic), since MLflow 3.13 and later refuse the `file:` store unless
`MLFLOW_ALLOW_FILE_STORE=true` and the usual local store is SQLite. Without it,
`MissingDependencyError` says what to install.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from finder.errors import InvalidArgumentError, MissingDependencyError
from finder.integrations.curve import PREFIX, curve_series

INSTALL_HINT = "pip install 'finder[mlflow]'"


def mlflow_module() -> Any:
    """The `mlflow` module, or a `MissingDependencyError` that says what to install."""
    try:
        import mlflow
    except ImportError as exc:
        raise MissingDependencyError(
            f"Logging to MLflow needs the mlflow extra: {INSTALL_HINT} ({exc})"
        ) from exc
    return mlflow


def run_params(result: Any) -> dict[str, str]:
    """The params logged for `result`: bounds, suggestions and why the sweep stopped."""
    bounds = result.bounds
    params = {
        "bounds.min_lr": bounds.min_lr,
        "bounds.max_lr": bounds.max_lr,
        "bounds.edge_lr": bounds.edge_lr,
        "stop_reason": result.stop_reason,
    }
    if bounds.note:
        params["bounds.note"] = bounds.note
    params.update({f"suggestion.{name}": value for name, value in result.suggestions.items()})
    # MLflow stores params as text: str() keeps a float's every digit and writes None as "None".
    return {key: str(value) for key, value in params.items()}


def _run_id(run: Any) -> str:
    """A run id from an id string, an `mlflow.ActiveRun` or an `mlflow.entities.Run`."""
    if isinstance(run, str):
        return run
    info = getattr(run, "info", None)
    run_id = getattr(info, "run_id", None)
    if not isinstance(run_id, str):
        raise InvalidArgumentError(
            f"Argument `run` must be None, a run id or an MLflow run. Received: run={run!r}"
        )
    return run_id


def _log(mlflow: Any, result: Any, run_id: str) -> None:
    from mlflow.entities import Metric, Param

    client = mlflow.MlflowClient()
    timestamp = int(time.time() * 1000)
    metrics = [
        Metric(PREFIX + name, value, timestamp, step)
        for name, points in curve_series(result).items()
        for step, value in points
    ]
    params = [Param(key, value) for key, value in run_params(result).items()]
    # log_batch splits into MLflow's per-request limits (1000 metrics, 100 params) itself.
    client.log_batch(run_id, metrics=metrics, params=params)
    with tempfile.TemporaryDirectory(prefix="finder-mlflow-") as folder:
        result_path = result.save(Path(folder) / "result.json")
        curve_path = Path(folder) / "curve.png"
        result.plot(curve_path)
        client.log_artifact(run_id, str(result_path))
        client.log_artifact(run_id, str(curve_path))


def log_range_test(result: Any, run: Any = None) -> str:
    """Log a range-test result to an MLflow run.

    Args:
        result: a `RangeTestResult`.
        run: None, a run id, an `mlflow.ActiveRun` or an `mlflow.entities.Run`. None logs to
            the active run, or to a new run (named after the model) that is ended afterwards.
            Defaults to `None`.

    Returns:
        The run id.

    Raises:
        MissingDependencyError: mlflow is not installed.
        InvalidArgumentError: `run` is none of the above.
    """
    mlflow = mlflow_module()
    if run is None:
        run = mlflow.active_run()
    if run is not None:
        run_id = _run_id(run)
        _log(mlflow, result, run_id)
        return run_id
    name = f"finder range test: {result.model.get('name', 'model')}"
    with mlflow.start_run(run_name=name) as started:
        _log(mlflow, result, started.info.run_id)
    return str(started.info.run_id)

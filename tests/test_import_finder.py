"""`import finder` is enough: the documented submodules resolve, and a model saved mid-training
with any of finder's schedules or callbacks loads in a fresh process after a plain
`import finder` (Keras looks custom classes up only in its registry, never by module)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import keras
import pytest

import finder
from finder.schedules import ScheduleSpec
from tests.schedules.resume_worker import RESUME_SPECS, build_model, make_data
from tests.utils.processes import run_python

# Every family a ScheduleSpec builds: finder's own schedules (one_cycle with its momentum
# cycler, cyclical, wsd), Keras built-ins (cosine_warmup, ...) and the plateau callback.
SPECS: dict[str, dict[str, Any]] = {
    **RESUME_SPECS,
    "plateau": {
        "family": "plateau",
        "params": {"initial_lr": 0.05, "patience": 1, "monitor": "loss"},
    },
    "constant": {"family": "constant", "params": {"learning_rate": 0.05}},
}
# What the fresh process reports for every saved model.
LOAD_SCRIPT = """
import json, sys
import finder
import keras

report = {}
for path in sys.argv[1:]:
    model = keras.models.load_model(path)
    schedule = model.optimizer._learning_rate
    report[path] = {
        "schedule": type(schedule).__name__,
        "iterations": int(model.optimizer.iterations),
        "learning_rate": float(model.optimizer.learning_rate),
    }
print(json.dumps({"backend": keras.backend.backend(), "models": report}))
"""


def run_fresh(code: str, *args: str, backend: str | None = None) -> str:
    env = dict(os.environ)
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    return run_python("-c", code, *args, env=env).stdout


class SaveAfterFirstEpoch(keras.callbacks.Callback):
    """Saves the model after epoch 0 of 2 and notes the LR its next step will use."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.saved: dict[str, Any] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch == 0:
            self.model.save(self.path)
            optimizer = self.model.optimizer
            self.saved = {
                "schedule": type(optimizer._learning_rate).__name__,
                "iterations": int(optimizer.iterations),
                "learning_rate": float(optimizer.learning_rate),
            }


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """For every family: the file saved mid-training and what the optimizer held then."""
    directory = tmp_path_factory.mktemp("saved")
    x, y = make_data()
    models: dict[str, dict[str, Any]] = {}
    for name, data in SPECS.items():
        spec = ScheduleSpec.from_dict(data)
        saver = SaveAfterFirstEpoch(directory / f"{name}.keras")
        callbacks = [*spec.callbacks(), finder.LearningRateLogger(per_batch=True), saver]
        model = build_model(spec)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=callbacks)
        models[str(saver.path)] = saver.saved
    return models


def test_plain_import_is_light_and_resolves_the_documented_names():
    code = (
        "import sys, finder\n"
        "light = 'keras' not in sys.modules\n"
        "names = [finder.schedules.ScheduleSpec, finder.schedules.OneCycle, finder.tuning.tune,\n"
        "         finder.rangetest.result.RangeTestResult, finder.data.load_fashion_mnist_sample,\n"
        "         finder.zoo.build_model, finder.suggest.smith_bounds, finder.plot.plot_schedule]\n"
        "print(light, all(n is not None for n in names))"
    )
    assert run_fresh(code).split() == ["True", "True"]


def test_what_finder_run_imports_leaves_keras_tuner_unloaded():
    # `finder run` never tunes: keras-tuner (and its TensorBoard dependency) stays out.
    code = (
        "import sys, finder.cli.run, finder.jobs\n"
        "print('keras_tuner' in sys.modules, finder.tuning.tune is not None)"
    )
    assert run_fresh(code).split()[0] == "False"


def test_keras_imported_after_finder_knows_finders_schedules():
    code = (
        "import finder, keras\n"
        "print(keras.saving.get_registered_object('finder>OneCycle').__module__)"
    )
    assert run_fresh(code).strip() == "finder.schedules.one_cycle"


@pytest.mark.parametrize(
    "backend",
    [
        None,  # TensorFlow, the default
        pytest.param(
            "jax",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("jax") is None, reason="jax not installed (dev extra)"
            ),
        ),
    ],
)
def test_models_saved_mid_training_load_after_a_plain_import(
    saved: dict[str, dict[str, Any]], backend: str | None
):
    output = run_fresh(LOAD_SCRIPT, *saved, backend=backend)
    document = json.loads(output.strip().splitlines()[-1])
    assert document["backend"] == (backend or "tensorflow")
    loaded = document["models"]
    assert {Path(p).stem: v["schedule"] for p, v in loaded.items()}["one_cycle"] == "OneCycle"
    for path, before in saved.items():
        # Same schedule class, same step, same LR for the next step: training resumes as is.
        after = loaded[path]
        assert after["schedule"] == before["schedule"], path
        assert after["iterations"] == before["iterations"] == 4, path
        assert after["learning_rate"] == pytest.approx(before["learning_rate"], rel=1e-6), path

"""User model files: only safe .keras archives load; nothing in a refused file runs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import pytest

from finder.errors import ModelError, UnsafeModelError
from finder.model_files import check_config, inspect_archive, load_model_file
from finder.schedules import OneCycle


def save_model(path: Path, model: keras.Model) -> Path:
    model.save(path)
    return path


def tiny_model(compile_with=None) -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    if compile_with is not None:
        model.compile(optimizer=compile_with, loss="mse")
    return model


def test_a_compiled_model_with_a_finder_schedule_loads(tmp_path):
    path = save_model(tmp_path / "m.keras", tiny_model(keras.optimizers.SGD(OneCycle(0.1, 100))))
    model = load_model_file(path)
    assert isinstance(model.optimizer._learning_rate, OneCycle)


def test_lambda_layer_is_refused_before_loading_and_never_runs(tmp_path):
    sentinel = tmp_path / "sentinel"
    inputs = keras.Input((3,))
    # Keras stores this function's bytecode in the file; running it would create the sentinel.
    outputs = keras.layers.Lambda(lambda t, s=str(sentinel): (Path(s).touch(), t)[1])(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    sentinel.unlink(missing_ok=True)  # building the model ran it once; start clean
    with pytest.raises(UnsafeModelError, match="Lambda"):
        load_model_file(path)
    assert not sentinel.exists()


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"class_name": "TFSMLayer", "module": "keras.layers", "config": {}}, "TFSMLayer"),
        ({"class_name": "TorchModuleWrapper", "module": "keras.layers", "config": {}}, "Torch"),
        ({"class_name": "Popen", "module": "subprocess", "config": {}}, "subprocess"),
        ({"class_name": "Evil", "module": "keras.layers", "registered_name": "x>Evil"}, "custom"),
        (
            {
                "class_name": "StringLookup",
                "module": "keras.layers",
                "config": {"vocabulary": "/etc/passwd"},
            },
            "vocabulary",
        ),
    ],
)
def test_unsafe_config_nodes_are_refused(node, message):
    with pytest.raises(UnsafeModelError, match=message):
        check_config({"class_name": "Sequential", "module": "keras", "config": {"layers": [node]}})


def test_only_keras_v3_archives_are_accepted(tmp_path):
    (tmp_path / "m.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(UnsafeModelError, match=r"\.keras"):
        inspect_archive(tmp_path / "m.h5")
    (tmp_path / "junk.keras").write_text("not a zip")
    with pytest.raises(ModelError, match="not a .keras archive"):
        load_model_file(tmp_path / "junk.keras")
    with pytest.raises(ModelError, match="does not exist"):
        load_model_file(tmp_path / "missing.keras")


def test_zip_bombs_and_oversized_archives_are_refused(tmp_path):
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(UnsafeModelError, match="zip bomb"):
        inspect_archive(bomb)
    big = save_model(tmp_path / "big.keras", tiny_model())
    with pytest.raises(UnsafeModelError, match="uncompressed"):
        inspect_archive(big, max_uncompressed_bytes=100)

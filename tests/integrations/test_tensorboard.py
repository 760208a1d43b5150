"""TensorBoard: the range test's curve, text and figure, and LearningRateLogger's rates, read
back from the event files with TensorBoard's own reader."""

from __future__ import annotations

import io
import sys

import keras
import numpy as np
import pytest
from matplotlib import image as mpimg

from finder.callbacks import LearningRateLogger
from finder.errors import MissingDependencyError
from finder.integrations.curve import validation_steps
from finder.integrations.tensorboard import EventWriter
from finder.schedules import OneCycle
from tests.utils.events import plugin, read_events, scalars, tensor


@pytest.fixture(scope="module")
def events(range_result, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("tb") / "range_test"
    assert range_result.to_tensorboard(log_dir) == log_dir
    return read_events(log_dir)


@pytest.mark.parametrize(
    ("tag", "field"),
    [
        ("range_test/loss", "losses"),  # each step's own batch loss
        ("range_test/smoothed_loss", "smoothed_losses"),
        ("range_test/learning_rate", "lrs"),
    ],
)
def test_each_series_equals_the_results_array_step_by_step(events, range_result, tag, field):
    steps, values = scalars(events, tag)
    expected = getattr(range_result, field)
    assert steps == list(range(len(expected)))
    # tf.summary.scalar stores float32.
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    assert plugin(events, tag) == "scalars"


def test_validation_loss_sits_at_the_steps_it_was_scored(events, range_result):
    steps, values = scalars(events, "range_test/val_loss")
    np.testing.assert_allclose(values, range_result.val_losses, rtol=1e-6)
    assert steps == validation_steps(range_result.lrs, range_result.val_lrs)
    # Each one is the step whose LR is the scored LR.
    np.testing.assert_allclose([range_result.lrs[s] for s in steps], range_result.val_lrs)
    assert len(set(steps)) == len(steps) > 1


def test_text_holds_the_bounds_and_every_suggestion(events, range_result):
    bounds = tensor(events, "range_test/bounds").item().decode()
    assert f"max_lr **{range_result.bounds.max_lr:.4g}**" in bounds
    assert f"min_lr **{range_result.bounds.min_lr:.4g}**" in bounds
    suggestions = tensor(events, "range_test/suggestions").item().decode()
    for name, value in range_result.suggestions.items():
        shown = "none" if value is None else f"{value:.4g}"
        assert f"| {name} | {shown} |" in suggestions
    assert plugin(events, "range_test/bounds") == "text"


def test_the_figure_is_an_image(events):
    # An image summary holds [width, height, PNG bytes...].
    width, height, png = tensor(events, "range_test/curve")
    pixels = mpimg.imread(io.BytesIO(png), format="png")
    assert pixels.shape[:2] == (int(height), int(width)) and int(width) > 400
    assert plugin(events, "range_test/curve") == "images"


def test_learning_rate_logger_writes_the_decayed_rate_per_batch_and_epoch(tmp_path):
    schedule = OneCycle(max_lr=0.2, total_steps=12)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    x, y = np.ones((32, 2), "float32"), np.ones((32, 1), "float32")
    logger = LearningRateLogger(per_batch=True, log_dir=str(tmp_path))
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[logger])
    events = read_events(tmp_path)
    steps, values = scalars(events, "batch_learning_rate")
    assert steps == list(range(12))
    np.testing.assert_allclose(values, [float(schedule(s)) for s in range(12)], rtol=1e-5)
    # Per epoch: the rate of the epoch's last step (4 steps per epoch), decayed, not the peak.
    steps, values = scalars(events, "epoch_learning_rate")
    assert steps == [0, 1, 2]
    np.testing.assert_allclose(values, [float(schedule(4 * e + 3)) for e in range(3)], rtol=1e-5)


def test_without_tensorflow_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now fails
    with pytest.raises(MissingDependencyError, match="needs TensorFlow.*pip install tensorflow"):
        EventWriter(tmp_path)

"""Figures are real PNG/SVG files with the curve's elements drawn."""

from __future__ import annotations

import numpy as np
import pytest

import finder
from finder.errors import InvalidArgumentError
from finder.plot import plot_range_test, save_figure
from tests.utils.factories import dense_regressor


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    y = (x @ np.array([1.0, -1.0, 2.0, 0.5])).astype("float32")[:, None]
    return finder.range_test(
        dense_regressor(),
        x,
        y,
        batch_size=16,
        min_lr=1e-3,
        max_lr=5.0,
        num_steps=60,
        repeats=2,
        validation_data=(x[:32], y[:32]),
    )


def test_png_and_svg(tmp_path, result):
    png = result.plot(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot_range_test(result, path=tmp_path / "c.svg")
    svg = (tmp_path / "c.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    labels = [text.get_text() for text in png.axes[0].get_legend().get_texts()]
    assert "loss (smoothed)" in labels and "validation loss" in labels
    assert any(label.startswith("bounds ") for label in labels)
    assert any(label.startswith("25-75% over 2 sweeps") for label in labels)
    assert png.axes[0].get_xscale() == "log"


def test_other_suffixes_are_refused(tmp_path, result):
    with pytest.raises(InvalidArgumentError, match=r"\.png or \.svg"):
        save_figure(result.plot(), tmp_path / "c.jpg")

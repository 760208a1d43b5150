"""Figures are real PNG/SVG files with the curve's elements drawn."""

from __future__ import annotations

import pytest

from finder.errors import InvalidArgumentError
from finder.plot import plot_range_test, save_figure
from tests.utils.factories import tiny_range_test


@pytest.fixture(scope="module")
def result():
    return tiny_range_test(num_steps=60, repeats=2)


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


@pytest.mark.parametrize("repeats", [1, 2])
def test_the_verdicts_box_counts_its_sweeps_in_words(repeats):
    result = tiny_range_test(num_steps=40, repeats=repeats)
    texts = [text.get_text() for text in result.plot().axes[0].texts]
    unit = "1 sweep," if repeats == 1 else f"{repeats} sweeps,"
    assert any(text.startswith(f"{result.reliability.verdict}: {unit} ") for text in texts)

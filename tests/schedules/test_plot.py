"""plot_schedule: curves on one axis, epoch marks, and the files it writes."""

from __future__ import annotations

import re

import pytest
from matplotlib.figure import Figure

from finder.errors import InvalidArgumentError
from finder.plot import plot_schedule
from finder.schedules import OneCycle, ScheduleSpec, cosine_warmup

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_writes_a_png(tmp_path):
    spec = ScheduleSpec("one_cycle", {"max_lr": 0.1, "total_steps": 200})
    fig = plot_schedule(spec, 200, path=tmp_path / "one_cycle.png")
    assert isinstance(fig, Figure)
    assert (tmp_path / "one_cycle.png").read_bytes().startswith(PNG_SIGNATURE)


def test_writes_an_svg_with_several_labelled_schedules_and_epoch_marks(tmp_path):
    schedules = {
        "1cycle": OneCycle(0.1, 100),
        "cosine": cosine_warmup(0.1, 100, 10),
        "constant": 0.05,
    }
    fig = plot_schedule(schedules, 100, steps_per_epoch=25, path=tmp_path / "all.svg", log_y=True)
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()[:3]] == ["1cycle", "cosine", "constant"]
    assert len(ax.get_lines()) == 3 + 3  # three curves, epoch starts at 25, 50, 75
    assert ax.get_yscale() == "log"
    text = (tmp_path / "all.svg").read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text


def test_labels_default_to_family_or_class_name():
    fig = plot_schedule([ScheduleSpec("constant", {"learning_rate": 0.1}), OneCycle(0.1, 10)], 10)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["constant", "OneCycle"]


def test_long_schedules_are_sampled():
    fig = plot_schedule(OneCycle(0.1, 100_000), 100_000, steps_per_epoch=10_000, max_points=500)
    (curve,) = [line for line in fig.axes[0].get_lines() if line.get_label() == "OneCycle"]
    assert 500 <= len(curve.get_xdata()) <= 510


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"total_steps": 0},
            "Argument `total_steps` must be an integer > 0. Received: total_steps=0",
        ),
        ({"total_steps": 10, "steps_per_epoch": 0}, "Received: steps_per_epoch=0"),
        (
            {"total_steps": 10, "labels": ["a", "b"]},
            "Argument `labels` must have one label per schedule (1)",
        ),
        ({"total_steps": 10, "path": "curve.pdf"}, "Figure path must end in .png or .svg"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        plot_schedule(OneCycle(0.1, 10), **kwargs)

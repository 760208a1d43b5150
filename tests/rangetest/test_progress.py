"""`SweepProgress`'s progress model: the count, the bound and the label every consumer shows."""

from __future__ import annotations

import pytest

import finder
from finder.rangetest.progress import SweepProgress
from tests.utils.factories import dense_regressor

pytestmark = pytest.mark.backend_neutral


def event(**fields: object) -> SweepProgress:
    values: dict[str, object] = dict(
        repeat=0, repeats=1, step=0, num_steps=40, lr=1e-3, loss=1.0, smoothed_loss=1.0
    )
    values.update(fields)
    return SweepProgress(**values)  # type: ignore[arg-type]


def test_explicit_sweeps_count_on_from_what_earlier_sweeps_ran():
    # The first sweep stopped after 25 of its 40 steps: the second's 10th step is the 35th.
    second = event(repeat=1, repeats=3, step=9, steps_before=25)
    assert (second.steps_done, second.steps_total, second.label) == (35, 120, "sweep 2/3")


def test_the_auto_range_counts_to_its_budget_over_its_sweeps():
    first = event(repeat=0, repeats=0, step=99, num_steps=400, budget=630)
    assert (first.steps_done, first.steps_total, first.label) == (100, 630, "sweep 1")
    second = event(repeat=1, repeats=0, step=4, num_steps=400, steps_before=260, budget=630)
    assert (second.steps_done, second.steps_total, second.label) == (265, 630, "sweep 2")
    # A phase of another kind is shown by its name.
    assert event(phase="tuning").label == "tuning"


def test_an_open_ended_count_of_sweeps_is_never_shown_out_of_zero():
    third = event(repeat=2, repeats=0, step=4, steps_before=200, budget=630)
    assert (third.steps_done, third.steps_total, third.label) == (205, 630, "sweep 3")


def test_other_phases_are_named():
    assert event(phase="warmup").label == "warmup"


def test_the_events_of_a_range_test_count_every_step_it_ran(regression_data):
    x, y = regression_data
    events: list[SweepProgress] = []
    # Far past 1/lambda_max: both sweeps diverge before the end of their grid.
    result = finder.range_test(
        dense_regressor(), x, y, batch_size=32, min_lr=1e-3, max_lr=50.0, num_steps=40,
        repeats=2, progress=events.append,
    )  # fmt: skip
    assert result.steps_run < 2 * 40
    assert [e.steps_done for e in events] == list(range(1, result.steps_run + 1))
    assert {e.steps_total for e in events} == {80}

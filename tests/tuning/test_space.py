"""SearchSpace: the bounded LR rule, the keras-tuner space it declares, and specs from values."""

from __future__ import annotations

import keras_tuner as kt
import numpy as np
import pytest

from finder.errors import InvalidArgumentError, InvalidRangeError, TuningError
from finder.schedules import SCHEDULE_FAMILIES, ScheduleSpec
from finder.suggest import Bounds
from finder.tuning.space import (
    DEFAULT_FAMILIES,
    LR_PARAM,
    SHAPE_PARAMS,
    TUNABLE_FAMILIES,
    SearchSpace,
)

# A range test of fashion_cnn + SGD on this machine: edge ~0.5, max_lr ~0.25.
FASHION_BOUNDS = Bounds(min_lr=0.0625, max_lr=0.25, note=None, edge_lr=0.5)


def test_from_bounds_follows_the_documented_rule() -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, TUNABLE_FAMILIES)
    assert space.peak_range == pytest.approx((0.125, 1.0))  # [max_lr / 2, 2 edge_lr]
    assert space.held_range == pytest.approx((0.0625, 0.5))  # [min_lr, edge_lr]
    assert "edge_lr=0.5" in space.rule


def test_bounded_peak_range_holds_the_measured_optimum_and_not_the_diverging_peaks() -> None:
    # 1cycle on full Fashion-MNIST: 0.5 -> 0.874 and 1.0 -> 0.872; ~1.2 and 3.0 diverged.
    low, high = SearchSpace.from_bounds(FASHION_BOUNDS).lr_range("one_cycle")
    assert low < 0.5 <= 1.0 <= high < 1.2


def test_from_bounds_without_edge_or_min_uses_the_bounds_relations() -> None:
    space = SearchSpace.from_bounds(Bounds(min_lr=None, max_lr=0.2, note=None, edge_lr=None))
    assert space.peak_range == pytest.approx((0.1, 0.8))
    assert space.held_range == pytest.approx((0.05, 0.4))


def test_from_bounds_without_bounds_raises_with_the_note() -> None:
    with pytest.raises(TuningError, match="loss never fell"):
        SearchSpace.from_bounds(Bounds(None, None, "loss never fell", None))


def test_wide_space_uses_one_range_for_every_family() -> None:
    space = SearchSpace.wide(1e-4, 10.0, ["one_cycle", "constant"])
    assert space.lr_range("one_cycle") == space.lr_range("constant") == (1e-4, 10.0)


def test_every_tunable_family_is_a_schedule_family_with_declared_params() -> None:
    assert set(TUNABLE_FAMILIES) <= set(SCHEDULE_FAMILIES)
    assert set(TUNABLE_FAMILIES) == set(LR_PARAM) == set(SHAPE_PARAMS)
    assert set(DEFAULT_FAMILIES) <= set(TUNABLE_FAMILIES)


@pytest.mark.parametrize(
    "families",
    [
        [],  # empty
        ["one_cycle", "one_cycle"],  # repeated
        ["one_cycle", "warp_drive"],  # unknown
        "one_cycle",  # a string, not a list
        ["piecewise"],  # a near miss
    ],
)
def test_bad_families_are_refused(families: object) -> None:
    with pytest.raises(InvalidArgumentError, match="families"):
        SearchSpace(families=families, peak_range=(0.1, 1.0), held_range=(0.1, 1.0))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("peak_range", "error"),
    [
        ((1.0, 0.1), InvalidRangeError),  # inverted
        ((0.1, 0.1), InvalidRangeError),  # empty
        ((0.0, 1.0), InvalidArgumentError),  # zero is not a learning rate
        ((0.1, float("inf")), InvalidArgumentError),  # not finite
        ((0.1,), InvalidArgumentError),  # not a pair
    ],
)
def test_bad_ranges_are_refused(peak_range: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="peak_range"):
        SearchSpace(families=("one_cycle",), peak_range=peak_range, held_range=(0.1, 1.0))  # type: ignore[arg-type]


def test_declare_registers_a_family_choice_with_conditional_log_scaled_lrs() -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, TUNABLE_FAMILIES)
    hp = kt.HyperParameters()
    space.declare(hp)
    by_name = {p.name: p for p in hp.space}
    assert isinstance(by_name["family"], kt.engine.hyperparameters.Choice)
    assert list(by_name["family"].values) == list(TUNABLE_FAMILIES)
    for family in TUNABLE_FAMILIES:
        lr = by_name[f"{family}/{LR_PARAM[family]}"]
        assert lr.sampling == "log"
        assert (lr.min_value, lr.max_value) == pytest.approx(space.lr_range(family))
        assert [c.values for c in lr.conditions] == [[family]]
        for param in SHAPE_PARAMS[family]:
            assert [c.values for c in by_name[f"{family}/{param.name}"].conditions] == [[family]]


def _values(space: SearchSpace, family: str, seed: int) -> dict[str, object]:
    """keras-tuner's random values for `family` in `space`."""
    hp = kt.HyperParameters()
    space.declare(hp)
    values: dict[str, object] = {"family": family}
    for param in hp.space:
        if param.name != "family" and param.name.startswith(f"{family}/"):
            values[param.name] = param.random_sample(seed)
    return values


@pytest.mark.parametrize("family", TUNABLE_FAMILIES)
def test_every_family_gives_a_valid_spec_sized_to_the_run(family: str) -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, TUNABLE_FAMILIES)
    total = 937
    for seed in range(5):
        values = _values(space, family, seed)
        spec = space.spec(values, total)
        assert spec.family == family
        assert ScheduleSpec.from_dict(spec.to_dict()) == spec
        lrs = spec.lr_at(np.arange(total + 1))
        assert np.all(np.isfinite(lrs)) and np.all(lrs >= 0)
        low, high = space.lr_range(family)
        params = spec.params
        lr = params["values"][0] if family == "piecewise_constant" else params[LR_PARAM[family]]
        assert low <= lr <= high
        assert lrs.max() <= high * (1 + 1e-6)


def test_one_cycle_and_cosine_span_exactly_the_run() -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, TUNABLE_FAMILIES)
    one_cycle = space.spec(
        {
            "family": "one_cycle",
            "one_cycle/max_lr": 0.5,
            "one_cycle/pct_start": 0.25,
            "one_cycle/div_factor": 10.0,
        },
        1000,
    )
    assert one_cycle.params == {
        "max_lr": 0.5,
        "total_steps": 1000,
        "pct_start": 0.25,
        "div_factor": 10.0,
    }
    assert one_cycle.lr_at([250])[0] == pytest.approx(0.5, rel=1e-5)  # float32 schedule
    cosine = space.spec(
        {
            "family": "cosine_warmup",
            "cosine_warmup/max_lr": 0.4,
            "cosine_warmup/warmup_fraction": 0.1,
        },
        1000,
    )
    assert cosine.params == {"max_lr": 0.4, "total_steps": 1000, "warmup_steps": 100}
    assert cosine.lr_at([100, 1000]) == pytest.approx([0.4, 0.0], abs=1e-6)


def test_wsd_holds_its_peak_then_decays_over_the_tuned_fraction() -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, ["wsd"])
    # It holds its peak for most of the run, so its peak comes from the held range.
    assert space.lr_range("wsd") == space.held_range
    wsd = space.spec(
        {"family": "wsd", "wsd/max_lr": 0.4, "wsd/decay_fraction": 0.2},
        1000,
    )
    assert wsd.params == {
        "max_lr": 0.4,
        "total_steps": 1000,
        "warmup_steps": 50,
        "decay_steps": 200,
        "decay": "sqrt",
    }
    # 5% warm-up from 0, the peak held until step 800, then 1 - sqrt down to 0 at T.
    assert wsd.lr_at([25, 50, 800, 850, 1000]) == pytest.approx(
        [0.2, 0.4, 0.4, 0.2, 0.0], rel=1e-5, abs=1e-7
    )


@pytest.mark.parametrize("total", [1, 2, 3, 7, 20])
def test_wsd_phases_fit_short_runs(total: int) -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, ["wsd"])
    spec = space.spec({"family": "wsd", "wsd/max_lr": 0.2, "wsd/decay_fraction": 0.3}, total)
    assert spec.params["warmup_steps"] + spec.params["decay_steps"] <= total
    assert spec.params["decay_steps"] >= 1


def test_cyclical_cycles_and_base_lr() -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, ["cyclical"])
    spec = space.spec(
        {
            "family": "cyclical",
            "cyclical/max_lr": 0.4,
            "cyclical/div_factor": 4.0,
            "cyclical/cycles": 2,
            "cyclical/mode": "triangular",
        },
        1000,
    )
    assert spec.params == {"base_lr": 0.1, "max_lr": 0.4, "step_size_up": 250, "mode": "triangular"}
    # Two whole cycles: peaks at 250 and 750, troughs at 0, 500 and 1000.
    assert spec.lr_at([0, 250, 500, 750, 1000]) == pytest.approx(
        [0.1, 0.4, 0.1, 0.4, 0.1], rel=1e-5
    )


@pytest.mark.parametrize("family", ["exponential", "inverse_time"])
def test_decays_end_at_their_final_fraction(family: str) -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, [family])
    spec = space.spec(
        {"family": family, f"{family}/initial_lr": 0.2, f"{family}/final_fraction": 0.05}, 800
    )
    assert spec.lr_at([0, 800]) == pytest.approx([0.2, 0.01], rel=1e-5)


@pytest.mark.parametrize("total", [1, 2, 3, 4, 1000])
def test_step_decay_boundaries_stay_increasing_on_short_runs(total: int) -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, ["piecewise_constant"])
    spec = space.spec(
        {
            "family": "piecewise_constant",
            "piecewise_constant/initial_lr": 0.2,
            "piecewise_constant/gamma": 0.1,
        },
        total,
    )
    first, second = spec.params["boundaries"]
    assert 1 <= first < second
    assert spec.params["values"] == pytest.approx([0.2, 0.02, 0.002])


def test_spec_refuses_values_of_another_space() -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, ["one_cycle"])
    with pytest.raises(InvalidArgumentError, match="not one of this space"):
        space.spec({"family": "constant", "constant/learning_rate": 0.1}, 100)
    with pytest.raises(InvalidArgumentError, match="lack 'one_cycle/pct_start'"):
        space.spec({"family": "one_cycle", "one_cycle/max_lr": 0.1}, 100)


def test_json_round_trip() -> None:
    space = SearchSpace.from_bounds(FASHION_BOUNDS, TUNABLE_FAMILIES)
    assert SearchSpace.from_dict(space.to_dict()) == space
    with pytest.raises(InvalidArgumentError, match="search space"):
        SearchSpace.from_dict({"families": ["one_cycle"]})

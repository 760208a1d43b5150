"""`bench/frontier.py`'s ceiling of the quality targets: the oracle's own schedule, scored as a
design is scored."""

from __future__ import annotations

import frontier
import pytest
from suite import HOLDOUT_SEEDS, holdout_label

from finder.schedules import ScheduleSpec

SPEC = ScheduleSpec("one_cycle", {"max_lr": 0.01, "total_steps": 100})


def _entry(held_out: list[float | None], *, oracle: float = 0.9, default: float = 0.8) -> dict:
    """A task's entry in suite.json: the oracle's and the default's rows, and the oracle's
    schedule re-trained with each held-out seed."""
    runs = {
        holdout_label(SPEC, seed): {"score": score}
        for seed, score in zip(HOLDOUT_SEEDS, held_out, strict=True)
        if score is not None
    }
    return {
        "rows": {
            "oracle": {"mean": oracle, "spec": SPEC.to_dict(), "seeds": 3, "diverged": 0},
            "default": {"mean": default},
            "oracle_holdout": {"spec": SPEC.to_dict()},
        },
        "runs": runs,
    }


def test_each_triple_of_held_out_seeds_is_scored_against_the_oracle_and_the_other_triple() -> None:
    held_out = [0.90, 0.88, 0.92, 0.80, 0.80, 0.83]
    suite = {"tasks": {"digits_rmsprop": _entry(held_out, default=0.85)}}
    table = frontier.oracle_as_design(suite)
    first = table["oracle, seeds 3-5"]["digits_rmsprop"]
    assert first["vs_oracle"] == pytest.approx(0.90 / 0.9)
    assert first["worst_vs_oracle"] == pytest.approx(0.88 / 0.9)
    assert first["vs_holdout"] == pytest.approx(0.90 / 0.81)
    assert first["worst_vs_holdout"] == pytest.approx(0.88 / 0.81)
    assert first["vs_default"] == pytest.approx(0.90 / 0.85)
    second = table["oracle, seeds 6-8"]["digits_rmsprop"]
    assert second["vs_holdout"] == pytest.approx(0.81 / 0.90)
    assert second["worst_vs_holdout"] == pytest.approx(0.80 / 0.90)
    assert second["vs_default"] == pytest.approx(0.81 / 0.85)


def test_a_task_without_every_held_out_run_or_whose_oracle_learned_nothing_is_left_out() -> None:
    missing = _entry([0.9, 0.9, 0.9, 0.9, 0.9, None])
    blank = _entry([0.1] * 6, oracle=0.1)
    blank["rows"]["oracle"]["diverged"] = 3
    suite = {"tasks": {"digits_rmsprop": missing, "digits_lion": blank}}
    assert frontier.oracle_as_design(suite) == {"oracle, seeds 3-5": {}, "oracle, seeds 6-8": {}}


def test_outside_compares_finder_with_the_default_the_right_way_round() -> None:
    import outside

    def runs(finder_scores: list, default_scores: list) -> dict:
        return {
            "finder": {
                str(s): {"score": v, "verdict": "reliable"} for s, v in enumerate(finder_scores)
            },
            "default": {str(s): {"score": v} for s, v in enumerate(default_scores)},
        }

    table = outside.summarize(
        {
            "lstm_seq": {"Adam": runs([0.9, 0.8, 0.7], [0.8, 0.8, 0.8])},
            "friedman_mlp": {"Lion": runs([0.2, 0.2, 0.2], [0.1, 0.1, 0.1])},
            "conv_text": {"Adam": runs([0.9, None, 0.9], [0.9, 0.9, 0.9])},
        }
    )
    assert table["lstm_seq"]["Adam"]["vs_default"] == pytest.approx(1.0)
    # An MSE: the default's over finder's, so twice the default's error reads 0.5.
    assert table["friedman_mlp"]["Lion"]["vs_default"] == pytest.approx(0.5)
    assert table["conv_text"]["Adam"]["vs_default"] is None
    assert table["conv_text"]["Adam"]["finder"] is None

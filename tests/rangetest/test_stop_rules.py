"""The stop rules one at a time, on loss sequences written out (pure Python, no training)."""

from __future__ import annotations

import pytest

from finder.rangetest.stop_rules import DeadNetwork, DebiasedEma, Divergence

pytestmark = pytest.mark.backend_neutral


def test_the_debiased_ema_starts_at_the_first_loss_and_beta_zero_is_the_raw_loss():
    ema = DebiasedEma(0.9)
    assert ema(2.0) == pytest.approx(2.0)
    assert ema(1.0) == pytest.approx((0.9 * 0.1 * 2.0 + 0.1 * 1.0) / (1 - 0.81))
    assert DebiasedEma(0.0)(3.5) == 3.5


def test_divergence_fires_past_the_factor_of_the_minimum_and_never_below_zero():
    rule = Divergence(4.0)
    assert not any(rule.fires(s, []) for s in (2.0, 1.0, 0.5, 1.9))
    assert rule.fires(2.1, [])
    negative = Divergence(4.0)
    assert not any(negative.fires(s, []) for s in (-1.0, -2.0, 100.0))


def test_a_dead_network_fires_once_the_loss_is_back_near_its_start():
    rule = DeadNetwork(window=2)
    losses: list[float] = []

    def step(loss: float) -> bool:
        losses.append(loss)
        return rule.fires(loss, losses)

    assert not any(step(v) for v in (2.3, 2.3, 1.0, 0.8))  # learned: start 2.3, best 0.9
    assert not step(1.5)  # climbing back: window mean 1.15
    assert not step(2.3)  # window mean 1.9, under 0.9 + 0.75 * (2.3 - 0.9) = 1.95
    assert step(2.3)  # window mean 2.3: back at its start, dead


def test_a_loss_that_never_fell_far_is_not_dead():
    rule = DeadNetwork(window=2)
    losses = [2.3, 2.3, 2.0, 1.9, 2.3, 2.3]  # best window 1.95: a 15% drop, under 30%
    assert not any(rule.fires(v, losses[: i + 1]) for i, v in enumerate(losses))

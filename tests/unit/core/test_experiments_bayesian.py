"""Bayesian A/B analysis against Evan Miller's closed form and large seeded Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from mlpulse.core.experiments.bayesian import beta_binomial, normal_means
from mlpulse.errors import ParameterError

DRAWS = 2_000_000


def _evan_miller(a_c: int, b_c: int, a_t: int, b_t: int) -> float:
    """P(p_t > p_c) for integer Beta parameters (Miller 2015, evanmiller.org)."""
    i = np.arange(a_t)
    terms = (
        special.betaln(a_c + i, b_c + b_t)
        - np.log(b_t + i)
        - special.betaln(1 + i, b_t)
        - special.betaln(a_c, b_c)
    )
    return float(np.exp(terms).sum())


@pytest.mark.parametrize(
    ("n_c", "s_c", "n_t", "s_t"),
    [(1000, 100, 1000, 130), (200, 30, 150, 20), (50_000, 2500, 50_000, 2600), (10, 0, 12, 1)],
)
def test_beta_binomial_chance_to_beat_matches_evan_millers_closed_form(
    n_c: int, s_c: int, n_t: int, s_t: int
) -> None:
    expected = _evan_miller(1 + s_c, 1 + n_c - s_c, 1 + s_t, 1 + n_t - s_t)
    assert beta_binomial(n_c, s_c, n_t, s_t).chance_to_beat == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize(
    ("counts", "prior"),
    [((1000, 100, 1000, 130), (1.0, 1.0)), ((300, 12, 280, 9), (0.5, 0.5))],
)
def test_beta_binomial_matches_monte_carlo(
    counts: tuple[int, int, int, int], prior: tuple[float, float]
) -> None:
    n_c, s_c, n_t, s_t = counts
    rng = np.random.default_rng(11)
    p_c = rng.beta(prior[0] + s_c, prior[1] + n_c - s_c, DRAWS)
    p_t = rng.beta(prior[0] + s_t, prior[1] + n_t - s_t, DRAWS)
    result = beta_binomial(n_c, s_c, n_t, s_t, prior=prior)
    chance = float(np.mean(p_t > p_c))
    assert result.chance_to_beat == pytest.approx(chance, abs=4 * math.sqrt(0.25 / DRAWS))
    assert result.expected_loss == pytest.approx(np.mean(np.maximum(p_c - p_t, 0)), rel=0.02)
    assert result.expected_loss_control == pytest.approx(
        np.mean(np.maximum(p_t - p_c, 0)), rel=0.02
    )
    assert result.lift_mean == pytest.approx(np.mean(p_t - p_c), abs=1e-4)
    # The intervals come from the function's own 200,000 draws: Monte Carlo error.
    assert result.lift_interval == pytest.approx(
        np.quantile(p_t - p_c, [0.025, 0.975]).tolist(), abs=5e-4
    )
    assert result.relative_lift_interval == pytest.approx(
        np.quantile(p_t / p_c - 1, [0.025, 0.975]).tolist(), abs=5e-3
    )


def test_beta_binomial_is_symmetric_in_the_arms() -> None:
    forward = beta_binomial(800, 40, 900, 60)
    backward = beta_binomial(900, 60, 800, 40)
    assert forward.chance_to_beat == pytest.approx(1 - backward.chance_to_beat)
    assert forward.expected_loss == pytest.approx(backward.expected_loss_control)
    assert forward.expected_loss_control == pytest.approx(backward.expected_loss)


def test_beta_binomial_is_seeded() -> None:
    assert beta_binomial(100, 10, 100, 15, seed=4) == beta_binomial(100, 10, 100, 15, seed=4)


def test_beta_binomial_handles_millions_of_units() -> None:
    result = beta_binomial(2_000_000, 100_000, 2_000_000, 100_900)
    expected = _evan_miller(100_001, 1_900_001, 100_901, 1_899_101)
    assert result.chance_to_beat == pytest.approx(expected, abs=1e-7)


def test_beta_binomial_is_insufficient_data_with_an_empty_arm() -> None:
    result = beta_binomial(0, 0, 100, 10)
    assert result.status == "insufficient_data"
    assert math.isnan(result.chance_to_beat)


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((100, 101, 100, 10), {}, "successes_control"),
        ((100, 10, -1, 0), {}, "n_treatment"),
        ((100, 10, 100, 10), {"prior": (0.0, 1.0)}, "prior[0]"),
        ((100, 10, 100, 10), {"credible": 1.0}, "credible"),
        ((100, 10, 100, 10), {"draws": 10}, "draws"),
    ],
)
def test_beta_binomial_rejects_bad_parameters(
    args: tuple[int, int, int, int], kwargs: dict[str, object], name: str
) -> None:
    with pytest.raises(ParameterError, match=rf"'{re_escape(name)}' parameter"):
        beta_binomial(*args, **kwargs)


def re_escape(text: str) -> str:
    return text.replace("[", r"\[").replace("]", r"\]")


@pytest.mark.parametrize(("mean_t", "credible"), [(10.3, 0.95), (9.9, 0.9), (10.0, 0.99)])
def test_normal_means_matches_monte_carlo(mean_t: float, credible: float) -> None:
    rng = np.random.default_rng(5)
    s = math.sqrt(4.0 / 500 + 9.0 / 400)
    d = rng.normal(mean_t - 10.0, s, DRAWS)
    result = normal_means(400, 10.0, 9.0, 500, mean_t, 4.0, credible=credible)
    assert result.chance_to_beat == pytest.approx(np.mean(d > 0), abs=4 * math.sqrt(0.25 / DRAWS))
    assert result.expected_loss == pytest.approx(np.mean(np.maximum(-d, 0)), rel=0.01)
    assert result.expected_loss_control == pytest.approx(np.mean(np.maximum(d, 0)), rel=0.01)
    tails = [(1 - credible) / 2, (1 + credible) / 2]
    assert result.lift_interval == pytest.approx(np.quantile(d, tails).tolist(), abs=2e-3)
    assert result.relative_lift_interval is None


def test_normal_means_agrees_with_beta_binomial_for_large_samples() -> None:
    n, s_c, s_t = 20_000, 2000, 2100
    p_c, p_t = s_c / n, s_t / n
    approx = normal_means(n, p_c, p_c * (1 - p_c), n, p_t, p_t * (1 - p_t))
    exact = beta_binomial(n, s_c, n, s_t)
    assert approx.chance_to_beat == pytest.approx(exact.chance_to_beat, abs=2e-3)
    assert approx.expected_loss == pytest.approx(exact.expected_loss, rel=0.05)


@pytest.mark.parametrize("args", [(1, 10.0, 1.0, 100, 10.0, 1.0), (100, 10.0, 0.0, 100, 11.0, 0.0)])
def test_normal_means_is_insufficient_data_without_a_variance(
    args: tuple[float, float, float, float, float, float],
) -> None:
    assert normal_means(*args).status == "insufficient_data"


def test_normal_means_rejects_a_negative_variance() -> None:
    with pytest.raises(ParameterError, match="'var_control' parameter"):
        normal_means(10, 1.0, -1.0, 10, 1.0, 1.0)

"""Sequential testing: mSPRT under continuous peeking, group-sequential boundaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from mlpulse.core.experiments.sequential import (
    crossing_probability,
    group_sequential_boundaries,
    msprt,
    msprt_means,
    msprt_proportions,
)
from mlpulse.errors import ParameterError

EXPERIMENTS = 2000
LOOKS = 50
BATCH = 100  # units per arm between looks
ALPHA = 0.05
# Three Monte Carlo standard errors of a rate of 0.05 over 2,000 experiments.
MC_ERROR = 3 * math.sqrt(ALPHA * (1 - ALPHA) / EXPERIMENTS)


def _cumulative_arm(
    rng: np.random.Generator, mean: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Cumulative n, mean and sample variance of one arm at each look, for every experiment.

    Drawn from the exact distribution of the per-batch sufficient statistics of N(mean, 1)
    data (batch mean normal, within-batch sum of squares chi-square), not unit by unit.
    """
    batch_means = rng.normal(mean, 1 / math.sqrt(BATCH), size=(EXPERIMENTS, LOOKS))
    within = rng.chisquare(BATCH - 1, size=(EXPERIMENTS, LOOKS))
    n = BATCH * np.arange(1, LOOKS + 1, dtype=np.float64)
    total = np.cumsum(BATCH * batch_means, axis=1)
    squares = np.cumsum(within + BATCH * batch_means**2, axis=1)
    return n, total / n, (squares - total**2 / n) / (n - 1)


@pytest.fixture(scope="module")
def a_a_looks() -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """z statistics, differences and their variances of 2,000 A/A tests at 50 looks each."""
    rng = np.random.default_rng(20261127)
    n, mean_c, var_c = _cumulative_arm(rng, 0.0)
    _, mean_t, var_t = _cumulative_arm(rng, 0.0)
    difference = mean_t - mean_c
    variance = var_t / n + var_c / n
    return difference / np.sqrt(variance), difference, variance


def test_msprt_false_positive_rate_stays_below_alpha_under_continuous_peeking(
    a_a_looks: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
) -> None:
    """2,000 seeded A/A tests, 50 looks of 100 more units per arm, N(0, 1) metric.

    Measured (seed 20261127): the mSPRT (tau² = 0.01) rejects in 0.019 of them at some
    look; the fixed-horizon z-test at alpha 0.05 read at every look rejects in 0.327
    (6.5 times alpha). Over seeds 0-9 (20,000 tests): 0.019 and 0.327.
    """
    z, difference, variance = a_a_looks
    msprt_rejects = np.array(
        [
            msprt(d, v, tau2=0.01, alpha=ALPHA).reject
            for d, v in zip(difference, variance, strict=True)
        ]
    )
    peeking_rejects = (np.abs(z) >= stats.norm.ppf(1 - ALPHA / 2)).any(axis=1)
    assert msprt_rejects.mean() <= ALPHA
    assert peeking_rejects.mean() >= 0.2


def test_group_sequential_false_positive_rate_is_alpha_with_five_looks(
    a_a_looks: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
) -> None:
    """The same A/A tests read at looks 10, 20, ..., 50 against the 5-look boundaries.

    Measured (seed 20261127): O'Brien–Fleming-type 0.0605, Pocock-type 0.0585 — a high
    draw: the single fixed-horizon test at look 50 rejects 0.0605 of these same tests.
    Over seeds 0-9 (20,000 tests): 0.048 and 0.051. The bound is alpha plus three
    Monte Carlo standard errors (0.065).
    """
    z = a_a_looks[0][:, 9::10]
    for spending in ("obrien_fleming", "pocock"):
        bounds = group_sequential_boundaries([0.2, 0.4, 0.6, 0.8, 1.0], spending=spending)
        rate = (np.abs(z) >= np.array(bounds.boundaries)).any(axis=1).mean()
        assert rate <= ALPHA + MC_ERROR, spending


def test_msprt_confidence_sequence_covers_the_true_effect_at_every_look() -> None:
    rng = np.random.default_rng(7)
    n, mean_c, var_c = _cumulative_arm(rng, 0.0)
    _, mean_t, var_t = _cumulative_arm(rng, 0.1)
    arms = zip(mean_c, var_c, mean_t, var_t, strict=True)
    results = [msprt_means(n, mc, vc, n, mt, vt, tau2=0.01) for mc, vc, mt, vt in arms][:400]
    # Always valid: the running intersection still holds 0.1 after the last look.
    assert np.mean([r.lower[-1] <= 0.1 <= r.upper[-1] for r in results]) >= 0.95
    # And with 5,000 units per arm an effect of 0.1 sd is found nearly always.
    found = [r.reject for r in results]
    assert np.mean(found) >= 0.9


def test_msprt_matches_the_closed_form_likelihood_ratio() -> None:
    v, tau2, theta = 0.02, 0.05, 0.3
    lr = math.sqrt(v / (v + tau2)) * math.exp(tau2 * theta**2 / (2 * v * (v + tau2)))
    result = msprt(theta, v, tau2=tau2)
    assert result.p_value == pytest.approx(1 / lr)
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(20) + math.log((v + tau2) / v)))
    assert result.confidence_interval == pytest.approx((theta - half, theta + half))


def test_msprt_p_values_never_increase_and_intervals_only_narrow() -> None:
    result = msprt([0.5, 0.1, 0.0, 0.2], [0.04, 0.02, 0.01, 0.005], tau2=0.1)
    assert list(result.p_values) == sorted(result.p_values, reverse=True)
    assert list(result.lower) == sorted(result.lower)
    assert list(result.upper) == sorted(result.upper, reverse=True)


def test_msprt_is_insufficient_data_without_a_variance() -> None:
    result = msprt_proportions([10, 20], [0, 0], [10, 20], [0, 0], tau2=0.01)
    assert result.status == "insufficient_data"
    assert result.p_value == 1.0 and not result.reject
    assert msprt_means(1, 0.0, 0.0, 1, 1.0, 0.0, tau2=1.0).status == "insufficient_data"


def test_msprt_proportions_uses_the_unpooled_variance() -> None:
    result = msprt_proportions(1000, 100, 1000, 130, tau2=0.001)
    expected = msprt(0.03, 0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000, tau2=0.001)
    assert result.p_value == pytest.approx(expected.p_value)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"tau2": 0.0}, "tau2"),
        ({"tau2": 1.0, "alpha": 1.0}, "alpha"),
    ],
)
def test_msprt_rejects_bad_parameters(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ParameterError, match=f"'{name}' parameter"):
        msprt(0.1, 0.01, **kwargs)


# Lan–DeMets spending, equally spaced looks, two-sided alpha 0.05 (alpha/2 per side):
# gsDesign(k, test.type = 2, alpha = 0.025, sfu = sfLDOF / sfLDPocock) and rpact
# getDesignGroupSequential(kMax = k, alpha = 0.05, sided = 2, typeOfDesign = "asOF"/"asP").
PUBLISHED = {
    (3, "obrien_fleming"): [3.710, 2.511, 1.993],
    (5, "obrien_fleming"): [4.877, 3.357, 2.680, 2.290, 2.031],
    (5, "pocock"): [2.438, 2.427, 2.410, 2.397, 2.386],
}


@pytest.mark.parametrize(("looks", "spending"), sorted(PUBLISHED))
def test_group_sequential_boundaries_match_published_values(looks: int, spending: str) -> None:
    fractions = np.arange(1, looks + 1) / looks
    result = group_sequential_boundaries(fractions, spending=spending)
    assert result.boundaries == pytest.approx(PUBLISHED[(looks, spending)], abs=1e-3)
    assert result.alpha_spent[-1] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("looks", "boundaries"),
    [
        # Jennison & Turnbull (2000) Tables 2.1 and 2.3, two-sided alpha 0.05: Pocock's
        # constant C_P and O'Brien & Fleming's C_B sqrt(K/k) (K=5: 4.562, ..., 2.040).
        (3, [2.289] * 3),
        (5, [2.413] * 5),
        (3, [2.004 * math.sqrt(3 / k) for k in (1, 2, 3)]),
        (5, [2.040 * math.sqrt(5 / k) for k in (1, 2, 3, 4, 5)]),
    ],
)
def test_crossing_probability_of_classic_boundaries_is_alpha(
    looks: int, boundaries: list[float]
) -> None:
    fractions = np.arange(1, looks + 1) / looks
    assert crossing_probability(boundaries, fractions) == pytest.approx(0.05, abs=3e-4)


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
@pytest.mark.parametrize("sides", [1, 2])
def test_group_sequential_boundaries_spend_alpha_in_monte_carlo(spending: str, sides: int) -> None:
    fractions = np.array([0.3, 0.45, 0.7, 1.0])
    result = group_sequential_boundaries(fractions, spending=spending, sides=sides)
    rng = np.random.default_rng(3)
    increments = rng.normal(size=(200_000, 4)) * np.sqrt(np.diff(fractions, prepend=0.0))
    z = np.cumsum(increments, axis=1) / np.sqrt(fractions)
    statistic = np.abs(z) if sides == 2 else z
    crossed = statistic >= np.array(result.boundaries)
    assert crossed.any(axis=1).mean() == pytest.approx(0.05, abs=3 * math.sqrt(0.05 * 0.95 / 2e5))
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    spent = np.cumsum([np.mean(first == k) for k in range(4)])
    assert spent == pytest.approx(result.alpha_spent, abs=2e-3)


def test_group_sequential_one_look_is_the_fixed_horizon_test() -> None:
    assert group_sequential_boundaries([1.0]).boundaries[0] == pytest.approx(1.959964, abs=1e-5)
    assert group_sequential_boundaries([1.0], sides=1).boundaries[0] == pytest.approx(1.644854)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"information_fractions": [0.5, 0.4, 1.0]}, "information_fractions"),
        ({"information_fractions": [0.5, 1.2]}, "information_fractions"),
        ({"information_fractions": [0.5, 1.0], "alpha": 0.0}, "alpha"),
        ({"information_fractions": [0.5, 1.0], "sides": 3}, "sides"),
        ({"information_fractions": [0.5, 1.0], "spending": "haybittle"}, "spending"),
    ],
)
def test_group_sequential_boundaries_reject_bad_parameters(
    kwargs: dict[str, object], name: str
) -> None:
    with pytest.raises(ParameterError, match=f"'{name}' parameter"):
        group_sequential_boundaries(**kwargs)

"""Properties every numeric drift statistic keeps, for any samples."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray
from scipy import stats

from mlpulse.core.drift.numeric import (
    anderson_darling,
    cramer_von_mises,
    energy_distance,
    hellinger,
    jensen_shannon,
    kl_divergence,
    ks,
    mann_whitney,
    psi,
    wasserstein,
    welch_t,
)
from mlpulse.core.results import HypothesisTestResult

BOUND = 1e6


def samples(min_size: int = 1, bound: float = BOUND) -> st.SearchStrategy[NDArray[np.float64]]:
    return arrays(
        np.float64,
        st.integers(min_size, 200),
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
    )


def integer_samples(min_size: int = 1) -> st.SearchStrategy[NDArray[np.float64]]:
    """Few distinct values: heavy ties, the hard case for ranks and quantile bins."""
    return arrays(np.float64, st.integers(min_size, 200), elements=st.integers(-3, 3).map(float))


any_samples = st.one_of(samples(), integer_samples())

# Multiples of 1/8 in [-100, 100]: far enough apart that 3x + 7 and exp(x / 10) stay
# strictly increasing in floating point too (distinct values stay distinct).
grid_samples = arrays(
    np.float64, st.integers(1, 200), elements=st.integers(-800, 800).map(lambda k: k / 8.0)
)

DISTANCES: list[Callable[[NDArray[np.float64], NDArray[np.float64]], float]] = [
    wasserstein,
    energy_distance,
    psi,
    kl_divergence,
    jensen_shannon,
    hellinger,
]
# JS and Hellinger are symmetric in the bin shares, but the bins are cut at the
# reference's quantiles, so swapping the samples changes the bins: not symmetric here.
SYMMETRIC = [wasserstein, energy_distance]


@settings(max_examples=100, deadline=None)
@given(reference=any_samples, current=any_samples)
def test_distances_are_non_negative_and_finite(
    reference: NDArray[np.float64], current: NDArray[np.float64]
) -> None:
    for distance in DISTANCES:
        value = distance(reference, current)
        assert math.isfinite(value)
        assert value >= 0.0
    assert jensen_shannon(reference, current) <= 1.0
    assert hellinger(reference, current) <= 1.0


@settings(max_examples=100, deadline=None)
@given(reference=any_samples)
def test_distances_are_zero_on_identical_samples(reference: NDArray[np.float64]) -> None:
    for distance in DISTANCES:
        assert distance(reference, reference.copy()) == 0.0
    assert ks(reference, reference.copy()).statistic == 0.0


@settings(max_examples=100, deadline=None)
@given(reference=any_samples, current=any_samples)
def test_symmetric_statistics_are_symmetric(
    reference: NDArray[np.float64], current: NDArray[np.float64]
) -> None:
    for distance in SYMMETRIC:
        forward, backward = distance(reference, current), distance(current, reference)
        assert math.isclose(forward, backward, rel_tol=1e-9, abs_tol=1e-12)
    assert ks(reference, current).statistic == ks(current, reference).statistic
    assert math.isclose(
        ks(reference, current).p_value, ks(current, reference).p_value, rel_tol=1e-9
    )


def _p_value_ok(result: HypothesisTestResult) -> bool:
    return 0.0 <= result.p_value <= 1.0


@settings(max_examples=100, deadline=None)
@given(reference=st.one_of(samples(2), integer_samples(2)), current=any_samples)
def test_p_values_are_in_the_unit_interval(
    reference: NDArray[np.float64], current: NDArray[np.float64]
) -> None:
    assert _p_value_ok(ks(reference, current))
    assert _p_value_ok(mann_whitney(reference, current))
    if reference.size + current.size >= 4:
        assert _p_value_ok(anderson_darling(reference, current))
    if current.size >= 2:
        assert _p_value_ok(cramer_von_mises(reference, current))
        assert _p_value_ok(welch_t(reference, current))


def _affine(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return 3.0 * values + 7.0


def _exponential(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.exp(values / 10.0)


@settings(max_examples=100, deadline=None)
@given(reference=grid_samples, current=grid_samples)
def test_ks_is_invariant_under_a_strictly_increasing_transform(
    reference: NDArray[np.float64], current: NDArray[np.float64]
) -> None:
    base = ks(reference, current)
    for transform in (_affine, _exponential):
        moved = ks(transform(reference), transform(current))
        assert moved.statistic == base.statistic
        assert math.isclose(moved.p_value, base.p_value, rel_tol=1e-12, abs_tol=1e-15)


def _close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(reference=st.one_of(samples(2), integer_samples(2)), current=samples(2))
def test_statistics_match_their_scipy_oracles_on_any_samples(
    reference: NDArray[np.float64], current: NDArray[np.float64]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's own warnings (AD cap) are not under test
        expected_ks = stats.ks_2samp(reference, current)
        expected_mw = stats.mannwhitneyu(reference, current, alternative="two-sided")
        expected_cvm = stats.cramervonmises_2samp(reference, current)
        expected_t = stats.ttest_ind(reference, current, equal_var=False)
    ours_ks = ks(reference, current)
    assert _close(ours_ks.statistic, float(expected_ks.statistic))
    assert _close(ours_ks.p_value, float(expected_ks.pvalue))
    assert _close(wasserstein(reference, current), stats.wasserstein_distance(reference, current))
    assert _close(energy_distance(reference, current), stats.energy_distance(reference, current))
    ours_mw = mann_whitney(reference, current)
    assert _close(ours_mw.statistic, float(expected_mw.statistic))
    assert _close(ours_mw.p_value, float(expected_mw.pvalue))
    ours_cvm = cramer_von_mises(reference, current)
    assert _close(ours_cvm.statistic, float(expected_cvm.statistic))
    assert _close(ours_cvm.p_value, float(expected_cvm.pvalue))
    # Both constant: see welch_t. Variances whose square underflows (values near 1e-100),
    # or that underflow to 0 themselves although the values differ (near 1e-267): scipy's
    # statistic or degrees of freedom go wrong (NaN, or 1), ours stay right; not comparable.
    squares_fine = all(
        (v == 0.0 and np.ptp(x) == 0) or (v / len(x)) ** 2 > 0.0
        for x in (reference, current)
        for v in [float(np.var(x, ddof=1))]
    )
    if (np.ptp(reference) > 0 or np.ptp(current) > 0) and squares_fine:
        ours_t = welch_t(reference, current)
        assert _close(ours_t.statistic, float(expected_t.statistic))
        assert _close(ours_t.p_value, float(expected_t.pvalue))
    ours_ad = anderson_darling(reference, current)
    if np.unique(np.r_[reference, current]).size == 1:  # scipy raises; see anderson_darling
        assert (math.isnan(ours_ad.statistic), ours_ad.p_value) == (True, 1.0)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_ad = stats.anderson_ksamp([reference, current])
    assert _close(ours_ad.statistic, float(expected_ad.statistic))
    assert _close(ours_ad.p_value, float(expected_ad.pvalue))

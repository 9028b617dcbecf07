"""The numeric drift statistics against scipy, and known values."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial import distance

from mlpulse.core.drift.numeric import (
    anderson_darling,
    cramer_von_mises,
    energy_distance,
    hellinger,
    jensen_shannon,
    kl_divergence,
    ks,
    ks_sorted,
    mann_whitney,
    psi,
    wasserstein,
    welch_t,
)
from mlpulse.core.drift.numeric.binning import proportions
from mlpulse.errors import InvalidInputError, ParameterError

Pair = tuple[NDArray[np.float64], NDArray[np.float64]]


def _pairs() -> dict[str, Pair]:
    rng = np.random.default_rng(20261127)
    return {
        "normal_equal": (rng.normal(size=300), rng.normal(size=300)),
        "normal_shifted": (rng.normal(size=250), rng.normal(0.4, 1.3, size=180)),
        "lognormal": (rng.lognormal(size=500), rng.lognormal(0.2, size=333)),
        "integers_with_ties": (
            rng.integers(0, 6, size=200).astype(float),
            rng.integers(0, 8, size=150).astype(float),
        ),
        "tiny_1_vs_5": (rng.normal(size=1), rng.normal(size=5)),
        "tiny_2_vs_3": (rng.normal(size=2), rng.normal(size=3)),
        "tiny_5_vs_4": (rng.normal(size=5), rng.normal(1.0, size=4)),
        "tiny_3_vs_3_ties": (np.array([1.0, 1.0, 2.0]), np.array([1.0, 2.0, 2.0])),
        "sizes_unequal_large": (rng.normal(size=12_000), rng.normal(0.02, size=7_000)),
    }


PAIRS = _pairs()
IDS = sorted(PAIRS)


def _at_least(k: int) -> list[str]:
    return [key for key in IDS if min(PAIRS[key][0].size, PAIRS[key][1].size) >= k]


@pytest.mark.parametrize("key", IDS)
def test_ks_matches_scipy_ks_2samp(key: str) -> None:
    reference, current = PAIRS[key]
    expected = stats.ks_2samp(reference, current, method="auto")
    result = ks(reference, current)
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-12, abs=1e-12)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-12)
    assert (result.n_reference, result.n_current) == (reference.size, current.size)


def test_ks_matches_scipy_on_the_asymptotic_route_for_large_samples() -> None:
    rng = np.random.default_rng(7)
    reference, current = rng.normal(size=20_001), rng.normal(0.01, size=15_000)
    expected = stats.ks_2samp(reference, current, method="auto")
    result = ks(reference, current)
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-12)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-12)


def test_ks_sorted_equals_ks_on_sorted_input() -> None:
    reference, current = PAIRS["lognormal"]
    assert ks_sorted(np.sort(reference), np.sort(current)) == ks(reference, current)


def test_ks_sorted_rejects_unsorted_input_naming_the_argument() -> None:
    with pytest.raises(InvalidInputError) as info:
        ks_sorted([1.0, 2.0], [2.0, 1.0])
    assert info.value.field == "current_sorted"


@pytest.mark.parametrize("key", IDS)
def test_wasserstein_matches_scipy(key: str) -> None:
    reference, current = PAIRS[key]
    expected = stats.wasserstein_distance(reference, current)
    assert wasserstein(reference, current) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_wasserstein_normalize_divides_by_the_reference_std() -> None:
    reference, current = PAIRS["normal_shifted"]
    raw = stats.wasserstein_distance(reference, current)
    assert wasserstein(reference, current, normalize=True) == pytest.approx(
        raw / np.std(reference), rel=1e-9
    )


def test_wasserstein_normalize_keeps_the_raw_distance_when_reference_is_constant() -> None:
    assert wasserstein([2.0, 2.0, 2.0], [3.0, 5.0], normalize=True) == pytest.approx(2.0)


def test_wasserstein_rejects_a_non_bool_normalize() -> None:
    with pytest.raises(ParameterError, match="'normalize' parameter of wasserstein"):
        wasserstein([1.0], [2.0], normalize="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("key", IDS)
def test_energy_distance_matches_scipy(key: str) -> None:
    reference, current = PAIRS[key]
    expected = stats.energy_distance(reference, current)
    assert energy_distance(reference, current) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("key", [k for k in IDS if sum(map(np.size, PAIRS[k])) >= 4])
def test_anderson_darling_matches_scipy(key: str) -> None:
    reference, current = PAIRS[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = stats.anderson_ksamp([reference, current])
    result = anderson_darling(reference, current)
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-9)
    assert 0.001 <= result.p_value <= 0.25


def test_anderson_darling_gives_p_value_one_when_every_value_is_the_same() -> None:
    result = anderson_darling([3.0, 3.0], [3.0, 3.0, 3.0])
    assert math.isnan(result.statistic)
    assert result.p_value == 1.0


def test_anderson_darling_rejects_fewer_than_four_values_in_total() -> None:
    with pytest.raises(InvalidInputError, match="at least 4 values"):
        anderson_darling([1.0], [2.0, 3.0])


@pytest.mark.parametrize("key", _at_least(2))
def test_cramer_von_mises_matches_scipy(key: str) -> None:
    reference, current = PAIRS[key]
    expected = stats.cramervonmises_2samp(reference, current, method="auto")
    result = cramer_von_mises(reference, current)
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("key", _at_least(2))
def test_welch_t_matches_scipy_ttest_ind(key: str) -> None:
    reference, current = PAIRS[key]
    expected = stats.ttest_ind(reference, current, equal_var=False)
    result = welch_t(reference, current)
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-12)


def test_welch_t_on_constant_samples() -> None:
    assert welch_t([2.0, 2.0], [2.0, 2.0, 2.0]).p_value == 1.0
    different = welch_t([1.0, 1.0], [2.0, 2.0])
    assert (different.statistic, different.p_value) == (-math.inf, 0.0)


@pytest.mark.parametrize("key", IDS)
def test_mann_whitney_matches_scipy(key: str) -> None:
    reference, current = PAIRS[key]
    expected = stats.mannwhitneyu(reference, current, alternative="two-sided")
    result = mann_whitney(reference, current)
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-12)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("function", [cramer_von_mises, welch_t])
def test_tests_needing_a_variance_reject_a_single_value(
    function: Callable[[object, object], object],
) -> None:
    with pytest.raises(InvalidInputError) as info:
        function([1.0, 2.0], [3.0, float("nan")])
    assert info.value.field == "current"


@pytest.mark.parametrize("key", IDS)
def test_binned_distances_match_their_formulas_on_the_shared_bins(key: str) -> None:
    reference, current = PAIRS[key]
    r, c = proportions(reference, current, 10)
    assert jensen_shannon(reference, current) == pytest.approx(
        float(distance.jensenshannon(r, c, base=2)), rel=1e-9, abs=1e-12
    )
    expected_hellinger = np.sqrt(np.sum((np.sqrt(r) - np.sqrt(c)) ** 2) / 2)
    assert hellinger(reference, current) == pytest.approx(expected_hellinger, abs=1e-12)
    rs, cs = (r + 1e-4) / (1 + r.size * 1e-4), (c + 1e-4) / (1 + c.size * 1e-4)
    assert kl_divergence(reference, current) == pytest.approx(
        float(stats.entropy(cs, rs)), rel=1e-9, abs=1e-12
    )
    assert psi(reference, current) == pytest.approx(
        float(stats.entropy(cs, rs) + stats.entropy(rs, cs)), rel=1e-9, abs=1e-12
    )


def test_psi_of_identical_samples_is_zero() -> None:
    reference, _ = PAIRS["lognormal"]
    assert psi(reference, reference) == 0.0
    assert psi(reference, reference.copy()[::-1]) == 0.0


def test_psi_of_a_one_sd_shift_is_large() -> None:
    rng = np.random.default_rng(3)
    assert psi(rng.normal(size=5_000), rng.normal(1.0, size=5_000)) > 0.25


def test_psi_bins_cover_values_outside_the_reference_range() -> None:
    r, c = proportions(np.arange(100.0), np.array([-1e6, 1e6]), 10)
    assert r.size == c.size == 10
    assert (c[0], c[-1]) == (0.5, 0.5)


def test_psi_merges_tied_quantile_edges() -> None:
    reference = np.r_[np.zeros(90), np.arange(1.0, 11.0)]
    r, _ = proportions(reference, reference, 10)
    assert r.size < 10
    assert r.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("bins", [1, 0, -3, 2.5, True, "10"])
def test_binned_statistics_reject_bad_bins(bins: object) -> None:
    for function in (psi, kl_divergence, jensen_shannon, hellinger):
        with pytest.raises(ParameterError, match="'bins' parameter of"):
            function([1.0, 2.0], [1.0, 2.0], bins=bins)  # type: ignore[arg-type]


def test_js_and_hellinger_are_in_the_unit_interval_and_one_when_disjoint() -> None:
    for key in IDS:
        reference, current = PAIRS[key]
        assert 0.0 <= jensen_shannon(reference, current) <= 1.0
        assert 0.0 <= hellinger(reference, current) <= 1.0
    assert jensen_shannon([5.0, 5.0], [0.0, 1.0]) == 1.0
    assert hellinger([5.0, 5.0], [0.0, 1.0]) == pytest.approx(1.0)


ALL = [
    ks,
    wasserstein,
    energy_distance,
    psi,
    kl_divergence,
    jensen_shannon,
    hellinger,
    anderson_darling,
    cramer_von_mises,
    welch_t,
    mann_whitney,
]


@pytest.mark.parametrize("function", ALL)
def test_nan_is_dropped_as_a_missing_value(function: Callable[..., object]) -> None:
    reference, current = PAIRS["normal_shifted"]
    with_nan = np.r_[reference[:50], np.nan, reference[50:], np.nan]
    assert function(with_nan, current) == function(reference, current)


def test_none_in_a_list_is_a_missing_value_too() -> None:
    with_none: list[object] = [1.0, None, 2.0]  # what a JSON null becomes
    assert ks(with_none, [3.0]) == ks([1.0, 2.0], [3.0])  # type: ignore[arg-type]  # on purpose


@pytest.mark.parametrize("function", ALL)
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([[1.0, 2.0], [3.0, 4.0]], "1-D"),
        (5.0, "1-D"),
        ([1.0, math.inf], "infinite"),
        ([math.nan, math.nan], "at least"),
        ([], "at least"),
        (["a", "b"], "numbers"),
        (np.array([1 + 1j, 2.0]), "complex"),
    ],
)
def test_unusable_input_raises_invalid_input_naming_the_argument(
    function: Callable[..., object], bad: object, message: str
) -> None:
    good = [0.0, 1.0, 2.0, 3.0, 4.0]
    with pytest.raises(InvalidInputError, match=message) as info:
        function(good, bad)
    assert info.value.field == "current"
    with pytest.raises(InvalidInputError, match=message) as info:
        function(bad, good)
    assert info.value.field == "reference"

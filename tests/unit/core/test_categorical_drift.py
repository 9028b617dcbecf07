"""Categorical drift statistics against scipy oracles, hand-computed values and Zipf data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlpulse.core.drift.categorical import (
    aligned,
    chi_square,
    counts,
    fisher_exact,
    hellinger,
    jensen_shannon,
    jensen_shannon_noise_corrected,
    proportion_z,
    psi,
    top_k_with_other,
    total_variation,
    two_by_two,
    unseen_categories,
)
from mlpulse.core.results import HypothesisTestResult
from mlpulse.errors import InvalidInputError, ParameterError

REFERENCE = {"red": 120, "green": 80, "blue": 45, "grey": 5}
CURRENT = {"green": 95, "red": 100, "blue": 30, "pink": 7}


# --- counting and alignment ---------------------------------------------------------------


def test_counts_counts_categories_and_skips_missing_values() -> None:
    values = np.array(["b", "a", None, "b", float("nan"), "b"], dtype=object)
    assert counts(values) == {"a": 1, "b": 3}


def test_counts_skips_nan_in_a_float_column() -> None:
    assert counts(np.array([1.0, np.nan, 2.0, 1.0])) == {1.0: 2, 2.0: 1}


def test_counts_handles_mixed_types_that_do_not_sort() -> None:
    assert counts(["x", 1, None, "x"]) == {"x": 2, 1: 1}


def test_counts_keeps_integers_mixed_with_strings_as_integers() -> None:
    assert counts(["x", 1, "x", 1, 2]) == {"x": 2, 1: 2, 2: 1}


def test_counts_of_nothing_is_empty() -> None:
    assert counts([]) == {}


def test_counts_rejects_a_two_dimensional_array() -> None:
    with pytest.raises(InvalidInputError) as info:
        counts(np.zeros((2, 2)))
    assert info.value.field == "values"


def test_aligned_keeps_unseen_categories_after_the_reference_ones() -> None:
    pair = aligned(REFERENCE, CURRENT)
    assert pair.categories == ("red", "green", "blue", "grey", "pink")
    assert pair.reference.tolist() == [120, 80, 45, 5, 0]
    assert pair.current.tolist() == [100, 95, 30, 0, 7]
    assert pair.unseen.tolist() == [False, False, False, False, True]


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "many"])
def test_aligned_rejects_bad_counts_naming_the_argument(bad: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        aligned({"a": 1}, {"a": bad})  # type: ignore[dict-item]
    assert info.value.field == "current_counts"


def test_statistics_reject_an_empty_side_naming_it() -> None:
    with pytest.raises(InvalidInputError) as info:
        jensen_shannon({"a": 0}, {"a": 3})
    assert info.value.field == "reference_counts"


# --- chi-square ---------------------------------------------------------------------------


def test_chi_square_matches_scipy_chi2_contingency_without_correction() -> None:
    pair = aligned(REFERENCE, CURRENT)
    table = np.vstack([pair.reference, pair.current])
    expected = stats.chi2_contingency(table, correction=False)
    result = chi_square(REFERENCE, CURRENT)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert (result.n_reference, result.n_current) == (250, 232)


def test_chi_square_matches_scipy_on_a_two_by_two_table_without_yates() -> None:
    expected = stats.chi2_contingency([[12, 5], [3, 9]], correction=False)
    result = chi_square({"a": 12, "b": 5}, {"a": 3, "b": 9})
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)


def test_chi_square_drops_categories_with_zero_total() -> None:
    with_empty = chi_square({"a": 10, "b": 20, "c": 0}, {"a": 15, "b": 12, "c": 0})
    without = chi_square({"a": 10, "b": 20}, {"a": 15, "b": 12})
    assert with_empty == without


def test_chi_square_is_zero_with_one_category() -> None:
    assert chi_square({"a": 10}, {"a": 4}) == HypothesisTestResult(0.0, 1.0, 10, 4)


def test_chi_square_equals_goodness_of_fit_scaled_for_a_huge_reference() -> None:
    # As n_reference grows, homogeneity tends to goodness of fit of current against the
    # reference proportions: scipy.stats.chisquare is the limit oracle.
    shares = np.array([0.5, 0.3, 0.2])
    current = np.array([40, 35, 25])
    reference = {c: float(s * 1e12) for c, s in zip("abc", shares, strict=True)}
    expected = stats.chisquare(current, f_exp=shares * current.sum())
    result = chi_square(reference, dict(zip("abc", current.tolist(), strict=True)))
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-6)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6)


def test_chi_square_keeps_an_unseen_category() -> None:
    result = chi_square({"a": 50, "b": 50}, {"a": 50, "b": 50, "new": 10})
    expected = stats.chi2_contingency([[50, 50, 0], [50, 50, 10]], correction=False)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value < 0.01


# --- distances ----------------------------------------------------------------------------


def _shares() -> tuple[np.ndarray, np.ndarray]:
    pair = aligned(REFERENCE, CURRENT)
    return pair.reference / pair.reference.sum(), pair.current / pair.current.sum()


def test_jensen_shannon_matches_scipy_base_2() -> None:
    p, q = _shares()
    assert jensen_shannon(REFERENCE, CURRENT) == pytest.approx(jensenshannon(p, q, base=2))


def test_jensen_shannon_by_hand_on_two_categories() -> None:
    # p = (1/2, 1/2), q = (1/4, 3/4), m = (3/8, 5/8)
    divergence = 0.5 * (0.5 * math.log2(0.5 / 0.375) + 0.5 * math.log2(0.5 / 0.625)) + 0.5 * (
        0.25 * math.log2(0.25 / 0.375) + 0.75 * math.log2(0.75 / 0.625)
    )
    assert jensen_shannon({"a": 2, "b": 2}, {"a": 1, "b": 3}) == pytest.approx(
        math.sqrt(divergence)
    )


def test_distances_are_one_on_disjoint_supports() -> None:
    for distance in (jensen_shannon, hellinger, total_variation):
        assert distance({"a": 3}, {"b": 4}) == pytest.approx(1.0)


def test_hellinger_by_hand() -> None:
    p, q = _shares()
    expected = math.sqrt(1 - float(np.sum(np.sqrt(p * q))))
    assert hellinger(REFERENCE, CURRENT) == pytest.approx(expected)


def test_total_variation_by_hand() -> None:
    assert total_variation({"a": 6, "b": 4}, {"a": 3, "b": 7}) == pytest.approx(0.3)
    p, q = _shares()
    assert total_variation(REFERENCE, CURRENT) == pytest.approx(0.5 * np.abs(p - q).sum())


def test_psi_by_hand_without_empty_categories() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    expected = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert psi({"a": 50, "b": 50}, {"a": 25, "b": 75}) == pytest.approx(expected)


def test_psi_smooths_an_unseen_category_to_a_finite_value() -> None:
    epsilon = 1e-4
    p = np.array([0.5, 0.5, epsilon])
    q = np.array([50, 50, 10]) / 110
    expected = float(np.sum((q - p) * np.log(q / p)))
    assert psi({"a": 50, "b": 50}, {"a": 50, "b": 50, "c": 10}) == pytest.approx(expected)


@pytest.mark.parametrize("epsilon", [0, 1, -0.1, True, "small"])
def test_psi_rejects_a_bad_epsilon(epsilon: object) -> None:
    with pytest.raises(ParameterError, match="'epsilon' parameter of psi"):
        psi({"a": 1}, {"a": 1}, epsilon=epsilon)  # type: ignore[arg-type]


# --- binary columns -----------------------------------------------------------------------


def test_proportion_z_matches_the_pooled_formula_by_hand() -> None:
    x_r, n_r, x_c, n_c = 30, 100, 50, 100
    pooled = (x_r + x_c) / (n_r + n_c)
    z = (x_c / n_c - x_r / n_r) / math.sqrt(pooled * (1 - pooled) * (1 / n_r + 1 / n_c))
    result = proportion_z({"yes": 30, "no": 70}, {"yes": 50, "no": 50})
    assert result.statistic == pytest.approx(z)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))


@pytest.mark.parametrize(
    ("reference", "current"),
    [((30, 70), (50, 50)), ((5, 995), (12, 1988)), ((400, 600), (380, 700))],
)
def test_proportion_z_squared_equals_uncorrected_chi_square(
    reference: tuple[int, int], current: tuple[int, int]
) -> None:
    result = proportion_z(
        dict(zip("ab", reference, strict=True)), dict(zip("ab", current, strict=True))
    )
    expected = stats.chi2_contingency([reference, current], correction=False)
    assert result.statistic**2 == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)


def test_proportion_z_sign_follows_the_positive_category() -> None:
    rise = proportion_z({True: 30, False: 70}, {True: 50, False: 50}, positive=True)
    fall = proportion_z({True: 30, False: 70}, {True: 50, False: 50}, positive=False)
    assert rise.statistic > 0
    assert fall.statistic == pytest.approx(-rise.statistic)


def test_proportion_z_is_zero_when_one_category_holds_every_row() -> None:
    assert proportion_z({"a": 10}, {"a": 7}) == HypothesisTestResult(0.0, 1.0, 10, 7)


def test_binary_tests_reject_a_third_category() -> None:
    with pytest.raises(InvalidInputError) as info:
        proportion_z({"a": 1, "b": 2}, {"a": 1, "c": 2})
    assert info.value.field == "current_counts"
    with pytest.raises(InvalidInputError) as info:
        fisher_exact({"a": 1, "b": 2, "c": 1}, {"a": 1})
    assert info.value.field == "reference_counts"


def test_two_by_two_puts_the_positive_category_first() -> None:
    table, label = two_by_two({"no": 7, "yes": 3}, {"yes": 5, "no": 5}, positive="yes")
    assert label == "yes"
    assert table.tolist() == [[3, 7], [5, 5]]


@pytest.mark.parametrize(
    ("reference", "current"), [((1, 9), (8, 2)), ((0, 5), (4, 1)), ((3, 3), (3, 3))]
)
def test_fisher_exact_matches_scipy(reference: tuple[int, int], current: tuple[int, int]) -> None:
    expected = stats.fisher_exact([reference, current])
    result = fisher_exact(
        dict(zip("ab", reference, strict=True)), dict(zip("ab", current, strict=True))
    )
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert (result.n_reference, result.n_current) == (sum(reference), sum(current))


def test_fisher_exact_rounds_estimated_counts() -> None:
    assert fisher_exact({"a": 0.9, "b": 9.2}, {"a": 8.1, "b": 1.8}) == fisher_exact(
        {"a": 1, "b": 9}, {"a": 8, "b": 2}
    )


# --- unseen categories --------------------------------------------------------------------


def test_unseen_categories_reports_categories_counts_and_share() -> None:
    result = unseen_categories(REFERENCE, {**CURRENT, "teal": 20, "grey": 3})
    assert result.categories == ("teal", "pink")
    assert result.counts == (20.0, 7.0)
    assert result.count == 27.0
    assert result.share == pytest.approx(27 / 255)


def test_unseen_categories_counts_a_zero_reference_entry_as_unseen() -> None:
    assert unseen_categories({"a": 5, "b": 0}, {"b": 2}).categories == ("b",)


def test_unseen_categories_is_empty_without_new_values() -> None:
    result = unseen_categories(REFERENCE, {"red": 4})
    assert (result.categories, result.count, result.share) == ((), 0.0, 0.0)


# --- high cardinality ---------------------------------------------------------------------

N_CATEGORIES = 20_000
N_ROWS = 100_000
THRESHOLD = 0.05


def _zipf_probabilities() -> np.ndarray:
    weights = np.arange(1, N_CATEGORIES + 1, dtype=np.float64) ** -1.1
    return weights / weights.sum()


def _sample(probabilities: np.ndarray, seed: int) -> dict[int, int]:
    drawn = np.random.default_rng(seed).multinomial(N_ROWS, probabilities)
    present = np.flatnonzero(drawn)
    return dict(zip(present.tolist(), drawn[present].tolist(), strict=True))


def test_naive_jensen_shannon_flags_an_unshifted_high_cardinality_column() -> None:
    # Two samples of one Zipf(1.1) distribution. Measured (seeds 1, 2): JS 0.258, PSI 1.04.
    probabilities = _zipf_probabilities()
    reference, current = _sample(probabilities, 1), _sample(probabilities, 2)
    assert jensen_shannon(reference, current) > 0.1
    assert psi(reference, current) > 0.25


@pytest.mark.parametrize("seed", range(5))
def test_top_k_with_other_silences_sampling_noise_in_an_unshifted_column(seed: int) -> None:
    # Measured with k=100 over these five seed pairs: JS 0.017-0.020 (naive: 0.257-0.259),
    # PSI 0.0016-0.0023; far under the thresholds.
    probabilities = _zipf_probabilities()
    reference, current = _sample(probabilities, 2 * seed), _sample(probabilities, 2 * seed + 1)
    lumped = top_k_with_other(reference, current, k=100)
    assert jensen_shannon(*lumped) < THRESHOLD
    assert psi(*lumped) < 0.1


def test_top_k_with_other_still_detects_a_real_shift() -> None:
    probabilities = _zipf_probabilities()
    shifted = probabilities.copy()
    shifted[[*range(10), *range(100, 110)]] = probabilities[[*range(100, 110), *range(10)]]
    reference, current = _sample(probabilities, 3), _sample(shifted, 4)
    distance = jensen_shannon(*top_k_with_other(reference, current, k=100))
    assert distance > 0.3  # measured: 0.471 (naive: 0.641)


def test_top_k_with_other_keeps_by_min_share_too() -> None:
    reference, current = top_k_with_other(
        {"a": 50, "b": 30, "c": 15, "d": 5}, {"a": 1, "e": 1}, k=1, min_share=0.15
    )
    assert reference == {"a": 50, "b": 30, "c": 15, "__other__": 5}
    assert current == {"a": 1, "b": 0, "c": 0, "__other__": 1}


def test_top_k_with_other_keeps_totals() -> None:
    reference, current = top_k_with_other(REFERENCE, CURRENT, k=2)
    assert sum(reference.values()) == sum(REFERENCE.values())
    assert sum(current.values()) == sum(CURRENT.values())


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"k": 0}, "k"),
        ({"k": True}, "k"),
        ({"k": None}, "k"),
        ({"min_share": 0.0}, "min_share"),
        ({"min_share": 1.5}, "min_share"),
        ({"other": "red"}, "other"),
    ],
)
def test_top_k_with_other_rejects_bad_parameters(options: dict[str, object], name: str) -> None:
    with pytest.raises(ParameterError, match=f"'{name}' parameter of top_k_with_other"):
        top_k_with_other(REFERENCE, CURRENT, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(5))
def test_noise_corrected_jensen_shannon_is_near_zero_on_an_unshifted_column(seed: int) -> None:
    # Measured over seeds 0-4: distance 0.2565-0.2591, expected (noise) 0.2575-0.2584,
    # corrected 0.0 except 0.028 for seed 1; p-values 0.11-0.88.
    probabilities = _zipf_probabilities()
    reference, current = _sample(probabilities, 2 * seed), _sample(probabilities, 2 * seed + 1)
    result = jensen_shannon_noise_corrected(reference, current)
    assert result.distance == pytest.approx(jensen_shannon(reference, current))
    assert result.distance > 0.1
    assert result.corrected < THRESHOLD
    assert result.p_value > 0.05


def test_noise_corrected_jensen_shannon_detects_a_real_shift() -> None:
    probabilities = _zipf_probabilities()
    shifted = probabilities.copy()
    shifted[[*range(10), *range(100, 110)]] = probabilities[[*range(100, 110), *range(10)]]
    reference, current = _sample(probabilities, 3), _sample(shifted, 4)
    result = jensen_shannon_noise_corrected(reference, current, n_resamples=50)
    assert result.corrected > 0.3  # measured: 0.587
    assert result.p_value == pytest.approx(1 / 51)


def test_noise_corrected_jensen_shannon_is_deterministic_for_a_seed() -> None:
    first = jensen_shannon_noise_corrected(REFERENCE, CURRENT, seed=7)
    assert first == jensen_shannon_noise_corrected(REFERENCE, CURRENT, seed=7)
    assert 0 < first.p_value <= 1
    assert first.corrected <= first.distance


@pytest.mark.parametrize("n_resamples", [0, True, 1.5, 100_001])
def test_noise_corrected_jensen_shannon_rejects_a_bad_n_resamples(n_resamples: object) -> None:
    with pytest.raises(ParameterError, match="'n_resamples' parameter"):
        jensen_shannon_noise_corrected(REFERENCE, CURRENT, n_resamples=n_resamples)  # type: ignore[arg-type]


def test_noise_corrected_jensen_shannon_rejects_a_total_below_one_row() -> None:
    with pytest.raises(InvalidInputError) as info:
        jensen_shannon_noise_corrected(REFERENCE, {"red": 0.2})
    assert info.value.field == "current_counts"

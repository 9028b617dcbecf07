"""The frequentist experiment tests against scipy and statsmodels, and their properties."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportions_ztest,
)
from statsmodels.stats.proportion import test_proportions_2indep as proportions_2indep_test

from mlpulse.core.experiments import (
    CovStats,
    ExperimentStatus,
    MeanStats,
    ProportionStats,
    bootstrap_mean_difference,
    chi_square_test,
    mann_whitney_u,
    proportion_z_test,
    welch_from_moments,
    welch_t_test,
)
from mlpulse.errors import InvalidInputError, ParameterError

_many = settings(max_examples=40, deadline=None)
_values = st.lists(
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False), min_size=0, max_size=40
)

Pair = tuple[NDArray[np.float64], NDArray[np.float64]]


def _pairs() -> dict[str, Pair]:
    rng = np.random.default_rng(20261127)
    return {
        "normal_equal": (rng.normal(size=300), rng.normal(size=300)),
        "normal_shifted": (rng.normal(10, 1, size=250), rng.normal(10.4, 1.3, size=180)),
        "lognormal": (rng.lognormal(size=500), rng.lognormal(0.2, size=333)),
        "small": (rng.normal(5, 2, size=5), rng.normal(6, 1, size=7)),
        "integers_with_ties": (
            rng.integers(0, 5, size=200).astype(float),
            rng.integers(0, 6, size=150).astype(float),
        ),
    }


PAIRS = _pairs()
IDS = sorted(PAIRS)


# ---------------------------------------------------------------- sufficient statistics


@_many
@given(_values, st.data())
def test_mean_stats_merge_equals_stats_of_all_values_in_any_split(
    values: list[float], data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(values)), max_size=4)))
    parts = np.split(np.array(values, dtype=float), cuts)
    merged = MeanStats()
    for part in parts:
        merged = merged + MeanStats.from_values(part)
    whole = MeanStats.from_values(values)
    assert merged.n == whole.n
    assert math.isclose(merged.sum, whole.sum, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(merged.sum_sq, whole.sum_sq, rel_tol=1e-9, abs_tol=1e-6)


@_many
@given(_values, st.data())
def test_cov_and_proportion_stats_merge_equals_stats_of_all_values(
    values: list[float], data: st.DataObject
) -> None:
    x = np.array(values, dtype=float)
    y = np.cos(x) * 3.0 + x / 7.0
    outcomes = (x > 0).astype(float)
    cut = data.draw(st.integers(0, len(values)))
    merged = CovStats.from_values(x[:cut], y[:cut]).merge(CovStats.from_values(x[cut:], y[cut:]))
    whole = CovStats.from_values(x, y)
    assert merged.n == whole.n
    for field in ("sum_x", "sum_y", "sum_xx", "sum_yy", "sum_xy"):
        assert math.isclose(getattr(merged, field), getattr(whole, field), abs_tol=1e-6)
    p = ProportionStats.from_values(outcomes[:cut]) + ProportionStats.from_values(outcomes[cut:])
    assert p == ProportionStats.from_values(outcomes)


def test_sufficient_stats_moments_match_numpy() -> None:
    x, y = PAIRS["normal_shifted"][0], PAIRS["lognormal"][0][:250]
    s = CovStats.from_values(x, y)
    assert s.mean_x == pytest.approx(np.mean(x), rel=1e-12)
    assert s.var_y == pytest.approx(np.var(y, ddof=1), rel=1e-9)
    assert s.covariance == pytest.approx(np.cov(x, y)[0, 1], rel=1e-9)
    assert math.isnan(MeanStats().mean) and math.isnan(MeanStats(1, 2.0, 4.0).variance)


def test_sufficient_stats_reject_bad_fields_and_values() -> None:
    with pytest.raises(ParameterError, match="'n' parameter of MeanStats"):
        MeanStats(-1, 0.0, 0.0)
    with pytest.raises(ParameterError, match="'successes' parameter of ProportionStats"):
        ProportionStats(3, 4)
    with pytest.raises(InvalidInputError):
        MeanStats.from_values([1.0, math.nan])
    with pytest.raises(InvalidInputError):
        ProportionStats.from_values([0, 1, 2])
    with pytest.raises(InvalidInputError):
        CovStats.from_values([1.0, 2.0], [1.0])


# ---------------------------------------------------------------- Welch


@pytest.mark.parametrize("name", IDS)
def test_welch_t_test_matches_scipy_ttest_ind_unequal_var(name: str) -> None:
    control, treatment = PAIRS[name]
    result = welch_t_test(MeanStats.from_values(control), MeanStats.from_values(treatment))
    oracle = stats.ttest_ind(treatment, control, equal_var=False)
    ci = oracle.confidence_interval(0.95)
    assert result.status is ExperimentStatus.OK
    assert result.statistic == pytest.approx(oracle.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(oracle.pvalue, rel=1e-8, abs=1e-300)
    assert result.dof == pytest.approx(oracle.df, rel=1e-9)
    assert result.difference_ci == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_welch_relative_interval_is_the_delta_method_and_covers_the_lift() -> None:
    # Coverage of the 90% relative interval over 2,000 seeded experiments with lift 0.1.
    rng = np.random.default_rng(7)
    control = rng.exponential(10.0, size=(2000, 400))
    treatment = rng.exponential(11.0, size=(2000, 400))
    covered = 0
    for c, t in zip(control, treatment, strict=True):
        r = welch_from_moments(
            c.mean(), c.var(ddof=1), c.size, t.mean(), t.var(ddof=1), t.size, alpha=0.1
        )
        covered += r.relative_ci[0] <= 0.1 <= r.relative_ci[1]
    assert 0.88 <= covered / 2000 <= 0.92


def test_welch_false_positive_rate_on_seeded_a_a_splits_is_alpha() -> None:
    rng = np.random.default_rng(2026)
    # Unequal sizes and spreads: the case Welch's test exists for.
    control = rng.normal(3.0, 1.0, size=(2000, 80))
    treatment = rng.normal(3.0, 3.0, size=(2000, 120))
    rejections = sum(
        welch_t_test(MeanStats.from_values(c), MeanStats.from_values(t)).p_value < 0.05
        for c, t in zip(control, treatment, strict=True)
    )
    assert 0.04 <= rejections / 2000 <= 0.06


def test_welch_t_test_reports_insufficient_data_below_two_units() -> None:
    result = welch_t_test(MeanStats.from_values([1.0]), MeanStats.from_values([1.0, 2.0]))
    assert result.status is ExperimentStatus.INSUFFICIENT_DATA
    assert math.isnan(result.p_value) and result.n_control == 1


def test_welch_t_test_on_constant_arms_gives_p_one_or_zero() -> None:
    same = welch_t_test(MeanStats.from_values([2.0, 2.0]), MeanStats.from_values([2.0] * 3))
    apart = welch_t_test(MeanStats.from_values([2.0, 2.0]), MeanStats.from_values([3.0] * 3))
    assert (same.statistic, same.p_value) == (0.0, 1.0)
    assert (apart.statistic, apart.p_value) == (math.inf, 0.0)


@_many
@given(_values, _values, st.floats(0.001, 0.5))
# A subnormal control mean: the ratio overflows to inf (found on numpy 2.2 in CI).
@example([0.0, 2.225073858507e-311], [0.0, 1.0], 0.5)
# A tiny control mean: the ratio is a float, its square is not (found in CI).
@example([0.0, 9.355695907036736e-186], [0.0, 1.0], 0.5)
def test_welch_p_value_in_unit_interval_and_intervals_contain_estimates(
    a: list[float], b: list[float], alpha: float
) -> None:
    r = welch_t_test(MeanStats.from_values(a), MeanStats.from_values(b), alpha=alpha)
    if r.status is ExperimentStatus.INSUFFICIENT_DATA:
        assert len(a) < 2 or len(b) < 2
        return
    assert 0.0 <= r.p_value <= 1.0
    assert r.difference_ci[0] <= r.difference <= r.difference_ci[1]
    if not math.isnan(r.relative_difference):
        assert r.relative_ci[0] <= r.relative_difference <= r.relative_ci[1]


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, True, math.nan])
def test_welch_rejects_alpha_outside_zero_one(alpha: float) -> None:
    with pytest.raises(ParameterError, match="'alpha' parameter of welch_from_moments"):
        welch_t_test(MeanStats.from_values([1.0, 2.0]), MeanStats.from_values([1, 3]), alpha=alpha)


# ---------------------------------------------------------------- proportions

PROPORTIONS = [(1000, 100, 1000, 130), (5000, 40, 4000, 51), (123, 60, 200, 80), (50, 0, 60, 3)]


@pytest.mark.parametrize(("nc", "sc", "nt", "st_"), PROPORTIONS)
def test_proportion_z_test_matches_statsmodels(nc: int, sc: int, nt: int, st_: int) -> None:
    control, treatment = ProportionStats(nc, sc), ProportionStats(nt, st_)
    pooled = proportion_z_test(control, treatment)
    z, p = proportions_ztest([st_, sc], [nt, nc])
    assert pooled.statistic == pytest.approx(z, rel=1e-10)
    assert pooled.p_value == pytest.approx(p, rel=1e-9)
    low, high = confint_proportions_2indep(st_, nt, sc, nc, method="wald", compare="diff")
    assert pooled.difference_ci == pytest.approx((low, high), rel=1e-10, abs=1e-15)
    unpooled = proportion_z_test(control, treatment, pooled=False, relative="log")
    with np.errstate(divide="ignore"):  # statsmodels also forms the ratio, 1/0 here
        oracle = proportions_2indep_test(st_, nt, sc, nc, method="wald", compare="diff")
    assert unpooled.statistic == pytest.approx(oracle.statistic, rel=1e-10)
    assert unpooled.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
    if sc and st_:
        low, high = confint_proportions_2indep(st_, nt, sc, nc, method="log", compare="ratio")
        assert unpooled.relative_ci == pytest.approx((low - 1, high - 1), rel=1e-10)


def test_proportion_z_test_reports_insufficient_data_for_an_empty_arm() -> None:
    result = proportion_z_test(ProportionStats(0, 0), ProportionStats(10, 2))
    assert result.status is ExperimentStatus.INSUFFICIENT_DATA


@_many
@given(
    st.integers(1, 10_000), st.integers(1, 10_000), st.floats(0, 1), st.floats(0, 1),
    st.booleans(), st.sampled_from(["delta", "log"]),
)  # fmt: skip
def test_proportion_z_test_p_value_in_unit_interval_and_intervals_contain_estimates(
    nc: int, nt: int, rc: float, rt: float, pooled: bool, relative: Literal["delta", "log"]
) -> None:
    control = ProportionStats(nc, round(rc * nc))
    treatment = ProportionStats(nt, round(rt * nt))
    r = proportion_z_test(control, treatment, pooled=pooled, relative=relative)
    assert 0.0 <= r.p_value <= 1.0
    assert r.difference_ci[0] <= r.difference <= r.difference_ci[1]
    if not math.isnan(r.relative_ci[0]):
        tol = 1e-12 * max(1.0, abs(r.relative_difference))
        assert r.relative_ci[0] - tol <= r.relative_difference <= r.relative_ci[1] + tol


# ---------------------------------------------------------------- chi-square


@pytest.mark.parametrize("correction", [False, True])
@pytest.mark.parametrize(
    "counts", [[(1000, 100), (1000, 130)], [(500, 50), (520, 61), (480, 40)], [(30, 2), (40, 9)]]
)
def test_chi_square_test_matches_scipy_chi2_contingency(
    counts: list[tuple[int, int]], correction: bool
) -> None:
    variants = [ProportionStats(n, s) for n, s in counts]
    table = [[s, n - s] for n, s in counts]
    oracle = stats.chi2_contingency(table, correction=correction)
    result = chi_square_test(variants, correction=correction)
    assert result.statistic == pytest.approx(oracle.statistic, rel=1e-10)
    assert result.p_value == pytest.approx(oracle.pvalue, rel=1e-10)
    assert result.dof == oracle.dof


def test_chi_square_without_correction_is_the_square_of_the_pooled_z() -> None:
    control, treatment = ProportionStats(800, 90), ProportionStats(900, 130)
    z = proportion_z_test(control, treatment)
    chi2 = chi_square_test([control, treatment])
    assert chi2.statistic == pytest.approx(z.statistic**2, rel=1e-10)
    assert chi2.p_value == pytest.approx(z.p_value, rel=1e-9)


def test_chi_square_reports_insufficient_data_without_any_success() -> None:
    result = chi_square_test([ProportionStats(10, 0), ProportionStats(12, 0)])
    assert result.status is ExperimentStatus.INSUFFICIENT_DATA
    with pytest.raises(ParameterError, match="'variants' parameter of chi_square_test"):
        chi_square_test([ProportionStats(10, 0)])


# ---------------------------------------------------------------- Mann–Whitney, bootstrap


@pytest.mark.parametrize("name", IDS)
def test_mann_whitney_u_matches_scipy_asymptotic_two_sided(name: str) -> None:
    control, treatment = PAIRS[name]
    result = mann_whitney_u(control, treatment)
    oracle = stats.mannwhitneyu(treatment, control, alternative="two-sided", method="asymptotic")
    assert result.statistic == oracle.statistic
    assert result.p_value == pytest.approx(oracle.pvalue, rel=1e-12)
    assert result.superiority == pytest.approx(oracle.statistic / (control.size * treatment.size))


def test_mann_whitney_u_handles_empty_and_constant_arms() -> None:
    assert mann_whitney_u([], [1.0]).status is ExperimentStatus.INSUFFICIENT_DATA
    constant = mann_whitney_u([3.0, 3.0], [3.0, 3.0, 3.0])
    assert (constant.statistic, constant.p_value, constant.superiority) == (3.0, 1.0, 0.5)


def test_bootstrap_interval_is_seeded_and_close_to_welch() -> None:
    control, treatment = PAIRS["normal_shifted"]
    first = bootstrap_mean_difference(control, treatment, seed=3)
    assert first == bootstrap_mean_difference(control, treatment, seed=3)
    assert first != bootstrap_mean_difference(control, treatment, seed=4)
    welch = welch_t_test(MeanStats.from_values(control), MeanStats.from_values(treatment))
    assert first.difference == pytest.approx(welch.difference)
    assert first.difference_ci == pytest.approx(welch.difference_ci, abs=0.04)
    assert first.standard_error == pytest.approx(welch.standard_error, rel=0.1)


def test_bootstrap_resamples_in_blocks_for_large_arms() -> None:
    rng = np.random.default_rng(0)
    r = bootstrap_mean_difference(rng.normal(size=50_000), rng.normal(size=50_000), resamples=200)
    assert r.difference_ci[0] < r.difference < r.difference_ci[1]
    assert r.standard_error == pytest.approx(math.sqrt(2 / 50_000), rel=0.2)


def test_bootstrap_rejects_bad_parameters_and_reports_insufficient_data() -> None:
    with pytest.raises(ParameterError, match="'resamples' parameter"):
        bootstrap_mean_difference([1.0, 2.0], [1.0, 2.0], resamples=0)
    with pytest.raises(ParameterError, match="'seed' parameter"):
        bootstrap_mean_difference([1.0, 2.0], [1.0, 2.0], seed=-1)
    r = bootstrap_mean_difference([1.0], [1.0, 2.0])
    assert r.status is ExperimentStatus.INSUFFICIENT_DATA

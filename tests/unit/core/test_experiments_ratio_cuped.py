"""Ratio metrics (delta method) and CUPED against numpy, scipy and statsmodels oracles."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import stats

from mlpulse.core.experiments import (
    CovStats,
    ExperimentStatus,
    MeanStats,
    cuped,
    ratio_metric,
    ratio_variance,
    welch_t_test,
)
from mlpulse.errors import ParameterError

_many = settings(max_examples=40, deadline=None)

Arm = tuple[NDArray[np.float64], NDArray[np.float64]]


def _sessions(rng: np.random.Generator, users: int, ctr: float) -> Arm:
    """Per user: impressions (x, at least 1) and clicks (y), clicks correlated within a user."""
    impressions = rng.poisson(5.0, users).astype(float) + 1.0
    propensity = np.clip(rng.normal(ctr, ctr / 2, users), 0.0, 1.0)
    return impressions, rng.binomial(impressions.astype(int), propensity).astype(float)


def _pre_post(rng: np.random.Generator, users: int, effect: float) -> Arm:
    pre = rng.gamma(2.0, 5.0, users)
    post = 0.8 * pre + rng.normal(3.0, 4.0, users) + effect
    return pre, post


# ---------------------------------------------------------------- ratio metrics


def test_ratio_variance_equals_the_variance_of_the_linearised_metric() -> None:
    x, y = _sessions(np.random.default_rng(1), 3000, 0.1)
    ratio = y.sum() / x.sum()
    linearised = (y - ratio * x) / x.mean()  # Deng et al. (2018), §4
    expected = np.var(linearised, ddof=1) / x.size
    assert ratio_variance(CovStats.from_values(x, y)) == pytest.approx(expected, rel=1e-9)


def test_ratio_metric_with_unit_denominators_is_welch_with_a_normal_quantile() -> None:
    rng = np.random.default_rng(2)
    yc, yt = rng.normal(5, 2, 400), rng.normal(5.3, 3, 300)
    r = ratio_metric(CovStats.from_values(np.ones(400), yc), CovStats.from_values(np.ones(300), yt))
    w = welch_t_test(MeanStats.from_values(yc), MeanStats.from_values(yt))
    assert r.difference == pytest.approx(w.difference, rel=1e-12)
    assert r.standard_error == pytest.approx(w.standard_error, rel=1e-9)
    assert r.statistic == pytest.approx(w.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(w.statistic)), rel=1e-9)
    assert r.dof == math.inf


def test_ratio_metric_intervals_cover_the_true_difference_and_lift() -> None:
    rng = np.random.default_rng(3)
    trials, covered, covered_lift = 600, 0, 0
    for _ in range(trials):
        control = CovStats.from_values(*_sessions(rng, 500, 0.10))
        treatment = CovStats.from_values(*_sessions(rng, 500, 0.12))
        r = ratio_metric(control, treatment, alpha=0.1)
        # The true ratio is the mean propensity (impressions do not depend on it; the
        # clipping at 0 moves it by under 0.5%, far inside the intervals).
        covered += r.difference_ci[0] <= 0.02 <= r.difference_ci[1]
        covered_lift += r.relative_ci[0] <= 0.2 <= r.relative_ci[1]
    assert 0.86 <= covered / trials <= 0.94
    assert 0.86 <= covered_lift / trials <= 0.94


def test_ratio_metric_merges_windows_to_the_result_of_all_rows() -> None:
    rng = np.random.default_rng(4)
    xc, yc = _sessions(rng, 900, 0.1)
    xt, yt = _sessions(rng, 900, 0.1)
    windows = [slice(0, 300), slice(300, 600), slice(600, 900)]
    merged_c = sum((CovStats.from_values(xc[w], yc[w]) for w in windows), CovStats())
    merged_t = sum((CovStats.from_values(xt[w], yt[w]) for w in windows), CovStats())
    whole = ratio_metric(CovStats.from_values(xc, yc), CovStats.from_values(xt, yt))
    merged = ratio_metric(merged_c, merged_t)
    assert merged.p_value == pytest.approx(whole.p_value, rel=1e-9)
    assert merged.relative_ci == pytest.approx(whole.relative_ci, rel=1e-9)


def test_ratio_metric_reports_insufficient_data_without_denominator() -> None:
    empty = CovStats.from_values([0.0, 0.0], [0.0, 0.0])
    r = ratio_metric(empty, CovStats.from_values([1.0, 2.0], [0.0, 1.0]))
    assert r.status is ExperimentStatus.INSUFFICIENT_DATA
    assert ratio_metric(CovStats(), CovStats()).status is ExperimentStatus.INSUFFICIENT_DATA


def test_ratio_metric_lift_interval_survives_a_control_ratio_whose_square_underflows() -> None:
    control = CovStats.from_values([1.0, 1.0, 1.0], [1e-170, 2e-170, 3e-170])
    treatment = CovStats.from_values([1.0, 1.0, 1.0], [2e-170, 4e-170, 6e-170])
    r = ratio_metric(control, treatment)
    assert r.relative_difference == pytest.approx(1.0)
    low, high = r.relative_ci
    assert low <= 1.0 <= high and math.isfinite(high - low)


_arm = st.lists(st.tuples(st.integers(1, 20), st.integers(0, 20)), min_size=2, max_size=30).map(
    lambda pairs: CovStats.from_values([p[0] for p in pairs], [p[1] for p in pairs])
)


@_many
@given(_arm, _arm, st.floats(0.001, 0.5))
def test_ratio_metric_p_value_in_unit_interval_and_intervals_contain_estimates(
    control: CovStats, treatment: CovStats, alpha: float
) -> None:
    r = ratio_metric(control, treatment, alpha=alpha)
    assert 0.0 <= r.p_value <= 1.0
    assert r.difference_ci[0] <= r.difference <= r.difference_ci[1]
    if not math.isnan(r.relative_difference):
        assert r.relative_ci[0] <= r.relative_difference <= r.relative_ci[1]


# ---------------------------------------------------------------- CUPED


@pytest.mark.parametrize("theta", ["pooled", "per_arm"])
def test_cuped_is_welch_on_the_adjusted_values(theta: Literal["pooled", "per_arm"]) -> None:
    rng = np.random.default_rng(5)
    (xc, yc), (xt, yt) = _pre_post(rng, 700, 0.0), _pre_post(rng, 500, 0.5)
    x_all = np.concatenate([xc, xt]).mean()
    if theta == "pooled":
        slope = np.cov(np.concatenate([xc, xt]), np.concatenate([yc, yt]))
        theta_c = theta_t = slope[0, 1] / slope[0, 0]
    else:
        theta_c = np.cov(xc, yc)[0, 1] / np.var(xc, ddof=1)
        theta_t = np.cov(xt, yt)[0, 1] / np.var(xt, ddof=1)
    adjusted_c = yc - theta_c * (xc - x_all)
    adjusted_t = yt - theta_t * (xt - x_all)
    r = cuped(CovStats.from_values(xc, yc), CovStats.from_values(xt, yt), theta=theta)
    oracle = stats.ttest_ind(adjusted_t, adjusted_c, equal_var=False)
    assert (r.theta_control, r.theta_treatment) == pytest.approx((theta_c, theta_t), rel=1e-9)
    assert r.adjusted.control == pytest.approx(adjusted_c.mean(), rel=1e-9)
    assert r.adjusted.statistic == pytest.approx(oracle.statistic, rel=1e-8)
    assert r.adjusted.p_value == pytest.approx(oracle.pvalue, rel=1e-6)
    ci = oracle.confidence_interval()
    assert r.adjusted.difference_ci == pytest.approx((ci.low, ci.high), rel=1e-8)


def test_cuped_per_arm_difference_is_lins_interacted_regression_coefficient() -> None:
    rng = np.random.default_rng(6)
    (xc, yc), (xt, yt) = _pre_post(rng, 600, 0.0), _pre_post(rng, 400, 1.0)
    x, y = np.concatenate([xc, xt]), np.concatenate([yc, yt])
    treated = np.r_[np.zeros(600), np.ones(400)]
    centred = x - x.mean()
    design = np.column_stack([np.ones_like(x), treated, centred, treated * centred])
    fit = sm.OLS(y, design).fit()
    r = cuped(CovStats.from_values(xc, yc), CovStats.from_values(xt, yt), theta="per_arm")
    assert r.adjusted.difference == pytest.approx(fit.params[1], rel=1e-9)


def test_cuped_reduces_variance_by_the_squared_correlation_and_keeps_the_effect() -> None:
    rng = np.random.default_rng(7)
    (xc, yc), (xt, yt) = _pre_post(rng, 20_000, 0.0), _pre_post(rng, 20_000, 0.3)
    r = cuped(CovStats.from_values(xc, yc), CovStats.from_values(xt, yt))
    rho = np.corrcoef(np.concatenate([xc, xt]), np.concatenate([yc, yt]))[0, 1]
    assert r.variance_reduction == pytest.approx(rho**2, abs=0.01)
    assert r.adjusted.difference == pytest.approx(0.3, abs=4 * r.adjusted.standard_error)
    assert r.adjusted.standard_error < r.unadjusted.standard_error
    assert r.unadjusted == welch_t_test(MeanStats.from_values(yc), MeanStats.from_values(yt))


def test_cuped_false_positive_rate_on_a_a_splits_stays_near_alpha() -> None:
    rng = np.random.default_rng(8)
    rejections = 0
    for _ in range(1000):
        control = CovStats.from_values(*_pre_post(rng, 200, 0.0))
        treatment = CovStats.from_values(*_pre_post(rng, 200, 0.0))
        rejections += cuped(control, treatment).adjusted.p_value < 0.05
    assert 0.035 <= rejections / 1000 <= 0.065


def test_cuped_without_covariate_spread_is_the_unadjusted_test() -> None:
    rng = np.random.default_rng(9)
    yc, yt = rng.normal(size=50), rng.normal(size=60)
    r = cuped(CovStats.from_values(np.ones(50), yc), CovStats.from_values(np.ones(60), yt))
    assert r.theta_control == 0.0
    assert r.adjusted.p_value == pytest.approx(r.unadjusted.p_value, rel=1e-12)
    assert r.variance_reduction == pytest.approx(0.0, abs=1e-12)


def test_cuped_reports_insufficient_data_and_rejects_unknown_theta() -> None:
    one = CovStats.from_values([1.0], [2.0])
    r = cuped(one, CovStats.from_values([1.0, 2.0], [2.0, 3.0]))
    assert r.status is ExperimentStatus.INSUFFICIENT_DATA
    assert math.isnan(r.variance_reduction)
    with pytest.raises(ParameterError, match="'theta' parameter of cuped"):
        cuped(one, one, theta="both")  # type: ignore[arg-type]  # deliberately wrong

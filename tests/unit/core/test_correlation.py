"""Correlation of aligned series: scipy as the oracle, hypothesis for the edges."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from mlpulse.core.correlation import CorrelationStatus, correlation
from mlpulse.errors import ParameterError


@pytest.mark.parametrize("seed", range(5))
def test_correlation_matches_scipy_pearson_and_spearman(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=48)
    y = 0.6 * x + rng.normal(size=48)

    result = correlation(x, y)

    pearson, spearman = stats.pearsonr(x, y), stats.spearmanr(x, y)
    assert result.status == CorrelationStatus.OK
    assert result.n == 48
    assert result.pearson_r == pytest.approx(pearson.statistic, abs=1e-12)
    assert result.pearson_p == pytest.approx(pearson.pvalue, abs=1e-12)
    assert result.spearman_r == pytest.approx(spearman.statistic, abs=1e-12)
    assert result.spearman_p == pytest.approx(spearman.pvalue, abs=1e-12)


def test_correlation_drops_pairs_with_a_missing_side() -> None:
    x = [1.0, 2.0, math.nan, 4.0, 5.0, 6.0]
    y = [1.5, 1.0, 3.0, math.inf, 4.0, 7.0]

    result = correlation(x, y)

    kept_x, kept_y = [1.0, 2.0, 5.0, 6.0], [1.5, 1.0, 4.0, 7.0]
    assert result.n == 4
    assert result.pearson_r == pytest.approx(stats.pearsonr(kept_x, kept_y).statistic)


def test_correlation_is_insufficient_data_when_a_series_is_constant() -> None:
    result = correlation([3.0] * 10, list(range(10)))

    assert result.status == CorrelationStatus.INSUFFICIENT_DATA
    assert result.pearson_r is None and result.spearman_p is None
    assert "constant" in result.reason


def test_correlation_is_insufficient_data_when_too_few_points() -> None:
    result = correlation([1.0, 2.0], [2.0, 1.0])

    assert result.status == CorrelationStatus.INSUFFICIENT_DATA
    assert result.n == 2
    assert result.reason.startswith("not enough data")


@pytest.mark.parametrize("bad", [2, 0, 2.5, True])
def test_correlation_rejects_min_points_below_three(bad: object) -> None:
    with pytest.raises(ParameterError, match="'min_points' parameter of correlation"):
        correlation([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], min_points=bad)  # type: ignore[arg-type]


def test_correlation_rejects_series_of_different_lengths() -> None:
    with pytest.raises(ParameterError, match="'y' parameter"):
        correlation([1.0, 2.0, 3.0], [1.0, 2.0])


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
maybe_missing = st.one_of(finite, st.just(math.nan))


@given(st.lists(st.tuples(maybe_missing, maybe_missing), max_size=40))
def test_correlation_is_never_nan_and_stays_in_range(pairs: list[tuple[float, float]]) -> None:
    x = [a for a, _ in pairs]
    y = [b for _, b in pairs]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's ConstantInputWarning must not escape
        result = correlation(x, y)

    if result.status == CorrelationStatus.OK:
        assert result.n >= 3
        for r in (result.pearson_r, result.spearman_r):
            assert r is not None and -1.0 <= r <= 1.0
        for p in (result.pearson_p, result.spearman_p):
            assert p is not None and 0.0 <= p <= 1.0
    else:
        assert result.reason.startswith("not enough data")
        assert result.pearson_r is None and result.pearson_p is None


@given(st.lists(finite, min_size=0, max_size=30), finite)
def test_correlation_with_a_constant_series_is_not_enough_data(
    xs: list[float], constant: float
) -> None:
    result = correlation(xs, [constant] * len(xs))

    assert result.status == CorrelationStatus.INSUFFICIENT_DATA


@given(st.lists(finite, min_size=3, max_size=30, unique=True))
def test_correlation_of_a_series_with_itself_is_one(xs: list[float]) -> None:
    result = correlation(xs, xs)

    if result.status == CorrelationStatus.OK:  # unique values can still be ~constant
        assert result.pearson_r == pytest.approx(1.0)
        assert result.spearman_r == pytest.approx(1.0)

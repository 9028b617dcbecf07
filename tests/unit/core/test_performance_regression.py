"""Regression performance against scikit-learn, and its edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from mlpulse.core.drift.check import Status
from mlpulse.core.performance import regression_performance
from mlpulse.core.performance.regression import METRICS
from mlpulse.errors import InvalidInputError, ParameterError


def _oracle(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "mae": skm.mean_absolute_error(y_true, y_pred),
        "rmse": math.sqrt(skm.mean_squared_error(y_true, y_pred)),
        "mape": skm.mean_absolute_percentage_error(y_true, y_pred),
        "r2": skm.r2_score(y_true, y_pred),
    }


@pytest.mark.parametrize("n", [2, 10, 1000])
@pytest.mark.parametrize("seed", range(8))
def test_regression_performance_matches_sklearn(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.lognormal(size=n) * rng.choice([-1.0, 1.0], n)
    y_pred = y_true + rng.normal(0.0, 0.5, n)
    got = regression_performance(y_true, y_pred).metrics
    for name, value in _oracle(y_true, y_pred).items():
        assert got[name] == pytest.approx(value, rel=1e-12), name


def test_regression_performance_mape_matches_sklearn_when_y_true_has_zeros() -> None:
    y_true = np.array([0.0, 0.0, 1.0, 2.0])
    y_pred = np.array([0.0, 0.5, 1.5, 2.0])
    got = regression_performance(y_true, y_pred).metrics["mape"]
    assert got == skm.mean_absolute_percentage_error(y_true, y_pred)
    assert got is not None and got > 1e14  # the epsilon makes it huge, as documented


@pytest.mark.parametrize(
    ("y_pred", "r2"), [([3.0, 3.0, 3.0], 1.0), ([3.0, 2.0, 3.0], 0.0), ([1.0, 5.0, 9.0], 0.0)]
)
def test_regression_performance_r2_matches_sklearn_when_y_true_is_constant(
    y_pred: list[float], r2: float
) -> None:
    y_true = [3.0, 3.0, 3.0]
    assert regression_performance(y_true, y_pred).metrics["r2"] == r2
    assert skm.r2_score(y_true, y_pred) == r2


def test_regression_performance_r2_is_none_with_one_row() -> None:
    result = regression_performance([1.0], [2.0])
    assert result.metrics["r2"] is None
    assert result.metrics["mae"] == 1.0
    assert result.status == Status.OK


@pytest.mark.parametrize(("n", "min_rows"), [(0, 1), (3, 4)])
def test_regression_performance_reports_insufficient_data_when_few_rows(
    n: int, min_rows: int
) -> None:
    result = regression_performance([1.0] * n, [1.0] * n, min_rows=min_rows)
    assert result.status == Status.INSUFFICIENT_DATA
    assert result.metrics == dict.fromkeys(METRICS)


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [([1.0, 2.0], [1.0]), ([1.0, float("nan")], [1.0, 2.0]), ([[1.0]], [[1.0]]), (["a"], [1])],
)
def test_regression_performance_rejects_bad_input(y_true: object, y_pred: object) -> None:
    with pytest.raises(InvalidInputError):
        regression_performance(y_true, y_pred)  # type: ignore[arg-type]


def test_regression_performance_rejects_a_bad_min_rows() -> None:
    with pytest.raises(ParameterError, match="'min_rows' parameter of regression_performance"):
        regression_performance([1.0], [1.0], min_rows=0)


_VALUES = st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=50)


@settings(max_examples=60, deadline=None)
@given(_VALUES)
def test_regression_performance_is_exact_when_predictions_are_right(y: list[float]) -> None:
    got = regression_performance(y, y).metrics
    assert got["mae"] == got["rmse"] == got["mape"] == 0.0
    assert got["r2"] == 1.0


@settings(max_examples=60, deadline=None)
# Shifts far below 1e-150 would underflow when squared: RMSE 0 against a positive MAE.
@given(_VALUES, st.floats(-1e3, 1e3).filter(lambda s: s == 0 or abs(s) > 1e-100))
def test_regression_performance_rmse_is_at_least_mae(y: list[float], shift: float) -> None:
    got = regression_performance(y, [v + shift * i for i, v in enumerate(y)]).metrics
    assert got["mae"] is not None and got["rmse"] is not None
    assert got["rmse"] >= got["mae"] * (1 - 1e-12) >= 0.0

"""Regression performance on a window with targets: MAE, RMSE, MAPE and R².

Each metric matches scikit-learn's function of the same name (held to it by the unit
tests), computed with numpy.

>>> regression_performance([1.0, 2.0, 4.0], [1.0, 3.0, 4.0]).metrics["mae"]
0.3333333333333333
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.core.drift.check import Status
from mlpulse.errors import InvalidInputError, parameter_error

__all__ = ["METRICS", "RegressionPerformanceResult", "regression_performance"]

METRICS = ("mae", "rmse", "mape", "r2")
# scikit-learn's mean_absolute_percentage_error divides by max(|y|, this).
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, slots=True)
class RegressionPerformanceResult:
    """The errors of a regressor on ``n`` rows.

    ``metrics`` maps each name of :data:`METRICS` to a float, or to None where it is
    undefined (``r2`` with fewer than two rows; everything when ``status`` is
    ``insufficient_data``).
    """

    n: int
    metrics: Mapping[str, float | None]
    status: Status


def regression_performance(
    y_true: ArrayLike, y_pred: ArrayLike, *, min_rows: int = 1
) -> RegressionPerformanceResult:
    r"""Mean absolute error, root mean squared error, MAPE and the coefficient R².

    .. math::
        \mathrm{MAE} = \tfrac1n\sum_i |y_i - \hat y_i|, \quad
        \mathrm{RMSE} = \sqrt{\tfrac1n\sum_i (y_i - \hat y_i)^2}, \quad
        \mathrm{MAPE} = \tfrac1n\sum_i \frac{|y_i - \hat y_i|}{\max(|y_i|, \epsilon)}, \quad
        R^2 = 1 - \frac{\sum_i (y_i - \hat y_i)^2}{\sum_i (y_i - \bar y)^2}.

    MAPE is a share (0.1 is 10 %), as ``sklearn.metrics.mean_absolute_percentage_error``,
    whose definition it copies: :math:`\epsilon` is the float64 machine epsilon, so a
    row with :math:`y_i = 0` and an error adds about :math:`4.5\times10^{15}` times the
    error — MAPE is meaningless for targets at or near zero, and the number says so
    loudly rather than being silently dropped. R² follows ``sklearn.metrics.r2_score``
    (``force_finite=True``): for a constant ``y_true`` it is 1.0 when every prediction
    is exact and 0.0 otherwise; it is None for fewer than two rows.

    Parameters
    ----------
    y_true, y_pred : array_like
        1-D finite numbers of the same length.
    min_rows : int, default 1
        Fewer rows than this give ``status="insufficient_data"`` and all metrics None.

    Returns
    -------
    RegressionPerformanceResult

    Raises
    ------
    InvalidInputError
        If an input is not 1-D numbers, holds NaN or an infinity, or lengths differ.

    References
    ----------
    de Myttenaere, A., Golden, B., Le Grand, B. and Rossi, F. (2016). Mean absolute
    percentage error for regression models. *Neurocomputing* 192, 38–48.
    Wright, S. (1921). Correlation and causation. *Journal of Agricultural Research*
    20(7), 557–585 (the coefficient of determination).

    Examples
    --------
    >>> r = regression_performance([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    >>> {name: round(value, 4) for name, value in r.metrics.items()}
    {'mae': 0.5, 'rmse': 0.6124, 'mape': 0.3274, 'r2': 0.9486}
    """
    if not isinstance(min_rows, int) or isinstance(min_rows, bool) or min_rows < 1:
        raise parameter_error("min_rows", "regression_performance", "an int >= 1", min_rows)
    truth, pred = _numbers(y_true, "y_true"), _numbers(y_pred, "y_pred")
    n = truth.size
    if pred.size != n:
        raise InvalidInputError(
            f"'y_pred' must have the length of 'y_true' ({n}). Got {pred.size}.", field="y_pred"
        )
    if n < min_rows or n == 0:
        return RegressionPerformanceResult(n, dict.fromkeys(METRICS), Status.INSUFFICIENT_DATA)
    error = truth - pred
    absolute = np.abs(error)
    squared = float(np.sum(error**2))
    metrics: dict[str, float | None] = {
        "mae": float(np.mean(absolute)),
        "rmse": float(np.sqrt(squared / n)),
        "mape": float(np.mean(absolute / np.maximum(np.abs(truth), _EPS))),
        "r2": None,
    }
    if n >= 2:
        total = float(np.sum((truth - np.mean(truth)) ** 2))
        if total:
            metrics["r2"] = 1.0 - squared / total
        else:
            metrics["r2"] = 1.0 if squared == 0 else 0.0
    return RegressionPerformanceResult(n, metrics, Status.OK)


def _numbers(values: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name!r} must hold numbers: {exc}", field=name) from exc
    if array.ndim != 1:
        raise InvalidInputError(f"{name!r} must be 1-D. Got shape {array.shape}.", field=name)
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{name!r} must hold finite numbers (no NaN).", field=name)
    return array

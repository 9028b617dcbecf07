"""The share of a numeric column's values outside the range seen in the reference.

>>> out_of_range([0.0, 10.0], [5.0, 11.0, -2.0, 3.0], tolerance=0.0).value
0.5
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from mlpulse.core.drift.check import Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade, validate_thresholds
from mlpulse.core.quality.values import Values, as_column, numeric_values
from mlpulse.errors import parameter_error

# A share of values out of range: 1% warns, 5% is critical.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=0.01, critical=0.05)
# The range is the reference's [min, max] widened by 5% of its width on each side.
DEFAULT_QUANTILES: Final = (0.0, 1.0)
DEFAULT_TOLERANCE: Final = 0.05


def _check_options(quantiles: tuple[float, float], tolerance: float) -> None:
    low, high = quantiles
    if not 0.0 <= low < high <= 1.0:
        raise parameter_error(
            "quantiles", "out_of_range", "a pair (low, high) with 0 <= low < high <= 1", quantiles
        )
    if not (tolerance >= 0.0 and math.isfinite(tolerance)):
        raise parameter_error("tolerance", "out_of_range", "a float in [0, inf)", tolerance)


def out_of_range(
    reference: Values,
    current: Values,
    *,
    column: str = "value",
    quantiles: tuple[float, float] = DEFAULT_QUANTILES,
    tolerance: float = DEFAULT_TOLERANCE,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> QualityResult:
    """The share of ``current``'s numbers outside the reference's range.

    The range is ``[q_low - t·w, q_high + t·w]`` where ``q_low`` and ``q_high`` are the
    reference's ``quantiles`` (default its min and max), ``w = q_high - q_low`` and
    ``t`` is ``tolerance`` (default 0.05). Quantiles such as ``(0.001, 0.999)`` make the
    range robust to outliers in the reference, at the price of about 0.2% of clean
    values falling outside it. Missing and ill-typed values are left out; fewer than
    one number on either side gives ``insufficient_data``.

    Parameters
    ----------
    reference, current : array_like
        One numeric column each (object arrays allowed).
    column : str
        The column's name, for the result.
    quantiles : tuple of float
        The reference quantiles bounding the range.
    tolerance : float
        How far past the quantiles, as a share of their distance, still counts as in range.
    thresholds : Thresholds
        Share at which a warning and a critical status start (``>=``); default 0.01 and 0.05.

    Returns
    -------
    QualityResult
        ``details``: ``low``, ``high``, ``n_below``, ``n_above``, ``n_current``.

    Examples
    --------
    >>> r = out_of_range([0.0, 10.0], [-0.4, 10.4, 11.0])
    >>> round(r.value, 3), r.details["low"], r.details["high"]
    (0.333, -0.5, 10.5)
    """
    _check_options(quantiles, tolerance)
    validate_thresholds(thresholds, "out_of_range")
    ref = numeric_values(as_column(reference, "out_of_range", "reference"))
    cur = numeric_values(as_column(current, "out_of_range"))
    if not len(ref) or not len(cur):
        counts = {"n_reference": len(ref), "n_current": len(cur)}
        return QualityResult(
            "out_of_range", column, math.nan, thresholds, Status.INSUFFICIENT_DATA, counts
        )
    q_low, q_high = np.quantile(ref, quantiles)
    width = float(q_high - q_low)
    low, high = float(q_low) - tolerance * width, float(q_high) + tolerance * width
    below, above = int((cur < low).sum()), int((cur > high).sum())
    value = (below + above) / len(cur)
    details: dict[str, float] = {
        "low": low,
        "high": high,
        "n_below": below,
        "n_above": above,
        "n_current": len(cur),
    }
    return QualityResult(
        "out_of_range", column, value, thresholds, grade(value, thresholds), details
    )

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
from mlpulse.core.quality.result import QualityResult, grade_share, validate_thresholds
from mlpulse.core.quality.sampling import DEFAULT_ALPHA, validate_alpha, wilson_lower
from mlpulse.core.quality.summary import ColumnSummary, summarize
from mlpulse.core.quality.values import Values, as_column
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
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """The share of ``current``'s finite numbers outside the reference's range.

    The range is ``[q_low - t·w, q_high + t·w]`` where ``q_low`` and ``q_high`` are the
    reference's ``quantiles`` (default its min and max), ``w = q_high - q_low`` and
    ``t`` is ``tolerance`` (default 0.05). Quantiles such as ``(0.001, 0.999)`` make the
    range robust to outliers in the reference, at the price of about 0.2% of clean
    values falling outside it. Missing and ill-typed values are left out, and so are
    infinities (:func:`~mlpulse.core.quality.non_finite.non_finite` counts them); fewer
    than one finite number on either side gives ``insufficient_data``.

    Even with no change a new value falls outside the reference's extremes now and
    then: beyond its ``n``-th smallest and largest of ``n`` values with probability
    ``2 / (n + 1)`` (order statistics of a continuous distribution), beyond its
    quantiles with probability ``q_low + 1 - q_high``. The status grades the share's
    one-sided Wilson lower confidence bound at ``alpha`` minus that expected share
    (``details["expected_share"]``), so that small samples are judged against their
    sampling error (see :mod:`~mlpulse.core.quality.sampling`); ``value`` is the share
    itself.

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
        Share beyond the expected one at which a warning and a critical status start
        (``>=``); default 0.01 and 0.05.
    alpha : float
        One-sided error rate of the bound, in (0, 0.5]; default 0.01.

    Returns
    -------
    QualityResult
        ``details``: ``low``, ``high``, ``n_below``, ``n_above``, ``n_current``,
        ``expected_share``, ``lower_bound``.

    Examples
    --------
    >>> r = out_of_range([0.0, 10.0], [-0.4, 10.4, 11.0])
    >>> round(r.value, 3), r.details["low"], r.details["high"]
    (0.333, -0.5, 10.5)
    """
    _check_options(quantiles, tolerance)
    validate_thresholds(thresholds, "out_of_range")
    validate_alpha(alpha, "out_of_range")
    return out_of_range_from(
        summarize(as_column(reference, "out_of_range", "reference"), "numeric"),
        summarize(as_column(current, "out_of_range"), "numeric"),
        column=column,
        quantiles=quantiles,
        tolerance=tolerance,
        thresholds=thresholds,
        alpha=alpha,
    )


def out_of_range_from(
    reference: ColumnSummary,
    current: ColumnSummary,
    *,
    column: str,
    quantiles: tuple[float, float] = DEFAULT_QUANTILES,
    tolerance: float = DEFAULT_TOLERANCE,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """:func:`out_of_range` of two numeric column summaries (the suite's way)."""
    n_ref, n_cur = reference.n_finite, current.n_finite
    if not n_ref or not n_cur or current.numbers is None:
        counts = {"n_reference": n_ref, "n_current": n_cur}
        return QualityResult(
            "out_of_range", column, math.nan, thresholds, Status.INSUFFICIENT_DATA, counts
        )
    if quantiles == (0.0, 1.0):  # the default: min and max, known without a sort
        q_low, q_high = reference.minimum, reference.maximum
    else:
        q_low, q_high = (float(q) for q in np.quantile(reference.finite(), quantiles))
    width = q_high - q_low
    low, high = q_low - tolerance * width, q_high + tolerance * width
    # Only a side the current's finite numbers cross needs a pass over them. NaN compares
    # False both ways; infinities are out of any range but counted apart.
    below = above = 0
    if current.minimum < low:
        below = int((current.numbers < low).sum()) - current.n_negative_inf
    if current.maximum > high:
        above = int((current.numbers > high).sum()) - current.n_positive_inf
    value = (below + above) / n_cur
    expected = quantiles[0] + 1.0 - quantiles[1] + 2.0 / (n_ref + 1)
    lower = wilson_lower(below + above, n_cur, alpha=alpha) - expected
    details: dict[str, float] = {
        "low": low,
        "high": high,
        "n_below": below,
        "n_above": above,
        "n_current": n_cur,
        "expected_share": expected,
        "lower_bound": lower,
    }
    return QualityResult(
        "out_of_range", column, value, thresholds, grade_share(value, lower, thresholds), details
    )

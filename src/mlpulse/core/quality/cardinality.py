"""How much the number of distinct values of a column changed against the reference.

>>> cardinality(["a", "b", "c", "a", "b"], ["a", "b", "c", "d", "e", "f"]).value
2.0
"""

from __future__ import annotations

import math
from typing import Final

from mlpulse.core.drift.check import MIN_ROWS, Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade, validate_thresholds
from mlpulse.core.quality.summary import ColumnSummary, summarize
from mlpulse.core.quality.values import Values, as_column

# The fold change of the distinct count, either way: x1.5 (or /1.5) warns, x3 is critical.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=1.5, critical=3.0)


def cardinality(
    reference: Values,
    current: Values,
    *,
    column: str = "value",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> QualityResult:
    """The fold change of the number of distinct present values, up or down.

    ``value`` is ``max(n_cur / n_ref, n_ref / n_cur)`` (so 2.0 both when the distinct
    count doubles and when it halves); ``details["ratio"]`` keeps the direction
    (``n_cur / n_ref``). Distinct counts grow with the number of rows for continuous or
    long-tailed columns, so the check is meant for categorical and boolean columns, or
    windows of similar size. Missing values are left out; fewer than ``MIN_ROWS`` (5)
    present values on either side give ``insufficient_data``.

    Parameters
    ----------
    reference, current : array_like
        One column each.
    column : str
        The column's name, for the result.
    thresholds : Thresholds
        Fold change at which a warning and a critical status start (``>=``); default
        1.5 and 3.0. Both must be at least 1.

    Returns
    -------
    QualityResult
        ``details``: ``n_distinct_reference``, ``n_distinct_current``, ``ratio``.

    Examples
    --------
    >>> r = cardinality(list("abcdef"), list("aabbaa"))
    >>> r.value, r.details["ratio"], r.status.value
    (3.0, 0.333..., 'critical')
    """
    validate_thresholds(thresholds, "cardinality")
    return cardinality_from(
        summarize(as_column(reference, "cardinality", "reference"), "categorical"),
        summarize(as_column(current, "cardinality"), "categorical"),
        column=column,
        thresholds=thresholds,
    )


def cardinality_from(
    reference: ColumnSummary,
    current: ColumnSummary,
    *,
    column: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> QualityResult:
    """:func:`cardinality` of two categorical column summaries (the suite's way)."""
    ref, cur = reference.counts or {}, current.counts or {}
    n_ref, n_cur = len(ref), len(cur)
    details = {"n_distinct_reference": n_ref, "n_distinct_current": n_cur, "ratio": math.nan}
    if min(sum(ref.values()), sum(cur.values())) < MIN_ROWS:
        return QualityResult(
            "cardinality", column, math.nan, thresholds, Status.INSUFFICIENT_DATA, details
        )
    ratio = n_cur / n_ref
    details["ratio"] = ratio
    value = max(ratio, 1.0 / ratio)
    return QualityResult(
        "cardinality", column, value, thresholds, grade(value, thresholds), details
    )

"""The missing-value rate of a column and how much it rose against the reference.

>>> missing_values([1.0] * 40, [1.0, None] * 20).status
<Status.CRITICAL: 'critical'>
"""

from __future__ import annotations

import math
from typing import Final

from mlpulse.core.drift.check import Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade_share, validate_thresholds
from mlpulse.core.quality.sampling import DEFAULT_ALPHA, difference_lower, validate_alpha
from mlpulse.core.quality.summary import ColumnSummary
from mlpulse.core.quality.values import Values, as_column, missing_mask

# The rise of the missing rate, in shares: +5 percentage points warns, +20 is critical.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=0.05, critical=0.20)


def _rate(mask_sum: int, n: int) -> float:
    return mask_sum / n if n else math.nan


def missing_values(
    reference: Values,
    current: Values,
    *,
    column: str = "value",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """The rise of the missing-value rate of ``current`` over ``reference``.

    Missing means ``None``, float NaN (also in object arrays) or NaT. ``value`` is
    ``current_rate - reference_rate`` (a share: 0.05 is five percentage points); a fall
    in the rate is ``ok``. The status grades the rise's one-sided lower confidence bound
    at ``alpha`` (Newcombe's hybrid score interval, see
    :func:`~mlpulse.core.quality.sampling.difference_lower`), so a rise within the
    sampling error of small samples is not flagged; ``alpha=0.5`` grades ``value``
    itself. An empty reference counts as a 0 rate; an empty current gives
    ``insufficient_data``.

    Parameters
    ----------
    reference, current : array_like
        One column each.
    column : str
        The column's name, for the result.
    thresholds : Thresholds
        Rise at which a warning and a critical status start (``>=``); default +0.05
        and +0.20.
    alpha : float
        One-sided error rate of the bound, in (0, 0.5]; default 0.01.

    Returns
    -------
    QualityResult
        ``details``: ``reference_rate``, ``current_rate``, ``n_missing``, ``n_current``,
        ``lower_bound``.

    Examples
    --------
    >>> r = missing_values([1.0, 2.0, None, 4.0], [1.0, None, 3.0, 4.0])
    >>> r.value, r.status.value
    (0.0, 'ok')
    """
    validate_thresholds(thresholds, "missing_values")
    validate_alpha(alpha, "missing_values")
    ref = as_column(reference, "missing_values", "reference")
    cur = as_column(current, "missing_values")
    return missing_values_from(
        ColumnSummary("categorical", len(ref), int(missing_mask(ref).sum()), 0),
        ColumnSummary("categorical", len(cur), int(missing_mask(cur).sum()), 0),
        column=column,
        thresholds=thresholds,
        alpha=alpha,
    )


def missing_values_from(
    reference: ColumnSummary,
    current: ColumnSummary,
    *,
    column: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """:func:`missing_values` of two column summaries (how :func:`quality_checks` runs it)."""
    ref_rate = _rate(reference.n_missing, reference.n_rows)
    cur_rate = _rate(current.n_missing, current.n_rows)
    lower = difference_lower(
        current.n_missing, current.n_rows, reference.n_missing, reference.n_rows, alpha=alpha
    )
    details = {
        "reference_rate": ref_rate,
        "current_rate": cur_rate,
        "n_missing": current.n_missing,
        "n_current": current.n_rows,
        "lower_bound": lower,
    }
    if not current.n_rows:
        return QualityResult(
            "missing_values", column, math.nan, thresholds, Status.INSUFFICIENT_DATA, details
        )
    value = cur_rate - (0.0 if math.isnan(ref_rate) else ref_rate)
    return QualityResult(
        "missing_values", column, value, thresholds, grade_share(value, lower, thresholds), details
    )

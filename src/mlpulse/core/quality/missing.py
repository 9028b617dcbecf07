"""The missing-value rate of a column and how much it rose against the reference.

>>> missing_values([1.0, 2.0, 3.0, 4.0], [1.0, None, None, 4.0]).status
<Status.CRITICAL: 'critical'>
"""

from __future__ import annotations

import math
from typing import Final

from mlpulse.core.drift.check import Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade, validate_thresholds
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
) -> QualityResult:
    """The rise of the missing-value rate of ``current`` over ``reference``.

    Missing means ``None``, float NaN (also in object arrays) or NaT. ``value`` is
    ``current_rate - reference_rate`` (a share: 0.05 is five percentage points); a fall
    in the rate is ``ok``. An empty reference counts as a 0 rate; an empty current gives
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

    Returns
    -------
    QualityResult
        ``details``: ``reference_rate``, ``current_rate``, ``n_missing``, ``n_current``.

    Examples
    --------
    >>> r = missing_values([1.0, 2.0, None, 4.0], [1.0, None, 3.0, 4.0])
    >>> r.value, r.status.value
    (0.0, 'ok')
    """
    validate_thresholds(thresholds, "missing_values")
    ref = as_column(reference, "missing_values", "reference")
    cur = as_column(current, "missing_values")
    n_ref_missing = int(missing_mask(ref).sum())
    n_cur_missing = int(missing_mask(cur).sum())
    ref_rate = _rate(n_ref_missing, len(ref))
    cur_rate = _rate(n_cur_missing, len(cur))
    details = {
        "reference_rate": ref_rate,
        "current_rate": cur_rate,
        "n_missing": n_cur_missing,
        "n_current": len(cur),
    }
    if not len(cur):
        return QualityResult(
            "missing_values", column, math.nan, thresholds, Status.INSUFFICIENT_DATA, details
        )
    value = cur_rate - (0.0 if math.isnan(ref_rate) else ref_rate)
    return QualityResult(
        "missing_values", column, value, thresholds, grade(value, thresholds), details
    )

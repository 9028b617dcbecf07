"""The share of a column's values whose type does not fit the column's kind.

>>> type_errors([1.0, 2.0], [1.0, "2", 3.0, 4.0], kind="numeric", alpha=0.5).status
<Status.CRITICAL: 'critical'>
"""

from __future__ import annotations

import math
from typing import Final

from mlpulse.core.drift.check import Kind
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade_share, validate_thresholds
from mlpulse.core.quality.sampling import DEFAULT_ALPHA, validate_alpha, wilson_lower
from mlpulse.core.quality.summary import ColumnSummary, summarize
from mlpulse.core.quality.values import Values, as_column
from mlpulse.errors import parameter_error

# A share of ill-typed values: 0.1% warns, 1% is critical. Any ill-typed value is a
# broken producer somewhere; the warning level only keeps one stray value quiet.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=0.001, critical=0.01)
KINDS: Final = ("numeric", "categorical", "boolean")


def _share(summary: ColumnSummary) -> float:
    present = summary.n_present
    return summary.n_wrong / present if present else math.nan


def type_errors(
    reference: Values,
    current: Values,
    *,
    kind: Kind,
    column: str = "value",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """The share of present values in ``current`` whose type does not fit ``kind``.

    A ``'numeric'`` column takes real numbers (``int``, ``float``, numpy numbers) but
    not strings, booleans or containers; a ``'boolean'`` column takes booleans (and 0/1
    in a typed numeric array); a ``'categorical'`` column takes anything but containers
    (lists, tuples, dicts, sets, arrays). Missing values are not counted (see
    :func:`~mlpulse.core.quality.missing.missing_values`). On object arrays the type of
    each value has to be looked at in Python; typed arrays are judged by their dtype.
    The status grades the share's one-sided Wilson lower confidence bound at ``alpha``
    (see :mod:`~mlpulse.core.quality.sampling`); ``alpha=0.5`` grades the share itself.

    Parameters
    ----------
    reference, current : array_like
        One column each; ``reference``'s share is reported in ``details`` only.
    kind : {'numeric', 'categorical', 'boolean'}
        What the column should hold.
    column : str
        The column's name, for the result.
    thresholds : Thresholds
        Share at which a warning and a critical status start (``>=``); default 0.001
        and 0.01.
    alpha : float
        One-sided error rate of the bound, in (0, 0.5]; default 0.01.

    Returns
    -------
    QualityResult
        ``details``: ``n_errors``, ``n_present``, ``reference_share``, ``lower_bound``.

    Examples
    --------
    >>> r = type_errors(["a"], ["a", ["b"], 3], kind="categorical", alpha=0.5)
    >>> round(r.value, 3), r.status.value
    (0.333, 'critical')
    """
    if kind not in KINDS:
        raise parameter_error("kind", "type_errors", f"one of {', '.join(KINDS)}", kind)
    validate_thresholds(thresholds, "type_errors")
    validate_alpha(alpha, "type_errors")
    return type_errors_from(
        summarize(as_column(reference, "type_errors", "reference"), kind),
        summarize(as_column(current, "type_errors"), kind),
        column=column,
        thresholds=thresholds,
        alpha=alpha,
    )


def type_errors_from(
    reference: ColumnSummary,
    current: ColumnSummary,
    *,
    column: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """:func:`type_errors` of two column summaries (how :func:`quality_checks` runs it)."""
    value = _share(current)
    lower = wilson_lower(current.n_wrong, current.n_present, alpha=alpha)
    details = {
        "n_errors": current.n_wrong,
        "n_present": current.n_present,
        "reference_share": _share(reference),
        "lower_bound": lower,
    }
    return QualityResult(
        "type_errors", column, value, thresholds, grade_share(value, lower, thresholds), details
    )

"""The share of a numeric column's numbers that are infinite (+inf or -inf).

>>> non_finite([1.0, 2.0], [1.0, float("inf"), 3.0, -float("inf")], alpha=0.5).value
0.5
"""

from __future__ import annotations

import math
from typing import Final

from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade_share, validate_thresholds
from mlpulse.core.quality.sampling import DEFAULT_ALPHA, validate_alpha, wilson_lower
from mlpulse.core.quality.summary import ColumnSummary, summarize
from mlpulse.core.quality.values import Values, as_column

# A share of infinite numbers: 0.1% warns, 1% is critical. An infinity is a division by
# zero or an overflow upstream, like an ill-typed value a broken producer.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=0.001, critical=0.01)


def _share(summary: ColumnSummary) -> float:
    return summary.n_infinite / summary.n_numbers if summary.n_numbers else math.nan


def non_finite(
    reference: Values,
    current: Values,
    *,
    column: str = "value",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """The share of ``current``'s numbers that are ``+inf`` or ``-inf``.

    Infinities are a data-quality problem, not drift: the drift checks and
    :func:`~mlpulse.core.quality.out_of_range.out_of_range` leave them out and look at
    the finite numbers. Missing (NaN) and ill-typed values are not numbers here. The
    status grades the share's one-sided Wilson lower confidence bound at ``alpha`` (see
    :mod:`~mlpulse.core.quality.sampling`); ``alpha=0.5`` grades the share itself. No
    numbers in ``current`` gives ``insufficient_data``.

    Parameters
    ----------
    reference, current : array_like
        One numeric column each; ``reference``'s share is reported in ``details`` only.
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
        ``details``: ``n_positive_inf``, ``n_negative_inf``, ``n_numbers``,
        ``reference_share``, ``lower_bound``.

    Examples
    --------
    >>> r = non_finite([1.0] * 500, [1.0] * 450 + [float("inf")] * 50)
    >>> r.value, r.status.value
    (0.1, 'critical')
    """
    validate_thresholds(thresholds, "non_finite")
    validate_alpha(alpha, "non_finite")
    return non_finite_from(
        summarize(as_column(reference, "non_finite", "reference"), "numeric"),
        summarize(as_column(current, "non_finite"), "numeric"),
        column=column,
        thresholds=thresholds,
        alpha=alpha,
    )


def non_finite_from(
    reference: ColumnSummary,
    current: ColumnSummary,
    *,
    column: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """:func:`non_finite` of two numeric column summaries (the suite's way)."""
    value = _share(current)
    lower = wilson_lower(current.n_infinite, current.n_numbers, alpha=alpha)
    details = {
        "n_positive_inf": current.n_positive_inf,
        "n_negative_inf": current.n_negative_inf,
        "n_numbers": current.n_numbers,
        "reference_share": _share(reference),
        "lower_bound": lower,
    }
    return QualityResult(
        "non_finite", column, value, thresholds, grade_share(value, lower, thresholds), details
    )

"""A column that holds one value in current but held several in the reference.

>>> constant([1, 2, 3, 1, 2], [7, 7, 7, 7, 7]).status
<Status.WARNING: 'warning'>
"""

from __future__ import annotations

import math
from typing import Any

from mlpulse.core.drift.check import MIN_ROWS, Kind, Status
from mlpulse.core.quality.result import QualityResult
from mlpulse.core.quality.summary import ColumnSummary, summarize
from mlpulse.core.quality.values import Values, as_column
from mlpulse.errors import parameter_error


def constant(
    reference: Values,
    current: Values,
    *,
    column: str = "value",
    status: Status = Status.WARNING,
) -> QualityResult:
    """Whether ``current`` turned constant: one distinct present value, several before.

    A stuck sensor or a feature pipeline falling back to a default shows up this way.
    A column constant in both is ``ok`` (it may be constant by design). Missing values
    are left out; fewer than ``MIN_ROWS`` (5) present values on either side give
    ``insufficient_data``. A typed numeric column (integers, floats) is judged on its
    numbers, infinities included, from their minimum and maximum (no sort); any other
    column on its distinct values. ``value`` is 1.0 when the column turned constant, else 0.0;
    the check is a rule, so ``thresholds`` is ``None``.

    Parameters
    ----------
    reference, current : array_like
        One column each.
    column : str
        The column's name, for the result.
    status : Status
        The status of a column that turned constant: ``warning`` (default) or ``critical``.

    Returns
    -------
    QualityResult
        ``details``: ``n_distinct_reference``, ``n_distinct_current`` (for a numeric
        column 0, 1 or 2, which stands for "two or more") and, when constant,
        ``constant_value``.

    Examples
    --------
    >>> constant(["a", "a", "a", "a", "a"], ["a"] * 5).status.value
    'ok'
    """
    if status not in (Status.WARNING, Status.CRITICAL):
        raise parameter_error("status", "constant", "Status.WARNING or Status.CRITICAL", status)
    ref, cur = (
        as_column(values, "constant", name)
        for values, name in ((reference, "reference"), (current, "current"))
    )
    numeric = ref.dtype.kind in "iuf" and cur.dtype.kind in "iuf"
    kind: Kind = "numeric" if numeric else "categorical"
    return constant_from(summarize(ref, kind), summarize(cur, kind), column=column, status=status)


def _present(summary: ColumnSummary) -> int:
    return summary.n_numbers if summary.counts is None else sum(summary.counts.values())


def _only_value(summary: ColumnSummary) -> Any:
    if summary.counts is not None:
        return next(iter(summary.counts))
    return -math.inf if summary.n_negative_inf else summary.minimum


def constant_from(
    reference: ColumnSummary,
    current: ColumnSummary,
    *,
    column: str,
    status: Status = Status.WARNING,
) -> QualityResult:
    """:func:`constant` of two column summaries (how :func:`quality_checks` runs it)."""
    n_ref, n_cur = reference.n_distinct(), current.n_distinct()
    details: dict[str, object] = {"n_distinct_reference": n_ref, "n_distinct_current": n_cur}
    if min(_present(reference), _present(current)) < MIN_ROWS:
        return QualityResult("constant", column, math.nan, None, Status.INSUFFICIENT_DATA, details)
    turned = n_cur == 1 and n_ref > 1
    if n_cur == 1:
        details["constant_value"] = _only_value(current)
    return QualityResult(
        "constant", column, float(turned), None, status if turned else Status.OK, details
    )

"""A column that holds one value in current but held several in the reference.

>>> constant([1, 2, 3, 1, 2], [7, 7, 7, 7, 7]).status
<Status.WARNING: 'warning'>
"""

from __future__ import annotations

import math

import numpy as np

from mlpulse.core.drift.check import MIN_ROWS, Status
from mlpulse.core.quality.result import QualityResult
from mlpulse.core.quality.values import Values, as_column, factorize, python_scalar
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
    ``insufficient_data``. ``value`` is 1.0 when the column turned constant, else 0.0;
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
        ``details``: ``n_distinct_reference``, ``n_distinct_current`` and, when
        constant, ``constant_value``.

    Examples
    --------
    >>> constant(["a", "a", "a", "a", "a"], ["a"] * 5).status.value
    'ok'
    """
    if status not in (Status.WARNING, Status.CRITICAL):
        raise parameter_error("status", "constant", "Status.WARNING or Status.CRITICAL", status)
    (ref, cur), categories = factorize(
        as_column(reference, "constant", "reference"), as_column(current, "constant")
    )
    ref, cur = ref[ref >= 0], cur[cur >= 0]
    n_ref, n_cur = int(np.unique(ref).size), int(np.unique(cur).size)
    details: dict[str, object] = {"n_distinct_reference": n_ref, "n_distinct_current": n_cur}
    if min(len(ref), len(cur)) < MIN_ROWS:
        return QualityResult("constant", column, math.nan, None, Status.INSUFFICIENT_DATA, details)
    turned = n_cur == 1 and n_ref > 1
    if n_cur == 1:
        details["constant_value"] = python_scalar(categories[cur[0]])
    return QualityResult(
        "constant", column, float(turned), None, status if turned else Status.OK, details
    )

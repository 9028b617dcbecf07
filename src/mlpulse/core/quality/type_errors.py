"""The share of a column's values whose type does not fit the column's kind.

>>> type_errors([1.0, 2.0], [1.0, "2", 3.0, 4.0], kind="numeric").value
0.25
"""

from __future__ import annotations

import math
from typing import Final

from mlpulse.core.drift.check import Kind
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade, validate_thresholds
from mlpulse.core.quality.values import Values, as_column, missing_mask, type_mask
from mlpulse.errors import parameter_error

# A share of ill-typed values: 0.1% warns, 1% is critical. Any ill-typed value is a
# broken producer somewhere; the warning level only keeps one stray value quiet.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=0.001, critical=0.01)
KINDS: Final = ("numeric", "categorical", "boolean")


def _share(values: Values, kind: Kind, name: str) -> tuple[float, int, int]:
    array = as_column(values, "type_errors", name)
    present = int((~missing_mask(array)).sum())
    wrong = int((~type_mask(array, kind)).sum())
    return (wrong / present if present else math.nan), wrong, present


def type_errors(
    reference: Values,
    current: Values,
    *,
    kind: Kind,
    column: str = "value",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> QualityResult:
    """The share of present values in ``current`` whose type does not fit ``kind``.

    A ``'numeric'`` column takes real numbers (``int``, ``float``, numpy numbers) but
    not strings, booleans or containers; a ``'boolean'`` column takes booleans (and 0/1
    in a typed numeric array); a ``'categorical'`` column takes anything but containers
    (lists, tuples, dicts, sets, arrays). Missing values are not counted (see
    :func:`~mlpulse.core.quality.missing.missing_values`). On object arrays the type of
    each value has to be looked at in Python; typed arrays are judged by their dtype.

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

    Returns
    -------
    QualityResult
        ``details``: ``n_errors``, ``n_present``, ``reference_share``.

    Examples
    --------
    >>> r = type_errors(["a"], ["a", ["b"], 3], kind="categorical")
    >>> round(r.value, 3), r.status.value
    (0.333, 'critical')
    """
    if kind not in KINDS:
        raise parameter_error("kind", "type_errors", f"one of {', '.join(KINDS)}", kind)
    validate_thresholds(thresholds, "type_errors")
    ref_share, _, _ = _share(reference, kind, "reference")
    value, wrong, present = _share(current, kind, "current")
    details = {"n_errors": wrong, "n_present": present, "reference_share": ref_share}
    return QualityResult(
        "type_errors", column, value, thresholds, grade(value, thresholds), details
    )

"""The share of rows of a dataset that repeat an earlier row, against the reference.

>>> current = {"a": [1, 1, 2, 3], "b": ["x", "x", "y", "z"]}
>>> duplicate_rows({"a": [1, 2, 3, 4], "b": list("wxyz")}, current).value
0.25
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import numpy as np

from mlpulse.core.drift.check import Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade, validate_thresholds
from mlpulse.core.quality.values import Values, as_column, factorize
from mlpulse.errors import parameter_error

# The rise of the duplicated share: +1 percentage point warns, +10 is critical.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=0.01, critical=0.10)


def duplicated_share(data: Mapping[str, Values], *, name: str = "current") -> float:
    """The share of rows that repeat an earlier row (NaN equals NaN, None equals NaN).

    Each column is factorised to integer codes (missing values share one code), and the
    rows of the code matrix are counted with ``np.unique(..., axis=0)``. NaN when
    ``data`` has no rows or no columns.

    Examples
    --------
    >>> duplicated_share({"a": [1.0, float("nan"), float("nan")], "b": ["x", None, None]})
    0.333...
    """
    columns = [as_column(values, "duplicate_rows", name) for values in data.values()]
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        raise parameter_error(
            name,
            "duplicate_rows",
            "columns of one length",
            {k: len(c) for k, c in zip(data, columns, strict=True)},
        )
    n_rows = lengths.pop() if lengths else 0
    if not n_rows:
        return math.nan
    codes = np.column_stack([factorize(c)[0][0] for c in columns])
    n_unique = int(np.unique(codes, axis=0).shape[0])
    return (n_rows - n_unique) / n_rows


def duplicate_rows(
    reference: Mapping[str, Values] | None,
    current: Mapping[str, Values],
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> QualityResult:
    """The rise of the share of duplicated rows of ``current`` over ``reference``.

    A row is duplicated when it equals an earlier row in every column (missing values
    equal each other). ``value`` is ``current_share - reference_share``, so a dataset
    that has duplicates by nature (few low-cardinality columns) is judged on the change;
    with ``reference=None`` the baseline is 0. A dataset-level check: ``column`` is
    ``None``. An empty current gives ``insufficient_data``.

    Parameters
    ----------
    reference, current : mapping of str to array_like or None
        Datasets as column → values, all columns of one length.
    thresholds : Thresholds
        Rise at which a warning and a critical status start (``>=``); default +0.01 and
        +0.10.

    Returns
    -------
    QualityResult
        ``details``: ``reference_share``, ``current_share``, ``n_current``.

    Examples
    --------
    >>> duplicate_rows(None, {"a": [1, 2, 3]}).status.value
    'ok'
    """
    validate_thresholds(thresholds, "duplicate_rows")
    ref_share = math.nan if reference is None else duplicated_share(reference, name="reference")
    cur_share = duplicated_share(current)
    n_current = len(as_column(next(iter(current.values())), "duplicate_rows")) if current else 0
    details = {"reference_share": ref_share, "current_share": cur_share, "n_current": n_current}
    if math.isnan(cur_share):
        return QualityResult(
            "duplicate_rows", None, math.nan, thresholds, Status.INSUFFICIENT_DATA, details
        )
    value = cur_share - (0.0 if math.isnan(ref_share) else ref_share)
    return QualityResult(
        "duplicate_rows", None, value, thresholds, grade(value, thresholds), details
    )

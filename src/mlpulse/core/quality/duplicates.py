"""The share of rows of a dataset that repeat an earlier row, against the reference.

>>> current = {"a": [1, 1, 2, 3], "b": ["x", "x", "y", "z"]}
>>> duplicate_rows({"a": [1, 2, 3, 4], "b": list("wxyz")}, current).value
0.25
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from mlpulse.core.drift.check import Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade_share, validate_thresholds
from mlpulse.core.quality.sampling import DEFAULT_ALPHA, difference_lower, validate_alpha
from mlpulse.core.quality.values import Values, as_column, factorize, is_missing
from mlpulse.errors import parameter_error

# The rise of the duplicated share: +1 percentage point warns, +10 is critical.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=0.01, critical=0.10)

Keys = NDArray[np.uint64]
# Odd 64-bit constants (from splitmix64) for mixing keys into a row hash.
_MULTIPLIER: Final = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT: Final = np.uint64(31)


def _keys(column: NDArray[Any]) -> Keys:
    """Equal values (missing ones all equal, 0.0 and -0.0 equal) to equal 64-bit keys."""
    kind = column.dtype.kind
    if kind == "f":
        values = column.astype(np.float64) + 0.0  # a copy, with -0.0 made 0.0
        values[np.isnan(values)] = np.nan  # one NaN bit pattern
        return values.view(np.uint64)
    if kind == "u" or kind == "b":
        return column.astype(np.uint64)
    if kind == "i":
        return column.astype(np.int64).view(np.uint64)
    if kind in "mM":
        return column.view(np.int64).astype(np.uint64)
    values = column.tolist()
    try:
        # One hash-table pass: equal values (1, 1.0 and True too, as np.unique has it)
        # share a key; every missing value gets -1. A few times faster than a sort.
        table: dict[Any, int] = dict.fromkeys(values, 0)
    except TypeError:  # unhashable values (lists, arrays): sort them
        return factorize(column)[0][0].view(np.uint64)
    for code, value in enumerate(table):
        table[value] = -1 if is_missing(value) else code
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values)).view(
        np.uint64
    )


def _mix(hashes: Keys, keys: Keys) -> None:
    """Fold ``keys`` into ``hashes`` in place: xor, multiply, xorshift (a splitmix step)."""
    np.bitwise_xor(hashes, keys, out=hashes)
    np.multiply(hashes, _MULTIPLIER, out=hashes)
    np.bitwise_xor(hashes, hashes >> _SHIFT, out=hashes)


def _shared(hashes: Keys) -> NDArray[np.bool_]:
    """Which of ``hashes`` occur more than once (one sort, then a lookup of the few)."""
    ordered = np.sort(hashes)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    return np.isin(hashes, repeated)


def _n_distinct(columns: list[NDArray[Any]], n_rows: int) -> int:
    """The number of distinct rows of ``columns``, exactly.

    Rows are hashed column by column (cheap typed columns first) and every so often
    (after columns 1, 2, 4, 8...) the rows whose hash is unique are set aside: they are
    distinct from all others. Continuous columns leave no candidates after the first
    column, so the object columns, whose values need factorising, are seldom looked at.
    The candidates left at the end are compared exactly with the first row of equal
    hash; only if a hash collided are they counted with ``np.unique(..., axis=0)``.
    """
    order = sorted(columns, key=lambda c: "fiubmM".find(c.dtype.kind) % 7)
    rows = np.arange(n_rows)
    hashes = np.zeros(n_rows, dtype=np.uint64)
    n_distinct = 0
    for i, column in enumerate(order, start=1):
        _mix(hashes, _keys(column if rows.size == n_rows else column[rows]))
        if i & (i - 1) == 0 or i == len(order):  # a power of two, or the last column
            shared = _shared(hashes)
            n_distinct += int(rows.size - shared.sum())
            rows, hashes = rows[shared], hashes[shared]
            if not rows.size:
                return n_distinct
    by_hash = np.argsort(hashes, kind="stable")
    rows, hashes = rows[by_hash], hashes[by_hash]
    first = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    leader = np.repeat(first, np.diff(np.r_[first, rows.size]))
    keys = [_keys(column[rows]) for column in order]
    if all(bool(np.array_equal(k, k[leader])) for k in keys):
        return n_distinct + int(first.size)
    return n_distinct + int(np.unique(np.column_stack(keys), axis=0).shape[0])


def _count(data: Mapping[str, Values], name: str) -> tuple[int, int]:
    """The number of rows that repeat an earlier row, and the number of rows."""
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
    return (n_rows - _n_distinct(columns, n_rows) if n_rows else 0), n_rows


def duplicated_share(data: Mapping[str, Values], *, name: str = "current") -> float:
    """The share of rows that repeat an earlier row (NaN equals NaN, None equals NaN).

    Each row is hashed to 64 bits from its columns' values (missing values all equal),
    rows with a unique hash are distinct, and the few that share one are compared
    exactly, so a hash collision cannot change the answer. NaN when ``data`` has no rows
    or no columns.

    Examples
    --------
    >>> duplicated_share({"a": [1.0, float("nan"), float("nan")], "b": ["x", None, None]})
    0.333...
    """
    n_duplicated, n_rows = _count(data, name)
    return n_duplicated / n_rows if n_rows else math.nan


def duplicate_rows(
    reference: Mapping[str, Values] | None,
    current: Mapping[str, Values],
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    alpha: float = DEFAULT_ALPHA,
) -> QualityResult:
    """The rise of the share of duplicated rows of ``current`` over ``reference``.

    A row is duplicated when it equals an earlier row in every column (missing values
    equal each other). ``value`` is ``current_share - reference_share``, so a dataset
    that has duplicates by nature (few low-cardinality columns) is judged on the change;
    with ``reference=None`` the baseline is 0. The status grades the rise's one-sided
    lower confidence bound at ``alpha`` (Newcombe's hybrid score interval, see
    :mod:`~mlpulse.core.quality.sampling`); ``alpha=0.5`` grades ``value`` itself. A
    dataset-level check: ``column`` is ``None``. An empty current gives
    ``insufficient_data``.

    Parameters
    ----------
    reference, current : mapping of str to array_like or None
        Datasets as column → values, all columns of one length.
    thresholds : Thresholds
        Rise at which a warning and a critical status start (``>=``); default +0.01 and
        +0.10.
    alpha : float
        One-sided error rate of the bound, in (0, 0.5]; default 0.01.

    Returns
    -------
    QualityResult
        ``details``: ``reference_share``, ``current_share``, ``n_current``,
        ``lower_bound``.

    Examples
    --------
    >>> duplicate_rows(None, {"a": [1, 2, 3]}).status.value
    'ok'
    """
    validate_thresholds(thresholds, "duplicate_rows")
    validate_alpha(alpha, "duplicate_rows")
    n_ref_duplicated, n_ref = (0, 0) if reference is None else _count(reference, "reference")
    n_duplicated, n_current = _count(current, "current")
    ref_share = n_ref_duplicated / n_ref if n_ref else math.nan
    cur_share = n_duplicated / n_current if n_current else math.nan
    lower = difference_lower(n_duplicated, n_current, n_ref_duplicated, n_ref, alpha=alpha)
    details = {
        "reference_share": ref_share,
        "current_share": cur_share,
        "n_current": n_current,
        "lower_bound": lower,
    }
    if math.isnan(cur_share):
        return QualityResult(
            "duplicate_rows", None, math.nan, thresholds, Status.INSUFFICIENT_DATA, details
        )
    value = cur_share - (0.0 if math.isnan(ref_share) else ref_share)
    return QualityResult(
        "duplicate_rows", None, value, thresholds, grade_share(value, lower, thresholds), details
    )

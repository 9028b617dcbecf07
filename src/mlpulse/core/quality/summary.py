"""What the data-quality checks need to know of one column, worked out in one pass.

:func:`quality_checks` used to let each check read the raw column again: the constant,
cardinality and unseen checks each factorised it (a sort of every value) and the type
and missing checks each looked at every object. A :class:`ColumnSummary` holds the
facts once: the missing and ill-typed counts, and either the numbers (a numeric column:
its finite range and infinities, with no sort) or the category counts (a categorical or
boolean column: one hash count of the values, see :func:`summarize`).

>>> s = summarize(np.array([1.0, np.nan, np.inf, 3.0]), "numeric")
>>> s.n_missing, s.n_positive_inf, s.minimum, s.maximum
(1, 1, 1.0, 3.0)
>>> summarize(np.array(["b", "a", None, "b"], dtype=object), "categorical").counts
{'a': 1, 'b': 2}
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlpulse.core.drift.check import Kind
from mlpulse.core.quality.values import (
    factorize,
    fits_kind,
    is_missing,
    missing_mask,
    python_scalar,
    type_mask,
)

# Whether each value of an object array can be a category (a dictionary key).
_hashable = np.frompyfunc(lambda value: isinstance(value, Hashable), 1, 1)


@dataclass(frozen=True, slots=True, eq=False)
class ColumnSummary:
    """The facts of one column that every data-quality check reads.

    ``numbers`` (numeric columns) holds the column's numbers, NaN where a value is
    missing or ill-typed; for a typed float or integer column it is the column itself,
    not a copy. ``counts`` (categorical and boolean columns) maps each present value, as
    a Python scalar, to its number of rows, in sorted order when the values sort (else in
    order of first appearance). ``minimum`` and ``maximum`` are over the finite numbers
    (NaN when there are none).
    """

    kind: Kind
    n_rows: int
    n_missing: int
    n_wrong: int
    counts: Mapping[Any, int] | None = None
    numbers: NDArray[Any] | None = None
    n_numbers: int = 0
    n_positive_inf: int = 0
    n_negative_inf: int = 0
    minimum: float = math.nan
    maximum: float = math.nan

    @property
    def n_present(self) -> int:
        """Rows that hold a value (ill-typed ones included)."""
        return self.n_rows - self.n_missing

    @property
    def n_infinite(self) -> int:
        return self.n_positive_inf + self.n_negative_inf

    @property
    def n_finite(self) -> int:
        return self.n_numbers - self.n_infinite

    def finite(self) -> NDArray[np.float64]:
        """The finite numbers, as a new float array (empty for a non-numeric column)."""
        if self.numbers is None:
            return np.empty(0, dtype=np.float64)
        values = np.asarray(self.numbers, dtype=np.float64)
        return values[np.isfinite(values)]

    def n_distinct(self) -> int:
        """Distinct present values; for a numeric column only 0, 1 or 2 ("two or more")."""
        if self.counts is not None:
            return len(self.counts)
        if not self.n_numbers:
            return 0
        low = -math.inf if self.n_negative_inf else self.minimum
        high = math.inf if self.n_positive_inf else self.maximum
        return 1 if low == high else 2


def summarize(values: NDArray[Any], kind: Kind) -> ColumnSummary:
    """The :class:`ColumnSummary` of one column of ``kind``.

    A numeric column costs a few vectorised passes (NaN and infinity tests, min and
    max); an object column also one Python call per value to learn its type. A
    categorical column of strings or other hashable objects is counted with one
    :class:`collections.Counter` pass, and the missing and type tests then run once per
    distinct value; other columns are factorised (:func:`~.values.factorize`).

    Examples
    --------
    >>> summarize(np.array([1, 2, 2]), "numeric").n_distinct()
    2
    >>> summarize(np.array([True, False]), "boolean").counts
    {False: 1, True: 1}
    """
    if kind == "numeric":
        return _numeric(values)
    if values.dtype.kind in "US" or (values.dtype.kind == "O" and kind == "categorical"):
        # Counting merges values that are equal (1, 1.0 and True): harmless for a
        # categorical column, where all three fit, and strings never merge with others.
        try:
            tally = Counter(values.tolist())
        except TypeError:  # an unhashable value (a list, an array): factorise instead
            pass
        else:
            return _from_tally(tally, kind, len(values))
    n_rows, missing = len(values), missing_mask(values)
    n_wrong = int((~type_mask(values, kind)).sum())
    if values.dtype.kind == "O":
        # Unhashable values (lists, arrays) are ill-typed for every kind: they are
        # counted as type errors above and are not categories.
        values = values[np.asarray(_hashable(values), dtype=bool)]
    (codes,), categories = factorize(values)
    occurrences = np.bincount(codes[codes >= 0], minlength=len(categories))
    counts = {
        python_scalar(c): int(n)
        for c, n in zip(categories.tolist(), occurrences.tolist(), strict=True)
        if n
    }
    return ColumnSummary(kind, n_rows, int(missing.sum()), n_wrong, counts=counts)


def _from_tally(tally: Counter[Any], kind: Kind, n_rows: int) -> ColumnSummary:
    counts: dict[Any, int] = {}
    fits: dict[type, bool] = {}  # the type test once per type, not once per category
    n_missing = n_wrong = 0
    for value, n in tally.items():
        kind_of = type(value)
        if kind_of is not str and is_missing(value):
            n_missing += n
            continue
        counts[value] = n
        fit = fits.get(kind_of)
        if fit is None:
            fit = fits[kind_of] = fits_kind(kind_of, kind)
        if not fit:
            n_wrong += n
    try:
        ordered = {value: counts[value] for value in sorted(counts)}
    except TypeError:  # values that do not sort (e.g. str and int): first appearance
        ordered = counts
    return ColumnSummary(kind, n_rows, n_missing, n_wrong, counts=ordered)


def _numeric(values: NDArray[Any]) -> ColumnSummary:
    n_rows, dtype_kind = len(values), values.dtype.kind
    if dtype_kind in "iu":
        numbers: NDArray[Any] = values
        n_missing = n_wrong = 0
    elif dtype_kind == "f":
        numbers = values
        n_missing, n_wrong = int(np.isnan(values).sum()), 0
    elif dtype_kind in "mM":
        # Dates and durations asked for as numbers: seconds (since the epoch), as the
        # library's drift checks compare them; NaT is missing.
        missing = np.isnat(values)
        unit = "datetime64[ns]" if dtype_kind == "M" else "timedelta64[ns]"
        numbers = values.astype(unit).view(np.int64) / 1e9
        numbers[missing] = np.nan
        n_missing, n_wrong = int(missing.sum()), 0
    else:
        missing = missing_mask(values)
        fits = type_mask(values, "numeric") & ~missing if dtype_kind == "O" else ~missing
        if dtype_kind != "O":  # booleans, strings: no numbers at all
            fits[:] = False
        n_missing, n_wrong = int(missing.sum()), int((~(fits | missing)).sum())
        numbers = np.full(n_rows, np.nan)
        numbers[fits] = np.asarray(values[fits], dtype=np.float64)
    n_numbers = n_rows - n_missing - n_wrong
    if not n_numbers:
        return ColumnSummary("numeric", n_rows, n_missing, n_wrong, numbers=numbers)
    # fmin/fmax skip NaN without a copy; only a column with an infinity needs another pass.
    low, high = float(np.fmin.reduce(numbers)), float(np.fmax.reduce(numbers))
    n_positive_inf = n_negative_inf = 0
    if math.isinf(low) or math.isinf(high):
        infinite = np.isinf(numbers)
        n_positive_inf = int((numbers[infinite] > 0).sum())
        n_negative_inf = int(infinite.sum()) - n_positive_inf
        finite = numbers[np.isfinite(numbers)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (math.nan,) * 2
    return ColumnSummary(
        "numeric", n_rows, n_missing, n_wrong, numbers=numbers, n_numbers=n_numbers,
        n_positive_inf=n_positive_inf, n_negative_inf=n_negative_inf, minimum=low, maximum=high,
    )  # fmt: skip

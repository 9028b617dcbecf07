"""Sufficient statistics of many metrics per variant, from raw rows (one row per unit).

What a warehouse ``GROUP BY variant`` of ``COUNT(y)``, ``SUM(y)``, ``SUM(y*y)`` gives,
computed in memory: the input of :func:`~mlpulse.core.experiments.analysis.analyse_experiment`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.errors import InvalidInputError, parameter_error

__all__ = ["VariantSums", "aggregate"]

# Rows per block: 8,192 x 20 metrics of float64 is 1.3 MB, so a block's passes stay in
# cache (blocks of 32k rows ran 1.4x slower on the bench machine).
_BLOCK = 8192


@dataclass(frozen=True, slots=True)
class VariantSums:
    """Units per variant ``n[v]`` and, per metric and variant, ``count``, ``sum``, ``sum_sq``.

    ``count[m, v]`` is the number of units of variant ``v`` with metric ``m`` observed
    (not NaN); ``sum`` and ``sum_sq`` add the observed values and their squares.
    """

    n: NDArray[np.int64]
    count: NDArray[np.int64]
    sum: NDArray[np.float64]
    sum_sq: NDArray[np.float64]

    def __iter__(self) -> Iterator[NDArray[Any]]:
        """``n, count, sum, sum_sq = aggregate(...)`` unpacks, as a tuple would."""
        return iter((self.n, self.count, self.sum, self.sum_sq))


def aggregate(variant: ArrayLike, values: ArrayLike, n_variants: int) -> VariantSums:
    """Count, sum and sum of squares of every metric in every variant, from raw rows.

    Parameters
    ----------
    variant : array_like of int, shape (units,)
        The variant of each unit, in ``[0, n_variants)``; 0 is the control.
    values : array_like of float, shape (units, metrics)
        One row per unit, one column per metric; NaN means the metric was not observed
        for that unit (it counts in ``n`` but not in ``count``, ``sum`` or ``sum_sq``).
        float32 input is read as is and summed in float64.
    n_variants : int
        The number of variants, so a variant without units still gets its zeros.

    Returns
    -------
    VariantSums
        ``n`` has shape (n_variants,); ``count``, ``sum`` and ``sum_sq`` (metrics, n_variants).

    Notes
    -----
    The rows are read in cache-sized blocks of 8,192; each block is cast to float64,
    ordered by variant (a radix sort of small ints) and summed per variant with
    ``np.add.reduceat``, so the cost does not grow with ``n_variants``. About 2.7x faster
    than ``np.bincount`` with weights per metric on the bench machine (that reads a
    strided column and converts it three times), and 1.6x faster than a one-hot matrix
    product. Sums are exact up to float64 rounding (the order differs from a loop's).

    Examples
    --------
    >>> import numpy as np
    >>> values = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 1.0], [2.0, 4.0]])
    >>> r = aggregate([0, 1, 1, 0], values, 2)
    >>> r.n.tolist(), r.count.tolist(), r.sum.tolist(), r.sum_sq.tolist()
    ([2, 2], [[2, 2], [2, 1]], [[3.0, 8.0], [6.0, 1.0]], [[5.0, 34.0], [20.0, 1.0]])
    """
    owner = "aggregate"
    if isinstance(n_variants, bool) or not isinstance(n_variants, int) or n_variants < 1:
        raise parameter_error("n_variants", owner, "an int >= 1", n_variants)
    groups = np.asarray(variant)
    rows = np.asarray(values)
    if rows.ndim != 2 or rows.dtype.kind not in "fiu":
        raise InvalidInputError("'values' must be a 2-D array of numbers.", field="values")
    if groups.ndim != 1 or groups.dtype.kind not in "iu" or groups.size != rows.shape[0]:
        raise InvalidInputError(
            f"'variant' must be a 1-D array of ints, one per row of 'values' "
            f"({rows.shape[0]}). Got shape {groups.shape} of {groups.dtype}.",
            field="variant",
        )
    if groups.size and (int(groups.min()) < 0 or int(groups.max()) >= n_variants):
        raise InvalidInputError(f"'variant' must hold ints in [0, {n_variants}).", field="variant")
    # Radix sort (numpy's stable sort of 8- and 16-bit ints) orders each block by variant.
    small = np.uint8 if n_variants <= 256 else np.uint16 if n_variants <= 65536 else np.intp
    groups = groups.astype(small, copy=False)
    n_units, n_metrics = rows.shape
    n = np.bincount(groups, minlength=n_variants).astype(np.int64)
    missing = np.zeros((n_variants, n_metrics), dtype=np.int64)
    sums = np.zeros((n_variants, n_metrics))
    squares = np.zeros((n_variants, n_metrics))
    block = min(_BLOCK, max(n_units, 1))
    value = np.empty((block, n_metrics))
    ordered = np.empty((block, n_metrics))
    is_nan = np.empty((block, n_metrics), dtype=bool)
    for start in range(0, n_units, block):
        stop = min(start + block, n_units)
        size = stop - start
        g = groups[start:stop]
        v, x, nan = value[:size], ordered[:size], is_nan[:size]
        np.copyto(v, rows[start:stop], casting="unsafe")
        np.take(v, np.argsort(g, kind="stable"), axis=0, out=x)
        per_variant = np.bincount(g, minlength=n_variants)
        present = np.flatnonzero(per_variant)
        # reduceat sums rows [starts[i], starts[i + 1]); every segment here is non-empty.
        starts = (np.cumsum(per_variant) - per_variant)[present]
        np.isnan(x, out=nan)
        if nan.any():
            missing[present] += np.add.reduceat(nan, starts, axis=0, dtype=np.int64)
            np.putmask(x, nan, 0.0)
        sums[present] += np.add.reduceat(x, starts, axis=0)
        np.multiply(x, x, out=x)
        squares[present] += np.add.reduceat(x, starts, axis=0)
    if not (np.isfinite(sums).all() and np.isfinite(squares).all()):
        raise InvalidInputError("'values' must be finite numbers or NaN.", field="values")
    count = n[:, None] - missing
    return VariantSums(n, np.ascontiguousarray(count.T), sums.T.copy(), squares.T.copy())

"""The one input helper of the multivariate drift statistics.

Every function of :mod:`mlpulse.core.drift.multivariate` turns its data into a 2-D
``float64`` array (rows × columns) here, so all of them treat bad input the same way:

* the input must be two-dimensional, numeric and real;
* ``+inf`` / ``-inf`` are rejected; ``NaN`` is kept, and each statistic says what it
  does with it (impute, drop the row, or hand it to a model that handles it);
* ``current`` must have as many columns as ``reference``.

Problems raise :class:`~mlpulse.errors.InvalidInputError` whose ``field`` names the
argument (``"reference"`` or ``"current"``). Too *few rows* is the business of each
statistic, which reports ``insufficient_data`` rather than raising.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.errors import InvalidInputError

__all__ = ["as_matrix", "subsample"]


def as_matrix(values: ArrayLike, *, name: str, columns: int | None = None) -> NDArray[np.float64]:
    """Return ``values`` as a 2-D float64 array (rows × columns).

    Parameters
    ----------
    values : array_like
        A matrix: anything :func:`numpy.asarray` turns into a 2-D array of numbers.
    name : str
        The argument's name, used in error messages (``"reference"``, ``"current"``).
    columns : int, optional
        The number of columns the matrix must have (the reference's).

    Raises
    ------
    InvalidInputError
        If the input is not numeric, not 2-D, has no column, holds an infinity, or has
        a number of columns other than ``columns``.

    Examples
    --------
    >>> as_matrix([[1, 2], [3, float("nan")]], name="current").shape
    (2, 2)
    """
    if isinstance(values, np.ndarray) and np.iscomplexobj(values):
        raise InvalidInputError(f"{name!r} must hold real numbers, not complex.", field=name)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name!r} must hold numbers: {exc}", field=name) from exc
    if array.ndim != 2 or array.shape[1] == 0:
        raise InvalidInputError(
            f"{name!r} must be a 2-D array (rows × columns) with at least one column."
            f" Got an array of shape {array.shape} instead.",
            field=name,
        )
    if np.isinf(array).any():
        raise InvalidInputError(f"{name!r} must not hold infinite values.", field=name)
    if columns is not None and array.shape[1] != columns:
        raise InvalidInputError(
            f"{name!r} must have {columns} columns, as the reference does."
            f" Got {array.shape[1]} instead.",
            field=name,
        )
    return array


def subsample(
    rows: NDArray[np.float64], size: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """At most ``size`` rows of ``rows``, drawn without replacement (all of them, in order,
    when there are no more than ``size``).

    Examples
    --------
    >>> subsample(np.zeros((10, 2)), 3, np.random.default_rng(0)).shape
    (3, 2)
    """
    if rows.shape[0] <= size:
        return rows
    chosen = np.sort(rng.choice(rows.shape[0], size=size, replace=False))
    return rows[chosen]

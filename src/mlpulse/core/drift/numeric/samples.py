"""The one input helper of the numeric drift statistics.

Every function of :mod:`mlpulse.core.drift.numeric` turns its samples into clean 1-D
``float64`` arrays here, so all of them treat missing and bad values the same way:

* ``NaN`` (and ``None`` in a list, which numpy reads as NaN) is a *missing value*, not
  part of the distribution: it is dropped (the sizes in a
  :class:`~mlpulse.core.results.HypothesisTestResult` count the values kept);
* ``+inf`` / ``-inf`` are rejected, since no statistic here has a meaning for them;
* the input must be one-dimensional and hold at least one finite value.

Problems raise :class:`~mlpulse.errors.InvalidInputError` whose ``field`` names the
argument (``"reference"`` or ``"current"``). Samples that are merely *small* are the
business of the check layer, which reports them as ``insufficient_data``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlpulse.errors import InvalidInputError

__all__ = ["as_sample", "as_sorted_sample"]


def as_sample(values: ArrayLike, *, name: str, minimum: int = 1) -> NDArray[np.float64]:
    """Return ``values`` as a 1-D float64 array without NaN.

    Parameters
    ----------
    values : array_like
        The sample: anything :func:`numpy.asarray` turns into numbers.
    name : str
        The argument's name, used in error messages (``"reference"``, ``"current"``).
    minimum : int, default 1
        The fewest values (after dropping NaN) the caller's statistic can work with.

    Raises
    ------
    InvalidInputError
        If the input is not numeric, not 1-D, holds an infinity, or has fewer than
        ``minimum`` values once NaN is dropped.

    Examples
    --------
    >>> as_sample([3, float("nan"), 1.5], name="current")
    array([3. , 1.5])
    """
    if isinstance(values, np.ndarray) and np.iscomplexobj(values):
        # numpy would drop the imaginary part with a mere warning.
        raise InvalidInputError(f"{name!r} must hold real numbers, not complex.", field=name)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name!r} must hold numbers: {exc}", field=name) from exc
    if array.ndim != 1:
        raise InvalidInputError(
            f"{name!r} must be a 1-D array. Got an array of shape {array.shape} instead.",
            field=name,
        )
    missing = np.isnan(array)
    if missing.any():
        array = array[~missing]
    if np.isinf(array).any():
        raise InvalidInputError(f"{name!r} must not hold infinite values.", field=name)
    if array.size < minimum:
        raise InvalidInputError(
            f"{name!r} must hold at least {minimum} finite value{'s' if minimum > 1 else ''}"
            f" (NaN is dropped). Got {array.size} instead.",
            field=name,
        )
    return array


def as_sorted_sample(values: ArrayLike, *, name: str) -> NDArray[np.float64]:
    """Like :func:`as_sample`, and check that the values are in ascending order.

    For callers that sorted once and reuse the sorted column (checking is O(n),
    sorting again would be O(n log n)).

    Examples
    --------
    >>> as_sorted_sample([1.0, 2.0, 2.0], name="reference")
    array([1., 2., 2.])
    """
    array = as_sample(values, name=name)
    if array.size > 1 and bool(np.any(array[1:] < array[:-1])):
        raise InvalidInputError(f"{name!r} must be sorted in ascending order.", field=name)
    return array

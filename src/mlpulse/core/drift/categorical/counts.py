"""Category counts: counting raw values and aligning two sets of counts.

Every categorical statistic in this package works on counts (a mapping category → count),
so the same functions serve raw data (:func:`counts`) and mergeable profiles, whose
frequent-items sketches give (possibly non-integer) count estimates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from mlpulse.errors import InvalidInputError

__all__ = ["AlignedCounts", "CategoryCounts", "aligned", "counts", "two_by_two"]

# ``Mapping`` is invariant in its key type, so ``Mapping[Hashable, float]`` would reject a
# ``dict[str, int]`` under mypy; any hashable key is accepted at run time.
CategoryCounts: TypeAlias = Mapping[Any, float]
"""Category → count (a non-negative, finite number; sketches may give non-integer estimates)."""

FloatArray: TypeAlias = npt.NDArray[np.float64]


def counts(values: npt.ArrayLike) -> dict[Hashable, int]:
    """Count the categories of a 1-D array or sequence of values.

    Missing values are not counted: ``None``, float NaN and NaT. Categories come back as
    Python scalars (``str``, ``int``, ``bool``, ...) in sorted order when the values sort,
    else in order of first appearance.

    Parameters
    ----------
    values : array_like
        One-dimensional categories (strings, integers, booleans, ...).

    Returns
    -------
    dict
        Category → number of occurrences (only categories that occur).

    Raises
    ------
    InvalidInputError
        If ``values`` is not one-dimensional.

    References
    ----------
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, section 1.1 (counts as
    the sufficient statistic of a multinomial sample).

    Examples
    --------
    >>> counts(["a", "b", "a", None, float("nan")])
    {'a': 2, 'b': 1}
    """
    try:
        array = np.asarray(values)
    except ValueError as exc:  # ragged nested sequences
        raise InvalidInputError("values must be one-dimensional.", field="values") from exc
    if array.dtype.kind in "US" and not isinstance(values, np.ndarray):
        # numpy turns ["x", 1] into strings, which would count 1 as "1": keep the objects.
        objects = np.asarray(values, dtype=object)
        if objects.shape == array.shape and not np.all(objects == array):
            array = objects
    if array.ndim != 1:
        raise InvalidInputError(
            f"values must be one-dimensional; got an array of shape {array.shape}.",
            field="values",
        )
    if array.dtype.kind in "OUS":
        return _hash_counts(array)
    if array.dtype.kind == "f":
        array = array[~np.isnan(array)]
    elif array.dtype.kind in "mM":
        array = array[~np.isnat(array)]
    categories, occurrences = np.unique(array, return_counts=True)
    return dict(zip(categories.tolist(), occurrences.tolist(), strict=True))


def _is_missing(value: object) -> bool:
    # ``x != x`` is true only for NaN (and NaT); ``== None`` as numpy's element-wise test.
    return bool(value == None or value != value)  # noqa: E711


def _hash_counts(array: npt.NDArray[Any]) -> dict[Hashable, int]:
    """Count strings and other objects by hashing, then sort the few distinct values.

    Sorting Python objects (what ``np.unique`` does) costs a comparison call per
    ``n log n`` step; a hash count is one pass, about 10× faster on 1e6 strings. The
    missing test runs once per distinct value, not once per row.
    """
    tally: Counter[Hashable] = Counter(array.tolist())
    found: dict[Any, int] = {v: n for v, n in tally.items() if not _is_missing(v)}
    try:
        order = sorted(found)
    except TypeError:
        # Mixed types that do not sort (e.g. str and int): order of first appearance.
        return found
    return {value: found[value] for value in order}


@dataclass(frozen=True, eq=False, slots=True)
class AlignedCounts:
    """Two count vectors over the union of their categories.

    ``categories`` holds the reference categories in their mapping order, then the
    categories seen only in current (the *unseen* categories) in their mapping order.
    ``reference[i]`` and ``current[i]`` are the counts of ``categories[i]`` (0 where absent).
    """

    categories: tuple[Hashable, ...]
    reference: FloatArray
    current: FloatArray

    @property
    def unseen(self) -> npt.NDArray[np.bool_]:
        """Mask of the categories with a current count but no reference count."""
        mask: npt.NDArray[np.bool_] = np.logical_and(self.reference == 0, self.current > 0)
        return mask

    def proportions(self) -> tuple[FloatArray, FloatArray]:
        """The reference and current shares of each category (each vector sums to 1).

        Raises
        ------
        InvalidInputError
            If either side has no observations (total count 0).
        """
        return (
            _shares(self.reference, "reference_counts"),
            _shares(self.current, "current_counts"),
        )


def _shares(vector: FloatArray, field: str) -> FloatArray:
    total = float(vector.sum())
    if total <= 0:
        raise InvalidInputError(f"{field} has no observations (total count 0).", field=field)
    return vector / total


def _values(mapping: CategoryCounts, field: str) -> FloatArray:
    try:
        vector = np.fromiter(mapping.values(), dtype=np.float64, count=len(mapping))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{field} must map categories to numbers.", field=field) from exc
    if not np.all(np.isfinite(vector)) or np.any(vector < 0):
        raise InvalidInputError(
            f"{field} must hold finite, non-negative counts.",
            field=field,
        )
    return vector


def aligned(reference_counts: CategoryCounts, current_counts: CategoryCounts) -> AlignedCounts:
    """Align two count mappings on the union of their categories.

    Categories present only in current are kept (with reference count 0): they are the
    unseen categories, which every statistic must see rather than drop.

    Parameters
    ----------
    reference_counts, current_counts : Mapping
        Category → non-negative finite count.

    Returns
    -------
    AlignedCounts
        The categories (reference order, then the unseen ones) and both count vectors.

    Raises
    ------
    InvalidInputError
        If a count is negative, infinite, NaN or not a number; ``field`` names the mapping.

    References
    ----------
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, section 2.1
    (the two-way contingency table).

    Examples
    --------
    >>> pair = aligned({"a": 3, "b": 1}, {"b": 2, "c": 5})
    >>> pair.categories
    ('a', 'b', 'c')
    >>> pair.reference.tolist(), pair.current.tolist()
    ([3.0, 1.0, 0.0], [0.0, 2.0, 5.0])
    """
    reference = _values(reference_counts, "reference_counts")
    current_values = _values(current_counts, "current_counts")
    index = {category: i for i, category in enumerate(reference_counts)}
    categories = list(reference_counts)
    for category in current_counts:
        if category not in index:
            index[category] = len(categories)
            categories.append(category)
    positions = np.fromiter(
        (index[category] for category in current_counts), dtype=np.intp, count=len(current_counts)
    )
    current = np.zeros(len(categories), dtype=np.float64)
    current[positions] = current_values
    padded = np.zeros(len(categories), dtype=np.float64)
    padded[: reference.size] = reference
    return AlignedCounts(tuple(categories), padded, current)


def two_by_two(
    reference_counts: CategoryCounts,
    current_counts: CategoryCounts,
    *,
    positive: Hashable | None = None,
) -> tuple[FloatArray, Hashable | None]:
    """The 2×2 table of a binary column: rows reference and current, columns positive, other.

    Categories with a zero total are ignored. Without ``positive`` the first category of the
    aligned order (see :func:`aligned`) is the positive one.

    Parameters
    ----------
    reference_counts, current_counts : Mapping
        Category → count, with at most two categories of non-zero total (besides
        ``positive`` when given, at most one other).
    positive : hashable, optional
        The category counted as a success.

    Returns
    -------
    table : ndarray of shape (2, 2)
        ``[[reference positive, reference other], [current positive, current other]]``.
    positive : hashable or None
        The positive category used (None only when both mappings are empty).

    Raises
    ------
    InvalidInputError
        If the column has more than two categories.

    References
    ----------
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, section 2.1.

    Examples
    --------
    >>> table, label = two_by_two({"yes": 3, "no": 7}, {"yes": 5, "no": 5})
    >>> table.tolist(), label
    ([[3.0, 7.0], [5.0, 5.0]], 'yes')
    """
    pair = aligned(reference_counts, current_counts)
    totals = pair.reference + pair.current
    present = [c for c, total in zip(pair.categories, totals.tolist(), strict=True) if total > 0]
    if positive is None and present:
        positive = present[0]
    others = [c for c in present if c != positive]
    if len(others) > 1:
        in_reference = {pair.categories[i] for i in np.flatnonzero(pair.reference).tolist()}
        field = "reference_counts" if len(in_reference - {positive}) > 1 else "current_counts"
        raise InvalidInputError(
            f"{field} must describe a binary column (two categories, positive={positive!r}); "
            f"the two mappings hold {len(present)} categories.",
            field=field,
        )
    is_positive = np.fromiter(
        (c == positive for c in pair.categories), dtype=bool, count=len(pair.categories)
    )
    table = np.array(
        [
            [pair.reference[is_positive].sum(), pair.reference[~is_positive].sum()],
            [pair.current[is_positive].sum(), pair.current[~is_positive].sum()],
        ],
        dtype=np.float64,
    )
    return table, positive

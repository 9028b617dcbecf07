"""Unseen categories: values in current that the reference never had."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from mlpulse.core.drift.categorical.counts import CategoryCounts, aligned

__all__ = ["UnseenResult", "unseen_categories"]


@dataclass(frozen=True, slots=True)
class UnseenResult:
    """The categories of current absent from the reference, most frequent first.

    ``counts[i]`` is the current count of ``categories[i]``; ``count`` their total and
    ``share`` that total over the current total (0 when current is empty).
    """

    categories: tuple[Hashable, ...]
    counts: tuple[float, ...]
    count: float
    share: float


def unseen_categories(
    reference_counts: CategoryCounts, current_counts: CategoryCounts
) -> UnseenResult:
    """Report the categories with a current count and no reference count.

    A category listed in the reference with count 0 counts as unseen. Ties in count keep
    the order of ``current_counts``.

    Parameters
    ----------
    reference_counts, current_counts : Mapping
        Category → non-negative count.

    Returns
    -------
    UnseenResult
        The unseen categories, their counts, total count and share of current.

    Raises
    ------
    InvalidInputError
        If a count is negative, infinite or not a number.

    References
    ----------
    Breck, E., Polyzotis, N., Roy, S., Whang, S. E. & Zinkevich, M. (2019). Data validation
    for machine learning. *Proceedings of MLSys 2019* (new values of a categorical feature
    as a schema anomaly).

    Examples
    --------
    >>> unseen_categories({"a": 5, "b": 5}, {"a": 4, "c": 1, "d": 3, "b": 2})
    UnseenResult(categories=('d', 'c'), counts=(3.0, 1.0), count=4.0, share=0.4)
    """
    pair = aligned(reference_counts, current_counts)
    where = np.flatnonzero(pair.unseen)
    order = where[np.argsort(-pair.current[where], kind="stable")]
    unseen_counts = pair.current[order]
    total = float(pair.current.sum())
    count = float(unseen_counts.sum())
    return UnseenResult(
        categories=tuple(pair.categories[i] for i in order.tolist()),
        counts=tuple(unseen_counts.tolist()),
        count=count,
        share=count / total if total > 0 else 0.0,
    )

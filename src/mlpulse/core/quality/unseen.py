"""The share of a categorical column's rows whose category the reference never had.

>>> unseen_share(["a", "b"], ["a", "c", "c", "d"]).details["top_unseen"]
[('c', 2), ('d', 1)]
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from mlpulse.core.drift.check import Status
from mlpulse.core.drift.methods import Thresholds
from mlpulse.core.quality.result import QualityResult, grade, validate_thresholds
from mlpulse.core.quality.values import Values, as_column, factorize, python_scalar
from mlpulse.errors import parameter_error

# A share of rows with an unseen category: 1% warns, 5% is critical.
DEFAULT_THRESHOLDS: Final = Thresholds(warning=0.01, critical=0.05)


def unseen_share(
    reference: Values,
    current: Values,
    *,
    column: str = "value",
    top: int = 10,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> QualityResult:
    """The share of ``current``'s present rows whose category is not in ``reference``.

    Missing values are left out on both sides. An empty reference or current gives
    ``insufficient_data``.

    Parameters
    ----------
    reference, current : array_like
        One categorical column each.
    column : str
        The column's name, for the result.
    top : int
        How many of the most frequent unseen categories ``details`` lists.
    thresholds : Thresholds
        Share at which a warning and a critical status start (``>=``); default 0.01 and 0.05.

    Returns
    -------
    QualityResult
        ``details``: ``top_unseen`` (category, count) pairs, most frequent first (ties
        in the categories' order), ``n_unseen_categories``, ``n_unseen``, ``n_current``.

    Examples
    --------
    >>> r = unseen_share(["a", "b", None], ["a", "b", "z", None])
    >>> round(r.value, 3), r.status.value
    (0.333, 'critical')
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise parameter_error("top", "unseen_share", "an int in [0, inf)", top)
    validate_thresholds(thresholds, "unseen_share")
    (ref, cur), categories = factorize(
        as_column(reference, "unseen_share", "reference"), as_column(current, "unseen_share")
    )
    ref, cur = ref[ref >= 0], cur[cur >= 0]
    if not len(ref) or not len(cur):
        counts = {"n_reference": len(ref), "n_current": len(cur)}
        return QualityResult(
            "unseen_categories", column, math.nan, thresholds, Status.INSUFFICIENT_DATA, counts
        )
    seen = np.zeros(len(categories), dtype=bool)
    seen[ref] = True
    unseen_counts = np.bincount(cur, minlength=len(categories))
    unseen_counts[seen] = 0
    n_unseen = int(unseen_counts.sum())
    order = np.argsort(-unseen_counts, kind="stable")[: min(top, int((unseen_counts > 0).sum()))]
    value = n_unseen / len(cur)
    details = {
        "top_unseen": [(python_scalar(categories[i]), int(unseen_counts[i])) for i in order],
        "n_unseen_categories": int((unseen_counts > 0).sum()),
        "n_unseen": n_unseen,
        "n_current": len(cur),
    }
    return QualityResult(
        "unseen_categories", column, value, thresholds, grade(value, thresholds), details
    )

"""Fisher's exact test for a binary column with small counts."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
from scipy import stats

from mlpulse.core.drift.categorical.counts import CategoryCounts, two_by_two
from mlpulse.core.results import HypothesisTestResult
from mlpulse.errors import InvalidInputError

__all__ = ["fisher_exact"]


def fisher_exact(
    reference_counts: CategoryCounts,
    current_counts: CategoryCounts,
    *,
    positive: Hashable | None = None,
) -> HypothesisTestResult:
    """Fisher's exact test (two-sided) that a binary column has one share in both samples.

    Conditioning on the margins of the 2×2 table ``[[reference positive, reference other],
    [current positive, current other]]``, the count in the first cell is hypergeometric;
    the two-sided p-value sums the probabilities of the tables no more likely than the one
    observed. Exact at any sample size, so use it where the chi-square approximation fails
    (an expected count below 5). Counts are rounded to integers (sketch estimates may not be
    whole numbers). Delegates to ``scipy.stats.fisher_exact``.

    Parameters
    ----------
    reference_counts, current_counts : Mapping
        Category → count of a binary column (at most two categories of non-zero total).
    positive : hashable, optional
        The category in the first column; by default the first reference category.

    Returns
    -------
    HypothesisTestResult
        ``statistic`` the sample odds ratio (reference odds of ``positive`` over current
        odds; may be 0 or inf) and the two-sided p-value.

    Raises
    ------
    InvalidInputError
        If the column has more than two categories, a count is invalid or a side is empty.

    References
    ----------
    Fisher, R. A. (1935). The logic of inductive inference. *Journal of the Royal
    Statistical Society* 98(1), 39-82. Agresti, A. (2013). *Categorical Data Analysis*,
    3rd ed., Wiley, section 3.5.

    Examples
    --------
    >>> result = fisher_exact({"yes": 1, "no": 9}, {"yes": 8, "no": 2})
    >>> round(result.statistic, 4), round(result.p_value, 5)
    (0.0278, 0.00548)
    """
    table, _ = two_by_two(reference_counts, current_counts, positive=positive)
    table = np.rint(table).astype(np.int64)
    n_reference, n_current = table.sum(axis=1).tolist()
    for n, field in ((n_reference, "reference_counts"), (n_current, "current_counts")):
        if n <= 0:
            raise InvalidInputError(f"{field} has no observations (total count 0).", field=field)
    odds_ratio, p_value = stats.fisher_exact(table, alternative="two-sided")
    return HypothesisTestResult(
        float(odds_ratio), float(min(1.0, p_value)), int(n_reference), int(n_current)
    )

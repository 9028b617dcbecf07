"""Pearson's chi-square test of homogeneity for two sets of category counts."""

from __future__ import annotations

import numpy as np
from scipy import stats

from mlpulse.core.drift.categorical.counts import CategoryCounts, aligned
from mlpulse.core.results import HypothesisTestResult

__all__ = ["chi_square"]


def chi_square(
    reference_counts: CategoryCounts, current_counts: CategoryCounts
) -> HypothesisTestResult:
    """Chi-square test that reference and current share one category distribution.

    The 2×k contingency table has rows reference and current and one column per category
    (categories with a zero total are dropped; unseen categories are kept). With row totals
    :math:`R_r`, column totals :math:`C_j` and grand total :math:`N`, the expected counts are
    :math:`E_{rj} = R_r C_j / N` and

    .. math:: X^2 = \\sum_{r, j} (O_{rj} - E_{rj})^2 / E_{rj},

    referred to a chi-square distribution with :math:`k - 1` degrees of freedom.

    No continuity (Yates) correction is applied, not even for 2×2 tables, so the statistic
    means the same for every k; it equals ``scipy.stats.chi2_contingency(table,
    correction=False)``, and for a binary column it is the square of
    :func:`~mlpulse.core.drift.categorical.proportion_z.proportion_z`. For small expected
    counts (below 5) prefer :func:`~mlpulse.core.drift.categorical.fisher.fisher_exact`.
    With a single category left the distributions are identical: statistic 0, p-value 1.

    Parameters
    ----------
    reference_counts, current_counts : Mapping
        Category → non-negative count (estimates from sketches may be non-integer).

    Returns
    -------
    HypothesisTestResult
        ``statistic`` :math:`X^2`; ``n_reference``, ``n_current`` the rounded totals.

    Raises
    ------
    InvalidInputError
        If a count is invalid or a side has no observations.

    References
    ----------
    Pearson, K. (1900). On the criterion that a given system of deviations from the probable
    ... *Philosophical Magazine* 50(302), 157-175. Agresti, A. (2013). *Categorical Data
    Analysis*, 3rd ed., Wiley, section 3.2.

    Examples
    --------
    >>> result = chi_square({"a": 30, "b": 70}, {"a": 50, "b": 50})
    >>> round(result.statistic, 4), round(result.p_value, 5)
    (8.3333, 0.00389)
    """
    pair = aligned(reference_counts, current_counts)
    pair.proportions()  # raises when a side has no observations
    table = np.vstack([pair.reference, pair.current])
    table = table[:, table.sum(axis=0) > 0]
    n_reference, n_current = table.sum(axis=1).tolist()
    dof = table.shape[1] - 1
    if dof < 1:
        return HypothesisTestResult(0.0, 1.0, round(n_reference), round(n_current))
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    # An expected count can underflow to 0 only for absurdly small counts (~1e-160);
    # such a cell carries no evidence, so it adds nothing rather than a NaN.
    cells = np.divide(
        (table - expected) ** 2, expected, out=np.zeros_like(expected), where=expected > 0
    )
    statistic = float(cells.sum())
    p_value = float(stats.chi2.sf(statistic, dof))
    return HypothesisTestResult(statistic, p_value, round(n_reference), round(n_current))

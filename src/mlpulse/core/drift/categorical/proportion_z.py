"""Two-proportion z-test for a binary column."""

from __future__ import annotations

import math
from collections.abc import Hashable

from scipy import stats

from mlpulse.core.drift.categorical.counts import CategoryCounts, two_by_two
from mlpulse.core.results import HypothesisTestResult
from mlpulse.errors import InvalidInputError

__all__ = ["proportion_z"]


def proportion_z(
    reference_counts: CategoryCounts,
    current_counts: CategoryCounts,
    *,
    positive: Hashable | None = None,
) -> HypothesisTestResult:
    """Two-sided two-proportion z-test with the pooled standard error.

    With :math:`x_r` of :math:`n_r` reference and :math:`x_c` of :math:`n_c` current rows
    in the ``positive`` category, :math:`\\hat p_r = x_r / n_r`, :math:`\\hat p_c = x_c / n_c`
    and the pooled share :math:`\\hat p = (x_r + x_c) / (n_r + n_c)`,

    .. math:: z = \\frac{\\hat p_c - \\hat p_r}
              {\\sqrt{\\hat p (1 - \\hat p) (1 / n_r + 1 / n_c)}},
              \\qquad p = 2 \\, (1 - \\Phi(|z|)).

    This is statsmodels' ``proportions_ztest`` for two samples, and :math:`z^2` is the
    uncorrected chi-square statistic of the 2×2 table (same p-value). When the pooled share
    is 0 or 1 both sides agree: z = 0, p-value 1.

    Parameters
    ----------
    reference_counts, current_counts : Mapping
        Category → count of a binary column (at most two categories of non-zero total).
    positive : hashable, optional
        The category whose share is compared; by default the first reference category.
        It sets the sign of z only.

    Returns
    -------
    HypothesisTestResult
        ``statistic`` z (positive when the share rose in current) and the two-sided p-value.

    Raises
    ------
    InvalidInputError
        If the column has more than two categories, a count is invalid or a side is empty.

    References
    ----------
    Fleiss, J. L., Levin, B. & Paik, M. C. (2003). *Statistical Methods for Rates and
    Proportions*, 3rd ed., Wiley, section 2.3. Agresti, A. (2013). *Categorical Data
    Analysis*, 3rd ed., Wiley, section 3.1.

    Examples
    --------
    >>> result = proportion_z({"yes": 30, "no": 70}, {"yes": 50, "no": 50})
    >>> round(result.statistic, 4), round(result.p_value, 5)
    (2.8868, 0.00389)
    """
    table, _ = two_by_two(reference_counts, current_counts, positive=positive)
    n_reference, n_current = table.sum(axis=1).tolist()
    for n, field in ((n_reference, "reference_counts"), (n_current, "current_counts")):
        if n <= 0:
            raise InvalidInputError(f"{field} has no observations (total count 0).", field=field)
    x_reference, x_current = table[:, 0].tolist()
    pooled = (x_reference + x_current) / (n_reference + n_current)
    variance = pooled * (1 - pooled) * (1 / n_reference + 1 / n_current)
    if variance <= 0:
        return HypothesisTestResult(0.0, 1.0, round(n_reference), round(n_current))
    z = (x_current / n_current - x_reference / n_reference) / math.sqrt(variance)
    p_value = float(min(1.0, 2 * stats.norm.sf(abs(z))))
    return HypothesisTestResult(z, p_value, round(n_reference), round(n_current))

"""The two-sample Cramér–von Mises test."""

from __future__ import annotations

from numpy.typing import ArrayLike
from scipy import stats

from mlpulse.core.drift.numeric.samples import as_sample
from mlpulse.core.results import HypothesisTestResult

__all__ = ["cramer_von_mises"]


def cramer_von_mises(reference: ArrayLike, current: ArrayLike) -> HypothesisTestResult:
    r"""The two-sample Cramér–von Mises test.

    .. math:: T = \frac{nm}{(n+m)^2} \sum_{x \in pooled} (F_{reference}(x) - F_{current}(x))^2

    (Anderson, 1962), via ``scipy.stats.cramervonmises_2samp(method="auto")``: the exact
    p-value when both samples have at most 20 values, the asymptotic one (Csörgő and
    Faraway, 1996) otherwise. Each sample needs at least 2 values (NaN is dropped);
    fewer raise ``InvalidInputError``, since scipy returns NaN there.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of finite numbers (NaN is dropped), at least 2 values each.

    References
    ----------
    Anderson, T. W. (1962). On the distribution of the two-sample Cramér–von Mises
    criterion. *Annals of Mathematical Statistics* 33(3), 1148–1159.
    Csörgő, S. and Faraway, J. J. (1996). The exact and asymptotic distributions of
    Cramér–von Mises statistics. *JRSS B* 58(1), 221–234.

    Examples
    --------
    >>> result = cramer_von_mises([1.0, 2.0, 3.0], [3.0, 4.0, 6.0, 7.0])
    >>> round(result.statistic, 4), round(result.p_value, 4)
    (0.4732, 0.0571)
    """
    reference_values = as_sample(reference, name="reference", minimum=2)
    current_values = as_sample(current, name="current", minimum=2)
    result = stats.cramervonmises_2samp(reference_values, current_values, method="auto")
    return HypothesisTestResult(
        statistic=float(result.statistic),
        p_value=min(max(float(result.pvalue), 0.0), 1.0),
        n_reference=reference_values.size,
        n_current=current_values.size,
    )

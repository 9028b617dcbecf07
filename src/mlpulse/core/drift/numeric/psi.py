"""The Population Stability Index."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from mlpulse.core.drift.numeric.binning import check_bins, proportions, smoothed
from mlpulse.core.drift.numeric.samples import as_sample

__all__ = ["psi"]


def psi(reference: ArrayLike, current: ArrayLike, *, bins: int = 10) -> float:
    r"""The Population Stability Index of ``current`` against ``reference``.

    .. math:: PSI = \sum_i (c_i - r_i) \ln(c_i / r_i),

    where ``r_i`` and ``c_i`` are the shares of the reference and current samples in
    bin ``i``. The bins are cut at the reference's quantiles (tied cut points merged,
    outer bins open to ±inf; see :mod:`.binning`). An empty bin would make the
    logarithm infinite, so ``1e-4`` is added to every share before renormalising
    (:func:`.binning.smoothed`: the same for any sample size, unlike Laplace's +1 count).
    A common reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 large shift.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of finite numbers (NaN is dropped).
    bins : int, default 10
        The number of reference-quantile bins, at least 2 (fewer when quantiles tie).

    Returns
    -------
    float
        PSI, >= 0; exactly 0 when both samples fill the bins in the same shares.

    References
    ----------
    Siddiqi, N. (2006). *Credit Risk Scorecards*. Wiley, ch. 8.
    Yurdakul, B. (2018). *Statistical properties of population stability index*.
    PhD thesis, Western Michigan University.

    Examples
    --------
    >>> psi([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], bins=2)
    0.0
    >>> round(psi([1.0, 2.0, 3.0, 4.0], [1.0, 4.0, 4.0, 4.0], bins=2), 4)
    0.2745
    """
    n_bins = check_bins(bins, "psi")
    reference_shares, current_shares = proportions(
        as_sample(reference, name="reference"), as_sample(current, name="current"), n_bins
    )
    r, c = smoothed(reference_shares), smoothed(current_shares)
    return float(np.sum((c - r) * np.log(c / r)))

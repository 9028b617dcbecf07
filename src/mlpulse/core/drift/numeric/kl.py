"""The Kullback–Leibler divergence on reference-quantile bins."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from mlpulse.core.drift.numeric.binning import check_bins, proportions, smoothed
from mlpulse.core.drift.numeric.samples import as_sample

__all__ = ["kl_divergence"]


def kl_divergence(reference: ArrayLike, current: ArrayLike, *, bins: int = 10) -> float:
    r"""The Kullback–Leibler divergence of ``current`` from ``reference``, in nats.

    .. math:: KL(C \| R) = \sum_i c_i \ln(c_i / r_i),

    on the same reference-quantile bins and with the same ``1e-4`` smoothing as
    :func:`~mlpulse.core.drift.numeric.psi.psi` (see :mod:`.binning`), so an empty
    reference bin gives a large but finite value. Not symmetric; PSI is
    ``KL(C||R) + KL(R||C)``.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of finite numbers (NaN is dropped).
    bins : int, default 10
        The number of reference-quantile bins, at least 2 (fewer when quantiles tie).

    Returns
    -------
    float
        The divergence, >= 0; 0 when both fill the bins in the same shares.

    References
    ----------
    Kullback, S. and Leibler, R. A. (1951). On information and sufficiency.
    *Annals of Mathematical Statistics* 22(1), 79–86.

    Examples
    --------
    >>> kl_divergence([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], bins=2)
    0.0
    >>> round(kl_divergence([1.0, 2.0, 3.0, 4.0], [1.0, 4.0, 4.0, 4.0], bins=2), 4)
    0.1308
    """
    n_bins = check_bins(bins, "kl_divergence")
    reference_shares, current_shares = proportions(
        as_sample(reference, name="reference"), as_sample(current, name="current"), n_bins
    )
    r, c = smoothed(reference_shares), smoothed(current_shares)
    # The smoothed shares are > 0 and sum to 1, so the sum is >= 0 up to rounding.
    return max(float(np.sum(c * np.log(c / r))), 0.0)

"""The Hellinger distance on reference-quantile bins."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from mlpulse.core.drift.numeric.binning import check_bins, proportions
from mlpulse.core.drift.numeric.samples import as_sample

__all__ = ["hellinger"]


def hellinger(reference: ArrayLike, current: ArrayLike, *, bins: int = 10) -> float:
    r"""The Hellinger distance between the two binned samples.

    .. math:: H = \frac{1}{\sqrt2} \sqrt{\sum_i (\sqrt{r_i} - \sqrt{c_i})^2},

    on the same bins as PSI (see :mod:`.binning`), without smoothing (every term is
    finite). It is in [0, 1] and symmetric in the shares; this form (rather than
    ``sqrt(1 - sum sqrt(r c))``) gives exactly 0 for identical shares. The bins are cut
    at the *reference's* quantiles, so swapping the arguments changes the bins and, in
    general, the value.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of finite numbers (NaN is dropped).
    bins : int, default 10
        The number of reference-quantile bins, at least 2 (fewer when quantiles tie).

    Returns
    -------
    float
        The distance in [0, 1]; 1 when the samples share no bin.

    References
    ----------
    Hellinger, E. (1909). Neue Begründung der Theorie quadratischer Formen von
    unendlichvielen Veränderlichen. *Journal für die reine und angewandte Mathematik*
    136, 210–271. Le Cam, L. and Yang, G. L. (2000). *Asymptotics in Statistics*, 2nd ed.
    Springer.

    Examples
    --------
    >>> hellinger([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], bins=2)
    0.0
    >>> hellinger([5.0, 5.0, 5.0], [0.0, 1.0])
    1.0
    """
    n_bins = check_bins(bins, "hellinger")
    r, c = proportions(
        as_sample(reference, name="reference"), as_sample(current, name="current"), n_bins
    )
    squared = float(np.sum(np.square(np.sqrt(r) - np.sqrt(c)))) / 2.0
    return min(math.sqrt(squared), 1.0)

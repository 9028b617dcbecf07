"""Drift statistics for two samples of numbers: one statistic per module.

Every function takes ``reference`` and ``current`` as 1-D array-likes, drops NaN
(missing values are not part of the distribution) and rejects infinities and
non-1-D input with :class:`~mlpulse.errors.InvalidInputError` (see :mod:`.samples`).
Tests with a p-value return :class:`~mlpulse.core.results.HypothesisTestResult`;
distances and divergences return a float.

Example
-------
>>> from mlpulse.core.drift.numeric import ks, psi
>>> ks([1.0, 2.0], [1.0, 2.0]).p_value
1.0
>>> psi([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
0.0
"""

from __future__ import annotations

from mlpulse.core.drift.numeric.anderson import anderson_darling
from mlpulse.core.drift.numeric.cramer_von_mises import cramer_von_mises
from mlpulse.core.drift.numeric.energy import energy_distance
from mlpulse.core.drift.numeric.hellinger import hellinger
from mlpulse.core.drift.numeric.jensen_shannon import jensen_shannon
from mlpulse.core.drift.numeric.kl import kl_divergence
from mlpulse.core.drift.numeric.ks import ks, ks_sorted
from mlpulse.core.drift.numeric.location import mann_whitney, welch_t
from mlpulse.core.drift.numeric.psi import psi
from mlpulse.core.drift.numeric.wasserstein import wasserstein

__all__ = [
    "anderson_darling",
    "cramer_von_mises",
    "energy_distance",
    "hellinger",
    "jensen_shannon",
    "kl_divergence",
    "ks",
    "ks_sorted",
    "mann_whitney",
    "psi",
    "wasserstein",
    "welch_t",
]

"""Sample ratio mismatch: did the traffic split as planned?

A split far from the planned allocation means assignment or logging is broken (bots,
redirects, a crashing variant), and every other result of the experiment is suspect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from mlpulse.core.experiments.frequentist import ExperimentStatus
from mlpulse.errors import parameter_error

__all__ = ["SrmResult", "sample_ratio_mismatch"]


@dataclass(frozen=True, slots=True)
class SrmResult:
    """The chi-square goodness of fit of the observed split against the planned one.

    ``status`` is ``mismatch`` when ``p_value < threshold``, ``ok`` otherwise, and
    ``insufficient_data`` when no unit was counted.
    """

    status: ExperimentStatus
    statistic: float
    p_value: float
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    threshold: float


def sample_ratio_mismatch(
    observed: Sequence[int],
    allocation: Sequence[float] | None = None,
    *,
    threshold: float = 0.001,
) -> SrmResult:
    """Test the units counted per variant against the planned allocation.

    ``scipy.stats.chisquare(observed, expected)`` with ``expected`` the total split by
    ``allocation`` (k - 1 degrees of freedom).

    Parameters
    ----------
    observed : sequence of int
        Units per variant, at least 2 variants.
    allocation : sequence of float, optional
        Planned weights per variant (any positive scale: ``[50, 50]`` or
        ``[0.2, 0.8]``); equal weights when omitted.
    threshold : float, default 0.001
        The p-value under which the split is a ``mismatch``. 0.001, as GrowthBook's
        default SRM threshold: the check runs on every experiment at every look, so a
        strict threshold keeps false alarms rare, and real mismatches at scale give
        p-values far below it.

    References
    ----------
    Fabijan, A. et al. (2019). Diagnosing sample ratio mismatch in online controlled
    experiments: a taxonomy and rules of thumb for practitioners. *KDD '19*, 2156–2164.

    Examples
    --------
    >>> sample_ratio_mismatch([5000, 5400]).status
    <ExperimentStatus.MISMATCH: 'mismatch'>
    >>> round(sample_ratio_mismatch([1980, 8020], [0.2, 0.8]).p_value, 3)
    0.617
    """
    owner = "sample_ratio_mismatch"
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise parameter_error("threshold", owner, "a float in (0, 1)", threshold)
    if not 0 < threshold < 1:
        raise parameter_error("threshold", owner, "a float in (0, 1)", threshold)
    counts = np.asarray(observed)
    if counts.ndim != 1 or counts.size < 2 or counts.dtype.kind not in "iu" or (counts < 0).any():
        raise parameter_error("observed", owner, "2 or more counts (ints >= 0)", observed)
    if allocation is None:
        weights = np.ones(counts.size)
    else:
        weights = np.asarray(allocation, dtype=np.float64)
        if weights.shape != counts.shape or not (np.isfinite(weights) & (weights > 0)).all():
            raise parameter_error(
                "allocation", owner, f"{counts.size} finite weights > 0", allocation
            )
    total = int(counts.sum())
    expected = total * weights / weights.sum()
    observed_tuple = tuple(int(c) for c in counts)
    expected_tuple = tuple(float(e) for e in expected)
    if total == 0:
        return SrmResult(
            ExperimentStatus.INSUFFICIENT_DATA, math.nan, math.nan,
            observed_tuple, expected_tuple, threshold,
        )  # fmt: skip
    result = stats.chisquare(counts.astype(np.float64), expected)
    p_value = min(max(float(result.pvalue), 0.0), 1.0)
    status = ExperimentStatus.MISMATCH if p_value < threshold else ExperimentStatus.OK
    return SrmResult(
        status, float(result.statistic), p_value, observed_tuple, expected_tuple, threshold
    )

"""When did it start? Onset estimates over a metric series, for incidents' time to detect.

An alert fires when its rule has seen enough: the onset of the harm is earlier. Two
estimates over the points of the series that fired, up to the detection:

* :func:`crossing_onset` — a threshold rule: the start of the trailing run of points
  past the threshold, taken halfway between the last point inside it and the first
  past it (the crossing happened somewhere between two evaluations; the midpoint is the
  unbiased guess when it is equally likely anywhere in between);
* :func:`cusum_onset` — a shift in level (relative and anomaly rules): the single
  change point that best splits the series into two means, the maximum of the centred
  cumulative sum (Page 1954; Hinkley 1970, "Inference about the change-point in a
  sequence of random variables", *Biometrika* 57), again halfway between the two points
  either side of the split.

Both take the points' times and values as plain sequences (oldest first) and return
``None`` when the series cannot say (too few points, no breach, no shift).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["crossing_onset", "cusum_onset"]


def crossing_onset(times: Sequence[float], breached: Sequence[bool]) -> float | None:
    """The start of the trailing run of breaches, or None when the last point is fine.

    Parameters
    ----------
    times : the points' times, oldest first.
    breached : whether each point is past the threshold.

    Examples
    --------
    >>> crossing_onset([0, 60, 120, 180], [False, False, True, True])
    90.0
    >>> crossing_onset([120, 180], [True, True])  # breached since the first point known
    120.0
    >>> crossing_onset([0, 60], [True, False]) is None
    True
    """
    if len(times) != len(breached):
        raise ValueError("times and breached must have the same length")
    if not breached or not breached[-1]:
        return None
    i = len(breached) - 1
    while i > 0 and breached[i - 1]:
        i -= 1
    if i == 0:
        return float(times[0])
    return (float(times[i - 1]) + float(times[i])) / 2.0


def cusum_onset(
    times: Sequence[float], values: Sequence[float], *, min_points: int = 4
) -> float | None:
    """The time of the most likely single shift in level, or None.

    The split ``k`` maximises ``|S_k - k/n S_n|`` (``S_k`` the sum of the first ``k``
    values): the least-squares change point of a mean shift. ``None`` with fewer than
    ``min_points`` finite values, or a constant series.

    Examples
    --------
    >>> cusum_onset([0, 60, 120, 180, 240, 300], [1.0, 1.1, 0.9, 5.0, 5.2, 4.9])
    150.0
    >>> cusum_onset([0, 60, 120, 180], [2.0, 2.0, 2.0, 2.0]) is None
    True
    """
    if len(times) != len(values):
        raise ValueError("times and values must have the same length")
    t = np.asarray(times, dtype=float)
    x = np.asarray(values, dtype=float)
    keep = np.isfinite(x) & np.isfinite(t)
    t, x = t[keep], x[keep]
    n = len(x)
    if n < max(2, min_points):
        return None
    centred = np.cumsum(x - x.mean())[:-1]  # S_k - k/n S_n for k = 1 .. n-1
    if not np.any(np.abs(centred) > 1e-12 * max(1.0, float(np.abs(x).max()))):
        return None
    k = int(np.argmax(np.abs(centred)))  # the last point before the shift
    return (float(t[k]) + float(t[k + 1])) / 2.0

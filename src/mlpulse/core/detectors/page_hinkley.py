"""The Page–Hinkley test for a change in the mean of a stream."""

from __future__ import annotations

from math import isfinite
from typing import Literal

from mlpulse.core.detectors.base import check_float, check_int
from mlpulse.errors import parameter_error

__all__ = ["PageHinkley"]

_MODES = ("up", "down", "both")


class PageHinkley:
    r"""Page–Hinkley test: a change in the mean of a stream, in the form river uses.

    With :math:`\bar x_T` the running mean of the values read so far, the test keeps
    the cumulative deviations (faded by the forgetting factor :math:`\alpha`)

    .. math::

        m_T = \alpha\, m_{T-1} + (x_T - \bar x_T - \delta), \qquad
        M_T = \min(0, m_1, \dots, m_T),

    and signals an increase when :math:`PH_T = m_T - M_T > \lambda`. A decrease is
    the mirror image (:math:`+\delta`, the running maximum, :math:`M_T - m_T`).
    ``delta`` is the size of change tolerated (the slack) and ``threshold``
    (:math:`\lambda`) trades detection delay for false alarms; neither is scale-free,
    so set them in the units of the stream. A change is only signalled once
    ``min_instances`` values have been read; the update after a detection starts a
    fresh test, as in river.

    The forgetting factor has a side effect worth knowing: on a stationary stream
    :math:`m_T` settles near :math:`-\delta / (1 - \alpha)`, where the fading exactly
    cancels the slack, so over streams much longer than :math:`1 / (1 - \alpha)` values
    the test behaves as if :math:`\delta = 0` and alarms far more often. Use
    ``alpha=1.0`` for long streams. With ``delta=0.5, threshold=15.0, alpha=1.0`` on
    standard-normal data, 200 seeded streams of 10,000 values raised no alarm and a
    one-unit shift (either way) was found after 28 values (median; 95th percentile 50).

    Parameters
    ----------
    min_instances : int, default 30
        Values to read before a change may be signalled, at least 1.
    delta : float, default 0.005
        The tolerated deviation :math:`\delta`, in [0, inf).
    threshold : float, default 50.0
        The decision threshold :math:`\lambda`, in (0, inf).
    alpha : float, default 0.9999
        The forgetting factor of the cumulative sum, in (0, 1]; 1 forgets nothing.
    mode : {"up", "down", "both"}, default "both"
        Which changes to signal: increases, decreases or both.

    Notes
    -----
    An update is a handful of float operations: 0.3 µs on CPython 3.11, call included
    (200,000 updates, best of 5, on the development machine). Memory is constant.

    References
    ----------
    Page, E. S. (1954). Continuous inspection schemes. *Biometrika* 41(1/2), 100–115.
    Mouss, H., Mouss, D., Mouss, N., & Sefouhi, L. (2004). Test of Page–Hinkley, an
    approach for fault detection in an agro-alimentary production system. *5th Asian
    Control Conference*, 815–818.

    Examples
    --------
    The mean steps from 0.5 to 5.5 after 200 values:

    >>> detector = PageHinkley(delta=0.5, threshold=20.0, alpha=1.0)
    >>> stream = [0.0, 1.0] * 100 + [5.0, 6.0] * 100
    >>> next(i for i, x in enumerate(stream) if detector.update(x))
    204
    >>> detector.drift_detected, detector.n, round(detector.estimate, 3)
    (True, 205, 0.62)
    """

    __slots__ = (
        "_alpha",
        "_delta",
        "_down",
        "_drift_detected",
        "_max_down",
        "_mean",
        "_min_instances",
        "_min_up",
        "_mode",
        "_n",
        "_sum_down",
        "_sum_up",
        "_threshold",
        "_up",
    )

    def __init__(
        self,
        *,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: Literal["up", "down", "both"] = "both",
    ) -> None:
        owner = type(self).__name__
        self._min_instances = check_int(min_instances, "min_instances", owner, low=1)
        self._delta = check_float(delta, "delta", owner, low=0.0)
        self._threshold = check_float(threshold, "threshold", owner, low=0.0, low_open=True)
        self._alpha = check_float(
            alpha, "alpha", owner, low=0.0, high=1.0, low_open=True, high_open=False
        )
        if mode not in _MODES:
            raise parameter_error("mode", owner, "one of 'up', 'down', 'both'", mode)
        self._mode: Literal["up", "down", "both"] = mode
        self._up = mode != "down"
        self._down = mode != "up"
        self.reset()

    def reset(self) -> None:
        """Forget everything read so far (the parameters stay)."""
        self._n = 0
        self._mean = 0.0
        self._sum_up = 0.0
        self._min_up = 0.0
        self._sum_down = 0.0
        self._max_down = 0.0
        self._drift_detected = False

    def start_from(self, mean: float, n: int) -> None:
        """Start a fresh test as if ``n`` values with mean ``mean`` had been read.

        A prior for a stream that has a known past elsewhere: a new model version is
        tested against the error rate of the versions before it, so one that fails
        from its first request is a change, not its normal. Larger ``n`` makes the
        prior weigh longer against the stream's own values.

        >>> detector = PageHinkley(mode="up", alpha=1.0)
        >>> detector.start_from(0.01, 1000)
        >>> next(i for i in range(1000) if detector.update(1.0 if i % 3 == 0 else 0.0))
        168
        """
        if not isfinite(mean):
            raise parameter_error("mean", "PageHinkley.start_from", "a finite number", mean)
        n = check_int(n, "n", "PageHinkley.start_from", low=0)
        self.reset()
        self._n = n
        self._mean = mean if n > 0 else 0.0

    def update(self, x: float) -> bool:
        """Read one value; True if a change is detected on this update.

        Non-finite values are dropped: the update changes nothing and returns False.
        """
        if not isfinite(x):
            return False
        if self._drift_detected:
            self.reset()
        n = self._n + 1
        self._n = n
        mean = self._mean + (x - self._mean) / n
        self._mean = mean
        deviation = x - mean
        detected = False
        if self._up:
            m = self._alpha * self._sum_up + deviation - self._delta
            self._sum_up = m
            if m < self._min_up:
                self._min_up = m
            detected = m - self._min_up > self._threshold
        if self._down:
            m = self._alpha * self._sum_down + deviation + self._delta
            self._sum_down = m
            if m > self._max_down:
                self._max_down = m
            detected = detected or self._max_down - m > self._threshold
        detected = detected and n >= self._min_instances
        self._drift_detected = detected
        return detected

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a change."""
        return self._drift_detected

    @property
    def n(self) -> int:
        """Values read since construction, ``reset()`` or the update after a change."""
        return self._n

    @property
    def estimate(self) -> float:
        """The running mean of the values read since the test last started."""
        return self._mean

    @property
    def statistic(self) -> float:
        """The current :math:`PH_T`: the larger of the enabled directions' statistics."""
        up = self._sum_up - self._min_up if self._up else 0.0
        down = self._max_down - self._sum_down if self._down else 0.0
        return max(up, down)

    @property
    def mode(self) -> Literal["up", "down", "both"]:
        """Which changes are signalled."""
        return self._mode

    def __repr__(self) -> str:
        return (
            f"PageHinkley(min_instances={self._min_instances}, delta={self._delta}, "
            f"threshold={self._threshold}, alpha={self._alpha}, mode={self._mode!r})"
        )

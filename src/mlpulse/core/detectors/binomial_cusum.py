"""A one-sided CUSUM of binomial log-likelihood ratios, one term per block of events."""

from __future__ import annotations

from math import isfinite, log

from mlpulse.core.detectors.base import check_float
from mlpulse.errors import parameter_error

__all__ = ["BinomialCUSUM"]


class BinomialCUSUM:
    r"""Has the share of events of some kind (slow calls, failures) risen above a reference?

    Each update is one block of events (a second of traffic, say): ``count`` of its
    ``n`` events are of the kind watched, against a reference ``rate``. The test does
    not fire on the reference itself, nor on a rise of the odds by less than
    ``tolerance``; it is tuned to find a rise of the odds by ``ratio`` fastest. With
    :math:`o = r / (1 - r)` the reference odds, :math:`p_0` the probability of odds
    :math:`\text{tolerance} \cdot o` and :math:`p_1` that of :math:`\text{ratio} \cdot o`,
    block :math:`b` adds its log-likelihood ratio, capped at ``cap``,

    .. math::

        Z_b = \min\Big(c,\; k_b \log\frac{p_1}{p_0} + (n_b - k_b)\log\frac{1-p_1}{1-p_0}\Big),
        \qquad S_b = \max(0,\; S_{b-1} + Z_b),

    and a change is signalled when :math:`S_b > h` (``threshold``). It is one-sided: a
    fall in the share only keeps :math:`S` at 0.

    Why these choices:

    * **False alarms are bounded.** While the true share is at most :math:`p_0`,
      :math:`E[e^{Z_b}] \le 1` (the cap only lowers it), so the expected number of
      blocks before a false alarm is at least :math:`e^h` (Lorden 1971): with the
      default ``threshold=12``, 162,754 blocks, 1.9 days of one-second blocks, however
      many events a block holds. The tolerance keeps the bound when the reference rate
      is itself an estimate, and keeps a large service from alarming on changes too
      small to matter (at 10,000 events a second any drift is "significant").
    * **A short burst is not a change.** The cap bounds what one block can add: with
      ``cap=5`` one block adds at most 5, so ``threshold=12`` needs three bad blocks in
      a row — a garbage-collection pause of a few hundred milliseconds is not a slower
      version. A real 3× slowdown fills the cap in every block from 200 events a second.
    * **The onset is estimated** as Page (1954) does: the start of the first block of
      the current excursion of :math:`S` above 0 (:attr:`onset`).

    The update after a change starts afresh, as river's detectors do; with
    ``restart=False`` the test goes on instead and signals once per excursion (the next
    signal needs :math:`S` back at 0 first; :math:`S` is held at most :math:`h + c`, so it
    drains within a few blocks once the change is over), and the onset of a change still
    under way stays that of its start.

    Parameters
    ----------
    tolerance : float, default 1.5
        The rise of the odds never signalled, at least 1.
    ratio : float, default 3.0
        The rise of the odds found fastest, above ``tolerance``.
    cap : float, default 5.0
        The most one block may add, in (0, inf).
    threshold : float, default 12.0
        :math:`h`, in (0, inf).
    min_rate : float, default 0.001
        References below it (or above 1 − it) are taken as it: an error rate of 0 in the
        reference would make a single failure infinitely surprising. In (0, 0.5).
    restart : bool, default True
        Start afresh after a change (True), or go on and signal once per excursion.

    References
    ----------
    Page, E. S. (1954). Continuous inspection schemes. *Biometrika* 41(1/2), 100–115.
    Lorden, G. (1971). Procedures for reacting to a change in distribution. *Annals of
    Mathematical Statistics* 42(6), 1897–1908.
    Reynolds, M. R., & Stoumbos, Z. G. (1999). A CUSUM chart for monitoring a proportion
    when inspecting continuously. *Journal of Quality Technology* 31(1), 87–108.

    Examples
    --------
    Ten blocks of 200 events at the reference rate of 10 %, then blocks at 40 %:

    >>> detector = BinomialCUSUM()
    >>> blocks = [(20, 200)] * 10 + [(80, 200)] * 10
    >>> next(b for b, (k, n) in enumerate(blocks) if detector.update(k, n, rate=0.1, t=b))
    12
    >>> detector.onset
    10.0
    """

    __slots__ = (
        "_blocks",
        "_cap",
        "_drift_detected",
        "_min_rate",
        "_onset",
        "_ratio",
        "_restart",
        "_run_start",
        "_signalled",
        "_statistic",
        "_threshold",
        "_tolerance",
        "_weights",
    )

    def __init__(
        self,
        *,
        tolerance: float = 1.5,
        ratio: float = 3.0,
        cap: float = 5.0,
        threshold: float = 12.0,
        min_rate: float = 0.001,
        restart: bool = True,
    ) -> None:
        owner = type(self).__name__
        if not isinstance(restart, bool):
            raise parameter_error("restart", owner, "a bool", restart)
        self._restart = restart
        self._tolerance = check_float(tolerance, "tolerance", owner, low=1.0)
        self._ratio = check_float(ratio, "ratio", owner, low=1.0)
        if self._ratio <= self._tolerance:
            raise parameter_error("ratio", owner, f"a float above tolerance={tolerance}", ratio)
        self._cap = check_float(cap, "cap", owner, low=0.0, low_open=True)
        self._threshold = check_float(threshold, "threshold", owner, low=0.0, low_open=True)
        self._min_rate = check_float(min_rate, "min_rate", owner, low=0.0, high=0.5, low_open=True)
        self._weights: tuple[float, float, float] = (-1.0, 0.0, 0.0)  # (rate, a, b) cached
        self.reset()

    def reset(self) -> None:
        """Forget everything read so far (the parameters stay)."""
        self._blocks = 0
        self._statistic = 0.0
        self._run_start = 0.0
        self._onset: float | None = None
        self._drift_detected = False
        self._signalled = False

    def _log_ratios(self, rate: float) -> tuple[float, float]:
        """(log p1/p0, log (1-p1)/(1-p0)) for a reference rate; cached for a repeated one."""
        cached_rate, a, b = self._weights
        if rate == cached_rate:
            return a, b
        r = min(max(rate, self._min_rate), 1.0 - self._min_rate)
        odds = r / (1.0 - r)
        p0 = self._tolerance * odds / (1.0 + self._tolerance * odds)
        p1 = self._ratio * odds / (1.0 + self._ratio * odds)
        a, b = log(p1 / p0), log((1.0 - p1) / (1.0 - p0))
        self._weights = (rate, a, b)
        return a, b

    def score(self, count: int, n: int, *, rate: float) -> float:
        """What a block of ``count`` of ``n`` would add (its capped log-likelihood ratio)."""
        a, b = self._log_ratios(rate)
        return min(self._cap, count * a + (n - count) * b)

    def update(self, count: int, n: int, *, rate: float, t: float) -> bool:
        """Read one block that started at ``t``; True if a change is detected on it.

        A block with no events, a count outside [0, n] or a non-finite rate or time
        changes nothing and returns False.
        """
        if n <= 0 or not 0 <= count <= n or not isfinite(rate) or not isfinite(t):
            return False
        if self._drift_detected and self._restart:
            self.reset()
        self._blocks += 1
        before = self._statistic
        # S never needs to exceed h + cap (the first crossing is below it): the clamp
        # lets a test that goes on after a change drain soon after the change is over.
        after = min(before + self.score(count, n, rate=rate), self._threshold + self._cap)
        if after <= 0.0:
            self._statistic = 0.0
            self._onset = None
            self._signalled = self._drift_detected = False
            return False
        if before <= 0.0:
            self._run_start = float(t)
        self._statistic = after
        self._onset = self._run_start
        detected = after > self._threshold and not self._signalled
        self._signalled = self._signalled or detected
        self._drift_detected = detected
        return detected

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a change."""
        return self._drift_detected

    @property
    def n(self) -> int:
        """Blocks read since construction, ``reset()`` or the update after a change."""
        return self._blocks

    @property
    def statistic(self) -> float:
        """The current :math:`S` (0 while the share is at the reference)."""
        return self._statistic

    @property
    def onset(self) -> float | None:
        """The start of the first block of the current excursion above 0 (Page's
        change-point estimate); None while the statistic is 0."""
        return self._onset

    def __repr__(self) -> str:
        return (
            f"BinomialCUSUM(tolerance={self._tolerance}, ratio={self._ratio}, cap={self._cap}, "
            f"threshold={self._threshold}, min_rate={self._min_rate}, restart={self._restart})"
        )

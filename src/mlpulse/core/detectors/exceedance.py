"""Robust, one-sided detection of a rise in a stream's upper tail (latency), by time block."""

from __future__ import annotations

from collections.abc import Sequence
from math import isfinite

import numpy as np
from numpy.typing import NDArray

from mlpulse.core.detectors.base import check_float, check_int
from mlpulse.core.detectors.binomial_cusum import BinomialCUSUM
from mlpulse.errors import parameter_error

__all__ = ["ExceedanceCUSUM"]

_MAX_WARMUP_VALUES = 1 << 15  # the warm-up sample is thinned past this (memory stays bounded)


class ExceedanceCUSUM:
    r"""Has the share of values above the stream's own ``quantile`` risen? One-sided, by time block.

    A warm-up of ``warmup`` blocks learns a level :math:`c` (the warm-up's ``quantile``,
    unless ``level`` is given) and the reference rate :math:`r` at which values exceed
    it. From then on each block of ``block`` seconds (time as given with each value)
    counts its values above :math:`c`, and a :class:`BinomialCUSUM` tests that count
    against :math:`r`. Values are only compared with :math:`c`, so the test is free of
    the stream's distribution and unit: a heavy tail, or a few values a thousand times
    larger, move the count by those few values and no more. A fall (a faster version)
    never signals. Blocks also update :math:`r`, an exponentially weighted share with a
    memory of ``memory`` blocks, so slow drift (the load of the day) is followed; a
    block joins it only once the test is back at 0 after it, so a rise being confirmed
    is not learnt.

    A block closes at the first value whose time is ``block`` seconds or more after the
    block's first value, once it holds ``min_count`` values (at low traffic a block
    lasts longer, so that a handful of values is never taken as evidence). A change is
    signalled on the update that closes the block that tips the test;
    :attr:`change_point` is then the start of the first block of the excursion that led
    to it (Page's estimate of the onset), and stays until the next detection. The
    update after a change starts afresh, warm-up included.

    On lognormal latency (:math:`\sigma = 1`) at 200 values a second, the defaults
    raised no false alarm in simulated days (``bench/detector_false_alarms.py``) and
    found a 3× slowdown three blocks after it began; a twice faster stream and 0.2 % of
    values 20× larger raise nothing.

    Parameters
    ----------
    quantile : float, default 0.9
        The warm-up quantile that sets the level, in (0, 1).
    level : float or None, default None
        A fixed level instead (0.5 for a 0/1 error stream: the failures).
    block : float, default 1.0
        Seconds per block, in (0, inf).
    warmup : int, default 30
        Blocks of warm-up, at least 1.
    min_count : int, default 20
        Values a block needs before it closes, at least 1.
    memory : int, default 600
        Blocks over which the reference rate is averaged, at least 1.
    tolerance, ratio, cap, threshold, min_rate
        Those of :class:`BinomialCUSUM`.

    Notes
    -----
    An update is a comparison and two increments, and a block's test a few float
    operations. The warm-up keeps at most 32,768 values (a regular subsample beyond).

    Examples
    --------
    A stream at 10 values a second, whose values triple after 60 seconds:

    >>> detector = ExceedanceCUSUM(warmup=10, min_count=5)
    >>> stream = [(i / 10, 1.0 + i % 10 / 10 * (3 if i >= 600 else 1)) for i in range(900)]
    >>> next(t for t, x in stream if detector.update(x, t))
    64.0
    >>> detector.change_point, round(detector.level, 2), detector.rate
    (60.0, 1.81, 0.1)
    """

    __slots__ = (
        "_block",
        "_block_count",
        "_block_exceed",
        "_block_start",
        "_blocks",
        "_change_point",
        "_cusum",
        "_decay",
        "_drift_detected",
        "_fixed_level",
        "_level",
        "_memory",
        "_min_count",
        "_n",
        "_pending_blocks",
        "_pending_count",
        "_pending_exceed",
        "_quantile",
        "_ref_count",
        "_ref_exceed",
        "_sample",
        "_seen",
        "_stride",
        "_warm",
        "_warmup",
    )

    def __init__(
        self,
        *,
        quantile: float = 0.9,
        level: float | None = None,
        block: float = 1.0,
        warmup: int = 30,
        min_count: int = 20,
        memory: int = 600,
        tolerance: float = 1.5,
        ratio: float = 3.0,
        cap: float = 5.0,
        threshold: float = 12.0,
        min_rate: float = 0.001,
    ) -> None:
        owner = type(self).__name__
        self._quantile = check_float(quantile, "quantile", owner, low=0.0, high=1.0, low_open=True)
        if level is not None and not (isinstance(level, int | float) and isfinite(level)):
            raise parameter_error("level", owner, "a finite float or None", level)
        self._fixed_level = None if level is None else float(level)
        self._block = check_float(block, "block", owner, low=0.0, low_open=True)
        self._warmup = check_int(warmup, "warmup", owner, low=1)
        self._min_count = check_int(min_count, "min_count", owner, low=1)
        self._memory = check_int(memory, "memory", owner, low=1)
        self._decay = 1.0 - 1.0 / self._memory
        self._cusum = BinomialCUSUM(
            tolerance=tolerance, ratio=ratio, cap=cap, threshold=threshold, min_rate=min_rate
        )
        self.reset()

    def reset(self) -> None:
        """Forget everything read so far, warm-up included (the parameters stay)."""
        self._cusum.reset()
        self._n = 0
        self._blocks = 0
        self._warm = False
        self._level = 0.0 if self._fixed_level is None else self._fixed_level
        self._ref_exceed = 0.0
        self._ref_count = 0.0
        self._pending_blocks = self._pending_exceed = self._pending_count = 0
        self._sample: list[float] = []
        self._seen = 0
        self._stride = 1
        self._block_start = 0.0
        self._block_count = 0
        self._block_exceed = 0
        self._drift_detected = False
        self._change_point: float | None = None

    def start_from(self, rate: float, n: int, *, level: float | None = None) -> None:
        """Start a fresh test, warm: values above ``level`` (the fixed one when None) have
        been seen at ``rate`` in ``n`` values.

        A prior for a stream with a known past elsewhere (a new version against its
        model's error rate). ``n`` weighs the prior against the stream's own blocks.

        >>> detector = ExceedanceCUSUM(level=0.5, min_count=10)
        >>> detector.start_from(0.01, 1000)
        >>> next(i for i in range(1000) if detector.update(float(i % 3 == 0), i / 50))
        150
        """
        owner = "ExceedanceCUSUM.start_from"
        rate = check_float(rate, "rate", owner, low=0.0, high=1.0, high_open=False)
        n = check_int(n, "n", owner, low=1)
        chosen = self._fixed_level if level is None else level
        if chosen is None or not isfinite(chosen):
            raise parameter_error("level", owner, "a finite float (none is fixed)", level)
        self.reset()
        self._level = float(chosen)
        self._ref_exceed = rate * n
        self._ref_count = float(n)
        self._warm = True

    def update(self, x: float, t: float) -> bool:
        """Read one value observed at time ``t`` (seconds); True if a change is detected.

        Non-finite values or times are dropped: the update changes nothing and returns False.
        """
        if not (isfinite(x) and isfinite(t)):
            return False
        detected = self._advance(t)
        self._n += 1
        self._block_count += 1
        if self._warm:
            if x > self._level:
                self._block_exceed += 1
        else:
            if self._seen % self._stride == 0:
                self._sample.append(x)
            self._seen += 1
        return detected

    def update_many(self, xs: Sequence[float] | NDArray[np.float64], t: float) -> bool:
        """Read values all observed at time ``t``: as ``update(x, t)`` for each, in order.

        True if one of them detected a change (only the first can: it is the one that
        may close a block); ``drift_detected`` then says what the last one did.
        """
        values = np.asarray(xs, dtype=np.float64)
        values = values[np.isfinite(values)]
        if len(values) == 0 or not isfinite(t):
            return False
        detected = self.update(float(values[0]), t)
        rest = values[1:]
        if len(rest) == 0:
            return detected
        if self._drift_detected:
            self.update(float(rest[0]), t)  # restarts, as the next update would
            rest = rest[1:]
        self._n += len(rest)
        self._block_count += len(rest)
        if self._warm:
            self._block_exceed += int(np.count_nonzero(rest > self._level))
        else:
            offset = -self._seen % self._stride
            self._sample.extend(rest[offset :: self._stride].tolist())
            self._seen += len(rest)
        return detected

    def _advance(self, t: float) -> bool:
        """Close the open block if ``t`` is past it; True if that detected a change."""
        if self._drift_detected:
            change_point = self._change_point
            self.reset()
            self._change_point = change_point
        if self._block_count == 0:
            self._block_start = t
            return False
        if t - self._block_start < self._block or self._block_count < self._min_count:
            return False
        detected = self._close()
        self._block_start = t
        self._block_count = 0
        self._block_exceed = 0
        return detected

    def _close(self) -> bool:
        self._blocks += 1
        if not self._warm:
            if len(self._sample) > _MAX_WARMUP_VALUES:
                self._sample = self._sample[::2]
                self._stride *= 2
            if self._blocks >= self._warmup:
                self._end_warmup()
            return False
        count, exceed = self._block_count, self._block_exceed
        detected = self._cusum.update(exceed, count, rate=self.rate or 0.0, t=self._block_start)
        self._drift_detected = detected
        if detected:
            self._change_point = self._cusum.onset
            return True
        # Blocks join the reference once the excursion they are part of is over without
        # a detection: all of them, not only the quiet ones (which would bias the rate
        # down, and in time raise false alarms), and none of a change being confirmed.
        self._pending_blocks += 1
        self._pending_exceed += exceed
        self._pending_count += count
        if self._cusum.statistic <= 0.0:
            fade = self._decay**self._pending_blocks
            self._ref_exceed = self._ref_exceed * fade + self._pending_exceed
            self._ref_count = self._ref_count * fade + self._pending_count
            self._pending_blocks = self._pending_exceed = self._pending_count = 0
        return False

    def _end_warmup(self) -> None:
        sample = np.asarray(self._sample, dtype=np.float64)
        if self._fixed_level is None:
            self._level = float(np.quantile(sample, self._quantile))
        exceed = int(np.count_nonzero(sample > self._level))
        # The warm-up weighs as many blocks as it had, at most `memory`.
        weight = min(1.0, self._memory / self._blocks) * self._seen / len(sample)
        self._ref_exceed = exceed * weight
        self._ref_count = len(sample) * weight
        self._sample = []
        self._warm = True

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a change."""
        return self._drift_detected

    @property
    def n(self) -> int:
        """Values read since construction, ``reset()`` or the update after a change."""
        return self._n

    @property
    def warm(self) -> bool:
        """Whether the warm-up is over (or the test started from a prior)."""
        return self._warm

    @property
    def level(self) -> float | None:
        """The level :math:`c` values are compared with; None during the warm-up."""
        return self._level if self._warm else None

    @property
    def rate(self) -> float | None:
        """The reference share of values above the level; None during the warm-up."""
        if not self._warm:
            return None
        return self._ref_exceed / self._ref_count if self._ref_count > 0 else 0.0

    @property
    def statistic(self) -> float:
        """The CUSUM statistic (0 while the stream is at its reference)."""
        return self._cusum.statistic

    @property
    def onset(self) -> float | None:
        """The estimated start of the change (the time of the first value of the first
        block of the current excursion); None while the statistic is 0."""
        return self._cusum.onset

    @property
    def change_point(self) -> float | None:
        """The estimated onset of the change last detected (kept when the detector
        restarts after it, cleared by ``reset()``); None before any."""
        return self._change_point

    def __repr__(self) -> str:
        return (
            f"ExceedanceCUSUM(quantile={self._quantile}, level={self._fixed_level}, "
            f"block={self._block}, warmup={self._warmup}, min_count={self._min_count}, "
            f"memory={self._memory}, cusum={self._cusum!r})"
        )

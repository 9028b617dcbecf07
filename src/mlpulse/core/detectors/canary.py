"""Canary versus baseline: new versions against the version serving beside them, per second."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from math import floor, isfinite

import numpy as np
from numpy.typing import NDArray

from mlpulse.core.detectors.base import check_float, check_int
from mlpulse.core.detectors.binomial_cusum import BinomialCUSUM

__all__ = ["CanaryChange", "CanaryComparison"]

SIGNALS = ("errors", "latency", "score")
_MAX_BLOCK_VALUES = 512  # a baseline block's sample is thinned past this (memory stays bounded)


@dataclass(frozen=True, slots=True)
class CanaryChange:
    """A candidate found worse than the baseline on one signal.

    ``onset`` is the start of the first block of the excursion that led to the detection
    (Page's change-point estimate); ``at`` the start of the block that tipped it.
    """

    candidate: str
    signal: str
    onset: float
    at: float


@dataclass(slots=True)
class _Block:
    """What one stream sent in the open block (values as arrays, NaN where missing)."""

    latency: list[NDArray[np.float64]] = field(default_factory=list)
    score: list[NDArray[np.float64]] = field(default_factory=list)
    calls: int = 0
    failures: int = 0
    # Calls read one at a time, kept as floats (an array per call would cost more).
    latency_values: list[float] = field(default_factory=list)
    score_values: list[float] = field(default_factory=list)

    def add_one(self, latency: float | None, failed: bool, score: float | None) -> None:
        self.calls += 1
        self.failures += bool(failed)
        if latency is not None and isfinite(latency):
            self.latency_values.append(latency)
        if score is not None and isfinite(score):
            self.score_values.append(score)

    def latencies(self) -> NDArray[np.float64]:
        return _joined([*self.latency, np.asarray(self.latency_values, dtype=np.float64)])

    def scores(self) -> NDArray[np.float64]:
        return _joined([*self.score, np.asarray(self.score_values, dtype=np.float64)])

    def add(
        self, latency: NDArray[np.float64], failed: NDArray[np.bool_], score: NDArray[np.float64]
    ) -> None:
        self.calls += len(failed)
        self.failures += int(np.count_nonzero(failed))
        self.latency.append(latency[np.isfinite(latency)])
        self.score.append(score[np.isfinite(score)])


@dataclass(frozen=True, slots=True)
class _Reference:
    """The baseline over the trailing window: levels and the shares beyond them."""

    latency_level: float | None
    latency_rate: float
    error_rate: float | None
    score_high: float | None
    score_high_rate: float
    score_low: float | None
    score_low_rate: float


def _joined(parts: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    return np.concatenate(parts) if parts else np.empty(0)


def _thin(array: NDArray[np.float64]) -> NDArray[np.float64]:
    stride = -(-len(array) // _MAX_BLOCK_VALUES)
    return array[::stride] if stride > 1 else array


def _column(
    values: Sequence[float | None] | NDArray[np.float64] | None, n: int
) -> NDArray[np.float64]:
    """A column as floats, NaN where a value is missing (or the whole column is)."""
    if values is None:
        return np.full(n, np.nan)
    if isinstance(values, np.ndarray):
        return values.astype(np.float64, copy=False)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


class CanaryComparison:
    r"""Each candidate version against the baseline (the champion), over the same seconds.

    A version that is slow or failing from its very first request looks normal to a
    detector that learns its level from its own stream. Here every block of ``block``
    seconds compares what each candidate sent with what the baseline sent over the
    trailing ``window`` blocks (``error_window`` for errors; the block itself included),
    on three signals:

    * **latency**: the share of the candidate's calls slower than the baseline's
      ``quantile`` (its p90 by default), against the baseline's own share beyond it;
    * **errors**: the candidate's failure rate against the baseline's;
    * **score**: the shares of the candidate's scores above the baseline's ``quantile``
      and below its ``1 - quantile`` (scores moving either way).

    Each is a one-sided :class:`BinomialCUSUM` of the candidate's blocks against the
    baseline's share: a candidate that is faster, or fails less, raises nothing; one
    whose odds of a slow call (or a failure) are several times the baseline's is found
    in a few blocks; its false alarms are bounded as that test's are. A candidate that stays
    worse is signalled once, with its onset; again only after it was back at par. Comparing over the
    same seconds takes out what both versions share (the load of the hour, a slow
    dependency). When the baseline stops serving (a version replaced at 100 %) its
    window is kept for ``hold`` seconds, so the new version is compared with the one it
    replaced; after that its candidates are not tested until it serves again.

    Time is the events' own (seconds); blocks are cut on a grid of ``block`` seconds,
    and an event older than the open block counts in it.

    Parameters
    ----------
    quantile : float, default 0.9
        The baseline quantile a slow call is measured against, in (0.5, 1).
    block : float, default 1.0
        Seconds per block, in (0, inf).
    window : int, default 30
        Baseline blocks the reference spans, at least 1.
    min_reference : int, default 100
        Baseline calls the window needs before candidates are tested, at least 1.
    hold : float, default 300.0
        Seconds a baseline that stopped serving is still compared with, in [0, inf).
    tolerance, ratio, cap, threshold, min_rate
        Those of :class:`BinomialCUSUM`, for latency and scores; ``tolerance`` is 1.25,
        ``ratio`` 5 and ``cap`` 6 here (1.5, 3 and 5 there): a canary often gets a tenth
        of the traffic, 20 calls a second at 200, and so designed the test finds a 3×
        slowdown from so few calls in three blocks (median; 3.5 % of 200 trials took
        more than five), still never from fewer than three. The baseline's share beyond
        its own p90 over 30 seconds is known to a few per cent, well inside 1.25; the
        test only gains evidence once the candidate's share passes about 0.22 (against
        0.1), so the lower tolerance does not make it flag small differences.
    error_ratio, error_tolerance : float, default 10.0 and 1.5
        Those of the errors test: error rates are small, and a version that fails at 20 %
        beside one at 0.5 % should be found in three blocks, not five; the baseline's
        error rate is known less well than its p90 share.
    error_window : int, default 300
        Baseline blocks its error rate spans, at least 1: 30 seconds hold a few dozen
        failures at 0.5 %, too few (a 50 % canary beside such a baseline raised a false
        alarm in 5 simulated hours); five minutes hold ten times as many.

    Examples
    --------
    A baseline at 90 calls a second, and a canary at 10 a second that is three times
    slower from its first call at t = 20:

    >>> comparison = CanaryComparison()
    >>> found = []
    >>> for i in range(3000):
    ...     t = i / 100
    ...     latency = 10.0 + i % 7
    ...     if i % 10 or t < 20:
    ...         found += comparison.update_baseline(t, latency=latency)
    ...     else:
    ...         found += comparison.update_candidate("v2", t, latency=3 * latency)
    >>> found
    [CanaryChange(candidate='v2', signal='latency', onset=20.0, at=22.0)]
    """

    def __init__(
        self,
        *,
        quantile: float = 0.9,
        block: float = 1.0,
        window: int = 30,
        min_reference: int = 100,
        hold: float = 300.0,
        tolerance: float = 1.25,
        ratio: float = 5.0,
        cap: float = 6.0,
        threshold: float = 12.0,
        min_rate: float = 0.001,
        error_ratio: float = 10.0,
        error_tolerance: float = 1.5,
        error_window: int = 300,
    ) -> None:
        owner = type(self).__name__
        self._quantile = check_float(quantile, "quantile", owner, low=0.5, high=1.0, low_open=True)
        self._block = check_float(block, "block", owner, low=0.0, low_open=True)
        self._window = check_int(window, "window", owner, low=1)
        self._min_reference = check_int(min_reference, "min_reference", owner, low=1)
        self._hold = check_float(hold, "hold", owner, low=0.0)
        self._error_window = check_int(error_window, "error_window", owner, low=1)
        self._new_test: Callable[[], BinomialCUSUM] = partial(
            BinomialCUSUM, tolerance=tolerance, ratio=ratio, cap=cap, threshold=threshold,
            min_rate=min_rate, restart=False,
        )  # fmt: skip
        self._new_error_test: Callable[[], BinomialCUSUM] = partial(
            BinomialCUSUM, tolerance=error_tolerance, ratio=error_ratio, cap=cap,
            threshold=threshold, min_rate=min_rate, restart=False,
        )  # fmt: skip
        self._new_test()  # checks them now, in the house format
        self._new_error_test()
        self.reset()

    def reset(self) -> None:
        """Forget every block and candidate (the parameters stay)."""
        self._index: int | None = None
        self._baseline = _Block()
        self._candidates: dict[str, _Block] = {}
        self._history: deque[tuple[NDArray[np.float64], NDArray[np.float64], int, int]] = deque(
            maxlen=self._window
        )
        self._last_served = -float("inf")
        self._cusums: dict[tuple[str, str], BinomialCUSUM] = {}
        self._error_history: deque[tuple[int, int]] = deque()
        self._error_calls = self._error_failures = 0

    def update_baseline(
        self,
        t: float,
        *,
        latency: float | None = None,
        failed: bool = False,
        score: float | None = None,
    ) -> list[CanaryChange]:
        """Read one call of the baseline at time ``t``; the changes found by the block it
        closed, if any (a non-finite ``t`` is dropped)."""
        if not isfinite(t):
            return []
        found = self._advance(t)
        self._baseline.add_one(latency, failed, score)
        return found

    def update_candidate(
        self,
        candidate: str,
        t: float,
        *,
        latency: float | None = None,
        failed: bool = False,
        score: float | None = None,
    ) -> list[CanaryChange]:
        """Read one call of ``candidate`` at time ``t``; the changes found by the block it
        closed, if any (a non-finite ``t`` is dropped)."""
        if not isfinite(t):
            return []
        found = self._advance(t)
        block = self._candidates.get(candidate) or self._candidates.setdefault(candidate, _Block())
        block.add_one(latency, failed, score)
        return found

    def update_many(
        self,
        times: Sequence[float] | NDArray[np.float64],
        *,
        candidate: str | None = None,
        latency: Sequence[float | None] | NDArray[np.float64] | None = None,
        failed: Sequence[bool] | NDArray[np.bool_] | None = None,
        score: Sequence[float | None] | NDArray[np.float64] | None = None,
    ) -> list[CanaryChange]:
        """Read calls of the baseline (``candidate`` None) or of one candidate, in order:
        as ``update_baseline`` or ``update_candidate`` for each, in a few array operations
        per block. Columns left out are missing in every call."""
        t = np.asarray(times, dtype=np.float64)
        n = len(t)
        lat, sc = _column(latency, n), _column(score, n)
        fail = np.zeros(n, dtype=np.bool_) if failed is None else np.asarray(failed, dtype=np.bool_)
        keep = np.isfinite(t)
        if not keep.all():
            t, lat, sc, fail = t[keep], lat[keep], sc[keep], fail[keep]
        if len(t) == 0:
            return []
        # Each call's block: its own, or the open one if it is late.
        index = np.floor(t / self._block)
        if self._index is not None:
            index = np.maximum(index, self._index)
        cuts = (np.flatnonzero(np.diff(np.maximum.accumulate(index))) + 1).tolist()
        found: list[CanaryChange] = []
        for start, end in zip([0, *cuts], [*cuts, len(t)], strict=True):
            found += self._advance(float(t[start]))
            if candidate is None:
                block = self._baseline
            else:
                block = self._candidates.get(candidate) or self._candidates.setdefault(
                    candidate, _Block()
                )
            block.add(lat[start:end], fail[start:end], sc[start:end])
        return found

    def forget(self, candidate: str) -> None:
        """Drop a candidate and its tests (a version no longer served)."""
        self._candidates.pop(candidate, None)
        for signal in SIGNALS:
            self._cusums.pop((candidate, signal), None)
            self._cusums.pop((candidate, signal + "_low"), None)

    def statistic(self, candidate: str, signal: str) -> float:
        """The test's current statistic for one candidate and signal (0 when untested)."""
        found = [
            cusum.statistic
            for (name, test), cusum in self._cusums.items()
            if name == candidate and test.removesuffix("_low") == signal
        ]
        return max(found, default=0.0)

    @property
    def candidates(self) -> list[str]:
        """The candidates with a test or a call in the open block."""
        return sorted({name for name, _ in self._cusums} | set(self._candidates))

    def _advance(self, t: float) -> list[CanaryChange]:
        index = floor(t / self._block)
        if self._index is None:
            self._index = index
            return []
        if index <= self._index:
            return []
        found = self._close(self._index * self._block)
        self._index = index
        return found

    def _close(self, start: float) -> list[CanaryChange]:
        baseline, candidates = self._baseline, self._candidates
        self._baseline, self._candidates = _Block(), {}
        if baseline.calls:
            self._history.append(
                (
                    _thin(baseline.latencies()),
                    _thin(baseline.scores()),
                    baseline.calls,
                    baseline.failures,
                )
            )
            self._error_history.append((baseline.calls, baseline.failures))
            self._error_calls += baseline.calls
            self._error_failures += baseline.failures
            if len(self._error_history) > self._error_window:
                calls, failures = self._error_history.popleft()
                self._error_calls -= calls
                self._error_failures -= failures
            self._last_served = start
        if not candidates or start - self._last_served > self._hold:
            return []
        reference = self._reference()
        if reference is None:
            return []
        found: list[CanaryChange] = []
        for name, block in sorted(candidates.items()):
            for signal, count, n, rate in self._counts(reference, block):
                cusum = self._cusums.get((name, signal))
                if cusum is None:
                    new = self._new_error_test if signal == "errors" else self._new_test
                    cusum = self._cusums[(name, signal)] = new()
                if cusum.update(count, n, rate=rate, t=start) and cusum.onset is not None:
                    found.append(
                        CanaryChange(name, signal.removesuffix("_low"), cusum.onset, start)
                    )
        return found

    def _reference(self) -> _Reference | None:
        calls = sum(entry[2] for entry in self._history)
        if calls < self._min_reference:
            return None
        latency = np.concatenate([entry[0] for entry in self._history])
        score = np.concatenate([entry[1] for entry in self._history])
        q = self._quantile
        latency_level = float(np.quantile(latency, q)) if len(latency) else None
        low, high = np.quantile(score, [1.0 - q, q]).tolist() if len(score) else (None, None)
        return _Reference(
            latency_level=latency_level,
            latency_rate=float(np.mean(latency > latency_level))
            if latency_level is not None
            else 0.0,
            error_rate=self._error_failures / self._error_calls,
            score_high=high,
            score_high_rate=float(np.mean(score > high)) if high is not None else 0.0,
            score_low=low,
            score_low_rate=float(np.mean(score < low)) if low is not None else 0.0,
        )

    @staticmethod
    def _counts(reference: _Reference, block: _Block) -> list[tuple[str, int, int, float]]:
        """(test, count, n, reference rate) of one candidate block, for each signal it has."""
        counts: list[tuple[str, int, int, float]] = []
        if reference.error_rate is not None:
            counts.append(("errors", block.failures, block.calls, reference.error_rate))
        latency, score = block.latencies(), block.scores()
        if reference.latency_level is not None and len(latency):
            slow = int(np.count_nonzero(latency > reference.latency_level))
            counts.append(("latency", slow, len(latency), reference.latency_rate))
        if reference.score_high is not None and reference.score_low is not None and len(score):
            high = int(np.count_nonzero(score > reference.score_high))
            low = int(np.count_nonzero(score < reference.score_low))
            counts.append(("score", high, len(score), reference.score_high_rate))
            counts.append(("score_low", low, len(score), reference.score_low_rate))
        return counts

"""A client-side circuit breaker for one model version: closed → open → half-open.

::

    closed ──(share of failed, or of slow, calls >= error_rate over the window,
              once the window holds min_calls)──► open
    open ──(open_s seconds later)──► half_open
    half_open ──(half_open_calls probes all succeed)──► closed
    half_open ──(any probe fails)──► open

The window is a ring of buckets (a thirtieth of ``window_s`` each) holding counts, with
running totals, so :meth:`CircuitBreaker.record` and :meth:`CircuitBreaker.allow` cost
O(1) amortised and the memory is fixed. Calls are forgotten a bucket at a time, so the
window is ``window_s`` long to within one bucket.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Final, Literal

from mlpulse.errors import parameter_error

State = Literal["closed", "open", "half_open"]
Transition = tuple[State, State]

_RING: Final = 30
_MAX_SECONDS: Final = 86_400.0
_MAX_CALLS: Final = 1_000_000


def _check_number(name: str, value: object, *, low: float, high: float, low_open: bool) -> None:
    valid = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value > low if low_open else value >= low)
        and value <= high
    )
    if not valid:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise parameter_error(name, "CircuitBreaker", f"a number in {interval}", value)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise parameter_error(name, "CircuitBreaker", f"an int in [{low}, {high}]", value)


class CircuitBreaker:
    """Stops calls to a version that fails or is slow, and probes it again later.

    Parameters
    ----------
    window_s : float
        Seconds of calls the trip decision looks at.
    min_calls : int
        The window must hold at least this many calls before the breaker may trip, so
        one early failure does not open it.
    error_rate : float
        Trip when the share of failed calls in the window reaches this (in (0, 1]); with
        ``latency_ms``, also when the share of calls slower than ``latency_ms`` does
        (so ``latency_ms=500, error_rate=0.05`` trips when the window's p95 passes 500 ms).
    latency_ms : float or None
        The latency threshold; None to trip on errors only. Calls recorded without a
        latency are never counted as slow.
    open_s : float
        Seconds the breaker stays open before letting probe calls through.
    half_open_calls : int
        Probe calls let through when half-open; all must succeed (and, with
        ``latency_ms``, be no slower than it) to close the breaker; one failure reopens it.
    clock : callable
        Monotonic seconds; injected so tests can move time.

    >>> now = [0.0]
    >>> breaker = CircuitBreaker(min_calls=4, open_s=10.0, half_open_calls=1, clock=lambda: now[0])
    >>> for ok in (True, False, True, False):
    ...     _ = breaker.record(ok)
    >>> breaker.state, breaker.allow()
    ('open', False)
    >>> now[0] = 10.0
    >>> breaker.allow(), breaker.record(True), breaker.state
    (True, ('half_open', 'closed'), 'closed')
    """

    def __init__(
        self,
        *,
        window_s: float = 30.0,
        min_calls: int = 20,
        error_rate: float = 0.5,
        latency_ms: float | None = None,
        open_s: float = 30.0,
        half_open_calls: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_number("window_s", window_s, low=0.0, high=_MAX_SECONDS, low_open=True)
        _check_int("min_calls", min_calls, 1, _MAX_CALLS)
        _check_number("error_rate", error_rate, low=0.0, high=1.0, low_open=True)
        if latency_ms is not None:
            _check_number("latency_ms", latency_ms, low=0.0, high=3_600_000.0, low_open=True)
        _check_number("open_s", open_s, low=0.0, high=_MAX_SECONDS, low_open=True)
        _check_int("half_open_calls", half_open_calls, 1, _MAX_CALLS)
        if not callable(clock):
            raise parameter_error("clock", "CircuitBreaker", "a callable", clock)
        self._min_calls = min_calls
        self._error_rate = error_rate
        self._latency_ms = latency_ms
        self._open_s = float(open_s)
        self._half_open_calls = half_open_calls
        self._clock = clock
        self._width = float(window_s) / _RING
        self._lock = threading.Lock()
        self._reset_locked()

    def _reset_locked(self) -> None:
        self._state: State = "closed"
        self._opened_at = 0.0
        self._probes_allowed = 0
        self._probes_passed = 0
        # The ring: per bucket (time // width, modulo the ring) its counts; totals over it.
        self._calls = [0] * _RING
        self._failures = [0] * _RING
        self._slow = [0] * _RING
        self._latest = -1
        self._total_calls = 0
        self._total_failures = 0
        self._total_slow = 0

    # -- reading ----------------------------------------------------------------------

    @property
    def state(self) -> State:
        """``"closed"``, ``"open"`` or ``"half_open"`` now."""
        with self._lock:
            self._expire_open_locked()
            return self._state

    @property
    def failure_share(self) -> float:
        """The share of failed calls in the window (0.0 when it holds none)."""
        with self._lock:
            self._advance_locked(self._clock())
            return self._total_failures / self._total_calls if self._total_calls else 0.0

    # -- updating ---------------------------------------------------------------------

    def allow(self) -> bool:
        """Whether a call may go to this version now (counts probes when half-open)."""
        with self._lock:
            self._expire_open_locked()
            if self._state == "closed":
                return True
            if self._state == "open" or self._probes_allowed >= self._half_open_calls:
                return False
            self._probes_allowed += 1
            return True

    def record(self, ok: bool, latency_ms: float | None = None) -> Transition | None:
        """Count one finished call; returns ``(before, after)`` when it moved the breaker."""
        now = self._clock()
        slow = (
            latency_ms is not None
            and self._latency_ms is not None
            and latency_ms > self._latency_ms
        )
        with self._lock:
            self._expire_open_locked(now)
            if self._state == "open":
                return None  # a call let through before the trip: the verdict is in
            if self._state == "half_open":
                if not ok or slow:
                    self._open_locked(now)
                    return ("half_open", "open")
                self._probes_passed += 1
                if self._probes_passed >= self._half_open_calls:
                    self._reset_locked()
                    return ("half_open", "closed")
                return None
            self._count_locked(now, ok=ok, slow=slow)
            if self._should_trip_locked():
                self._open_locked(now)
                return ("closed", "open")
            return None

    def reset(self) -> None:
        """Back to closed with an empty window."""
        with self._lock:
            self._reset_locked()

    # -- inside the lock --------------------------------------------------------------

    def _should_trip_locked(self) -> bool:
        calls = self._total_calls
        if calls < self._min_calls:
            return False
        threshold = self._error_rate * calls
        return self._total_failures >= threshold or (
            self._latency_ms is not None and self._total_slow >= threshold
        )

    def _open_locked(self, now: float) -> None:
        self._reset_locked()
        self._state = "open"
        self._opened_at = now

    def _expire_open_locked(self, now: float | None = None) -> None:
        if self._state == "open":
            now = self._clock() if now is None else now
            if now - self._opened_at >= self._open_s:
                self._state = "half_open"
                self._probes_allowed = 0
                self._probes_passed = 0

    def _advance_locked(self, now: float) -> int:
        """Forget the buckets that left the window; returns the current bucket's index."""
        index = math.floor(now / self._width)
        if index > self._latest:
            # Clear the slots from the one after the latest up to this one (at most the ring).
            for epoch in range(max(self._latest + 1, index - _RING + 1), index + 1):
                slot = epoch % _RING
                self._total_calls -= self._calls[slot]
                self._total_failures -= self._failures[slot]
                self._total_slow -= self._slow[slot]
                self._calls[slot] = self._failures[slot] = self._slow[slot] = 0
            self._latest = index
        return index

    def _count_locked(self, now: float, *, ok: bool, slow: bool) -> None:
        index = self._advance_locked(now)
        if index < self._latest - _RING + 1:
            return  # a clock that went back past the window: nothing to count it in
        slot = index % _RING
        self._calls[slot] += 1
        self._total_calls += 1
        if not ok:
            self._failures[slot] += 1
            self._total_failures += 1
        if slow:
            self._total_slow += 1
            self._slow[slot] += 1

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r})"

"""Client-side rate limits: a thread-safe token bucket, one per service key.

Services throttle senders (PagerDuty about 120 events a minute per routing key, Slack
one message a second per incoming webhook); staying under their limit on our side
turns a burst of alerts into a short queue instead of a run of 429s.

:class:`RateLimiter` is a *reserving* bucket (like Go's ``rate.Limiter.Reserve``):
``acquire()`` takes a token under the lock, borrowing one when the bucket is empty,
and then sleeps *outside* the lock until the borrowed token has been refilled. Callers
are served in the order they arrived, and no thread sleeps while holding the lock.
``acquire()`` therefore blocks; :meth:`RateLimiter.reserve` is the non-blocking half
(it returns the wait instead of sleeping) for callers that would rather reschedule.

In any half-open window of ``T`` seconds a bucket lets through at most
``burst + rate_per_s * T - 1`` calls (``burst`` at once, then one per ``1/rate_per_s``).

>>> now = [0.0]
>>> limiter = RateLimiter(2.0, 2, clock=lambda: now[0], sleep=lambda s: None)
>>> [limiter.reserve() for _ in range(4)]
[0.0, 0.0, 0.5, 1.0]
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from mlpulse.errors import parameter_error

__all__ = ["RateLimiter", "RateLimiterPool"]


class RateLimiter:
    """A token bucket refilled at ``rate_per_s`` tokens a second, holding ``burst``.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable so tests run a minute
    of sends without sleeping.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if (
            isinstance(rate_per_s, bool)
            or not isinstance(rate_per_s, int | float)
            or not math.isfinite(rate_per_s)
            or rate_per_s <= 0
        ):
            raise parameter_error("rate_per_s", "RateLimiter", "a float in (0, inf)", rate_per_s)
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise parameter_error("burst", "RateLimiter", "an int in [1, inf)", burst)
        self._rate = float(rate_per_s)
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    @property
    def rate_per_s(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return self._burst

    def reserve(self) -> float:
        """Take a token now (borrowing if none is left); return the seconds to wait
        before using it. Never blocks; the token is taken whether or not you wait."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self._burst), self._tokens + elapsed * self._rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0.0 else -self._tokens / self._rate

    def acquire(self) -> float:
        """Block until a token is available; return the seconds waited."""
        wait = self.reserve()
        if wait > 0.0:
            self._sleep(wait)
        return wait


class RateLimiterPool:
    """One :class:`RateLimiter` per key (routing key, webhook URL), shared by every
    notifier that sends with that key, so two receivers on one PagerDuty integration
    share its limit. Thread-safe."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._limiters: dict[tuple[str, str], RateLimiter] = {}

    def get(self, kind: str, key: str, *, rate_per_s: float, burst: int) -> RateLimiter:
        """The limiter of (kind, key); made with ``rate_per_s``/``burst`` the first time."""
        with self._lock:
            limiter = self._limiters.get((kind, key))
            if limiter is None:
                limiter = RateLimiter(rate_per_s, burst, clock=self._clock, sleep=self._sleep)
                self._limiters[(kind, key)] = limiter
            return limiter

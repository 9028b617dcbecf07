"""How long to wait before sending a failed batch again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

# A collector may ask for a pause with Retry-After; a bogus huge value must not stall the
# shipper for good, so it is honoured up to this bound.
MAX_RETRY_AFTER: Final = 300.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS, 2015).

    Attempt ``n`` (from 0) waits a uniform random time in ``[0, min(cap, base * 2**n)]``:
    jitter spreads out clients that failed together so they do not return together.
    A ``Retry-After`` from the collector is a floor on the wait.

    >>> Backoff(base=0.1, cap=30.0).delay(0, random.Random(0)) <= 0.1
    True
    >>> Backoff(base=0.1, cap=30.0).delay(3, random.Random(0), retry_after=2.0) >= 2.0
    True
    """

    base: float
    cap: float

    def ceiling(self, attempt: int) -> float:
        """The longest wait attempt ``attempt`` may draw (before any Retry-After)."""
        # 2.0**60 is far past any cap; the bound keeps huge attempt numbers from overflowing.
        return min(self.cap, self.base * 2.0 ** min(attempt, 60))

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        wait = rng.uniform(0.0, self.ceiling(attempt))
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        return wait

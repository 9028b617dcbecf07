"""The demo's simulated clock: the collector reads it; the demo moves it.

During the simulation the time moves only when the demo moves it, after the collector
has handled everything sent before (lock step), so the times measured on it (time to
detect, to roll back) depend on the seed alone, not on how busy the machine is. When
the simulated day is over, :meth:`SimulatedClock.release` lets it run on with the wall
clock from where the day ended, so the dashboard keeps a live "now".
"""

from __future__ import annotations

import threading
import time


class SimulatedClock:
    def __init__(self, start: float) -> None:
        self._lock = threading.Lock()
        self._now = start
        self._released_at: float | None = None  # wall time of release()

    def now(self) -> float:
        with self._lock:
            if self._released_at is None:
                return self._now
            return self._now + (time.time() - self._released_at)

    def set(self, now: float) -> None:
        """Move to ``now`` (never backwards)."""
        with self._lock:
            if self._released_at is not None:
                raise RuntimeError("the simulated clock was released to the wall clock")
            self._now = max(self._now, now)

    def release(self) -> None:
        """From now on, advance with the wall clock."""
        with self._lock:
            if self._released_at is None:
                self._released_at = time.time()

"""The time ranges the dashboard offers, and the bucket each one is drawn with.

Each range is drawn with a few hundred buckets at most, so a chart of 30 days reads
about 360 aggregated rows per series, never 43,200 minute points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# range → (length in seconds, bucket in seconds)
RANGES: Final[dict[str, tuple[float, float]]] = {
    "1h": (3600.0, 60.0),
    "6h": (6 * 3600.0, 120.0),
    "24h": (86400.0, 300.0),
    "7d": (7 * 86400.0, 1800.0),
    "30d": (30 * 86400.0, 7200.0),
}
DEFAULT_RANGE: Final = "24h"
HOUR: Final = 3600.0


@dataclass(frozen=True, slots=True)
class TimeRange:
    """[start, end] in epoch seconds, ending at the collector's clock's now."""

    key: str
    start: float
    end: float
    bucket_s: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def time_range(key: str | None, *, now: float) -> TimeRange:
    """The range named ``key`` (an unknown or missing name gives the default, 24h).

    >>> r = time_range("6h", now=36000.0)
    >>> r.key, r.start, r.bucket_s
    ('6h', 14400.0, 120.0)
    >>> time_range("2y", now=0.0).key
    '24h'
    """
    chosen = key if key in RANGES else DEFAULT_RANGE
    length, bucket = RANGES[chosen]
    return TimeRange(chosen, now - length, now, bucket)

"""The shape every streaming change detector has, and its parameter checks.

A detector reads one number per event and says, on that very update, whether the
stream has changed. It is shaped like river's detectors: parameters in ``__init__``,
``update(x)``, read-only state, ``reset()``.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from mlpulse.errors import parameter_error

__all__ = ["StreamingDetector", "check_float", "check_int"]


@runtime_checkable
class StreamingDetector(Protocol):
    """A change detector fed one value per event.

    ``update(x)`` returns True exactly on the update where a change is detected, and
    ``drift_detected`` says the same until the next update. Non-finite values (NaN, inf)
    are dropped: such an update changes nothing and returns False.

    ``n`` counts the values the detector has read since it last started afresh: on
    construction, on ``reset()``, and, for detectors that restart after a change (Page–
    Hinkley, DDM, CUSUM, as in river), on the first update after the detection.
    ``estimate`` is the detector's current estimate of the stream's mean.

    Examples
    --------
    >>> from mlpulse.core.detectors import PageHinkley
    >>> isinstance(PageHinkley(), StreamingDetector)
    True
    """

    def update(self, x: float) -> bool:
        """Read one value; True if a change is detected on this update."""
        ...

    def reset(self) -> None:
        """Forget everything read so far (the parameters stay)."""
        ...

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a change."""
        ...

    @property
    def n(self) -> int:
        """The number of values read since the detector last started afresh."""
        ...

    @property
    def estimate(self) -> float:
        """The current estimate of the stream's mean (0.0 before any value)."""
        ...


def check_int(value: object, name: str, owner: str, *, low: int) -> int:
    """``value`` as an int >= ``low``, or a ParameterError in the house format.

    >>> check_int(0, "clock", "ADWIN", low=1)
    Traceback (most recent call last):
    ...
    mlpulse.errors.ParameterError: The 'clock' parameter of ADWIN must be an int in [1, inf). Got 0 instead.
    """  # noqa: E501 — a doctest's traceback line cannot wrap
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise parameter_error(name, owner, f"an int in [{low}, inf)", value)
    return value


def check_float(
    value: object,
    name: str,
    owner: str,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = True,
) -> float:
    """``value`` as a finite float in the interval, or a ParameterError in the house format.

    Ints are accepted; bools and NaN are not.

    >>> check_float(-1.0, "delta", "PageHinkley", low=0.0)
    Traceback (most recent call last):
    ...
    mlpulse.errors.ParameterError: The 'delta' parameter of PageHinkley must be a float in [0, inf). Got -1.0 instead.
    """  # noqa: E501 — a doctest's traceback line cannot wrap
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        above = number > low if low_open else number >= low
        below = number < high if high_open else number <= high
        if above and below and not math.isnan(number):
            return number
    interval = f"{'(' if low_open else '['}{_bound(low)}, {_bound(high)}{')' if high_open else ']'}"
    raise parameter_error(name, owner, f"a float in {interval}", value)


def _bound(bound: float) -> str:
    if math.isinf(bound):
        return "inf" if bound > 0 else "-inf"
    return str(int(bound)) if bound == int(bound) else str(bound)

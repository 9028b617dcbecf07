"""Durations written the way people write them: ``30s``, ``5m``, ``1h``, ``7d``."""

from __future__ import annotations

import re

from mlpulse.errors import InvalidInputError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str, *, field: str = "window") -> float:
    """Seconds in ``text``.

    >>> parse_duration("5m"), parse_duration("1.5h"), parse_duration("7d")
    (300.0, 5400.0, 604800.0)
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    mlpulse.errors.InvalidInputError: window must be a duration like 30s, 5m, 1h or 7d; got 'soon'
    """
    match = _DURATION.match(text)
    if match is None:
        raise InvalidInputError(
            f"{field} must be a duration like 30s, 5m, 1h or 7d; got {text!r}", field=field
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise InvalidInputError(f"{field} must be longer than zero; got {text!r}", field=field)
    return seconds

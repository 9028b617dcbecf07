"""msgspec's validation messages as (field, reason), the way our error bodies name them.

msgspec says "Expected `int`, got `str` - at `$.events[3].latency_ms`"; we answer
``field="events[3].latency_ms"``, ``reason="Expected `int`, got `str`"``. One place, so
the ingest decoder and every JSON body read the same way.
"""

from __future__ import annotations

import re
from typing import Final

AT: Final = re.compile(r"^(?P<reason>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_AT_KEY: Final = re.compile(r"^(?P<reason>.*) - at `key` in `\$(?P<path>[^`]*)`$", re.DOTALL)
_MISSING: Final = re.compile(r"^Object missing required field `(?P<name>[^`]+)`")
_UNKNOWN: Final = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`")


def field_and_reason(message: str, *, prefix: str = "") -> tuple[str, str]:
    """msgspec's "reason - at `$.a.b`" as (``prefix.a.b``, reason).

    >>> field_and_reason("Expected `int`, got `str` - at `$.port`")
    ('port', 'Expected `int`, got `str`')
    >>> field_and_reason("Object missing required field `scopes`")
    ('scopes', 'required field is missing')
    """
    match = AT.match(message)
    path, reason = (match.group("path"), match.group("reason")) if match else ("", message)
    key = _AT_KEY.match(message)
    if key:
        path, reason = key.group("path"), f"a key: {key.group('reason')}"
    missing = _MISSING.match(reason)
    unknown = _UNKNOWN.match(reason)
    if missing:
        path += f".{missing.group('name')}"
        reason = "required field is missing"
    elif unknown:
        path += f".{unknown.group('name')}"
        reason = "unknown field"
    field = (prefix + path).lstrip(".") or "body"
    return field, reason

"""Names that must be printable: models, versions, features, outcomes, segments.

A name is stored as data and shown in URLs, the CLI, the dashboard and Prometheus
labels, so a control character (NUL, U+0001-U+001F, U+007F-U+009F) in one is refused
with the field it came in. Every other character is allowed, ``/`` included.

The check runs on every name of every event, so names found printable are remembered:
a name seen before (the usual case: a model's feature names repeat in every event)
costs a set lookup, not a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def control_character(name: str) -> str | None:
    """The first control character of ``name`` written like ``U+0000``, or None.

    >>> control_character("team/fraud") is None
    True
    >>> control_character("amount\\x00")
    'U+0000'
    """
    found = _CONTROL.search(name)
    return None if found is None else f"U+{ord(found.group()):04X}"


def refusal(name: str) -> str:
    """The reason given for a name with a control character."""
    return f"must not contain control characters; found {control_character(name)} in {name[:60]!r}"


class PrintableNames:
    """Checks names, remembering up to ``remembered`` printable ones (then starts over)."""

    def __init__(self, *, remembered: int = 100_000) -> None:
        self._good: set[str] = set()
        self._remembered = remembered

    def known(self, name: str) -> bool:
        """True when ``name`` was found printable before."""
        return name in self._good

    def first_bad(self, names: Iterable[str]) -> str | None:
        """The first name with a control character, or None when all are printable."""
        good = self._good
        for name in names:
            if name in good:
                continue
            if _CONTROL.search(name):
                return name
            if len(good) >= self._remembered:
                good.clear()
            good.add(name)
        return None

"""Reading one receiver's settings, with errors that name the field.

Every problem raises :class:`~mlpulse.errors.ConfigurationError` in one format:
"The 'url' setting of a slack receiver must be an http(s) URL. Got 'ftp://x' instead."

>>> SettingsReader("slack", {"url": "ftp://x"}).url("url")
Traceback (most recent call last):
...
mlpulse.errors.ConfigurationError: The 'url' setting of a slack receiver must be an http(s) URL...

Numbers and booleans may also be written as text (``port: "587"``, ``starttls: "false"``):
the YAML reader passes every scalar as the text written, and ``${NAME}`` expands to text.

A reader made with ``checking=True`` checks settings before the receiver is built (when
``mlpulse.yaml`` is validated): it records every problem in :attr:`SettingsReader.problems`
instead of raising, and takes a value holding ``${NAME}`` as a stand-in for a setting of
the collector's environment, checked only when the receiver is built.

>>> reader = SettingsReader("email", {"port": "x", "to": "${TO}"}, checking=True)
>>> reader.integer("port", 587, minimum=1, maximum=65535), reader.strings("to")
(587, ('${TO}',))
>>> reader.problems
[('port', "must be an int in [1, 65535]; got 'x'")]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from mlpulse.errors import ConfigurationError

__all__ = ["PLACEHOLDER", "SettingsReader"]

_MISSING = object()
# `${NAME}`: a setting read from the collector's environment when the receiver is built.
PLACEHOLDER: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_INTEGER: Final = re.compile(r"\s*[+-]?\d+\s*")
_NUMBER: Final = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")
_BOOLEANS: Final = {"true": True, "false": False}


class SettingsReader:
    """Typed access to ``settings`` of a ``kind`` receiver; remembers what was read so
    :meth:`finish` can refuse unknown (usually misspelt) fields.

    With ``checking``, problems are recorded in :attr:`problems` as (setting, problem)
    and the getter returns its default, so that every problem is found at once.
    """

    def __init__(self, kind: str, settings: Mapping[str, Any], *, checking: bool = False) -> None:
        self.kind = kind
        self.checking = checking
        self.problems: list[tuple[str, str]] = []
        self.receiver = f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind} receiver"
        if not isinstance(settings, Mapping):
            raise ConfigurationError(
                f"The settings of {self.receiver} must be a mapping. Got {settings!r} instead."
            )
        self._settings = settings
        self._read: set[str] = set()

    def fail(self, name: str, sentence: str, problem: str) -> None:
        """Raise ``sentence``; when checking, record ``problem`` of setting ``name``."""
        if not self.checking:
            raise ConfigurationError(sentence)
        self.problems.append((name, problem))

    def invalid(self, name: str, expected: str, got: object) -> None:
        """The setting ``name`` is not ``expected``: raise, or record when checking."""
        self.fail(
            name,
            f"The {name!r} setting of {self.receiver} must be {expected}. Got {got!r} instead.",
            f"must be {expected}; got {got!r}",
        )

    def stands_in(self, value: object) -> bool:
        """Whether ``value`` holds ``${NAME}`` while checking: known only when built."""
        return self.checking and isinstance(value, str) and bool(PLACEHOLDER.search(value))

    def _get(self, name: str, required: bool) -> Any:
        self._read.add(name)
        value = self._settings.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.fail(
                    name,
                    f"The {name!r} setting of {self.receiver} is required.",
                    f"required for {self.receiver}",
                )
            return _MISSING
        return value

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self._get(name, required)
        if value is _MISSING:
            return default or ""
        if not isinstance(value, str) or not value.strip():
            self.invalid(name, "a non-empty string", value)
            return default or ""
        return value

    def optional_string(self, name: str) -> str | None:
        value = self.string(name)
        return value or None

    def url(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.string(name, default, required=required)
        parts = urlsplit(value)
        if (parts.scheme not in ("http", "https") or not parts.netloc) and not (
            self.stands_in(value) or (self.checking and not value)
        ):
            self.invalid(name, "an http(s) URL", value)
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        """A number, or its decimal text (``"2.5"``)."""
        value = self._get(name, False)
        if value is _MISSING or self.stands_in(value):
            return default
        number = float(value) if isinstance(value, str) and _NUMBER.fullmatch(value) else value
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or not math.isfinite(number)
            or number <= minimum
        ):
            self.invalid(name, f"a number greater than {minimum:g}", value)
            return default
        return float(number)

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        """A whole number, or its decimal text (``"587"``)."""
        value = self._get(name, False)
        if value is _MISSING or self.stands_in(value):
            return default
        number = int(value) if isinstance(value, str) and _INTEGER.fullmatch(value) else value
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not minimum <= number <= maximum
        ):
            self.invalid(name, f"an int in [{minimum}, {maximum}]", value)
            return default
        return number

    def boolean(self, name: str, default: bool) -> bool:
        """``true`` or ``false``, or that text (any case)."""
        value = self._get(name, False)
        if value is _MISSING or self.stands_in(value):
            return default
        flag = _BOOLEANS.get(value.strip().lower()) if isinstance(value, str) else value
        if not isinstance(flag, bool):
            self.invalid(name, "true or false", value)
            return default
        return flag

    def strings(self, name: str, *, required: bool = False) -> tuple[str, ...]:
        """A list of non-empty strings; one string is read as a list of one."""
        value = self._get(name, required)
        if value is _MISSING:
            return ()
        items = [value] if isinstance(value, str) else value
        if (
            not isinstance(items, list | tuple)
            or not all(isinstance(item, str) and item.strip() for item in items)
            or (required and not items)
        ):
            self.invalid(name, "a string or a list of non-empty strings", value)
            return ()
        return tuple(items)

    def string_map(self, name: str) -> dict[str, str]:
        value = self._get(name, False)
        if value is _MISSING:
            return {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.invalid(name, "a mapping of strings to strings", value)
            return {}
        return dict(value)

    def finish(self) -> None:
        """Refuse fields no reader asked for."""
        known = ", ".join(sorted(self._read))
        for name in sorted(str(key) for key in self._settings if key not in self._read):
            self.fail(
                name,
                f"The {name!r} setting is not known for {self.receiver} (known: {known}).",
                f"unknown setting of {self.receiver}; known: {known}",
            )

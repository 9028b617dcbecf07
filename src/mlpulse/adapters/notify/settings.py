"""Reading one receiver's settings, with errors that name the field.

Every problem raises :class:`~mlpulse.errors.ConfigurationError` in one format:
"The 'url' setting of a slack receiver must be an http(s) URL. Got 'ftp://x' instead."

>>> SettingsReader("slack", {"url": "ftp://x"}).url("url")
Traceback (most recent call last):
...
mlpulse.errors.ConfigurationError: The 'url' setting of a slack receiver must be an http(s) URL...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mlpulse.errors import ConfigurationError

__all__ = ["SettingsReader"]

_MISSING = object()


class SettingsReader:
    """Typed access to ``settings`` of a ``kind`` receiver; remembers what was read so
    :meth:`finish` can refuse unknown (usually misspelt) fields."""

    def __init__(self, kind: str, settings: Mapping[str, Any]) -> None:
        self.kind = kind
        self.receiver = f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind} receiver"
        if not isinstance(settings, Mapping):
            raise ConfigurationError(
                f"The settings of {self.receiver} must be a mapping. Got {settings!r} instead."
            )
        self._settings = settings
        self._read: set[str] = set()

    def _error(self, name: str, expected: str, got: object) -> ConfigurationError:
        return ConfigurationError(
            f"The {name!r} setting of {self.receiver} must be {expected}. Got {got!r} instead."
        )

    def _get(self, name: str, required: bool) -> Any:
        self._read.add(name)
        value = self._settings.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                raise ConfigurationError(f"The {name!r} setting of {self.receiver} is required.")
            return _MISSING
        return value

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self._get(name, required)
        if value is _MISSING:
            return default or ""
        if not isinstance(value, str) or not value.strip():
            raise self._error(name, "a non-empty string", value)
        return value

    def optional_string(self, name: str) -> str | None:
        value = self.string(name)
        return value or None

    def url(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.string(name, default, required=required)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self._error(name, "an http(s) URL", value)
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self._get(name, False)
        if value is _MISSING:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= minimum
        ):
            raise self._error(name, f"a number greater than {minimum:g}", value)
        return float(value)

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self._get(name, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self._error(name, f"an int in [{minimum}, {maximum}]", value)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise self._error(name, "true or false", value)
        return value

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
            raise self._error(name, "a string or a list of non-empty strings", value)
        return tuple(items)

    def string_map(self, name: str) -> dict[str, str]:
        value = self._get(name, False)
        if value is _MISSING:
            return {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._error(name, "a mapping of strings to strings", value)
        return dict(value)

    def finish(self) -> None:
        """Refuse fields no reader asked for."""
        unknown = sorted(str(key) for key in self._settings if key not in self._read)
        if unknown:
            known = ", ".join(sorted(self._read))
            raise ConfigurationError(
                f"The {unknown[0]!r} setting is not known for {self.receiver} (known: {known})."
            )

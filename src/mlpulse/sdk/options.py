"""The client's options: their checks, and reading them from the environment.

Every bad value raises at once with the one message format of
:func:`mlpulse.errors.parameter_error`.
"""

from __future__ import annotations

import math
import os
from typing import Final, TypedDict
from urllib.parse import urlsplit

from mlpulse.errors import ConfigurationError, parameter_error
from mlpulse.sdk.wire import Compression

URL_VARIABLE: Final = "MLPULSE_URL"
API_KEY_VARIABLE: Final = "MLPULSE_API_KEY"
MAX_BUFFER_LIMIT: Final = 10_000_000
_MAX_SECONDS: Final = 3600.0


class ClientOptions(TypedDict, total=False):
    """The keyword options of :class:`Client` (for :meth:`Client.from_env`)."""

    batch_size: int
    flush_interval: float
    max_buffer: int
    timeout: float
    compression: Compression
    backoff_base: float
    backoff_cap: float
    exit_timeout: float


class _Redacted:
    """Stands for a secret in an error message."""

    def __init__(self, value: object) -> None:
        self._description = (
            f"a str of {len(value)} characters" if isinstance(value, str) else type(value).__name__
        )

    def __repr__(self) -> str:
        return f"<redacted: {self._description}>"


def environment_variable(name: str) -> str:
    """The value of ``name``; ConfigurationError naming it when it is missing or blank."""
    value = os.environ.get(name, "").strip()
    if not value:
        state = "empty" if name in os.environ else "not set"
        raise ConfigurationError(
            f"The environment variable {name} is {state}; Client.from_env() needs it."
        )
    return value


def check_url(url: object) -> None:
    """An ``http://`` or ``https://`` URL with a host (and a numeric port, if any)."""
    expected = "an http:// or https:// URL with a host"
    if not isinstance(url, str):
        raise parameter_error("url", "Client", expected, url)
    try:
        parsed = urlsplit(url)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise parameter_error("url", "Client", expected, url) from exc
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise parameter_error("url", "Client", expected, url)


def check_api_key(api_key: object) -> None:
    """A non-empty key that fits in an HTTP header as it is."""
    if (
        not isinstance(api_key, str)
        or not api_key
        or not api_key.isprintable()
        or any(ch.isspace() for ch in api_key)
    ):
        # The key itself never goes into a message: tracebacks end up in logs.
        raise parameter_error(
            "api_key", "Client", "a non-empty str without spaces", _Redacted(api_key)
        )


def check_int(name: str, value: object, low: int, high: int) -> None:
    """An int (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise parameter_error(name, "Client", f"an int in [{low}, {high}]", value)


def check_seconds(name: str, value: object, *, positive: bool, owner: str = "Client") -> None:
    """A finite number of seconds, up to an hour; above zero when ``positive``."""
    valid = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
        and value <= _MAX_SECONDS
    )
    if not valid:
        interval = f"(0, {_MAX_SECONDS:g}]" if positive else f"[0, {_MAX_SECONDS:g}]"
        raise parameter_error(name, owner, f"a number of seconds in {interval}", value)

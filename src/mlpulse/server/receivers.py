"""The receivers of the applied configuration, as notifiers, rebuilt when they change.

A setting written ``${NAME}`` is taken from the collector's environment, so webhook
URLs and API keys need not be written in ``mlpulse.yaml``. A receiver that cannot be
built (a missing setting, an unset variable) is logged and left out; its notifications
wait in the outbox (and, past the dead-letter time, go to the dead letters).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from mlpulse.adapters.notify import build_notifier
from mlpulse.adapters.notify.rate_limit import RateLimiterPool
from mlpulse.adapters.notify.settings import PLACEHOLDER
from mlpulse.domain.rules import ReceiverConfig
from mlpulse.errors import ConfigurationError
from mlpulse.ports import Notifier

log = logging.getLogger("mlpulse.receivers")


def expand(value: Any, env: Mapping[str, str]) -> Any:
    """``${NAME}`` in strings (also inside lists and mappings) replaced from ``env``.

    >>> expand({"url": "${HOOK}/x", "n": 3}, {"HOOK": "http://h"})
    {'url': 'http://h/x', 'n': 3}
    """
    if isinstance(value, str):

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigurationError(f"environment variable {name} is not set")
            return env[name]

        return PLACEHOLDER.sub(fill, value)
    if isinstance(value, list):
        return [expand(item, env) for item in value]
    if isinstance(value, dict):
        return {key: expand(item, env) for key, item in value.items()}
    return value


class Receivers:
    """Notifiers by receiver name, for the outbox worker."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env
        self._built: dict[str, tuple[bytes, Notifier]] = {}
        self._limits = RateLimiterPool()

    def update(self, receivers: Mapping[str, ReceiverConfig]) -> dict[str, Notifier]:
        """The notifiers of ``receivers``; unchanged ones are kept (and their limits)."""
        built: dict[str, tuple[bytes, Notifier]] = {}
        for name, receiver in receivers.items():
            spec = msgspec.msgpack.encode(receiver)
            known = self._built.get(name)
            if known is not None and known[0] == spec:
                built[name] = known
                continue
            try:
                settings = expand(dict(receiver.settings), self._env)
                notifier = build_notifier(receiver.kind, settings, rate_limiters=self._limits)
            except ConfigurationError as exc:
                log.error("receiver %s cannot be built: %s", name, exc)
                continue
            built[name] = (spec, notifier)
        for name, (_spec, notifier) in self._built.items():
            if built.get(name, (b"", None))[1] is not notifier:
                notifier.close()
        self._built = built
        return {name: notifier for name, (_, notifier) in built.items()}

    def close(self) -> None:
        for _, notifier in self._built.values():
            notifier.close()
        self._built = {}

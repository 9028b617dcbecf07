"""Exposures for the SDK router: the first time a unit is sent to a version, logged once.

Rollouts and bandits count the units each version served by the outcome this logs
(``exposure``, value 1, with the model, the version and the unit id). The last ``memory``
(unit, version) pairs are remembered, least recently chosen out first (100,000 pairs take
about 25 MB with 20-character unit ids); a pair evicted and seen again is logged again,
which rollouts and bandits tolerate as they count distinct units.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from mlpulse.domain.events import MAX_NAME_LENGTH
from mlpulse.errors import parameter_error

_LOG = logging.getLogger("mlpulse.sdk")
MAX_EXPOSURE_MEMORY: Final = 10_000_000

Expose = Callable[[str, str, str], None]
"""Logs an exposure: called with (outcome name, version, unit id)."""


def check_exposure(exposure: object, memory: object, expose: Expose | None) -> None:
    """Raise for a bad ``exposure`` name or ``exposure_memory`` of a router."""
    if exposure is not None and not (
        isinstance(exposure, str) and 0 < len(exposure) <= MAX_NAME_LENGTH
    ):
        expected = f"None or an outcome name of 1 to {MAX_NAME_LENGTH} characters"
        raise parameter_error("exposure", "Router", expected, exposure)
    if not (isinstance(memory, int) and not isinstance(memory, bool)) or not (
        1 <= memory <= MAX_EXPOSURE_MEMORY
    ):
        expected = f"an int in [1, {MAX_EXPOSURE_MEMORY}]"
        raise parameter_error("exposure_memory", "Router", expected, memory)
    if exposure is not None and expose is None:
        expected = "None for a Router made without expose (Client.router supplies it)"
        raise parameter_error("exposure", "Router", expected, exposure)


class Exposures:
    """Logs ``name`` through ``expose`` for each (unit, version) pair not seen lately."""

    def __init__(self, name: str, *, memory: int, expose: Expose, model: str) -> None:
        self._name = name
        self._memory = memory
        self._expose = expose
        self._model = model
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def log(self, unit_id: str, version: str) -> None:
        """Log the exposure of ``unit_id`` to ``version`` unless it is remembered."""
        key = (unit_id, version)
        seen = self._seen
        with self._lock:
            if key in seen:
                seen.move_to_end(key)
                return
            seen[key] = None
            if len(seen) > self._memory:
                seen.popitem(last=False)
        try:
            self._expose(self._name, version, unit_id)
        except Exception:  # logging an exposure must never break the serving call
            _LOG.exception("mlpulse: could not log the exposure of %s %s", self._model, version)

    def reset_after_fork(self) -> None:
        """A fresh lock in a forked child (another thread may have held it at the fork)."""
        self._lock = threading.Lock()

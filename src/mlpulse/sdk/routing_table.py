"""A model's routing table as the collector serves it, and the pure choice of a version.

The collector answers ``GET /v1/routing/{model}`` with the JSON that :class:`RoutingTable`
mirrors. :func:`choose` maps a unit id (a user, a session, a request) to the version that
serves it, by a deterministic hash, so every process of a fleet agrees without talking
to each other, and a unit keeps its version for as long as the weights do not change.

How a unit is placed
--------------------
``bucket = int.from_bytes(blake2b(f"{model}:{unit_id}").digest()[:8], "big") % 10_000``.
The champion and challenger entries, sorted by version name (a stable order that does
not depend on how the collector lists them), lay their weights end to end over
``[0, 10_000)``: with weights in percent that sum to 100, entry ``i`` owns the buckets
``[100 * cum[i-1], 100 * cum[i])``. (Weights that do not sum to 100 are read as
proportions: entry ``i`` owns the buckets ``b`` with ``cum[i-1] / total <= b / 10_000 <
cum[i] / total``, which is the same thing when the total is 100.)

What moves when weights change
------------------------------
A unit changes version only when a range boundary crosses its bucket. Moving ``k`` percent
of traffic between two neighbouring entries (the usual champion–challenger step, where
there are only two) moves exactly the units in the ``k`` percent of buckets between the
old and the new boundary, all from the one that shrank to the one that grew: a unit on
the challenger at 5% is still on it at 25% (monotone assignment). Changes that move a
boundary between other entries move the units between that old and new boundary too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

from mlpulse.errors import ConfigurationError

Stage = Literal["champion", "challenger", "shadow", "archived"]

BUCKETS: Final = 10_000
"""Units are hashed into this many buckets: weights resolve to 0.01%."""
ROUTED_STAGES: Final = frozenset({"champion", "challenger"})


class RoutingEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One version of a model: its stage and its traffic weight (percent)."""

    version: str
    stage: Stage
    weight: int = 0


class VersionHealth(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """A version's health as the collector sees it: unhealthy while a critical alert of
    that version fires (``alerts`` names their rules)."""

    healthy: bool = True
    alerts: tuple[str, ...] = ()


class RoutingTable(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """A model's routing table, revision ``revision``, as ``GET /v1/routing/{model}`` sends it.

    ``fallback`` is the version to call when the chosen one is failing (its circuit
    breaker is open); None lets the router pick another routed version. ``health``
    holds the collector's view of each version; a version it does not list (or a
    collector that sends no health) counts as healthy.
    """

    model: str
    revision: int
    entries: tuple[RoutingEntry, ...] = ()
    updated_at: float = 0.0
    fallback: str | None = None
    health: dict[str, VersionHealth] = msgspec.field(default_factory=dict)

    def healthy(self, version: str) -> bool:
        """Whether the collector holds ``version`` healthy (no critical alert of it fires).

        >>> table = RoutingTable("recs", 1, health={"v2": VersionHealth(False, ("latency",))})
        >>> table.healthy("v1"), table.healthy("v2")
        (True, False)
        """
        health = self.health.get(version)
        return health is None or health.healthy

    @property
    def routed(self) -> tuple[RoutingEntry, ...]:
        """The champion and challenger entries, sorted by version name."""
        return tuple(
            sorted(
                (entry for entry in self.entries if entry.stage in ROUTED_STAGES),
                key=lambda entry: entry.version,
            )
        )

    @property
    def shadows(self) -> tuple[str, ...]:
        """The versions in the shadow stage, sorted by name: they get mirrored calls."""
        return tuple(sorted(e.version for e in self.entries if e.stage == "shadow"))


@dataclass(frozen=True, slots=True)
class Choice:
    """The version to call for one unit, and the shadow versions to mirror the call to.

    ``fallback_from`` names the version the hash chose when the router sent the call
    elsewhere because that version's circuit breaker is open; None otherwise.
    """

    version: str
    shadows: tuple[str, ...] = ()
    fallback_from: str | None = None


def bucket(model: str, unit_id: str) -> int:
    """The bucket in ``[0, 10_000)`` of ``unit_id`` for ``model``.

    >>> bucket("recs", "user-42") == bucket("recs", "user-42")
    True
    >>> 0 <= bucket("recs", "user-42") < 10_000
    True
    """
    digest = hashlib.blake2b(f"{model}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def choose(table: RoutingTable, unit_id: str, *, model: str) -> Choice:
    """The version that serves ``unit_id``, by hash over the weights (see the module doc).

    With no champion or challenger carrying weight, every unit gets ``table.fallback``;
    with no fallback either, :class:`~mlpulse.errors.ConfigurationError` is raised (there
    is no version to call). ``model`` is part of the hash, so a unit is placed
    independently for each model.

    >>> table = RoutingTable("recs", 1, (RoutingEntry("v1", "champion", 100),))
    >>> choose(table, "user-42", model="recs")
    Choice(version='v1', shadows=(), fallback_from=None)
    """
    routed = table.routed
    total = sum(max(entry.weight, 0) for entry in routed)
    if total <= 0:
        if table.fallback is None:
            raise ConfigurationError(
                f"The routing table of model {model!r} (revision {table.revision}) gives no "
                "version any traffic and names no fallback: there is no version to call."
            )
        return Choice(table.fallback, table.shadows)
    # Integer arithmetic: bucket / BUCKETS < cumulative / total, without rounding.
    scaled = bucket(model, unit_id) * total
    cumulative = 0
    for entry in routed:
        cumulative += max(entry.weight, 0)
        if scaled < cumulative * BUCKETS:
            return Choice(entry.version, table.shadows)
    raise AssertionError("unreachable: the last entry's range ends at BUCKETS")  # pragma: no cover


def check_routable(table: RoutingTable) -> str | None:
    """Why :func:`choose` could not route with ``table``, or None when it can."""
    if sum(max(e.weight, 0) for e in table.routed) > 0 or table.fallback is not None:
        return None
    return f"revision {table.revision} gives no version traffic and names no fallback"

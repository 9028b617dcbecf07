"""The model registry: versions, their stages and traffic weights, and deployment events.

A version's stage says what it does with traffic:

- ``champion``: serves (at most one per model); clients fall back to it when a circuit opens;
- ``challenger``: serves a share of the traffic beside the champion;
- ``shadow``: receives a mirrored copy of traffic, never answers (its weight is 0);
- ``archived``: out of rotation (weight 0), kept so that it can be restored.

Champion and challenger weights are integer percentages that sum to 100.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Literal

import msgspec

from mlpulse.errors import InvalidInputError

Stage = Literal["champion", "challenger", "shadow", "archived"]
DeploymentKind = Literal["register", "stage", "weights", "rollback", "promote"]
STAGES: tuple[Stage, ...] = ("champion", "challenger", "shadow", "archived")
SERVING: frozenset[str] = frozenset({"champion", "challenger"})

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^/\s]+$")]


class ModelVersion(msgspec.Struct, frozen=True):
    """One registered version of a model, with its current stage and weight."""

    model: str
    version: str
    artifact_uri: str
    metadata: dict[str, str]
    created_at: float
    stage: Stage
    weight: int


class RoutingEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where one version stands in the routing table."""

    version: Name
    stage: Stage
    weight: int


class VersionHealth(msgspec.Struct, frozen=True):
    """A version's health in the routing table: unhealthy while a critical alert with
    that version's ``model`` and ``version`` labels fires; ``alerts`` names their rules."""

    healthy: bool
    alerts: list[str] = msgspec.field(default_factory=list)


class RoutingTable(msgspec.Struct, frozen=True):
    """What the SDK router polls: the non-archived versions, their stages and weights.

    ``revision`` grows by one with every change of the model's registry entry;
    ``fallback`` is the champion, which clients use when a circuit opens. ``health``
    has an entry per listed version (see :func:`with_health`); routers never fall back
    to an unhealthy version while a healthy one is left.
    """

    model: str
    revision: int
    entries: list[RoutingEntry]
    updated_at: float
    fallback: str | None
    health: dict[str, VersionHealth] = msgspec.field(default_factory=dict)


def with_health(table: RoutingTable, firing: Mapping[str, Sequence[str]]) -> RoutingTable:
    """``table`` with the health of each of its versions.

    ``firing`` maps a version of the table's model to the rules of its firing critical
    alerts; a version it does not name is healthy.

    >>> table = RoutingTable("m", 3, [RoutingEntry("v1", "champion", 100)], 0.0, "v1")
    >>> with_health(table, {"v1": ["latency"]}).health["v1"]
    VersionHealth(healthy=False, alerts=['latency'])
    """
    health = {
        e.version: VersionHealth(
            healthy=not firing.get(e.version), alerts=sorted(firing.get(e.version, ()))
        )
        for e in table.entries
    }
    return msgspec.structs.replace(table, health=health)


def health_tag(table: RoutingTable) -> str:
    """The table's ETag: ``"<revision>"``, with a digest of the unhealthy versions and
    their alerts when there are any, so a health change is a change for pollers.

    >>> table = RoutingTable("m", 3, [RoutingEntry("v1", "champion", 100)], 0.0, "v1")
    >>> health_tag(table), health_tag(with_health(table, {"v1": ["latency"]}))
    ('"3"', '"3-418b78e2"')
    """
    unhealthy = sorted(
        (version, *health.alerts) for version, health in table.health.items() if not health.healthy
    )
    if not unhealthy:
        return f'"{table.revision}"'
    digest = hashlib.sha256(repr(unhealthy).encode()).hexdigest()[:8]
    return f'"{table.revision}-{digest}"'


class Deployment(msgspec.Struct, frozen=True):
    """A change to a model's versions, kept in an append-only history.

    ``version`` is the version the change is about (the registered, promoted or restored
    one; for ``weights`` and ``stage`` changes, the champion afterwards). ``detail``
    always holds ``champion`` (the champion afterwards, "" when none) and ``routing``
    (``v1=champion:90,v2=challenger:10``), so charts can mark it and compare before/after.
    """

    model: str
    version: str
    at: float
    kind: DeploymentKind
    detail: dict[str, str]
    actor: str


def routing_text(entries: Sequence[RoutingEntry]) -> str:
    """A routing table in one short line.

    >>> routing_text([RoutingEntry("v1", "champion", 90), RoutingEntry("v2", "challenger", 10)])
    'v1=champion:90,v2=challenger:10'
    """
    return ",".join(f"{e.version}={e.stage}:{e.weight}" for e in entries)


def validate_weights(entries: Sequence[RoutingEntry], *, field: str = "versions") -> None:
    """Raise :class:`InvalidInputError` naming the field when ``entries`` cannot route.

    Weights are ints in [0, 100]; shadow and archived versions have weight 0; there is at
    most one champion; champion and challenger weights sum to 100.

    >>> validate_weights([RoutingEntry("v1", "champion", 90), RoutingEntry("v2", "shadow", 0)])
    Traceback (most recent call last):
    ...
    mlpulse.errors.InvalidInputError: versions: champion and challenger weights must sum ...
    """
    seen: dict[str, int] = {}
    champion: str | None = None
    for i, entry in enumerate(entries):
        at = f"{field}[{i}]"
        if entry.version in seen:
            raise InvalidInputError(
                f"{at}.version: {entry.version!r} is listed twice "
                f"(also at [{seen[entry.version]}])",
                field=f"{at}.version",
            )
        seen[entry.version] = i
        if entry.stage not in STAGES:
            raise InvalidInputError(
                f"{at}.stage: must be one of {', '.join(STAGES)}; got {entry.stage!r}",
                field=f"{at}.stage",
            )
        weight: object = entry.weight
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise InvalidInputError(
                f"{at}.weight: must be an int in [0, 100]; got {weight!r}", field=f"{at}.weight"
            )
        if entry.stage not in SERVING and entry.weight != 0:
            raise InvalidInputError(
                f"{at}.weight: a {entry.stage} version takes no traffic of its own, so its weight "
                f"must be 0; got {entry.weight}",
                field=f"{at}.weight",
            )
        if entry.stage == "champion":
            if champion is not None:
                raise InvalidInputError(
                    f"{at}.stage: at most one champion; {champion!r} is champion already",
                    field=f"{at}.stage",
                )
            champion = entry.version
    serving = [e for e in entries if e.stage in SERVING]
    total = sum(e.weight for e in serving)
    if total != 100:
        shares = ", ".join(f"{e.version}={e.weight}" for e in serving) or "no serving version"
        raise InvalidInputError(
            f"{field}: champion and challenger weights must sum to 100; got {total} ({shares})",
            field=field,
        )


def champion_of(entries: Iterable[ModelVersion | RoutingEntry]) -> str | None:
    """The champion's version name, if there is one."""
    return next((e.version for e in entries if e.stage == "champion"), None)


def rollback_candidates(history: Sequence[Deployment], failing: str) -> list[str]:
    """Earlier champions, most recent first, from a model's history (oldest event first).

    Leaves out ``failing`` and versions rolled back from since they were last champion.

    >>> def champion(v, kind="promote", **detail):
    ...     return Deployment("m", v, 0.0, kind, {"champion": v, **detail}, "ci")
    >>> history = [champion("v1", "register"), champion("v2"), champion("v3"),
    ...            champion("v2", "rollback", rolled_back_from="v3"), champion("v4")]
    >>> rollback_candidates(history, failing="v4")
    ['v2', 'v1']
    """
    last: dict[str, int] = {}
    rolled_back_from: set[str] = set()
    for i, event in enumerate(history):
        if event.kind == "rollback":
            rolled_back_from.add(event.detail.get("rolled_back_from", ""))
        champion = event.detail.get("champion", "")
        if champion:
            last[champion] = i
            rolled_back_from.discard(champion)
    eligible = [v for v in last if v != failing and v not in rolled_back_from]
    return sorted(eligible, key=lambda v: last[v], reverse=True)

"""The model registry as runbooks act on it (rollback, retire, traffic shift, circuit opening).

Every action takes ``dry_run``: it then answers with the exact routing change it would
make (validated against the current table), and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from mlpulse.domain.registry import RoutingEntry, RoutingTable, validate_weights
from mlpulse.services.action_worker import bounded
from mlpulse.services.registry import Registry


class ChampionSink(Protocol):
    """Somewhere else that must follow the champion (an MLflow alias)."""

    def set_champion(self, model: str, version: str) -> str: ...


class RegistryControl:
    def __init__(
        self,
        registry: Registry,
        *,
        sinks: Sequence[ChampionSink] = (),
        sink_timeout_s: float = 10.0,
    ) -> None:
        self._registry = registry
        self._sinks = list(sinks)
        self._sink_timeout = sink_timeout_s

    def serving(self, model: str) -> dict[str, tuple[str, int]]:
        """The model's versions in its routing table: version → (stage, weight)."""
        return {e.version: (e.stage, e.weight) for e in self._registry.table(model).entries}

    def rollback(
        self,
        model: str,
        *,
        actor: str,
        to_version: str | None = None,
        healthy: Callable[[str], bool] = lambda version: True,
        reason: str = "",
        dry_run: bool = False,
    ) -> str:
        table = self._registry.rollback(
            model, actor=actor, to_version=to_version, healthy=healthy, reason=reason,
            dry_run=dry_run,
        )  # fmt: skip
        summary = _summary(table)
        if dry_run:
            return f"set routing of {model} to {summary}"
        champion = next((e.version for e in table.entries if e.stage == "champion"), None)
        for sink in self._sinks if champion else ():
            assert champion is not None
            summary += self._move_alias(sink, model, champion)
        return summary

    def _move_alias(self, sink: ChampionSink, model: str, champion: str) -> str:
        """Bounded on its own: the rollback stands whatever the sink does, and an MLflow
        client retrying for minutes must not make the whole action time out."""
        status, detail = bounded(
            lambda: ("ok", sink.set_champion(model, champion)), self._sink_timeout
        )
        if status == "ok":
            return f"; MLflow alias → version {detail}"
        return f"; MLflow alias NOT moved: {detail}"  # say so; the rollback stands

    def retire(
        self, model: str, version: str, *, actor: str, reason: str = "", dry_run: bool = False
    ) -> str:
        """Take a failing challenger or shadow out: archived, its weight to the champion."""
        table = self._registry.retire(model, version, actor=actor, reason=reason, dry_run=dry_run)
        return f"set routing of {model} to {_summary(table)}" if dry_run else _summary(table)

    def shift_traffic(
        self, model: str, weights: Mapping[str, int], *, actor: str, dry_run: bool = False
    ) -> str:
        table = self._registry.table(model)
        stages = {e.version: e.stage for e in table.entries}
        entries = [
            RoutingEntry(version=v, stage=stages.get(v, "challenger"), weight=w)
            for v, w in weights.items()
        ]
        if dry_run:
            return f"set routing of {model} to {_preview(table, entries)}"
        return _summary(self._registry.set_routing(model, entries, actor=actor))

    def open_circuit(self, model: str, version: str, *, actor: str, dry_run: bool = False) -> str:
        """Take ``version`` out of rotation: its weight goes to the champion."""
        table = self._registry.table(model)
        entries = {e.version: e for e in table.entries}
        if version not in entries:
            raise ValueError(f"{model} has no version {version!r} in its routing table")
        freed = entries[version].weight
        champion = next((e for e in table.entries if e.stage == "champion"), None)
        if champion is None or champion.version == version:
            raise ValueError(f"{version} is the champion of {model}: roll back instead")
        changed = [
            RoutingEntry(version=version, stage=entries[version].stage, weight=0),
            RoutingEntry(
                version=champion.version, stage="champion", weight=champion.weight + freed
            ),
        ]
        if dry_run:
            return f"set routing of {model} to {_preview(table, changed)}"
        return _summary(self._registry.set_routing(model, changed, actor=actor))


def _preview(table: RoutingTable, changes: Sequence[RoutingEntry]) -> str:
    """The table ``changes`` would make, validated as the registry would."""
    moved = {c.version: c for c in changes}
    merged = [moved.pop(e.version, e) for e in table.entries] + list(moved.values())
    validate_weights(merged)
    return ", ".join(f"{e.version}={e.stage}:{e.weight}" for e in merged if e.stage != "archived")


def _summary(table: RoutingTable) -> str:
    return ", ".join(f"{e.version}={e.stage}:{e.weight}" for e in table.entries)

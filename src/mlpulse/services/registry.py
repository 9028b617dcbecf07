"""The model registry: register, route, promote and roll back versions; watch the table.

Every change bumps the model's revision and appends a :class:`Deployment`. Clients learn
of a change by long-polling :meth:`Registry.wait_for_change`, which returns as soon as the
revision moves (a :class:`threading.Condition` per model, notified after each commit).

Writes hold one lock, so the read-decide-write of each change sees the state it decides
on: one collector process owns a registry store file.

Choices a reviewer should know:

- A new version is ``shadow`` at weight 0, except a model's first, which is champion at 100.
- ``promote`` keeps the old champion as ``challenger`` at weight 0: a rollback target.
- ``rollback`` archives the failing champion (it is out of rotation and not picked by later
  rollbacks until it is made champion again) and restores the most recent earlier champion
  that ``healthy`` accepts. Challengers go to weight 0, so the restored one has all traffic.
- ``retire`` takes a failing challenger or shadow out (archived, its weight to the
  champion): what a runbook does when the version that failed is not the champion.
- ``rollback`` and ``retire`` take ``dry_run``: the table they would make, unchanged store.
- ``set_routing`` changes the listed versions; the others keep their stage and weight, and
  the whole table must still validate. A change that changes nothing is not recorded.
- ``guard(model, action)`` (the error budget policy, :mod:`mlpulse.services.budget_policy`)
  may refuse a promotion or a change that gives a version other than the champion more
  weight (or makes it champion); rollbacks, retirements and weight back to the champion
  never ask it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal

import msgspec

from mlpulse.domain.registry import (
    SERVING,
    Deployment,
    DeploymentKind,
    ModelVersion,
    RoutingEntry,
    RoutingTable,
    champion_of,
    rollback_candidates,
    routing_text,
    validate_weights,
)
from mlpulse.errors import InvalidInputError, NotFoundError
from mlpulse.ports import Clock, RegistryStore


class NoRollbackTargetError(InvalidInputError):
    """A rollback found no earlier champion to restore (or the one asked for is unhealthy)."""


def _entry(version: ModelVersion) -> RoutingEntry:
    return RoutingEntry(version.version, version.stage, version.weight)


def _check_name(value: str, field: str, *, slash: bool = False) -> None:
    """A model name may hold ``/`` (``team/fraud``, as ingest takes it); a version not."""
    if (
        not value
        or len(value) > 200
        or any(c.isspace() for c in value)
        or (not slash and "/" in value)
    ):
        rule = "without spaces" if slash else "without '/' or spaces"
        raise InvalidInputError(
            f"{field}: must be 1 to 200 characters {rule}; got {value!r}", field=field
        )


class Registry:
    """Models, their versions, the routing table and its history."""

    def __init__(
        self,
        store: RegistryStore,
        clock: Clock,
        *,
        guard: Callable[[str, str], None] = lambda model, action: None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._guard = guard
        self._write_lock = threading.Lock()
        self._conditions: dict[str, threading.Condition] = {}
        self._conditions_lock = threading.Lock()
        self._closed = False
        # Told of every deployment (the open incident of the model puts it on its timeline).
        self.on_deployment: Callable[[Deployment], None] | None = None
        # Told of every change to a model's table (other replicas wake their long-polls).
        self.on_change: Callable[[str], None] | None = None

    # -- reading ----------------------------------------------------------------------------

    def versions(self, model: str) -> list[ModelVersion]:
        found = self._store.versions(model)
        if not found:
            raise NotFoundError(f"no model named {model!r} in the registry")
        return found

    def table(self, model: str) -> RoutingTable:
        # The revision is read before the versions: a change in between shows new entries
        # under the old revision (the client fetches once more), never the reverse, which
        # would hide the change from the client until the next one.
        revision = self._store.revision(model)
        if revision is None:
            raise NotFoundError(f"no model named {model!r} in the registry")
        versions = self._store.versions(model)
        return RoutingTable(
            model=model,
            revision=revision[0],
            entries=[_entry(v) for v in versions if v.stage != "archived"],
            updated_at=revision[1],
            fallback=champion_of(versions),
        )

    def deployments(self, model: str | None = None, since: float | None = None) -> list[Deployment]:
        """Deployment events, oldest first."""
        return self._store.deployments(model, since)

    def wait_for_change(self, model: str, revision: int, timeout: float) -> RoutingTable:
        """The table once its revision differs from ``revision``, or after ``timeout`` seconds.

        Waits in real time (not the injected clock): it bounds how long a caller blocks.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        self.table(model)  # an unknown model raises here, before it gets a condition
        condition = self._condition(model)
        with condition:
            while True:
                table = self.table(model)
                remaining = deadline - time.monotonic()
                if table.revision != revision or remaining <= 0 or self._closed:
                    return table
                condition.wait(remaining)

    def close(self) -> None:
        """Wake every waiter (they answer with the current table); for shutdown."""
        self._closed = True
        self.wake()

    # -- writing ----------------------------------------------------------------------------

    def register(
        self,
        model: str,
        version: str,
        artifact_uri: str,
        metadata: dict[str, str] | None = None,
        *,
        actor: str,
    ) -> ModelVersion:
        """Add a version: shadow at weight 0, or champion at 100 when it is the model's first."""
        _check_name(model, "model", slash=True)
        _check_name(version, "version")
        with self._write_lock:
            current = self._store.versions(model)
            if any(v.version == version for v in current):
                raise InvalidInputError(
                    f"version: {version!r} of {model!r} is registered already", field="version"
                )
            first = not current
            added = ModelVersion(
                model=model, version=version, artifact_uri=artifact_uri,
                metadata=dict(metadata or {}), created_at=self._clock.now(),
                stage="champion" if first else "shadow", weight=100 if first else 0,
            )  # fmt: skip
            after = [*current, added]
            event = self._event(model, version, "register", after, actor, artifact_uri=artifact_uri)
            self._store.add_version(added, event)
        self._notify(model)
        return added

    def set_routing(
        self,
        model: str,
        entries: Sequence[RoutingEntry],
        *,
        actor: str,
        kind: Literal["weights", "stage"] | None = None,
        reason: str = "",
    ) -> RoutingTable:
        """Set the stage and weight of the listed versions (others keep theirs).

        ``kind`` of the recorded deployment: by default ``stage`` when a stage changes,
        else ``weights``.
        """
        with self._write_lock:
            current = self.versions(model)
            known = {v.version: v.stage for v in current}
            listed = {e.version for e in entries}
            champion = champion_of(current)
            for i, entry in enumerate(entries):
                if entry.version not in known:
                    raise InvalidInputError(
                        f"versions[{i}].version: no version {entry.version!r} of {model!r}; "
                        "register it first",
                        field=f"versions[{i}].version",
                    )
                if entry.stage == "champion" and champion not in (None, *listed):
                    raise InvalidInputError(
                        f"versions[{i}].stage: {champion!r} is the champion and is not listed; "
                        "list it too, with its new stage",
                        field=f"versions[{i}].stage",
                    )
            weights = {v.version: v.weight for v in current}
            onto = [
                e.version
                for e in entries
                if e.version != champion
                and e.stage != "archived"
                and (e.weight > weights[e.version] or e.stage == "champion")
            ]
            if onto:
                self._guard(model, f"more traffic to {', '.join(onto)}")
            if kind is None:
                moves = any(known[e.version] != e.stage for e in entries)
                kind = "stage" if moves else "weights"
            changed = self._apply(model, current, entries, kind, actor, reason=reason)
        if changed:
            self._notify(model)
        return self.table(model)

    def promote(self, model: str, version: str, *, actor: str, reason: str = "") -> RoutingTable:
        """Make ``version`` champion at 100; the old champion becomes challenger at 0."""
        with self._write_lock:
            current = self.versions(model)
            if self._find(model, current, version).stage == "champion":
                raise InvalidInputError(
                    f"version: {version!r} is the champion of {model!r} already", field="version"
                )
            self._guard(model, f"promotion of {version}")
            changes = [RoutingEntry(version, "champion", 100)] + [
                RoutingEntry(v.version, "challenger", 0)
                for v in current
                if v.stage in SERVING and v.version != version
            ]
            previous = champion_of(current) or ""
            self._apply(model, current, changes, "promote", actor,
                        previous_champion=previous, reason=reason)  # fmt: skip
        self._notify(model)
        return self.table(model)

    def rollback(
        self,
        model: str,
        *,
        actor: str,
        to_version: str | None = None,
        healthy: Callable[[str], bool] = lambda version: True,
        reason: str = "",
        dry_run: bool = False,
    ) -> RoutingTable:
        """Restore an earlier champion at 100 and archive the failing one.

        Without ``to_version``: the most recent earlier champion that ``healthy`` accepts,
        skipping versions rolled back from since they were last champion. ``dry_run``:
        the table it would make, with nothing changed.
        """
        with self._write_lock:
            current = self.versions(model)
            failing = champion_of(current) or ""
            if to_version is not None:
                candidates = [self._find(model, current, to_version).version]
                if to_version == failing:
                    raise InvalidInputError(
                        f"version: {to_version!r} is the champion of {model!r} already",
                        field="version",
                    )
            else:
                candidates = rollback_candidates(self._store.deployments(model), failing)
            target = next((c for c in candidates if healthy(c)), None)
            skipped = candidates[: candidates.index(target)] if target else candidates
            if target is None:
                why = f"{', '.join(skipped)} not healthy" if skipped else "no earlier champion"
                raise NoRollbackTargetError(
                    f"version: no version of {model!r} to roll back to ({why}; versions rolled "
                    "back from count only once they are champion again)",
                    field="version",
                )
            changes = [RoutingEntry(target, "champion", 100)] + [
                RoutingEntry(v.version, "archived" if v.version == failing else "challenger", 0)
                for v in current
                if v.stage in SERVING and v.version != target
            ]
            if dry_run:
                return self._preview(model, current, changes)
            self._apply(model, current, changes, "rollback", actor, rolled_back_from=failing,
                        skipped=",".join(skipped), reason=reason)  # fmt: skip
        self._notify(model)
        return self.table(model)

    def retire(
        self, model: str, version: str, *, actor: str, reason: str = "", dry_run: bool = False
    ) -> RoutingTable:
        """Take a failing challenger or shadow out of traffic: archived at weight 0, its
        weight to the champion, which stays. ``dry_run``: the table it would make."""
        with self._write_lock:
            current = self.versions(model)
            found = self._find(model, current, version)
            champion = champion_of(current)
            if found.stage == "champion":
                raise InvalidInputError(
                    f"version: {version!r} is the champion of {model!r}: roll it back instead",
                    field="version",
                )
            if found.stage == "archived":
                raise InvalidInputError(
                    f"version: {version!r} of {model!r} is archived already", field="version"
                )
            if champion is None:
                raise InvalidInputError(
                    f"model: {model!r} has no champion to take {version!r}'s traffic",
                    field="model",
                )
            kept = self._find(model, current, champion)
            changes = [
                RoutingEntry(version, "archived", 0),
                RoutingEntry(champion, "champion", kept.weight + found.weight),
            ]
            if dry_run:
                return self._preview(model, current, changes)
            self._apply(model, current, changes, "stage", actor, retired=version, reason=reason)
        self._notify(model)
        return self.table(model)

    # -- internals --------------------------------------------------------------------------

    def _preview(
        self, model: str, current: list[ModelVersion], changes: Sequence[RoutingEntry]
    ) -> RoutingTable:
        """The table ``changes`` would make (validated), with nothing stored."""
        moved = {c.version: c for c in changes}
        merged = [moved.get(v.version, _entry(v)) for v in current]
        validate_weights(merged)
        revision = self._store.revision(model)
        return RoutingTable(
            model=model, revision=revision[0] if revision else 0,
            entries=[e for e in merged if e.stage != "archived"],
            updated_at=self._clock.now(), fallback=champion_of(merged),
        )  # fmt: skip

    def _apply(
        self,
        model: str,
        current: list[ModelVersion],
        changes: Sequence[RoutingEntry],
        kind: DeploymentKind,
        actor: str,
        **detail: str,
    ) -> bool:
        """Validate the table ``changes`` make and store them; False when nothing changes."""
        before = {v.version: _entry(v) for v in current}
        merged = [
            *changes,
            *(e for name, e in before.items() if name not in {c.version for c in changes}),
        ]
        validate_weights(merged)
        changed = [c for c in changes if before[c.version] != c]
        if not changed:
            return False
        moved = {e.version: e for e in merged}
        after = [
            msgspec.structs.replace(v, stage=moved[v.version].stage, weight=moved[v.version].weight)
            for v in current
        ]
        # About the champion afterwards: for a promotion or a rollback, the one restored.
        event = self._event(model, champion_of(after) or "", kind, after, actor, **detail)
        self._store.set_routing(model, changed, event)
        return True

    @staticmethod
    def _find(model: str, current: list[ModelVersion], version: str) -> ModelVersion:
        for found in current:
            if found.version == version:
                return found
        raise NotFoundError(f"no version {version!r} of model {model!r}")

    def _event(
        self,
        model: str,
        version: str,
        kind: DeploymentKind,
        after: Sequence[ModelVersion],
        actor: str,
        **detail: str,
    ) -> Deployment:
        live = [_entry(v) for v in after if v.stage != "archived"]
        facts = {"champion": champion_of(after) or "", "routing": routing_text(live)}
        facts.update({k: v for k, v in detail.items() if v})
        return Deployment(model, version, self._clock.now(), kind, facts, actor)

    def _condition(self, model: str) -> threading.Condition:
        with self._conditions_lock:
            return self._conditions.setdefault(model, threading.Condition())

    def wake(self, model: str | None = None) -> None:
        """Wake the long-polls of ``model`` (of every model with None): its table may have
        changed elsewhere (another replica wrote it)."""
        with self._conditions_lock:
            if model is None:
                conditions = list(self._conditions.values())
            else:
                conditions = [c for c in [self._conditions.get(model)] if c is not None]
        for condition in conditions:
            with condition:
                condition.notify_all()

    def _notify(self, model: str) -> None:
        self.wake(model)
        if self.on_change is not None:
            try:
                self.on_change(model)
            except Exception:  # the change is stored: the others see it at their next poll
                logging.getLogger("mlpulse.registry").exception("change listener failed")
        if self.on_deployment is not None:
            latest = self.deployments(model=model)
            if latest:
                try:
                    self.on_deployment(latest[-1])
                except Exception:  # a listener (the incident timeline) must not undo a change
                    logging.getLogger("mlpulse.registry").exception("deployment listener failed")

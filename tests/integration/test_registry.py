"""The registry service over the real SQLite store: versions, stages, history, long-poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlpulse.adapters.store.sqlite_registry import SQLiteRegistryStore
from mlpulse.domain.registry import RoutingEntry
from mlpulse.errors import InvalidInputError, NotFoundError
from mlpulse.services.registry import NoRollbackTargetError, Registry


class SteppingClock:
    """A clock that moves one second every time it is read."""

    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def now(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteRegistryStore]:
    opened = SQLiteRegistryStore(tmp_path / "registry.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def registry(store: SQLiteRegistryStore) -> Registry:
    return Registry(store, SteppingClock())


def stages(registry: Registry, model: str = "fraud") -> dict[str, tuple[str, int]]:
    return {v.version: (v.stage, v.weight) for v in registry.versions(model)}


def register(registry: Registry, *versions: str, model: str = "fraud") -> None:
    for version in versions:
        registry.register(model, version, f"s3://models/{model}/{version}", {}, actor="ci")


def test_registry_makes_the_first_version_champion_and_later_ones_shadow(
    registry: Registry,
) -> None:
    first = registry.register("fraud", "v1", "s3://m/v1", {"git": "abc"}, actor="ci")
    second = registry.register("fraud", "v2", "s3://m/v2", {}, actor="ci")

    assert (first.stage, first.weight, first.metadata) == ("champion", 100, {"git": "abc"})
    assert (second.stage, second.weight) == ("shadow", 0)
    table = registry.table("fraud")
    assert table.revision == 2
    assert table.fallback == "v1"
    assert [(e.version, e.stage, e.weight) for e in table.entries] == [
        ("v1", "champion", 100),
        ("v2", "shadow", 0),
    ]
    assert [(d.kind, d.version, d.actor) for d in registry.deployments("fraud")] == [
        ("register", "v1", "ci"),
        ("register", "v2", "ci"),
    ]


def test_registry_refuses_a_version_registered_twice(registry: Registry) -> None:
    register(registry, "v1")

    with pytest.raises(InvalidInputError, match="registered already") as caught:
        register(registry, "v1")

    assert caught.value.field == "version"
    assert registry.table("fraud").revision == 1


def test_registry_set_routing_bumps_the_revision_and_records_a_deployment(
    registry: Registry,
) -> None:
    register(registry, "v1", "v2")

    table = registry.set_routing(
        "fraud",
        [RoutingEntry("v1", "champion", 90), RoutingEntry("v2", "challenger", 10)],
        actor="alice",
        reason="canary",
    )

    assert table.revision == 3
    assert stages(registry) == {"v1": ("champion", 90), "v2": ("challenger", 10)}
    last = registry.deployments("fraud")[-1]
    assert last.kind == "stage"  # v2 moved from shadow to challenger
    assert last.detail == {
        "champion": "v1",
        "routing": "v1=champion:90,v2=challenger:10",
        "reason": "canary",
    }
    weights = registry.set_routing(
        "fraud",
        [RoutingEntry("v1", "champion", 75), RoutingEntry("v2", "challenger", 25)],
        actor="alice",
    )
    assert weights.revision == 4
    assert registry.deployments("fraud")[-1].kind == "weights"


def test_registry_set_routing_that_changes_nothing_keeps_the_revision(registry: Registry) -> None:
    register(registry, "v1")

    table = registry.set_routing("fraud", [RoutingEntry("v1", "champion", 100)], actor="a")

    assert table.revision == 1
    assert len(registry.deployments("fraud")) == 1


def test_registry_set_routing_refuses_an_invalid_table_and_changes_nothing(
    registry: Registry,
) -> None:
    register(registry, "v1", "v2")

    with pytest.raises(InvalidInputError) as caught:
        registry.set_routing("fraud", [RoutingEntry("v2", "challenger", 10)], actor="a")

    assert caught.value.field == "versions"
    assert "got 110" in caught.value.message
    with pytest.raises(InvalidInputError) as unlisted:
        registry.set_routing("fraud", [RoutingEntry("v2", "champion", 100)], actor="a")
    assert unlisted.value.field == "versions[0].stage"
    assert "'v1' is the champion and is not listed" in unlisted.value.message
    with pytest.raises(InvalidInputError) as unknown:
        registry.set_routing("fraud", [RoutingEntry("v9", "shadow", 0)], actor="a")
    assert unknown.value.field == "versions[0].version"
    assert registry.table("fraud").revision == 2
    assert stages(registry) == {"v1": ("champion", 100), "v2": ("shadow", 0)}


def test_registry_promote_keeps_the_old_champion_as_a_challenger_at_zero(
    registry: Registry,
) -> None:
    register(registry, "v1", "v2")

    table = registry.promote("fraud", "v2", actor="ci")

    assert table.fallback == "v2"
    assert stages(registry) == {"v1": ("challenger", 0), "v2": ("champion", 100)}
    last = registry.deployments("fraud")[-1]
    assert (last.kind, last.version, last.detail["previous_champion"]) == ("promote", "v2", "v1")
    with pytest.raises(InvalidInputError, match="champion of 'fraud' already"):
        registry.promote("fraud", "v2", actor="ci")
    with pytest.raises(NotFoundError):
        registry.promote("fraud", "v9", actor="ci")


def test_registry_rollback_restores_the_previous_champion_and_archives_the_failing_one(
    registry: Registry,
) -> None:
    register(registry, "v1", "v2")
    registry.promote("fraud", "v2", actor="ci")

    table = registry.rollback("fraud", actor="oncall", reason="error rate 12%")

    assert table.fallback == "v1"
    assert [(e.version, e.stage, e.weight) for e in table.entries] == [("v1", "champion", 100)]
    assert stages(registry) == {"v1": ("champion", 100), "v2": ("archived", 0)}
    last = registry.deployments("fraud")[-1]
    assert (last.kind, last.version, last.actor) == ("rollback", "v1", "oncall")
    assert last.detail["rolled_back_from"] == "v2"
    assert last.detail["reason"] == "error rate 12%"


def test_registry_rollback_skips_an_unhealthy_candidate(registry: Registry) -> None:
    register(registry, "v1", "v2", "v3")
    registry.promote("fraud", "v2", actor="ci")
    registry.promote("fraud", "v3", actor="ci")

    table = registry.rollback("fraud", actor="runbook", healthy=lambda v: v != "v2")

    assert table.fallback == "v1"
    assert stages(registry) == {
        "v1": ("champion", 100),
        "v2": ("challenger", 0),
        "v3": ("archived", 0),
    }
    assert registry.deployments("fraud")[-1].detail["skipped"] == "v2"


def test_registry_rollback_does_not_return_to_a_version_it_rolled_back_from(
    registry: Registry,
) -> None:
    register(registry, "v1", "v2")
    registry.promote("fraud", "v2", actor="ci")
    registry.rollback("fraud", actor="oncall")

    with pytest.raises(NoRollbackTargetError, match="no version of 'fraud' to roll back to"):
        registry.rollback("fraud", actor="oncall")


def test_registry_rollback_raises_a_clear_error_when_no_candidate_is_healthy(
    registry: Registry,
) -> None:
    register(registry, "v1", "v2")
    registry.promote("fraud", "v2", actor="ci")
    revision = registry.table("fraud").revision

    with pytest.raises(NoRollbackTargetError, match=r"v1 not healthy") as caught:
        registry.rollback("fraud", actor="runbook", healthy=lambda v: False)

    assert isinstance(caught.value, InvalidInputError)  # answered as 422
    assert registry.table("fraud").revision == revision


def test_registry_rollback_to_a_named_version(registry: Registry) -> None:
    register(registry, "v1", "v2", "v3")
    registry.promote("fraud", "v2", actor="ci")
    registry.promote("fraud", "v3", actor="ci")

    registry.rollback("fraud", actor="oncall", to_version="v1")

    assert stages(registry)["v1"] == ("champion", 100)
    assert stages(registry)["v3"] == ("archived", 0)
    with pytest.raises(InvalidInputError, match="champion of 'fraud' already"):
        registry.rollback("fraud", actor="oncall", to_version="v1")


def test_registry_history_survives_a_reopen_and_filters_by_model_and_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry.sqlite"
    clock = SteppingClock()
    first = SQLiteRegistryStore(path)
    registry = Registry(first, clock)
    register(registry, "v1", "v2")
    register(registry, "a1", model="recs")
    registry.promote("fraud", "v2", actor="ci")
    first.close()

    reopened = SQLiteRegistryStore(path)
    try:
        again = Registry(reopened, clock)
        assert again.table("fraud").revision == 3
        assert again.table("recs").revision == 1
        events = again.deployments()
        assert [(d.model, d.kind) for d in events] == [
            ("fraud", "register"), ("fraud", "register"), ("recs", "register"),
            ("fraud", "promote"),
        ]  # fmt: skip
        assert [d.kind for d in again.deployments("fraud", since=events[2].at)] == ["promote"]
        assert reopened.models() == ["fraud", "recs"]
    finally:
        reopened.close()


def test_registry_unknown_model_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFoundError):
        registry.table("nope")
    with pytest.raises(NotFoundError):
        registry.wait_for_change("nope", 0, 0.01)


def test_wait_for_change_returns_within_50ms_of_a_change_from_another_thread(
    registry: Registry,
) -> None:
    register(registry, "v1", "v2")
    revision = registry.table("fraud").revision
    changed_at: list[float] = []

    def change() -> None:
        time.sleep(0.2)
        changed_at.append(time.monotonic())
        registry.promote("fraud", "v2", actor="ci")

    writer = threading.Thread(target=change)
    writer.start()
    table = registry.wait_for_change("fraud", revision, timeout=5.0)
    returned_at = time.monotonic()
    writer.join()

    assert table.revision == revision + 1
    assert table.fallback == "v2"
    assert returned_at - changed_at[0] < 0.05


def test_wait_for_change_returns_at_once_when_the_revision_already_differs(
    registry: Registry,
) -> None:
    register(registry, "v1")

    started = time.monotonic()
    table = registry.wait_for_change("fraud", 0, timeout=5.0)

    assert time.monotonic() - started < 0.05
    assert table.revision == 1


def test_wait_for_change_returns_the_same_table_after_the_timeout(registry: Registry) -> None:
    register(registry, "v1")

    started = time.monotonic()
    table = registry.wait_for_change("fraud", 1, timeout=0.3)
    waited = time.monotonic() - started

    assert table.revision == 1
    assert 0.3 <= waited < 0.5


def test_wait_for_change_is_woken_by_close(registry: Registry) -> None:
    register(registry, "v1")
    threading.Timer(0.1, registry.close).start()

    started = time.monotonic()
    registry.wait_for_change("fraud", 1, timeout=5.0)

    assert time.monotonic() - started < 1.0

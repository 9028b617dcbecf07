"""The routing table and the pure choice of a version by hash of the unit id."""

from __future__ import annotations

import hashlib
from collections import Counter

import msgspec
import pytest

from mlpulse.errors import ConfigurationError
from mlpulse.sdk.routing_table import (
    Choice,
    RoutingEntry,
    RoutingTable,
    bucket,
    check_routable,
    choose,
)

UNITS = [f"user-{i}" for i in range(100_000)]


def table(*entries: tuple[str, str, int], fallback: str | None = None) -> RoutingTable:
    return RoutingTable(
        "recs",
        1,
        tuple(RoutingEntry(v, s, w) for v, s, w in entries),  # type: ignore[arg-type]
        fallback=fallback,
    )


def shares(routing: RoutingTable) -> dict[str, float]:
    counts = Counter(choose(routing, unit, model="recs").version for unit in UNITS)
    return {version: count / len(UNITS) for version, count in counts.items()}


def test_routing_table_decodes_the_collector_json() -> None:
    body = (
        b'{"model": "recs", "revision": 7, "updated_at": 1.5, "fallback": "v1",'
        b' "entries": [{"version": "v1", "stage": "champion", "weight": 90},'
        b' {"version": "v2", "stage": "challenger", "weight": 10},'
        b' {"version": "v3", "stage": "shadow", "weight": 0},'
        b' {"version": "v0", "stage": "archived", "weight": 0}]}'
    )
    decoded = msgspec.json.decode(body, type=RoutingTable)
    assert decoded.revision == 7 and decoded.fallback == "v1"
    assert [e.version for e in decoded.routed] == ["v1", "v2"]
    assert decoded.shadows == ("v3",)


def test_bucket_is_the_first_8_bytes_of_blake2b_of_model_and_unit() -> None:
    digest = hashlib.blake2b(b"recs:user-42").digest()
    assert bucket("recs", "user-42") == int.from_bytes(digest[:8], "big") % 10_000
    # The model is part of the key: a unit is placed independently for each model.
    assert sum(bucket("recs", u) != bucket("fraud", u) for u in UNITS[:1000]) > 990


def test_choose_is_sticky_for_a_unit_while_weights_do_not_change() -> None:
    first = table(("v1", "champion", 50), ("v2", "challenger", 50))
    # Same weights, entries listed in another order, another revision: same answers.
    second = RoutingTable("recs", 2, tuple(reversed(first.entries)))
    for unit in UNITS[:2000]:
        assert choose(first, unit, model="recs") == choose(second, unit, model="recs")


def test_choose_splits_units_by_weight_within_one_percent() -> None:
    routing = table(("a", "champion", 70), ("b", "challenger", 20), ("c", "challenger", 10))
    observed = shares(routing)
    for version, weight in (("a", 0.7), ("b", 0.2), ("c", 0.1)):
        assert abs(observed[version] - weight) < 0.01


def test_choose_moves_only_units_in_the_moved_range_when_one_weight_changes() -> None:
    before = table(("v1", "champion", 95), ("v2", "challenger", 5))
    after = table(("v1", "champion", 75), ("v2", "challenger", 25))
    moved = 0
    for unit in UNITS:
        old = choose(before, unit, model="recs").version
        new = choose(after, unit, model="recs").version
        if old == "v2":
            assert new == "v2"  # monotone: a challenger unit stays on the challenger
        moved += old != new
    assert abs(moved / len(UNITS) - 0.20) < 0.01


def test_choose_moves_units_only_between_neighbours_whose_boundary_moved() -> None:
    before = table(("a", "champion", 50), ("b", "challenger", 30), ("c", "challenger", 20))
    after = table(("a", "champion", 50), ("b", "challenger", 20), ("c", "challenger", 30))
    for unit in UNITS[:20_000]:
        old = choose(before, unit, model="recs").version
        new = choose(after, unit, model="recs").version
        assert old == new or (old, new) == ("b", "c")


def test_choose_reports_shadow_versions_for_mirrored_calls() -> None:
    routing = table(
        ("v1", "champion", 100), ("v9", "shadow", 0), ("v3", "shadow", 0), ("v0", "archived", 0)
    )
    choice = choose(routing, "user-1", model="recs")
    assert choice == Choice("v1", ("v3", "v9"))


def test_choose_never_routes_to_archived_or_zero_weight_versions() -> None:
    routing = table(("v1", "champion", 100), ("v2", "challenger", 0), ("v0", "archived", 100))
    assert set(shares(routing)) == {"v1"}


def test_choose_uses_the_fallback_when_no_version_has_traffic() -> None:
    routing = table(("v1", "champion", 0), fallback="v1")
    assert choose(routing, "user-1", model="recs").version == "v1"
    assert check_routable(routing) is None


def test_choose_raises_a_clear_error_when_there_is_no_version_to_call() -> None:
    routing = table(("v1", "archived", 100))
    assert check_routable(routing) is not None
    with pytest.raises(ConfigurationError, match="no version any traffic"):
        choose(routing, "user-1", model="recs")


def test_choose_reads_weights_that_do_not_sum_to_100_as_proportions() -> None:
    observed = shares(table(("a", "champion", 3), ("b", "challenger", 1)))
    assert abs(observed["a"] - 0.75) < 0.01

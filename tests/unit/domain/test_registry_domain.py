"""Routing-table validation and the choice of rollback candidates (pure)."""

from __future__ import annotations

import pytest

from mlpulse.domain.registry import (
    Deployment,
    RoutingEntry,
    Stage,
    rollback_candidates,
    routing_text,
    validate_weights,
)
from mlpulse.errors import InvalidInputError


def entries(*specs: tuple[str, Stage, int]) -> list[RoutingEntry]:
    return [RoutingEntry(version, stage, weight) for version, stage, weight in specs]


@pytest.mark.parametrize(
    "table",
    [
        entries(("v1", "champion", 100)),
        entries(("v1", "champion", 90), ("v2", "challenger", 10)),
        entries(("v1", "champion", 0), ("v2", "challenger", 100), ("v3", "shadow", 0)),
        entries(("v1", "challenger", 50), ("v2", "challenger", 50), ("v0", "archived", 0)),
    ],
    ids=routing_text,
)
def test_validate_weights_accepts_tables_that_route_all_traffic(table: list[RoutingEntry]) -> None:
    validate_weights(table)


@pytest.mark.parametrize(
    ("table", "field", "words"),
    [
        (entries(("v1", "champion", 100), ("v2", "challenger", 101)), "versions[1].weight",
         "int in [0, 100]"),
        (entries(("v1", "champion", -1)), "versions[0].weight", "int in [0, 100]"),
        (entries(("v1", "champion", 90), ("v2", "shadow", 10)), "versions[1].weight",
         "shadow version takes no traffic"),
        (entries(("v1", "champion", 100), ("v2", "archived", 5)), "versions[1].weight",
         "archived version takes no traffic"),
        (entries(("v1", "champion", 50), ("v2", "champion", 50)), "versions[1].stage",
         "at most one champion"),
        (entries(("v1", "champion", 90), ("v2", "challenger", 20)), "versions",
         "sum to 100; got 110 (v1=90, v2=20)"),
        (entries(("v1", "shadow", 0)), "versions", "got 0 (no serving version)"),
        (entries(("v1", "champion", 100), ("v1", "shadow", 0)), "versions[1].version",
         "listed twice"),
    ],
)  # fmt: skip
def test_validate_weights_names_the_field_when_table_cannot_route(
    table: list[RoutingEntry], field: str, words: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_weights(table)

    assert caught.value.field == field
    assert words in caught.value.message


def test_validate_weights_refuses_a_weight_that_is_not_an_int() -> None:
    table = [RoutingEntry("v1", "champion", 100.0)]  # type: ignore[arg-type]  # what a caller might pass

    with pytest.raises(InvalidInputError, match=r"versions\[0\]\.weight"):
        validate_weights(table)


def test_validate_weights_uses_the_given_field_prefix() -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_weights(entries(("v1", "champion", 100), ("v2", "shadow", 3)), field="routing")

    assert caught.value.field == "routing[1].weight"


def _event(kind: str, champion: str, **detail: str) -> Deployment:
    return Deployment("m", champion, 0.0, kind, {"champion": champion, **detail}, "t")  # type: ignore[arg-type]  # kinds from the test table


def test_rollback_candidates_are_earlier_champions_most_recent_first() -> None:
    history = [_event("register", "v1"), _event("promote", "v2"), _event("promote", "v3")]

    assert rollback_candidates(history, failing="v3") == ["v2", "v1"]


def test_rollback_candidates_skip_a_version_rolled_back_from_until_it_is_champion_again() -> None:
    history = [
        _event("register", "v1"),
        _event("promote", "v2"),
        _event("rollback", "v1", rolled_back_from="v2"),
        _event("promote", "v3"),
    ]
    assert rollback_candidates(history, failing="v3") == ["v1"]

    history.append(_event("promote", "v2"))  # v2 fixed and promoted by hand
    history.append(_event("promote", "v4"))
    assert rollback_candidates(history, failing="v4") == ["v2", "v3", "v1"]

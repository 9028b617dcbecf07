"""The port methods the dashboard draws from, over every store: the series store's
bucketed points and the traffic source's outcome buckets (DuckDB, PostgreSQL and the
fakes)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

import pytest

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.duckdb_traffic import DuckDBTraffic
from mlpulse.adapters.store.postgres.events import PostgresEventStore
from mlpulse.adapters.store.postgres.outcomes import PostgresTraffic
from mlpulse.adapters.store.postgres.series import PostgresSeriesStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.domain.events import Outcome
from mlpulse.domain.series import BucketedPoint, MetricPoint, OutcomeBucket
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import ParameterError
from mlpulse.ports import EventStore, SeriesStore, TrafficSource
from mlpulse.testing.fakes import InMemoryEventStore, InMemorySeriesStore
from tests.contract.conftest import postgres_database

T = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a whole hour


class _Events(EventStore, TrafficSource, Protocol):
    """Where outcomes are appended and where they are read back bucketed."""


def _duckdb_series(tmp: Path, stack: ExitStack, _: pytest.FixtureRequest) -> SeriesStore:
    events = DuckDBEventStore(tmp / "events.duckdb")
    stack.callback(events.close)
    series = DuckDBSeriesStore(events.connection(), SQLiteProfileStore(tmp / "profiles.sqlite"))
    stack.callback(series.close)
    return series


def _duckdb_traffic(
    tmp: Path, stack: ExitStack, _: pytest.FixtureRequest
) -> tuple[EventStore, TrafficSource]:
    events = DuckDBEventStore(tmp / "events.duckdb")
    stack.callback(events.close)
    return events, DuckDBTraffic(events)


def _fake_traffic(
    tmp: Path, stack: ExitStack, _: pytest.FixtureRequest
) -> tuple[EventStore, TrafficSource]:
    events = InMemoryEventStore()
    return events, events


def _postgres_traffic(
    tmp: Path, stack: ExitStack, request: pytest.FixtureRequest
) -> tuple[EventStore, TrafficSource]:
    database = postgres_database(request)
    events = PostgresEventStore(database)
    stack.callback(events.close)
    return events, PostgresTraffic(database, events)


SERIES: dict[str, Callable[[Path, ExitStack, pytest.FixtureRequest], SeriesStore]] = {
    "duckdb": _duckdb_series,
    "in-memory": lambda tmp, stack, _: InMemorySeriesStore(),
    "postgres": lambda tmp, stack, request: PostgresSeriesStore(postgres_database(request)),
}
TRAFFIC: dict[
    str, Callable[[Path, ExitStack, pytest.FixtureRequest], tuple[EventStore, TrafficSource]]
] = {
    "duckdb": _duckdb_traffic,
    "in-memory": _fake_traffic,
    "postgres": _postgres_traffic,
}


@pytest.fixture(params=sorted(SERIES))
def series(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SeriesStore]:
    with ExitStack() as stack:
        yield SERIES[request.param](tmp_path, stack, request)


@pytest.fixture(params=sorted(TRAFFIC))
def traffic(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[EventStore, TrafficSource]]:
    with ExitStack() as stack:
        yield TRAFFIC[request.param](tmp_path, stack, request)


def _points(series: SeriesStore) -> None:
    def point(ts: float, value: float, **labels: str) -> MetricPoint:
        return MetricPoint(ts, "lat", {"model": "fraud", **labels}, value)

    series.append_points(
        [
            point(T, 1.0, version="v1"),
            point(T + 60, 3.0, version="v1"),
            point(T + 120, math.nan, version="v1"),  # left out of every aggregate
            point(T + 300, 10.0, version="v1"),  # the next 5-minute bucket
            point(T + 30, 7.0, version="v2"),
            point(T + 3600, 99.0, version="v1"),  # after the range's end
            MetricPoint(T, "lat", {"model": "other", "version": "v1"}, 50.0),
            MetricPoint(T, "errors", {"model": "fraud", "version": "v1"}, 0.5),
            MetricPoint(T + 600, "lat", {"model": "fraud", "version": "v3"}, math.nan),
        ]
    )


@pytest.mark.parametrize(
    ("aggregate", "first"),
    [("avg", 2.0), ("max", 3.0), ("min", 1.0), ("sum", 4.0)],
)
def test_series_store_buckets_points_by_epoch_aligned_buckets(
    series: SeriesStore, aggregate: str, first: float
) -> None:
    _points(series)

    rows = series.bucketed_points(
        "lat", matchers={"model": "fraud"}, start=T, end=T + 3599,
        bucket_s=300, aggregate=aggregate,
    )  # fmt: skip

    assert rows == [
        BucketedPoint(T, {"model": "fraud", "version": "v1"}, first, 2),
        BucketedPoint(T, {"model": "fraud", "version": "v2"}, 7.0, 1),
        BucketedPoint(T + 300, {"model": "fraud", "version": "v1"}, 10.0, 1),
    ]


def test_series_store_bucketed_points_include_the_end_and_filter_by_every_matcher(
    series: SeriesStore,
) -> None:
    _points(series)

    rows = series.bucketed_points(
        "lat", matchers={"model": "fraud", "version": "v1"}, start=T + 60, end=T + 3600,
        bucket_s=3600, aggregate="max",
    )  # fmt: skip

    assert [(r.ts, r.value, r.n) for r in rows] == [(T, 10.0, 2), (T + 3600, 99.0, 1)]


def test_series_store_refuses_an_unknown_aggregate(series: SeriesStore) -> None:
    with pytest.raises(ParameterError, match="aggregate"):
        series.bucketed_points(
            "lat", matchers={}, start=T, end=T + 60, bucket_s=60, aggregate="median"
        )


def test_series_store_bucketed_points_are_empty_without_points(series: SeriesStore) -> None:
    assert series.bucketed_points("lat", matchers={}, start=T, end=T + 60, bucket_s=60) == []


def _outcomes(events: EventStore) -> None:
    def outcome(name: str, offset: float, value: float, model: str | None = "shop") -> Outcome:
        return Outcome(name=name, value=value, model=model, timestamp=T + offset)

    events.append(
        AcceptedBatch(
            "b1",
            T + 7200,
            outcomes=[
                outcome("revenue", 10, 20.0),
                outcome("revenue", 3500, 5.5),
                outcome("click", 20, 1.0),
                outcome("revenue", 3600, 4.0),  # the next hour
                outcome("revenue", 30, 100.0, model="other"),
                outcome("revenue", 40, 1.0, model=None),
                outcome("revenue", 9000, 1.0),  # after the range's end
            ],
        )
    ).result(10)


def test_traffic_source_lists_the_models_with_outcomes(
    traffic: tuple[EventStore, TrafficSource],
) -> None:
    events, source = traffic
    assert source.outcome_models() == []

    _outcomes(events)

    assert source.outcome_models() == ["other", "shop"]


def test_traffic_source_buckets_a_models_outcomes_per_name(
    traffic: tuple[EventStore, TrafficSource],
) -> None:
    events, source = traffic
    _outcomes(events)

    rows = source.outcome_buckets("shop", start=T, end=T + 3600, bucket_s=3600)

    assert rows == [
        OutcomeBucket(T, "click", 1, 1.0, 1),
        OutcomeBucket(T, "revenue", 2, 25.5, 2),
        OutcomeBucket(T + 3600, "revenue", 1, 4.0, 1),
    ]
    assert source.outcome_buckets("nobody", start=T, end=T + 3600, bucket_s=3600) == []

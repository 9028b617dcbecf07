"""One suite over every SeriesStore (and every LabelStore): the fakes keep the promises."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

import numpy as np
import pytest

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.postgres.events import PostgresEventStore
from mlpulse.adapters.store.postgres.series import PostgresSeriesStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Label, Outcome, Prediction
from mlpulse.domain.series import MetricPoint, MinuteProfile, StoredReference
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.ports import EventStore, LabelStore, SeriesStore
from mlpulse.testing.fakes import InMemoryEventStore, InMemorySeriesStore
from tests.contract.conftest import postgres_database

T = 1_767_225_600.0


def _duckdb_series(tmp: Path, stack: ExitStack, _: pytest.FixtureRequest) -> SeriesStore:
    events = DuckDBEventStore(tmp / "mlpulse.duckdb")
    stack.callback(events.close)
    series = DuckDBSeriesStore(events.connection(), SQLiteProfileStore(tmp / "profiles.sqlite"))
    stack.callback(series.close)
    return series


SERIES_STORES: dict[str, Callable[[Path, ExitStack, pytest.FixtureRequest], SeriesStore]] = {
    "duckdb": _duckdb_series,
    "in-memory": lambda tmp, stack, _: InMemorySeriesStore(),
    "postgres": lambda tmp, stack, request: PostgresSeriesStore(postgres_database(request)),
}


class _LabelledEventStore(EventStore, LabelStore, Protocol):
    """Both ports at once, as both event stores implement them."""


LABEL_STORES: dict[str, Callable[[Path, pytest.FixtureRequest], _LabelledEventStore]] = {
    "duckdb": lambda tmp, _: DuckDBEventStore(tmp / "events.duckdb"),
    "in-memory": lambda tmp, _: InMemoryEventStore(),
    "postgres": lambda _, request: PostgresEventStore(postgres_database(request)),
}


@pytest.fixture(params=sorted(SERIES_STORES))
def series(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SeriesStore]:
    with ExitStack() as stack:
        yield SERIES_STORES[request.param](tmp_path, stack, request)


@pytest.fixture(params=sorted(LABEL_STORES))
def labelled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_LabelledEventStore]:
    store = LABEL_STORES[request.param](tmp_path, request)
    yield store
    store.close()


def test_series_store_reads_profiles_of_a_half_open_minute_range(series: SeriesStore) -> None:
    def row(minute: float, version: str, segment: str, writer: str) -> MinuteProfile:
        return MinuteProfile(
            "fraud", version, segment, minute, writer, f"{minute}{writer}".encode()
        )

    rows = [
        row(T + 60, "v1", "", "b"),
        row(T, "v2", "", "a"),
        row(T, "v1", '{"c":"DE"}', "a"),
        row(T, "v1", "", "b"),
        row(T, "v1", "", "a"),
        row(T + 120, "v1", "", "a"),
        MinuteProfile("other", "v1", "", T, "a", b""),
    ]
    series.append_profiles(rows[:3])
    series.append_profiles(rows[3:])
    series.append_profiles([])
    got = series.read_profiles("fraud", start=T, end=T + 120)
    assert got == [rows[4], rows[3], rows[2], rows[1], rows[0]]
    assert series.read_profiles("fraud", start=T, end=T + 121, version="v1")[-1] == rows[5]
    assert series.read_profiles("fraud", start=T + 1, end=T + 60) == []


def test_series_store_keeps_one_point_per_name_labels_and_time(series: SeriesStore) -> None:
    series.append_points(
        [
            MetricPoint(T, "psi", {"m": "a", "f": "x"}, 1.0, "ok"),
            MetricPoint(T, "psi", {"m": "a"}, 2.0),
            MetricPoint(T, "psi", {}, 3.0),
            MetricPoint(T + 60, "psi", {"m": "a"}, 4.0),
        ]
    )
    series.append_points([MetricPoint(T, "psi", {"f": "x", "m": "a"}, 5.0, "alert")])
    got = series.query_points("psi", matchers={}, start=T, end=T + 60)
    # By time, then by the labels' canonical text.
    assert got == [
        MetricPoint(T, "psi", {"f": "x", "m": "a"}, 5.0, "alert"),
        MetricPoint(T, "psi", {"m": "a"}, 2.0),
        MetricPoint(T, "psi", {}, 3.0),
        MetricPoint(T + 60, "psi", {"m": "a"}, 4.0),
    ]
    assert [p.value for p in series.query_points("psi", matchers={"m": "a"}, start=T, end=T)] == [
        5.0,
        2.0,
    ]
    assert series.query_points("psi", matchers={"m": "b"}, start=T, end=T + 60) == []
    assert series.query_points("nope", matchers={}, start=T, end=T + 60) == []


def test_series_store_latest_points_ignore_older_recomputes(series: SeriesStore) -> None:
    series.append_points([MetricPoint(T + 60, "b", {"m": "x"}, 1.0)])
    series.append_points([MetricPoint(T, "b", {"m": "x"}, 2.0), MetricPoint(T, "a", {}, 3.0)])
    series.append_points([MetricPoint(T + 60, "b", {"m": "x"}, 4.0, "alert")])
    assert series.latest_points() == [
        MetricPoint(T, "a", {}, 3.0),
        MetricPoint(T + 60, "b", {"m": "x"}, 4.0, "alert"),
    ]


def test_series_store_falls_back_to_the_reference_of_every_version(series: SeriesStore) -> None:
    wide = StoredReference("fraud", "", T, "upload:train.parquet", b"w", b"s")
    series.put_reference(wide)
    series.put_reference(StoredReference("fraud", "v1", T, "window:a", b"1"))
    newer = StoredReference("fraud", "v1", T + 1, "window:b", b"2")
    series.put_reference(newer)
    assert series.get_reference("fraud", "v1") == newer
    assert series.get_reference("fraud", "v9") == wide
    assert series.get_reference("fraud", "") == wide
    assert series.get_reference("credit", "v1") is None


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("kind", sorted(set(SERIES_STORES) - {"in-memory"}))
def test_series_stores_answer_a_random_history_identically(
    tmp_path: Path, seed: int, kind: str, request: pytest.FixtureRequest
) -> None:
    rng = np.random.default_rng(seed)
    with ExitStack() as stack:
        stores = [SERIES_STORES[k](tmp_path, stack, request) for k in ("in-memory", kind)]
        for _ in range(20):
            points = [
                MetricPoint(
                    T + float(rng.integers(0, 5)) * 60 + float(rng.integers(0, 3)) * 1e-6,
                    str(rng.choice(["psi", "accuracy"])),
                    {k: str(rng.choice(["a", "b"])) for k in ("m", "f") if rng.random() < 0.7},
                    float(rng.normal()),
                    str(rng.choice(["ok", "alert"])) if rng.random() < 0.5 else None,
                )
                for _ in range(int(rng.integers(0, 6)))
            ]
            profiles = [
                MinuteProfile("fraud", str(rng.choice(["v1", "v2"])), "", T + i * 60.0, "w", b"p")
                for i in rng.integers(0, 5, size=int(rng.integers(0, 3)))
            ]
            for store in stores:
                store.append_points(points)
                store.append_profiles(profiles)
        answers = [
            (
                s.latest_points(),
                s.query_points("psi", matchers={"m": "a"}, start=T + 60, end=T + 180),
                s.query_points("accuracy", matchers={}, start=T, end=T + 300),
                s.read_profiles("fraud", start=T + 60, end=T + 240, version="v2"),
            )
            for s in stores
        ]
    assert answers[0] == answers[1]


def _send(
    store: EventStore,
    batch_id: str,
    received_at: float,
    *,
    predictions: list[Prediction] | None = None,
    labels: list[Label] | None = None,
    outcomes: list[Outcome] | None = None,
) -> None:
    batch = AcceptedBatch(
        batch_id,
        received_at,
        predictions=blocks_from_rows(predictions or []),
        labels=labels or [],
        outcomes=outcomes or [],
    )
    store.append(batch).result(10)


def test_label_store_joins_latest_labels_and_deletes_old_events(
    labelled: _LabelledEventStore,
) -> None:
    predictions = [
        Prediction(model="fraud", version=v, request_id=r, timestamp=T + i, prediction=0.5,
                   score=0.5, segment={"z": "1", "a": "2"})
        for i, (v, r) in enumerate([("v1", "a"), ("v2", "a"), ("v1", "b"), ("v1", "c")])
    ]  # fmt: skip
    _send(labelled, "p", T, predictions=predictions, outcomes=[Outcome(name="x", timestamp=T)])
    _send(labelled, "l1", T + 10, labels=[Label(model="fraud", request_id="a", label=0.0)])
    _send(
        labelled,
        "l2",
        T + 20,
        labels=[
            Label(model="fraud", request_id="a", label=1.0),
            Label(model="fraud", request_id="b", label="x"),
            Label(model="fraud", request_id="b", label="y"),
            Label(model="fraud", request_id="c", label=None),
        ],
    )
    rows = labelled.labelled_predictions("fraud", start=T, end=T + 3)
    assert (rows.request_id, rows.version, rows.label) == (
        ["a", "a", "b"],
        ["v1", "v2", "v1"],
        [1.0, 1.0, "y"],
    )
    assert (rows.ts, rows.total, rows.segment[0]) == ([T, T + 1, T + 2], 3, '{"a":"2","z":"1"}')
    v2 = labelled.labelled_predictions("fraud", start=T, end=T + 60, version="v2")
    assert (v2.request_id, v2.total) == (["a"], 1)
    assert labelled.labelled_since("fraud", since=T + 15) == [
        ("v1", T),
        ("v2", T + 1),
        ("v1", T + 2),
    ]
    assert labelled.delete_events_before(T + 1.5) == 3  # two predictions and the outcome
    assert labelled.count("prediction") == 2
    assert labelled.labelled_predictions("fraud", start=T, end=T + 60).request_id == ["b"]

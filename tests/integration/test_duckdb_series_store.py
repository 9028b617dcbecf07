"""The series store against a real DuckDB file, shared with the event store."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.duckdb_series import DuckDBSeriesStore
from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Prediction
from mlpulse.domain.series import MetricPoint, MinuteProfile, StoredReference
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import StoreClosedError, StoreError

MINUTE = 1_767_225_600.0


class Opened:
    """An event store and the series store on its database; reopened on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events = DuckDBEventStore(path)
        self.series = self._series()

    def _series(self) -> DuckDBSeriesStore:
        profiles = SQLiteProfileStore(self.path.with_suffix(".profiles.sqlite"))
        return DuckDBSeriesStore(self.events.connection(), profiles)

    def reopen(self) -> DuckDBSeriesStore:
        self.series.close()
        self.events.close()
        self.events = DuckDBEventStore(self.path)
        self.series = self._series()
        return self.series


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Opened]:
    handle = Opened(tmp_path / "mlpulse.duckdb")
    yield handle
    handle.events.close()


def _profile(minute: float, *, version: str = "v1", writer: str = "c1") -> MinuteProfile:
    return MinuteProfile("fraud", version, "", minute, writer, f"{version}@{minute}".encode())


def test_profiles_round_trip_and_are_read_by_minute_range(opened: Opened) -> None:
    rows = [_profile(MINUTE + 60 * i) for i in range(5)]
    rows += [_profile(MINUTE, version="v2"), _profile(MINUTE, writer="c2")]
    rows.append(MinuteProfile("other", "v1", '{"country":"DE"}', MINUTE, "c1", b"\x00\xff"))
    opened.series.append_profiles(rows)
    got = opened.series.read_profiles("fraud", start=MINUTE, end=MINUTE + 120)
    assert got == [rows[0], rows[6], rows[5], rows[1]]  # minute, version, segment, writer
    assert opened.series.read_profiles("fraud", start=MINUTE, end=MINUTE + 60, version="v2") == [
        rows[5]
    ]
    assert opened.series.read_profiles("other", start=MINUTE, end=MINUTE + 1) == [rows[7]]
    assert opened.series.read_profiles("fraud", start=MINUTE + 300, end=MINUTE + 900) == []


def test_profiles_of_one_key_written_twice_are_both_kept_for_merging(opened: Opened) -> None:
    first, late = _profile(MINUTE), MinuteProfile("fraud", "v1", "", MINUTE, "c1", b"late")
    opened.series.append_profiles([first])
    opened.series.append_profiles([late])
    assert opened.series.read_profiles("fraud", start=MINUTE, end=MINUTE + 60) == [first, late]


def test_a_point_with_the_same_name_labels_and_time_replaces_the_earlier(opened: Opened) -> None:
    labels = {"model": "fraud", "feature": "amount"}
    opened.series.append_points([MetricPoint(MINUTE, "psi", labels, 0.1, "ok")])
    # Labels in another order are the same series; the value and status are replaced.
    same = {"feature": "amount", "model": "fraud"}
    opened.series.append_points([MetricPoint(MINUTE, "psi", same, 0.4, "alert")])
    opened.series.append_points([MetricPoint(MINUTE + 60, "psi", labels, 0.2)])
    got = opened.series.query_points("psi", matchers={}, start=MINUTE, end=MINUTE + 60)
    assert [(p.ts, p.value, p.status) for p in got] == [
        (MINUTE, 0.4, "alert"),
        (MINUTE + 60, 0.2, None),
    ]
    (count,) = opened.events.query("SELECT count(*) FROM metric_points")[0]
    assert count == 2


def test_the_last_of_repeated_points_in_one_call_wins(opened: Opened) -> None:
    points = [MetricPoint(MINUTE, "psi", {"m": "a"}, float(i)) for i in range(3)]
    opened.series.append_points(points)
    (point,) = opened.series.query_points("psi", matchers={}, start=MINUTE, end=MINUTE)
    assert point.value == 2.0


def test_query_points_matches_labels_exactly_within_a_closed_time_range(opened: Opened) -> None:
    odd = {"model": "fraud", 'we"ird.key': "x"}
    opened.series.append_points(
        [
            MetricPoint(MINUTE, "psi", {"model": "fraud", "feature": "amount"}, 0.1),
            MetricPoint(MINUTE + 60, "psi", {"model": "fraud", "feature": "country"}, 0.2),
            MetricPoint(MINUTE + 120, "psi", {"model": "fraudster", "feature": "amount"}, 0.3),
            MetricPoint(MINUTE + 180, "psi", odd, 0.4),
            MetricPoint(MINUTE + 240, "psi", {"model": "fraud"}, 0.5),
            MetricPoint(MINUTE, "accuracy", {"model": "fraud"}, 0.9),
        ]
    )

    def values(matchers: dict[str, str], start: float, end: float) -> list[float]:
        got = opened.series.query_points("psi", matchers=matchers, start=start, end=end)
        return [p.value for p in got]

    assert values({"model": "fraud"}, MINUTE, MINUTE + 240) == [0.1, 0.2, 0.4, 0.5]
    assert values({"model": "fraud", "feature": "amount"}, MINUTE, MINUTE + 240) == [0.1]
    assert values({"feature": "amount"}, MINUTE + 1, MINUTE + 120) == [0.3]
    assert values({'we"ird.key': "x"}, MINUTE, MINUTE + 240) == [0.4]
    assert values({"missing": "label"}, MINUTE, MINUTE + 240) == []
    got = opened.series.query_points("psi", matchers={}, start=MINUTE + 180, end=MINUTE + 180)
    assert got == [MetricPoint(MINUTE + 180, "psi", odd, 0.4)]


def test_latest_points_follow_appends_and_survive_a_reopen(opened: Opened) -> None:
    a, b = {"model": "a"}, {"model": "b"}
    opened.series.append_points(
        [MetricPoint(MINUTE + 60, "psi", a, 1.0), MetricPoint(MINUTE, "psi", b, 2.0, "ok")]
    )
    # An older window recomputed (late labels) does not become the latest point.
    opened.series.append_points([MetricPoint(MINUTE, "psi", a, 9.0)])
    opened.series.append_points([MetricPoint(MINUTE, "errors", {}, 3.0)])
    expected = [
        MetricPoint(MINUTE, "errors", {}, 3.0),
        MetricPoint(MINUTE + 60, "psi", a, 1.0),
        MetricPoint(MINUTE, "psi", b, 2.0, "ok"),
    ]
    assert opened.series.latest_points() == expected
    assert opened.reopen().latest_points() == expected


def test_references_are_replaced_and_fall_back_to_the_model_wide_one(opened: Opened) -> None:
    store = opened.series
    assert store.get_reference("fraud", "v1") is None
    wide = StoredReference("fraud", "", MINUTE, "upload:train.parquet", b"wide")
    store.put_reference(wide)
    assert store.get_reference("fraud", "v1") == wide
    first = StoredReference("fraud", "v1", MINUTE, "window:a", b"p1", b"s1")
    second = StoredReference("fraud", "v1", MINUTE + 60, "window:b", b"p2", b"")
    store.put_reference(first)
    assert store.get_reference("fraud", "v1") == first
    store.put_reference(second)
    assert store.get_reference("fraud", "v1") == second
    assert store.get_reference("fraud", "v2") == wide
    assert store.get_reference("other", "v1") is None


def test_everything_written_is_there_after_the_file_is_closed_and_reopened(
    opened: Opened,
) -> None:
    profile = _profile(MINUTE)
    point = MetricPoint(MINUTE + 0.000_001, "psi", {"model": "fraud"}, 0.25, "ok")
    reference = StoredReference("fraud", "v1", MINUTE + 0.5, "window:x", b"p", b"s")
    opened.series.append_profiles([profile])
    opened.series.append_points([point])
    opened.series.put_reference(reference)
    batch = AcceptedBatch(
        "b1",
        MINUTE,
        predictions=blocks_from_rows([Prediction(model="fraud", version="v1", request_id="r")]),
    )
    opened.events.append(batch).result(10)
    store = opened.reopen()
    assert store.read_profiles("fraud", start=MINUTE, end=MINUTE + 60) == [profile]
    assert store.query_points("psi", matchers={}, start=MINUTE, end=MINUTE + 1) == [point]
    assert store.get_reference("fraud", "v1") == reference
    assert opened.events.count("prediction") == 1


def test_writes_from_many_threads_beside_the_event_writer_are_all_kept(opened: Opened) -> None:
    def work(worker: int) -> None:
        for i in range(10):
            labels = {"worker": str(worker)}
            opened.series.append_points([MetricPoint(MINUTE + i, "n", labels, float(i))])
            opened.series.append_profiles([_profile(MINUTE + 60 * i, writer=str(worker))])
            batch = AcceptedBatch(
                f"{worker}-{i}",
                MINUTE,
                predictions=blocks_from_rows(
                    [Prediction(model="fraud", version="v1", request_id=f"{worker}-{i}")]
                ),
            )
            opened.events.append(batch).result(10)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened.series.query_points("n", matchers={}, start=0, end=2 * MINUTE)) == 40
    assert len(opened.series.read_profiles("fraud", start=0, end=2 * MINUTE)) == 40
    assert [p.value for p in opened.series.latest_points()] == [9.0] * 4
    assert opened.events.count("prediction") == 40


def test_the_series_store_is_closed_with_the_event_store(opened: Opened) -> None:
    assert opened.series.query_points("psi", matchers={}, start=0, end=MINUTE) == []
    opened.events.close()
    with pytest.raises(StoreClosedError):
        opened.series.append_points([MetricPoint(MINUTE, "psi", {}, 1.0)])
    with pytest.raises(StoreClosedError):
        opened.series.query_points("psi", matchers={}, start=0, end=MINUTE)
    opened.series.close()
    with pytest.raises(StoreClosedError):  # the profiles close with the series store
        opened.series.read_profiles("fraud", start=0, end=MINUTE)


def test_duckdb_and_sqlite_errors_become_store_errors(opened: Opened) -> None:
    opened.series._profiles._file.connection.execute("DROP TABLE window_profiles")
    with pytest.raises(StoreError) as caught:
        opened.series.append_profiles([_profile(MINUTE)])
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    with pytest.raises(StoreError):
        opened.series.read_profiles("fraud", start=0, end=MINUTE)
    opened.events._con.execute("DROP TABLE metric_points")
    with pytest.raises(StoreError) as caught:
        opened.series.append_points([MetricPoint(MINUTE, "psi", {}, 1.0)])
    assert isinstance(caught.value.__cause__, duckdb.Error)

"""store.json against real files: no finding for a healthy store, a clear one for a loss."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import msgspec
import pytest

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.adapters.store.durability import (
    MARKER,
    EventsState,
    Record,
    SQLiteState,
    check_events,
    check_sqlite,
    compare,
    read_record,
    tally,
)
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Prediction
from mlpulse.domain.storage import AcceptedBatch

NOW = 1_767_225_600.0


def _append(store: DuckDBEventStore, batch_id: str, n: int = 10) -> None:
    rows = [
        Prediction(model="m", version="v1", request_id=f"{batch_id}-{i}", features={"x": 1.0},
                   prediction=1, timestamp=NOW)
        for i in range(n)
    ]  # fmt: skip
    store.append(AcceptedBatch(batch_id, NOW, predictions=blocks_from_rows(rows))).result(10)


def test_store_record_finds_nothing_when_the_store_was_closed_and_reopened(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    _append(store, "a")
    store.close()

    reopened = DuckDBEventStore(tmp_path / "events.duckdb")
    _append(reopened, "b")
    reopened.close()

    assert reopened.durability.findings == []
    record = read_record(tmp_path / MARKER)
    assert record is not None and record.clean
    events = record.events
    assert events is not None and (events.batches, events.events) == (2, 20)
    assert [batch for batch, _ in events.newest] == ["b", "a"]


def test_store_record_finds_the_missing_batches_when_the_file_is_an_older_copy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.duckdb"
    store = DuckDBEventStore(path)
    _append(store, "a")
    store.close()
    shutil.copy(path, tmp_path / "old.duckdb")
    store = DuckDBEventStore(path)
    for batch_id in ("b", "c"):
        _append(store, batch_id)
    store.close()
    shutil.copy(tmp_path / "old.duckdb", path)

    reopened = DuckDBEventStore(path)
    reopened.close()

    (finding,) = reopened.durability.findings
    assert finding.file == "events.duckdb"
    assert finding.message.startswith(
        "events.duckdb lacks 2 of the 3 newest batches acknowledged by "
    )
    assert (
        "it holds 1 acknowledged batches (10 events) and held 3 (30 events) then; "
        "at least 20 acknowledged events are missing." in finding.message
    )
    assert "replaced by an older copy" in finding.message
    # The finding stays in the record, for `mlpulse doctor`, after the next start.
    again = DuckDBEventStore(path)
    again.close()
    assert again.durability.findings == []
    record = read_record(tmp_path / MARKER)
    assert record is not None and [f.message for f in record.findings] == [finding.message]


def test_store_record_is_rewritten_when_store_json_is_unreadable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / MARKER).write_text("{not json")

    store = DuckDBEventStore(tmp_path / "events.duckdb")
    store.close()

    assert store.durability.findings == []
    assert "ignoring an unreadable" in caplog.text
    assert msgspec.json.decode((tmp_path / MARKER).read_bytes())["clean"] is True


def test_tally_counts_new_batches_alone_and_all_of_them_after_a_delete(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("CREATE TABLE batches (batch_id VARCHAR, received_at TIMESTAMPTZ, accepted INT)")
    con.execute("INSERT INTO batches SELECT 'b' || i, make_timestamptz(i * 1000000), 10 "
                "FROM range(5) r(i)")  # fmt: skip
    first = tally(con)
    con.execute("INSERT INTO batches VALUES ('new', make_timestamptz(9000000), 7)")
    second = tally(con, first)

    assert (first.batches, first.events, first.newest[:2]) == (5, 50, (("b4", 4.0), ("b3", 3.0)))
    assert (second.batches, second.events, second.newest[:2]) == (
        6,
        57,
        (("new", 9.0), ("b4", 4.0)),
    )
    assert tally(con, second) == second
    con.execute("DELETE FROM batches WHERE batch_id IN ('b0', 'b1')")
    assert tally(con, second)[:2] == (4, 37)
    con.close()


def _batch_at(store: DuckDBEventStore, batch_id: str, received_at: float) -> None:
    rows = [Prediction(model="m", version="v1", request_id=batch_id, features={"x": 1.0},
                       prediction=1, timestamp=NOW)]  # fmt: skip
    store.append(AcceptedBatch(batch_id, received_at, predictions=blocks_from_rows(rows))).result(
        10
    )


@pytest.mark.parametrize(("deleted", "lost"), [("old", False), ("new", True)])
def test_store_record_tells_retention_of_the_oldest_batches_from_a_loss_of_the_newest(
    tmp_path: Path, deleted: str, lost: bool
) -> None:
    path = tmp_path / "events.duckdb"
    store = DuckDBEventStore(path)
    for batch_id, received_at in (("old", NOW - 86400), ("mid", NOW), ("new", NOW + 1)):
        _batch_at(store, batch_id, received_at)
    store.close()
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM batches WHERE batch_id = ?", [deleted])

    reopened = DuckDBEventStore(path)
    reopened.close()

    assert [f.file for f in reopened.durability.findings] == (["events.duckdb"] if lost else [])


def _sqlite(pages: int, **rows: int) -> SQLiteState:
    return SQLiteState(bytes=pages * 4096, pages=pages, rows=rows)


def test_check_sqlite_ignores_rows_deleted_from_a_file_that_did_not_shrink() -> None:
    # The outbox deletes delivered entries: fewer rows, the same pages.
    before, now = _sqlite(40, outbox=12, alerts=3), _sqlite(40, outbox=0, alerts=3)

    assert check_sqlite(before, now, name="alerts.sqlite", at=NOW) is None


def test_check_sqlite_names_the_tables_that_lost_rows_when_the_file_shrank() -> None:
    before, now = _sqlite(900, minute_profiles=5000, meta=1), _sqlite(3, meta=1)

    message = check_sqlite(before, now, name="profiles.sqlite", at=NOW)

    assert message == (
        "profiles.sqlite lost rows since 2026-01-01T00:00:00+00:00 (minute_profiles 5,000 → 0); "
        "it has 3 pages against 900 then (12,288 bytes): truncated, emptied or replaced?"
    )


def test_check_sqlite_reports_a_missing_file_only_when_it_held_rows() -> None:
    assert check_sqlite(_sqlite(2), None, name="x.sqlite", at=NOW) is None
    assert check_sqlite(_sqlite(9, t=4), None, name="x.sqlite", at=NOW) == (
        "x.sqlite is missing; it held 4 rows at 2026-01-01T00:00:00+00:00."
    )


def test_compare_finds_nothing_missing_when_an_upgrade_moved_an_sqlite_file() -> None:
    previous = Record(written_at=NOW, clean=True, events=None,
                      sqlite={"profiles.sqlite": _sqlite(9, window_profiles=4)})  # fmt: skip

    def check(migrated: frozenset[str]) -> list[str]:
        found = compare(previous, None, {}, name="events.duckdb", existed=True,
                        wal_at_open=None, now=NOW, migrated=migrated)  # fmt: skip
        return [f.file for f in found]

    moved, gone = check(frozenset({"profiles.sqlite"})), check(frozenset())

    assert moved == []
    assert gone == ["profiles.sqlite"]


def test_check_events_finds_nothing_when_the_store_grew() -> None:
    before = EventsState(3, 30, [("c", NOW), ("b", NOW)], 4096, 900)
    now = EventsState(5, 50, [("e", NOW + 1)], 4096, 0)  # checkpointed since: no log, no loss

    found = check_events(before, now, name="e.duckdb", at=NOW, held={"b", "c"}, oldest=NOW - 5,
                         existed=True, wal_at_open=0)  # fmt: skip
    assert found is None

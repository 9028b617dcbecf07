"""The embedded event store against a real DuckDB file."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from mlpulse.adapters.store import duckdb_events
from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Label, Outcome, Prediction, PredictionBlock, Resource
from mlpulse.domain.ingest import Rejection
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import StoreClosedError, StoreError

NOW = 1_767_225_600.0


def _batch(batch_id: str, n: int, *, version: str = "v1", start: int = 0) -> AcceptedBatch:
    return AcceptedBatch(
        batch_id=batch_id,
        received_at=NOW,
        predictions=blocks_from_rows(
            [
                Prediction(
                    model="fraud",
                    version=version,
                    request_id=f"{batch_id}-{i}",
                    features={"amount": float(i), "country": "DE", "new": True, "gap": None},
                    prediction=[1, "a"] if i % 2 else 0.5,
                    timestamp=NOW - 10 + (start + i) * 0.001,
                    latency_ms=float(i % 100),
                    error="boom" if i % 10 == 0 else None,
                )
                for i in range(n)
            ]
        ),
    )


@pytest.fixture
def store(tmp_path: Path) -> DuckDBEventStore:
    return DuckDBEventStore(tmp_path / "events.duckdb")


def test_append_stores_every_kind_and_its_values(store: DuckDBEventStore) -> None:
    batch = AcceptedBatch(
        batch_id="b1",
        received_at=NOW,
        predictions=_batch("p", 2).predictions,
        labels=[Label(model="fraud", request_id="p-0", label=1.0)],
        outcomes=[Outcome(name="purchase", value=9.5, request_id="p-1", timestamp=NOW - 1)],
        rejected=[Rejection(index=3, field="events[3].model", reason="required field is missing")],
    )
    result = store.append(batch).result(10)
    assert (result.accepted, result.duplicate, len(result.rejected)) == (4, False, 1)
    assert store.count("prediction") == 2
    assert store.count("label") == 1
    assert store.count("outcome") == 1
    rows = store.query(
        "SELECT request_id, numbers['amount'], strings['country'], prediction, "
        "error, epoch(ts) FROM predictions ORDER BY request_id"
    )
    assert rows[0][:5] == ("p-0", 0.0, "DE", "0.5", "boom")
    assert rows[1][3] == '[1,"a"]'
    assert rows[0][5] == pytest.approx(NOW - 10, abs=1e-5)
    (label_ts,) = store.query("SELECT epoch(ts) FROM labels")[0]
    assert label_ts == pytest.approx(NOW)  # no timestamp sent: the time it was received
    store.close()


def test_append_stores_resource_samples_with_their_values(store: DuckDBEventStore) -> None:
    full = Resource(
        model="fraud",
        version="v3",
        host="web-1",
        pid=4242,
        timestamp=NOW - 5,
        cpu_percent=250.0,
        memory_rss_mb=812.5,
        memory_percent=12.5,
        gpu_utilization=[87.0, 3.5],
        gpu_memory_used_mb=[1024.0, 0.0],
    )
    batch = AcceptedBatch(
        batch_id="r1",
        received_at=NOW,
        predictions=_batch("p", 1).predictions,
        resources=[full, Resource(host="web-2", cpu_percent=1.0)],
    )
    result = store.append(batch).result(10)
    assert (result.accepted, result.duplicate) == (3, False)
    assert store.count("resource") == 2
    assert store.count("prediction") == 1
    rows = store.query(
        "SELECT model, version, host, pid, epoch(ts), epoch(received_at), cpu_percent, "
        "memory_rss_mb, memory_percent, gpu_utilization, gpu_memory_used_mb, batch_id "
        "FROM resources ORDER BY host"
    )
    assert rows[0] == (
        "fraud", "v3", "web-1", 4242, pytest.approx(NOW - 5), pytest.approx(NOW),
        250.0, 812.5, 12.5, [87.0, 3.5], [1024.0, 0.0], "r1",
    )  # fmt: skip
    assert rows[1] == (
        None, None, "web-2", None, pytest.approx(NOW), pytest.approx(NOW),
        1.0, None, None, None, None, "r1",
    )  # fmt: skip
    again = store.append(batch).result(10)  # a retried batch: samples are not stored twice
    assert again.duplicate and again.accepted == 3
    assert store.count("resource") == 2
    store.close()


def test_store_opened_before_resource_samples_existed_gains_their_table(tmp_path: Path) -> None:
    path = tmp_path / "e.duckdb"
    first = DuckDBEventStore(path)
    first.append(_batch("x", 1)).result(10)
    first.close()
    with duckdb.connect(str(path)) as con:  # as a file written by an earlier version
        con.execute("DROP TABLE resources")
    second = DuckDBEventStore(path)
    second.append(AcceptedBatch("y", NOW, resources=[Resource(pid=1)])).result(10)
    assert (second.count("prediction"), second.count("resource")) == (1, 1)
    second.close()


def test_append_twice_with_one_batch_id_stores_once_and_replays_the_answer(
    store: DuckDBEventStore,
) -> None:
    first = store.append(_batch("same", 5)).result(10)
    again = store.append(_batch("same", 5)).result(10)
    assert not first.duplicate
    assert again.duplicate
    assert again.accepted == first.accepted == 5
    assert store.count("prediction") == 5
    store.close()


def test_concurrent_appends_are_group_committed_without_loss_or_duplicates(
    store: DuckDBEventStore,
) -> None:
    ids = [f"b{i % 150}" for i in range(300)]  # every id sent twice, concurrently
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda bid: store.append(_batch(bid, 20)).result(30), ids))
    assert sum(not r.duplicate for r in results) == 150
    assert store.count("prediction") == 150 * 20
    store.close()


def test_version_summaries_match_exact_percentiles(store: DuckDBEventStore) -> None:
    import numpy as np

    store.append(_batch("a", 1000, version="v1")).result(10)
    store.append(_batch("b", 10, version="v2")).result(10)
    summaries = store.version_summaries("fraud", start=NOW - 100, end=NOW + 100)
    v1, v2 = summaries
    assert (v1.version, v1.count, v1.errors, v2.count) == ("v1", 1000, 100, 10)
    latencies = np.arange(1000) % 100
    assert v1.latency_ms.p50 == pytest.approx(np.percentile(latencies, 50))
    assert v1.latency_ms.p99 == pytest.approx(np.percentile(latencies, 99))
    assert v1.throughput_per_s == pytest.approx(1000 / 200)
    assert v1.error_rate == pytest.approx(0.1)
    assert store.version_summaries("fraud", start=NOW + 100, end=NOW + 200) == []
    store.close()


def test_store_reopens_with_what_was_committed(tmp_path: Path) -> None:
    first = DuckDBEventStore(tmp_path / "e.duckdb")
    first.append(_batch("x", 7)).result(10)
    first.close()
    second = DuckDBEventStore(tmp_path / "e.duckdb")
    assert second.count("prediction") == 7
    assert second.append(_batch("x", 7)).result(10).duplicate
    second.close()


def test_append_after_close_raises(store: DuckDBEventStore) -> None:
    store.close()
    with pytest.raises(StoreClosedError):
        store.append(_batch("late", 1))
    assert not store.is_healthy()


def test_feature_lists_keep_their_types_and_non_finite_values_become_missing(
    store: DuckDBEventStore,
) -> None:
    block = PredictionBlock(
        model="types",
        version="v1",
        request_id=["a", "b", "c"],
        features={
            "num": [1.5, float("nan"), float("inf")],
            "cat": ["x", None, "z"],
            "flag": [True, False, None],
            "mixed": [1.0, "one", None],
            "empty": [None, None, None],
        },
        prediction=[0.25, "label", [1, 2]],
    )
    store.append(AcceptedBatch(batch_id="t", received_at=NOW, predictions=[block])).result(10)
    rows = store.query(
        "SELECT numbers['num'], strings['cat'], flags['flag'], others['mixed'], prediction, "
        "map_keys(numbers) || map_keys(strings) || map_keys(flags) || map_keys(others) "
        "FROM predictions WHERE model = 'types' ORDER BY request_id"
    )
    assert [r[0] for r in rows] == [1.5, None, None]
    assert [r[1] for r in rows] == ["x", None, "z"]
    assert [r[2] for r in rows] == [True, False, None]
    assert [json.loads(r[3]) if r[3] else None for r in rows] == [1.0, "one", None]
    assert [json.loads(r[4]) for r in rows] == [0.25, "label", [1, 2]]
    # A feature of no value yet is not stored: its type is not known.
    assert sorted(rows[0][5]) == ["cat", "flag", "mixed", "num"]
    assert store.query("SELECT feature FROM feature_types WHERE model = 'types' ORDER BY 1") == [
        ("cat",),
        ("flag",),
        ("mixed",),
        ("num",),
    ]
    store.close()


def test_values_of_another_type_than_their_column_go_to_type_errors(
    store: DuckDBEventStore,
) -> None:
    def block(request_ids: list[str], amounts: list[object]) -> AcceptedBatch:
        b = PredictionBlock(
            "m", "v1", request_ids, features={"amount": amounts, "Amount": [1.0] * len(request_ids)}
        )
        return AcceptedBatch(batch_id=request_ids[0], received_at=NOW, predictions=[b])

    store.append(block(["a", "b"], [1.0, 2.0])).result(10)
    store.append(block(["c", "d"], ["high", "low"])).result(10)
    rows = store.query(
        "SELECT request_id, numbers['amount'], numbers['Amount'], type_errors "
        "FROM predictions ORDER BY 1"
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("a", 1.0, 1.0),
        ("b", 2.0, 1.0),
        ("c", None, 1.0),
        ("d", None, 1.0),
    ]
    assert rows[0][3] is None
    assert json.loads(rows[2][3]) == {"amount": "high"}
    store.close()


def test_a_failed_commit_leaves_no_feature_type_behind(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    store.append(_batch("ok", 2)).result(10)
    bad = PredictionBlock("fraud", "v1", ["x"], features={"brand_new": ["a"]}, latency_ms=[1.0])
    broken = AcceptedBatch(batch_id="bad", received_at=NOW, predictions=[bad])
    # A batches table missing a column: the last INSERT of the commit fails.
    store._con.execute("CREATE TABLE clash (batch_id VARCHAR, accepted INTEGER, rejected JSON)")
    store._con.execute("DROP TABLE batches")
    store._con.execute("ALTER TABLE clash RENAME TO batches")
    with pytest.raises(StoreError):
        store.append(broken).result(10)
    assert store.query("SELECT * FROM feature_types WHERE feature = 'brand_new'") == []
    # Forgotten in memory too: the feature's first committed type is the one kept.
    store._con.execute("DROP TABLE batches")
    store._con.execute(
        "CREATE TABLE batches (batch_id VARCHAR PRIMARY KEY, received_at TIMESTAMPTZ, "
        "accepted INTEGER, rejected JSON, rejected_count INTEGER)"
    )
    good = PredictionBlock("fraud", "v1", ["y"], features={"brand_new": [2.0]})
    store.append(AcceptedBatch(batch_id="good", received_at=NOW, predictions=[good])).result(10)
    assert store.query("SELECT sql_type FROM feature_types WHERE feature = 'brand_new'") == [
        ("DOUBLE",)
    ]
    assert store.query("SELECT type_errors FROM predictions WHERE request_id = 'y'") == [(None,)]
    store.close()


def test_a_batch_id_from_long_ago_is_still_recognised_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Remember only 5 ids in memory, so "old" is found by the table's primary key.
    monkeypatch.setattr(duckdb_events, "REMEMBERED_BATCHES", 5)
    first = DuckDBEventStore(tmp_path / "e.duckdb")
    first.append(_batch("old", 3)).result(10)
    for i in range(50):
        first.append(_batch(f"later-{i}", 1)).result(10)
    first.close()
    second = DuckDBEventStore(tmp_path / "e.duckdb")
    fresh_and_old = [second.append(_batch(bid, 3)) for bid in ("new", "old")]
    new, again = (f.result(10) for f in fresh_and_old)
    assert again.duplicate and again.accepted == 3
    assert not new.duplicate
    assert second.count("prediction") == 56
    second.close()

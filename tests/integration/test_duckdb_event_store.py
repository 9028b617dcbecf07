"""The embedded event store against a real DuckDB file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlpulse.adapters.store.duckdb_events import DuckDBEventStore
from mlpulse.domain.blocks import blocks_from_rows
from mlpulse.domain.events import Label, Outcome, Prediction, PredictionBlock
from mlpulse.domain.ingest import Rejection
from mlpulse.domain.storage import AcceptedBatch
from mlpulse.errors import StoreClosedError

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
        "SELECT request_id, features->>'$.amount', features->>'$.country', prediction, "
        "error, epoch(ts) FROM predictions ORDER BY request_id"
    )
    assert rows[0][:5] == ("p-0", "0.0", "DE", "0.5", "boom")
    assert rows[1][3] == '[1,"a"]'
    assert rows[0][5] == pytest.approx(NOW - 10, abs=1e-5)
    (label_ts,) = store.query("SELECT epoch(ts) FROM labels")[0]
    assert label_ts == pytest.approx(NOW)  # no timestamp sent: the time it was received
    store.close()


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


def test_feature_columns_keep_their_types_and_non_finite_values_become_missing(
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
    rows = store.query("SELECT features, prediction FROM predictions ORDER BY request_id")
    import json

    features = [json.loads(r[0]) for r in rows]
    assert [f["num"] for f in features] == [1.5, None, None]
    assert [f["cat"] for f in features] == ["x", None, "z"]
    assert [f["flag"] for f in features] == [True, False, None]
    assert [f["mixed"] for f in features] == [1.0, "one", None]
    assert [f["empty"] for f in features] == [None, None, None]
    assert [json.loads(r[1]) for r in rows] == [0.25, "label", [1, 2]]
    store.close()

"""The bounded prediction layout: old per-model tables move forward, batches stay small."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pytest

from mlpulse.adapters.store.duckdb_events import STORED_REJECTIONS, DuckDBEventStore
from mlpulse.domain.events import PredictionBlock
from mlpulse.domain.ingest import Rejection
from mlpulse.domain.storage import AcceptedBatch

NOW = 1_767_225_600.0
_FIXED = (
    "version VARCHAR, request_id VARCHAR, ts TIMESTAMPTZ, received_at TIMESTAMPTZ, "
    "prediction JSON, score DOUBLE, probabilities JSON, latency_ms DOUBLE, segment JSON, "
    "trace_id VARCHAR, error VARCHAR, batch_id VARCHAR, type_errors JSON"
)


def _old_layout(path: Path) -> None:
    """A store as the per-model layout wrote it: a table per model, a column per feature."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE model_tables (model VARCHAR PRIMARY KEY, table_name VARCHAR)")
    con.execute(
        "CREATE TABLE feature_columns (model VARCHAR, feature VARCHAR, column_name VARCHAR, "
        "sql_type VARCHAR, PRIMARY KEY (model, feature))"
    )
    con.execute(
        "CREATE TABLE batches (batch_id VARCHAR PRIMARY KEY, received_at TIMESTAMPTZ, "
        "accepted INTEGER, rejected JSON)"
    )
    con.execute(f"CREATE TABLE predictions_1 ({_FIXED})")
    con.execute('ALTER TABLE predictions_1 ADD COLUMN "f_amount" DOUBLE')
    con.execute('ALTER TABLE predictions_1 ADD COLUMN "f_Amount_2" VARCHAR')
    con.execute('ALTER TABLE predictions_1 ADD COLUMN "f_ok" BOOLEAN')
    con.execute('ALTER TABLE predictions_1 ADD COLUMN "f_mixed" JSON')
    con.execute(f'CREATE TABLE "predictions_2" ({_FIXED})')
    con.execute(
        "INSERT INTO model_tables VALUES ('fraud', 'predictions_1'), ('team/x', 'predictions_2')"
    )
    con.execute(
        "INSERT INTO feature_columns VALUES ('fraud', 'amount', 'f_amount', 'DOUBLE'), "
        "('fraud', 'Amount', 'f_Amount_2', 'VARCHAR'), ('fraud', 'ok', 'f_ok', 'BOOLEAN'), "
        "('fraud', 'mixed', 'f_mixed', 'JSON')"
    )
    con.execute(
        "INSERT INTO predictions_1 (version, request_id, ts, prediction, f_amount, f_Amount_2, "
        "f_ok, f_mixed, type_errors) VALUES "
        "('v1', 'a', make_timestamptz(1767225600000000), '1', 2.5, 'hi', true, '\"x\"', NULL), "
        "('v1', 'b', make_timestamptz(1767225601000000), '0', NULL, NULL, NULL, '3', "
        '\'{"amount": "high"}\')'
    )
    con.execute(
        "INSERT INTO predictions_2 (version, request_id, ts) VALUES "
        "('v9', 'c', make_timestamptz(1767225602000000))"
    )
    con.execute("INSERT INTO batches VALUES ('b-old', make_timestamptz(1767225600000000), 3, '[]')")
    con.execute(
        "CREATE VIEW predictions AS SELECT 'fraud' AS model, * FROM predictions_1 "
        "UNION ALL BY NAME SELECT 'team/x' AS model, * FROM predictions_2"
    )
    con.close()


def test_store_with_per_model_tables_opens_with_its_rows_moved_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.duckdb"
    _old_layout(path)
    with caplog.at_level(logging.WARNING, logger="mlpulse.store"):
        store = DuckDBEventStore(path)
    assert "moved 3 predictions of 2 models" in caplog.text
    rows = store.query(
        "SELECT model, version, request_id, numbers['amount'], strings['Amount'], flags['ok'], "
        "others['mixed'], type_errors FROM predictions ORDER BY request_id"
    )
    assert rows[0] == ("fraud", "v1", "a", 2.5, "hi", True, '"x"', None)
    assert rows[1][3:] == (None, None, None, "3", '{"amount": "high"}')
    assert rows[2][:3] == ("team/x", "v9", "c")
    tables = {r[0] for r in store.query("SELECT table_name FROM duckdb_tables()")}
    assert not tables & {"predictions_1", "predictions_2", "model_tables", "feature_columns"}
    assert store.version_summaries("team/x", start=NOW, end=NOW + 10)[0].count == 1
    # The recorded types carry over: a string amount is still a type error.
    block = PredictionBlock("fraud", "v1", ["d"], features={"amount": ["low"]})
    store.append(AcceptedBatch("b-new", NOW, predictions=[block])).result(10)
    (errors,) = store.query("SELECT type_errors FROM predictions WHERE request_id = 'd'")[0]
    assert json.loads(errors) == {"amount": "low"}
    assert store.append(AcceptedBatch("b-old", NOW)).result(10).duplicate
    store.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mlpulse.store"):
        again = DuckDBEventStore(path)
    assert "moved" not in caplog.text
    assert again.count("prediction") == 4
    again.close()


def test_many_models_and_features_add_no_table_or_column(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    before = store.query("SELECT count(*) FROM duckdb_columns()")
    blocks = [
        PredictionBlock(
            f"m{i}", "v1", [f"r{i}"], features={f"f{i}_{j}": [float(j)] for j in range(50)}
        )
        for i in range(300)
    ]
    store.append(AcceptedBatch("wide", NOW, predictions=blocks)).result(30)
    assert store.query("SELECT count(*) FROM duckdb_columns()") == before
    assert store.count("prediction") == 300
    assert store.query("SELECT numbers['f7_3'] FROM predictions WHERE model = 'm7'") == [(3.0,)]
    store.close()


def test_a_retry_is_answered_with_the_first_rejections_and_their_count(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    rejected = [Rejection(index=i, field=f"events[{i}].model", reason="bad") for i in range(500)]
    first = store.append(AcceptedBatch("b", NOW, rejected=rejected)).result(10)
    assert len(first.rejected) == 500 and first.rejected_total is None
    (stored,) = store.query("SELECT json_array_length(rejected), rejected_count FROM batches")
    assert stored == (STORED_REJECTIONS, 500)
    store.close()
    reopened = DuckDBEventStore(tmp_path / "events.duckdb")  # the answer comes from the table
    again = reopened.append(AcceptedBatch("b", NOW, rejected=rejected)).result(10)
    assert again.duplicate
    assert again.rejected == rejected[:STORED_REJECTIONS]
    assert again.rejected_total == 500
    reopened.close()


def test_blocks_of_one_batch_keep_their_own_features_row_by_row(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    blocks = [
        PredictionBlock(
            "a", "v1", ["a0", "a1"], features={"x": [1.0, 2.0], "s": ["p", None], "y": [3.0, 4.0]}
        ),
        PredictionBlock("b", "v1", ["b0"], features={"s": ["q"]}),
        PredictionBlock(
            "a", "v2", ["c0", "c1", "c2"], features={"y": [5.0, None, 7.0], "s": [1.0, 2.0, 3.0]}
        ),
        PredictionBlock("c", "v1", ["d0"]),
    ]
    store.append(AcceptedBatch("mixed", NOW, predictions=blocks)).result(10)
    rows = store.query(
        "SELECT request_id, numbers, strings, type_errors FROM predictions ORDER BY request_id"
    )
    assert rows == [
        ("a0", {"x": 1.0, "y": 3.0}, {"s": "p"}, None),
        ("a1", {"x": 2.0, "y": 4.0}, {"s": None}, None),
        ("b0", None, {"s": "q"}, None),
        # Model a's "s" was first strings: numbers for it are type errors.
        ("c0", {"y": 5.0}, None, '{"s":1.0}'),
        ("c1", {"y": None}, None, '{"s":2.0}'),
        ("c2", {"y": 7.0}, None, '{"s":3.0}'),
        ("d0", None, None, None),
    ]
    store.close()


@pytest.mark.parametrize("seed", range(5))
def test_random_batches_read_back_as_sent_feature_by_feature(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    kinds: dict[str, Callable[[], object]] = {
        "number": lambda: float(rng.normal()),
        "flag": lambda: bool(rng.integers(2)),
        "string": lambda: str(rng.choice(["a", "b", "c"])),
    }
    group_of = {"number": "numbers", "flag": "flags", "string": "strings"}
    recorded: dict[tuple[str, str], str] = {}
    expected: dict[str, dict[str, dict[str, object]]] = {}
    batches = []
    for b in range(4):
        blocks = []
        for k in range(int(rng.integers(1, 8))):
            model = f"m{rng.integers(3)}"
            n = int(rng.integers(1, 6))
            ids = [f"{b}-{k}-{i}" for i in range(n)]
            features: dict[str, list[object]] = {}
            for f in rng.choice(12, size=int(rng.integers(0, 6)), replace=False):
                kind = str(rng.choice(list(kinds)))
                features[f"f{f}"] = [None if rng.random() < 0.2 else kinds[kind]() for _ in ids]
            for name, values in features.items():
                present = [v for v in values if v is not None]
                if not present:
                    continue
                kind = {float: "number", bool: "flag", str: "string"}[type(present[0])]
                first = recorded.setdefault((model, name), kind)
                for request_id, value in zip(ids, values, strict=True):
                    row = expected.setdefault(request_id, {})
                    where = group_of[kind] if first == kind else "type_errors"
                    if value is not None or where != "type_errors":
                        row.setdefault(where, {})[name] = value
            for request_id in ids:
                expected.setdefault(request_id, {})
            blocks.append(PredictionBlock(model, "v1", ids, features=features))
        batches.append(AcceptedBatch(f"b{b}", NOW, predictions=blocks))
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    for batch in batches:  # one batch after another: types recorded in this order
        store.append(batch).result(10)
    rows = store.query("SELECT request_id, numbers, flags, strings, type_errors FROM predictions")
    assert len(rows) == len(expected)
    for request_id, numbers, flags, strings, errors in rows:
        got = {"numbers": numbers, "flags": flags, "strings": strings}
        got = {k: v for k, v in got.items() if v}
        if errors is not None:
            got["type_errors"] = json.loads(errors)
        assert got == {k: v for k, v in expected[request_id].items() if v}, request_id
    store.close()

"""The one-time move from a table per model to :mod:`.prediction_rows`, at open.

Stores written before the bounded layout kept each model's predictions in its own
table (``model_tables`` maps model to table) with a typed column per feature
(``feature_columns``: model, feature, column, type) and a ``predictions`` view over
them all. Opening such a store copies every model's rows into ``prediction_rows``
(each type of feature column becoming the list of that type), records the features'
types, and drops the old tables and view, in one transaction: a crash half-way leaves
the old layout whole, and the next open tries again.
"""

from __future__ import annotations

import contextlib
import logging
import time

import duckdb
import pyarrow as pa

from mlpulse.adapters.store.feature_lists import GROUPS, feature_set_id
from mlpulse.adapters.store.prediction_rows import SCHEMA_SQL, TABLE

log = logging.getLogger("mlpulse.store")

_GROUP_OF_SQL_TYPE = {kind: name for name, kind in GROUPS}
_FIXED = (
    "version, request_id, ts, received_at, prediction, score, probabilities, latency_ms, "
    "segment, trace_id, error, batch_id"
)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def has_model_tables(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'model_tables' "
        "AND schema_name = current_schema()"
    ).fetchone()
    return bool(row and row[0])


def migrate_model_tables(con: duckdb.DuckDBPyConnection) -> int:
    """Move the per-model tables' rows into ``prediction_rows``; the rows moved.

    Does nothing (and returns 0) for a store without per-model tables.
    """
    for statement in SCHEMA_SQL:
        con.execute(statement)
    if not has_model_tables(con):
        return 0
    started = time.perf_counter()
    models = con.execute("SELECT model, table_name FROM model_tables ORDER BY model").fetchall()
    columns: dict[str, list[tuple[str, str, str]]] = {}
    for model, feature, column, sql_type in con.execute(
        "SELECT model, feature, column_name, sql_type FROM feature_columns ORDER BY rowid"
    ).fetchall():
        columns.setdefault(model, []).append((feature, column, sql_type))
    moved = 0
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DROP VIEW IF EXISTS predictions")
        for model, table in models:
            moved += _move(con, model, table, columns.get(model, []))
            con.execute(f"DROP TABLE {_quote(table)}")
        con.execute(
            "INSERT INTO feature_types SELECT model, feature, sql_type FROM feature_columns "
            "ON CONFLICT DO NOTHING"
        )
        con.execute("DROP TABLE feature_columns")
        con.execute("DROP TABLE model_tables")
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended it already
            con.execute("ROLLBACK")
        raise
    log.warning(
        "moved %d predictions of %d models from per-model tables into %s (%.1f s, once)",
        moved, len(models), TABLE, time.perf_counter() - started,
    )  # fmt: skip
    return moved


def _move(
    con: duckdb.DuckDBPyConnection, model: str, table: str, features: list[tuple[str, str, str]]
) -> int:
    grouped: dict[str, list[tuple[str, str]]] = {name: [] for name, _ in GROUPS}
    for feature, column, sql_type in features:
        grouped[_GROUP_OF_SQL_TYPE.get(sql_type, "others")].append((feature, column))
    names = tuple(tuple(f for f, _ in grouped[name]) for name, _ in GROUPS)
    set_id = feature_set_id(names)
    sets = pa.table(
        {"id": pa.array([set_id], pa.int64())}
        | {
            name: pa.array([list(names[g])], pa.list_(pa.string()))
            for g, (name, _) in enumerate(GROUPS)
        }
    )
    con.register("incoming", sets)
    try:
        con.execute("INSERT OR IGNORE INTO feature_sets SELECT * FROM incoming")
    finally:
        con.unregister("incoming")
    lists = []
    for name, kind in GROUPS:
        cols = grouped[name]
        if cols:
            lists.append(f"[{', '.join(_quote(c) for _, c in cols)}]::{kind}[]")
        else:
            lists.append(f"NULL::{kind}[]")
    row = con.execute(
        f"INSERT INTO {TABLE} SELECT {_literal(model)}, {_FIXED}, {set_id}, "
        f"{', '.join(lists)}, type_errors FROM {_quote(table)}"
    ).fetchone()
    return int(row[0]) if row else 0

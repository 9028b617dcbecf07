"""One table for every model's predictions, its features as lists: no DDL on ingest.

Why this layout (measured in bench/README.md, "Prediction layout"): a table per model
with a typed column per feature needed ``CREATE TABLE`` for each new model and
``ALTER TABLE ADD COLUMN`` for each new feature inside the ingest transaction, and
DuckDB's memory grows quadratically with the columns added in one transaction (5,000
feature names took the collector past 4 GB). Features as ``MAP(VARCHAR, DOUBLE)``
are bounded but cost DuckDB 15-20 µs an event to write (it checks every map's keys);
long rows (one per feature value) 6 µs and three times the disk. What is written here
costs what the typed columns did (about 3 µs an event for 25 features):

* ``prediction_rows`` holds every prediction, with a ``model`` column and each type
  of feature value in one list column: ``numbers DOUBLE[]``, ``flags BOOLEAN[]``,
  ``strings VARCHAR[]`` and ``others JSON[]`` (a feature whose values mix types).
* ``feature_set`` names the features of those lists, in order: the row of
  ``feature_sets`` with that id holds one name list per value list. A block's rows
  share one feature set; its id is a hash of the names, so no lookup is needed to
  write and the same set from any batch (or collector) gets the same id.
* ``feature_types`` records the type a model's feature took first. Values of another
  type later are not coerced: they go to the row's ``type_errors`` JSON
  (``{"name": value}``), so nothing is lost and data-quality checks can count them.

The view ``predictions`` shows the lists as maps (``numbers['amount']``) for SQL
users. Rows of ``feature_sets`` and ``feature_types`` are data, not schema: a new
model or feature is one more row, written in the data's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa

from mlpulse.adapters.store.arrow_tables import PredictionArrays
from mlpulse.adapters.store.feature_lists import (
    GROUPS,
    FeatureLists,
    Names,
    feature_lists,
    sql_types,
)

TABLE: Final = "prediction_rows"
COLUMNS: Final = (
    ("model", "VARCHAR"),
    ("version", "VARCHAR"),
    ("request_id", "VARCHAR"),
    ("ts", "TIMESTAMPTZ"),
    ("received_at", "TIMESTAMPTZ"),
    ("prediction", "JSON"),
    ("score", "DOUBLE"),
    ("probabilities", "JSON"),
    ("latency_ms", "DOUBLE"),
    ("segment", "JSON"),
    ("trace_id", "VARCHAR"),
    ("error", "VARCHAR"),
    ("batch_id", "VARCHAR"),
    ("feature_set", "BIGINT"),
    *((name, f"{kind}[]") for name, kind in GROUPS),
    ("type_errors", "JSON"),
)
SCHEMA_SQL: Final = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ({', '.join(f'{c} {k}' for c, k in COLUMNS)})",
    "CREATE TABLE IF NOT EXISTS feature_sets (id BIGINT PRIMARY KEY, "
    + ", ".join(f"{name} VARCHAR[]" for name, _ in GROUPS)
    + ")",
    "CREATE TABLE IF NOT EXISTS feature_types (model VARCHAR, feature VARCHAR, "
    "sql_type VARCHAR, PRIMARY KEY (model, feature))",
)
_FIXED: Final = ", ".join(f"p.{c}" for c, _ in COLUMNS[:13])
VIEW_SQL: Final = (
    "CREATE OR REPLACE VIEW predictions AS SELECT "
    + _FIXED
    + ", "
    + ", ".join(f"map(s.{name}, p.{name}) AS {name}" for name, _ in GROUPS)
    + f", p.type_errors FROM {TABLE} AS p LEFT JOIN feature_sets AS s ON s.id = p.feature_set"
)
# Ids of feature sets written, so a known set is not written again; past this many the
# memory is dropped and ``INSERT OR IGNORE`` keeps the table right.
_REMEMBERED_SETS: Final = 100_000


@dataclass(frozen=True, slots=True)
class PreparedRows:
    """A batch's predictions with the lists made from each block's own types.

    Made in the request's thread (:func:`prepare`), so the writer thread, which holds
    every client's commit, only checks the types against the recorded ones.
    """

    arrays: PredictionArrays
    lists: FeatureLists


def prepare(arrays: PredictionArrays) -> PreparedRows:
    return PreparedRows(arrays, feature_lists(arrays))


def rows_table(arrays: PredictionArrays, lists: FeatureLists) -> pa.Table:
    """The batch's rows of ``prediction_rows``: its fixed columns and its lists."""
    counts = [b.rows for b in arrays.blocks]
    set_ids = np.repeat(np.array(lists.set_ids, dtype=np.int64), counts)
    table = arrays.base.append_column("feature_set", pa.array(set_ids))
    for g, (name, _) in enumerate(GROUPS):
        table = table.append_column(name, lists.lists[g])
    return table.append_column("type_errors", lists.type_errors)


class PredictionRows:
    """The writer's side of the layout: feature types and sets, and the insert."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        for statement in SCHEMA_SQL:
            con.execute(statement)
        self._types: dict[str, dict[str, str]] = {}
        for model, feature, sql_type in con.execute(
            "SELECT model, feature, sql_type FROM feature_types"
        ).fetchall():
            self._types.setdefault(model, {})[feature] = sql_type
        self._sets: set[int] = set()
        # What the open transaction added: forgotten again if it rolls back.
        self._new_types: list[tuple[str, str, str]] = []
        self._new_sets: set[int] = set()

    def models(self) -> list[str]:
        return list(self._types)

    # -- writer thread, inside a transaction -------------------------------------------------

    def insert(self, con: duckdb.DuckDBPyConnection, batches: Sequence[PreparedRows]) -> None:
        """Write the batches' rows, their new feature sets and types: three INSERTs in all."""
        parts: list[pa.Table] = []
        sets: dict[int, Names] = {}
        new: list[tuple[str, str, str]] = []
        for prepared in batches:
            arrays, lists = prepared.arrays, prepared.lists
            differs = False
            for block in arrays.blocks:
                types = self._types.setdefault(block.model, {})
                for feature, sql_type in sql_types(block).items():
                    recorded = types.get(feature)
                    if recorded is None:
                        types[feature] = sql_type
                        new.append((block.model, feature, sql_type))
                    elif recorded != sql_type:
                        differs = True
            if differs:  # rare: values of another type than recorded, or a JSON feature
                lists = feature_lists(arrays, self._types.get)
            for set_id, names in zip(lists.set_ids, lists.names, strict=True):
                if set_id not in self._sets and set_id not in self._new_sets:
                    sets[set_id] = names
                    self._new_sets.add(set_id)
            parts.append(rows_table(arrays, lists))
        if not parts:
            return
        if sets:
            _insert(con, "INSERT OR IGNORE INTO feature_sets SELECT * FROM incoming", _sets(sets))
        self._new_types += new
        if new:
            types_table = pa.table(
                {
                    "model": pa.array([m for m, _, _ in new], pa.string()),
                    "feature": pa.array([f for _, f, _ in new], pa.string()),
                    "sql_type": pa.array([t for _, _, t in new], pa.string()),
                }
            )
            _insert(con, "INSERT INTO feature_types SELECT * FROM incoming", types_table)
        table = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        _insert(con, f"INSERT INTO {TABLE} SELECT * FROM incoming", table.combine_chunks())

    def committed(self) -> None:
        """The transaction committed: what it added is now known."""
        if len(self._sets) + len(self._new_sets) > _REMEMBERED_SETS:
            self._sets.clear()
        self._sets |= self._new_sets
        self._new_sets = set()
        self._new_types = []

    def rolled_back(self) -> None:
        """The transaction rolled back: forget the types and sets it recorded."""
        for model, feature, _ in self._new_types:
            self._types.get(model, {}).pop(feature, None)
        self._new_types = []
        self._new_sets = set()


def _sets(sets: dict[int, Names]) -> pa.Table:
    columns: dict[str, Any] = {"id": pa.array(list(sets), pa.int64())}
    for g, (name, _) in enumerate(GROUPS):
        columns[name] = pa.array([list(names[g]) for names in sets.values()], pa.list_(pa.string()))
    return pa.table(columns)


def _insert(con: duckdb.DuckDBPyConnection, sql: str, table: pa.Table) -> None:
    con.register("incoming", table)
    try:
        con.execute(sql)
    finally:
        con.unregister("incoming")

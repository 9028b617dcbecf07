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

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import duckdb
import msgspec
import numpy as np
import pyarrow as pa

from mlpulse.adapters.store.arrow_tables import BlockFeatures, PredictionArrays

TABLE: Final = "prediction_rows"
# The feature lists: (column of prediction_rows and feature_sets, SQL type of a value).
GROUPS: Final = (
    ("numbers", "DOUBLE"),
    ("flags", "BOOLEAN"),
    ("strings", "VARCHAR"),
    ("others", "JSON"),
)
_GROUP_OF_TYPE: Final = {
    pa.float64(): "numbers",
    pa.bool_(): "flags",
    pa.string(): "strings",
}
_SQL_TYPE: Final = dict(GROUPS)
_ARROW_ITEM: Final = {
    "numbers": pa.float64(),
    "flags": pa.bool_(),
    "strings": pa.string(),
    "others": pa.string(),
}
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
_json = msgspec.json.Encoder()


def feature_set_id(names: Sequence[Sequence[str]]) -> int:
    """A stable 64-bit id for the name lists of a feature set (one list per group).

    >>> feature_set_id([["a"], [], [], []]) == feature_set_id([["a"], [], [], []])
    True
    >>> feature_set_id([["a"], [], [], []]) == feature_set_id([[], [], ["a"], []])
    False
    """
    digest = hashlib.blake2b(msgspec.msgpack.encode(names), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True, slots=True)
class FeatureLists:
    """One block's features as the list columns of its rows, and its feature set."""

    set_id: int
    names: tuple[tuple[str, ...], ...]
    lists: tuple[pa.Array, ...]  # one per group, as GROUPS
    type_errors: pa.Array


def _interleave(arrays: Sequence[pa.Array], n: int, item: pa.DataType) -> pa.Array:
    """Row ``i`` of the result is the list of the ``i``-th value of each array."""
    k = len(arrays)
    if k == 0:
        return pa.nulls(n, pa.list_(item))
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    flat = arrays[0] if k == 1 else pa.concat_arrays(list(arrays))
    if k > 1:  # column-major to row-major: value j of row i is at j*n + i
        order = (np.arange(k, dtype=np.int64)[None, :] * n + np.arange(n)[:, None]).ravel()
        flat = flat.take(pa.array(order))
    return pa.ListArray.from_arrays(offsets, flat)


def _as_json(array: pa.Array) -> pa.Array:
    if isinstance(array.type, pa.JsonType):
        return array.storage
    encode = _json.encode
    return pa.array(
        [None if v is None else encode(v).decode() for v in array.to_pylist()], pa.string()
    )


def feature_lists(block: BlockFeatures, types: dict[str, str] | None = None) -> FeatureLists:
    """The block's features as list columns.

    ``types``: the model's recorded feature types (SQL type names); a feature recorded
    with another type than the block's goes to ``type_errors``, one recorded as JSON
    takes any value. Features of the block not in ``types`` go to the list of their
    own type.
    """
    n = block.rows
    grouped: dict[str, list[tuple[str, pa.Array]]] = {name: [] for name, _ in GROUPS}
    mismatched: list[tuple[str, pa.Array]] = []
    for feature, array in block.features.items():
        if pa.types.is_null(array.type):
            continue  # all missing: nothing to store, no type to learn
        group = _GROUP_OF_TYPE.get(array.type, "others")
        recorded = types.get(feature) if types else None
        if recorded is not None and recorded != _SQL_TYPE[group]:
            if recorded != "JSON":
                mismatched.append((feature, array))
                continue
            group = "others"
        grouped[group].append((feature, _as_json(array) if group == "others" else array))
    names = tuple(tuple(f for f, _ in grouped[name]) for name, _ in GROUPS)
    lists = tuple(
        _interleave([a for _, a in grouped[name]], n, _ARROW_ITEM[name]) for name, _ in GROUPS
    )
    return FeatureLists(feature_set_id(names), names, lists, _type_errors(mismatched, n))


def _type_errors(mismatched: list[tuple[str, pa.Array]], n: int) -> pa.Array:
    if not mismatched:
        return pa.nulls(n, pa.string())
    columns = [(feature, array.to_pylist()) for feature, array in mismatched]
    rows: list[str | None] = []
    for i in range(n):
        found = {feature: values[i] for feature, values in columns if values[i] is not None}
        rows.append(_json.encode(found).decode() if found else None)
    return pa.array(rows, pa.string())


def _joined(arrays: list[pa.Array]) -> pa.Array:
    return arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)


def rows_table(arrays: PredictionArrays, lists: Sequence[FeatureLists]) -> pa.Table:
    """The batch's rows of ``prediction_rows``: its fixed columns and its blocks' lists."""
    counts = [b.rows for b in arrays.blocks]
    set_ids = np.repeat(np.array([f.set_id for f in lists], dtype=np.int64), counts)
    table = arrays.base.append_column("feature_set", pa.array(set_ids))
    for g, (name, _) in enumerate(GROUPS):
        table = table.append_column(name, _joined([f.lists[g] for f in lists]))
    return table.append_column("type_errors", _joined([f.type_errors for f in lists]))


def feature_types_of(block: BlockFeatures) -> dict[str, str]:
    """The SQL type each feature of the block would record (all-null features have none)."""
    return {
        feature: _SQL_TYPE[_GROUP_OF_TYPE.get(array.type, "others")]
        for feature, array in block.features.items()
        if not pa.types.is_null(array.type)
    }


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

    def insert(self, con: duckdb.DuckDBPyConnection, batches: Sequence[PredictionArrays]) -> None:
        """Write the batches' rows, their new feature sets and types: three INSERTs in all."""
        parts: list[pa.Table] = []
        sets: dict[int, tuple[tuple[str, ...], ...]] = {}
        new: list[tuple[str, str, str]] = []
        for arrays in batches:
            lists = []
            for block in arrays.blocks:
                types = self._types.setdefault(block.model, {})
                for feature, sql_type in feature_types_of(block).items():
                    if feature not in types:
                        types[feature] = sql_type
                        new.append((block.model, feature, sql_type))
                found = feature_lists(block, types)
                lists.append(found)
                if found.set_id not in self._sets and found.set_id not in self._new_sets:
                    sets[found.set_id] = found.names
                    self._new_sets.add(found.set_id)
            if lists:
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


def _sets(sets: dict[int, tuple[tuple[str, ...], ...]]) -> pa.Table:
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

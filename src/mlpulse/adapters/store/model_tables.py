"""One prediction table per model, with a typed column per feature.

Why not one table with the features as JSON: stored as JSON text, features cost
DuckDB about 12 µs a row to write and checkpoint; as typed columns about 5 µs, and
they compress and scan far better (``SELECT avg(f_amount) FROM ...``). A model's
features are stable, so its table gains a column when a new feature appears.

A feature's column takes the type of the first non-null values seen (DOUBLE,
BOOLEAN, VARCHAR, or JSON for a column that mixes types). Values of another type
later are not coerced: they go to the row's ``type_errors`` JSON, so nothing is lost
and data-quality checks can count them. Feature columns are named ``f_<feature>``;
DuckDB identifiers ignore case, so a second feature differing only in case gets a
numbered name. ``model_tables`` and ``feature_columns`` record the mapping, and the
view ``predictions`` joins every model's table (with a ``model`` column) for SQL users.

All DDL runs in the writer thread inside the data's transaction; the in-memory
mapping is updated only once that transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import duckdb
import pyarrow as pa

from mlpulse.adapters.store.arrow_tables import PREDICTION_COLUMNS, PredictionArrays

_ARROW_TO_SQL: Final = {
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.string(): "VARCHAR",
    pa.json_(): "JSON",
}

CATALOG_SQL: Final = (
    "CREATE TABLE IF NOT EXISTS model_tables (model VARCHAR PRIMARY KEY, table_name VARCHAR)",
    "CREATE TABLE IF NOT EXISTS feature_columns (model VARCHAR, feature VARCHAR, "
    "column_name VARCHAR, sql_type VARCHAR, PRIMARY KEY (model, feature))",
)


def quote(identifier: str) -> str:
    """A DuckDB identifier for any string.

    >>> quote('my "odd" name')
    '"my ""odd"" name"'
    """
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(slots=True)
class _Model:
    table: str
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)  # feature → (column, type)


class ModelTables:
    """The model → table and feature → column mapping, and the SQL that keeps it true."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        for statement in CATALOG_SQL:
            con.execute(statement)
        self._models: dict[str, _Model] = {
            model: _Model(table) for model, table in con.execute(
                "SELECT model, table_name FROM model_tables"
            ).fetchall()
        }  # fmt: skip
        for model, feature, column, sql_type in con.execute(
            "SELECT model, feature, column_name, sql_type FROM feature_columns"
        ).fetchall():
            self._models[model].columns[feature] = (column, sql_type)
        # What the open transaction added: forgotten again if it rolls back.
        self._new_models: dict[str, _Model] = {}
        self._new_columns: list[tuple[_Model, str]] = []

    def table(self, model: str) -> str | None:
        """The quoted table name of ``model``'s predictions, if it has any."""
        found = self._models.get(model)
        return quote(found.table) if found else None

    def tables(self) -> list[tuple[str, str]]:
        models = list(self._models.items())  # one C call: safe while the writer adds
        return [(model, quote(m.table)) for model, m in models]

    # -- writer thread, inside a transaction -------------------------------------------------

    def insert(self, con: duckdb.DuckDBPyConnection, arrays: PredictionArrays) -> None:
        model = self._model(con, arrays.model)
        names: dict[str, pa.Array] = {}
        mismatched: dict[str, pa.Array] = {}
        for feature, array in arrays.features.items():
            if pa.types.is_null(array.type):
                continue  # all missing: nothing to store, no type to learn
            sql_type = _ARROW_TO_SQL.get(array.type, "JSON")
            column = model.columns.get(feature)
            if column is None:
                column = self._add_column(con, arrays.model, model, feature, sql_type)
            if column[1] == sql_type or column[1] == "JSON":
                names[column[0]] = array
            else:
                mismatched[feature] = array
        table = arrays.base
        for column_name, array in names.items():
            table = table.append_column(column_name, array)
        select = "*"
        if mismatched:
            hidden = {f"__mismatch_{i}": (f, a) for i, (f, a) in enumerate(mismatched.items())}
            for name, (_, array) in hidden.items():
                table = table.append_column(name, array)
            pairs = ", ".join(f"{_literal(f)}, {n}" for n, (f, _) in hidden.items())
            excluded = ", ".join(hidden)
            select = f"* EXCLUDE ({excluded}), json_object({pairs}) AS type_errors"
        con.register("incoming", table)
        try:
            con.execute(f"INSERT INTO {quote(model.table)} BY NAME SELECT {select} FROM incoming")
        finally:
            con.unregister("incoming")

    def _model(self, con: duckdb.DuckDBPyConnection, name: str) -> _Model:
        model = self._models.get(name) or self._new_models.get(name)
        if model is not None:
            return model
        table = f"predictions_{len(self._models) + len(self._new_models) + 1}"
        model = _Model(table)
        columns = ", ".join(f"{col} {kind}" for col, kind in PREDICTION_COLUMNS)
        con.execute(f"CREATE TABLE {quote(table)} ({columns})")
        con.execute("INSERT INTO model_tables VALUES (?, ?)", [name, table])
        self._new_models[name] = model
        self._create_view(con)
        return model

    def _add_column(
        self, con: duckdb.DuckDBPyConnection, model_name: str, model: _Model, feature: str,
        sql_type: str,
    ) -> tuple[str, str]:  # fmt: skip
        taken = {c.lower() for c, _ in model.columns.values()}
        taken |= {c for c, _ in PREDICTION_COLUMNS}
        column = f"f_{feature}"
        suffix = 2
        while column.lower() in taken:
            column = f"f_{feature}_{suffix}"
            suffix += 1
        con.execute(f"ALTER TABLE {quote(model.table)} ADD COLUMN {quote(column)} {sql_type}")
        con.execute(
            "INSERT INTO feature_columns VALUES (?, ?, ?, ?)",
            [model_name, feature, column, sql_type],
        )
        model.columns[feature] = (column, sql_type)
        self._new_columns.append((model, feature))
        return column, sql_type

    def _create_view(self, con: duckdb.DuckDBPyConnection) -> None:
        models = {m: mm.table for m, mm in self._models.items()}
        models.update({m: mm.table for m, mm in self._new_models.items()})
        parts = [
            f"SELECT {_literal(m)} AS model, * FROM {quote(t)}" for m, t in sorted(models.items())
        ]
        con.execute(f"CREATE OR REPLACE VIEW predictions AS {' UNION ALL BY NAME '.join(parts)}")

    def committed(self) -> None:
        """The transaction committed: what it added is now part of the mapping."""
        self._models.update(self._new_models)
        self._new_models = {}
        self._new_columns = []

    def rolled_back(self) -> None:
        """The transaction rolled back: forget the tables and columns it made."""
        for model, feature in self._new_columns:
            model.columns.pop(feature, None)
        self._new_models = {}
        self._new_columns = []


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"

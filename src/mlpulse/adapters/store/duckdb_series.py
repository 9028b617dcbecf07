"""Metric points and references in the event store's DuckDB file; minute profiles
delegated to :class:`~mlpulse.adapters.store.sqlite_profiles.SQLiteProfileStore`.

The collector owns one DuckDB database; this store works on a cursor of it
(``DuckDBEventStore.connection()``), beside the event writer thread. DuckDB's MVCC
lets both write at once: they touch different tables. Writes here are small (a few
hundred rows a minute), go in as Arrow tables under a lock, and are committed before
the method returns. Reads use a cursor per thread and see committed data only.

Times are epoch seconds in the API and microsecond ``TIMESTAMPTZ`` in the tables,
converted as the event store does: ``round(seconds * 1e6)`` in, ``epoch_us(ts)`` out.
So a time comes back rounded to the microsecond.

Use one instance per database: the lock that keeps the metric-point upsert atomic
and the cache of latest points are the instance's own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import duckdb
import msgspec
import pyarrow as pa

from mlpulse.adapters.store.sqlite_profiles import SQLiteProfileStore
from mlpulse.domain.series import BucketedPoint, MetricPoint, MinuteProfile, StoredReference
from mlpulse.errors import StoreClosedError, StoreError, parameter_error

_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
_SCHEMA: Final = (
    # No PRIMARY KEY on (name, labels, ts): measured with 2M points, its index made the
    # file 8x larger (176 MB against 21 MB), and this table is kept for a long time.
    # The upsert deletes then inserts in one transaction instead (see append_points),
    # which costs the same few milliseconds: the delete only reads the row groups of
    # the incoming points' time range.
    "CREATE TABLE IF NOT EXISTS metric_points (ts TIMESTAMPTZ, name VARCHAR, "
    "labels VARCHAR, value DOUBLE, status VARCHAR)",
    # REFERENCES is an SQL keyword, hence the prefix.
    "CREATE TABLE IF NOT EXISTS model_references (model VARCHAR, version VARCHAR, "
    "created_at TIMESTAMPTZ, source VARCHAR, profile BLOB, sample BLOB, "
    "PRIMARY KEY (model, version))",
)
_AGGREGATES: Final = frozenset({"avg", "max", "min", "sum"})
_decode_labels = msgspec.json.Decoder(dict[str, str])
_encode_labels = msgspec.json.Encoder().encode


def labels_text(labels: Mapping[str, str]) -> str:
    """The canonical text of a point's labels: JSON with sorted keys, no spaces.

    >>> labels_text({"model": "fraud", "feature": "amount"}), labels_text({})
    ('{"feature":"amount","model":"fraud"}', '{}')
    """
    # msgspec writes the same compact JSON as json.dumps(..., separators=(",", ":"),
    # ensure_ascii=False), about 15 times faster: a tick writes thousands of points.
    return _encode_labels(dict(sorted(labels.items()))).decode()


def _json_path(key: str) -> str:
    """A JSON path naming one top-level key, whatever characters it holds."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _micros(seconds: float) -> int:
    return round(seconds * 1e6)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """The one place where DuckDB's errors become ours."""
    try:
        yield
    except duckdb.ConnectionException as exc:  # the event store closed the database
        raise StoreClosedError(f"the series store is closed (could not {action})") from exc
    except duckdb.Error as exc:
        raise StoreError(f"the series store could not {action}: {exc}") from exc


class DuckDBSeriesStore:
    """:class:`mlpulse.ports.SeriesStore` over the collector's DuckDB database."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, profiles: SQLiteProfileStore) -> None:
        """Use ``connection`` (a cursor of its own) for writes; make the tables.

        Minute profiles live in ``profiles`` (SQLite: see its module for why).

        The newest point of every series is loaded into memory here and kept up to
        date on append, so :meth:`latest_points` (called by every ``/metrics`` scrape)
        costs a copy of a dict, not a scan of a table that holds months of points.
        """
        self._con = connection
        self._profiles = profiles
        self._lock = threading.Lock()
        self._local = threading.local()
        with _translated("create its tables"):
            for statement in _SCHEMA:
                self._con.execute(statement)
            # One (name, labels, ts) is one row, so row_number() has no ties. Faster
            # than DISTINCT ON ... ORDER BY (no full sort): 50 ms for 2M points.
            rows = self._con.execute(
                "SELECT name, labels, epoch_us(ts), value, status FROM metric_points "
                "QUALIFY row_number() OVER (PARTITION BY name, labels ORDER BY ts DESC) = 1"
            ).fetchall()
        self._latest: dict[tuple[str, str], MetricPoint] = {
            (name, text): MetricPoint(us / 1e6, name, _decode_labels.decode(text), value, status)
            for name, text, us, value, status in rows
        }

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, action: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction on the writing cursor; the caller holds ``_lock``."""
        with _translated(action):
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended it
                    con.execute("ROLLBACK")
                raise

    @staticmethod
    def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
        con.register("incoming_series", rows)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_series")
        finally:
            con.unregister("incoming_series")

    def append_profiles(self, rows: Sequence[MinuteProfile]) -> None:
        self._profiles.append_profiles(rows)

    def append_points(self, points: Sequence[MetricPoint]) -> None:
        # One row per (name, labels, ts), the last one given winning, as if each
        # point were written in turn.
        rows: dict[tuple[str, str, int], MetricPoint] = {}
        for point in points:
            us = _micros(point.ts)
            labels = dict(sorted(point.labels.items()))
            # labels_text(labels) without sorting them again (a tick writes thousands)
            rows[point.name, _encode_labels(labels).decode(), us] = MetricPoint(
                us / 1e6, point.name, labels, point.value, point.status
            )
        if not rows:
            return
        keys = list(rows)
        table = pa.table(
            {
                "ts": pa.array([us for _, _, us in keys], type=_TIMESTAMP),
                "name": pa.array([name for name, _, _ in keys], type=pa.string()),
                "labels": pa.array([text for _, text, _ in keys], type=pa.string()),
                "value": pa.array([p.value for p in rows.values()], type=pa.float64()),
                "status": pa.array([p.status for p in rows.values()], type=pa.string()),
            }
        )
        first, last = min(us for *_, us in keys), max(us for *_, us in keys)
        with self._lock:
            with self._transaction("store metric points") as con:
                con.register("incoming_points", table)
                try:
                    # The explicit time range lets DuckDB skip older row groups.
                    con.execute(
                        "DELETE FROM metric_points AS m USING incoming_points AS i "
                        "WHERE m.ts >= make_timestamptz(?::BIGINT) "
                        "AND m.ts <= make_timestamptz(?::BIGINT) "
                        "AND m.name = i.name AND m.labels = i.labels AND m.ts = i.ts",
                        [first, last],
                    )
                finally:
                    con.unregister("incoming_points")
                self._insert(con, "metric_points", table)
            for (name, text, _), point in rows.items():
                known = self._latest.get((name, text))
                if known is None or known.ts <= point.ts:
                    self._latest[name, text] = point

    def put_reference(self, reference: StoredReference) -> None:
        r = reference
        with self._lock, self._transaction("store a reference") as con:
            con.execute(
                "INSERT OR REPLACE INTO model_references "
                "VALUES (?, ?, make_timestamptz(?::BIGINT), ?, ?, ?)",
                [r.model, r.version, _micros(r.created_at), r.source, r.profile, r.sample],
            )

    # -- reading ---------------------------------------------------------------------------

    def _read(self, action: str, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        cursor = getattr(self._local, "cursor", None)
        with _translated(action):
            if cursor is None:
                with self._lock:  # not while a write runs on the same connection object
                    cursor = self._con.cursor()
                self._local.cursor = cursor
            return cursor.execute(sql, params).fetchall()

    def read_profiles(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[MinuteProfile]:
        return self._profiles.read_profiles(model, start=start, end=end, version=version)

    def profile_index(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[tuple[float, int, int]]:
        return self._profiles.profile_index(model, start=start, end=end, version=version)

    def query_points(
        self, name: str, *, matchers: Mapping[str, str], start: float, end: float
    ) -> list[MetricPoint]:
        sql = (
            "SELECT epoch_us(ts), labels, value, status FROM metric_points WHERE name = ? "
            "AND ts >= make_timestamptz(?::BIGINT) AND ts <= make_timestamptz(?::BIGINT)"
        )
        params: list[Any] = [name, _micros(start), _micros(end)]
        for key, value in sorted(matchers.items()):
            sql += " AND json_extract_string(labels, ?) = ?"
            params += [_json_path(key), value]
        sql += " ORDER BY ts, labels"
        return [
            MetricPoint(us / 1e6, name, _decode_labels.decode(text), value, status)
            for us, text, value, status in self._read("query points", sql, params)
        ]

    def bucketed_points(
        self,
        name: str,
        *,
        matchers: Mapping[str, str],
        start: float,
        end: float,
        bucket_s: float,
        aggregate: str = "avg",
    ) -> list[BucketedPoint]:
        """Points of ``name`` in [start, end] whose labels include ``matchers``, one per
        (bucket, labels): the ``aggregate`` (``avg``, ``max``, ``min``, ``sum``) of the
        series' values in each ``bucket_s``-long bucket, aligned to the epoch.

        Downsampling happens in DuckDB, so a chart of 30 days of minute points reads a
        few hundred rows per series instead of 43,200. NaN values are left out of the
        aggregate (a bucket of only NaN is not returned).
        """
        if aggregate not in _AGGREGATES:
            raise parameter_error(
                "aggregate", "bucketed_points", f"one of {sorted(_AGGREGATES)}", aggregate
            )
        step = max(1, _micros(bucket_s))
        sql = (
            f"SELECT (epoch_us(ts) // {step}) * {step} AS bucket, labels, "
            f"{aggregate}(value), count(*) FROM metric_points WHERE name = ? "
            "AND ts >= make_timestamptz(?::BIGINT) AND ts <= make_timestamptz(?::BIGINT) "
            "AND NOT isnan(value)"
        )
        params: list[Any] = [name, _micros(start), _micros(end)]
        for key, value in sorted(matchers.items()):
            # The canonical text holds the pair as `"key":"value"`: a substring test
            # drops most other rows before the JSON is parsed (25% faster on 30 days).
            sql += " AND contains(labels, ?) AND json_extract_string(labels, ?) = ?"
            params += [labels_text({key: value})[1:-1], _json_path(key), value]
        sql += " GROUP BY bucket, labels ORDER BY bucket, labels"
        decoded: dict[str, dict[str, str]] = {}
        found: list[BucketedPoint] = []
        for us, text, value, n in self._read("query bucketed points", sql, params):
            labels = decoded.get(text)
            if labels is None:
                labels = decoded[text] = _decode_labels.decode(text)
            found.append(BucketedPoint(us / 1e6, labels, float(value), int(n)))
        return found

    def latest_points(self) -> list[MetricPoint]:
        with self._lock:
            items = list(self._latest.items())
        items.sort(key=lambda item: item[0])
        return [point for _, point in items]

    def get_reference(self, model: str, version: str) -> StoredReference | None:
        rows = self._read(
            "read a reference",
            "SELECT model, version, epoch_us(created_at), source, profile, sample "
            "FROM model_references WHERE model = ? AND version IN (?, '') "
            "ORDER BY version = '' LIMIT 1",
            [model, version],
        )
        if not rows:
            return None
        m, v, us, source, profile, sample = rows[0]
        return StoredReference(m, v, us / 1e6, source, bytes(profile), bytes(sample))

    def close(self) -> None:
        """Release the cursor (closing the event store releases it as well) and the
        profile store."""
        with self._lock, contextlib.suppress(duckdb.Error):
            self._con.close()
        self._profiles.close()

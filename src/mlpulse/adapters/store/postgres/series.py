"""Minute profiles, metric points and references on PostgreSQL.

The rules of :mod:`mlpulse.adapters.store.duckdb_series` and
:mod:`mlpulse.adapters.store.sqlite_profiles`: times are ``timestamptz`` rounded to the
microsecond; a metric point with the same (name, labels, ts) as before replaces it (an
upsert on the primary key, which also makes concurrent writers from several replicas
safe); labels are kept as their canonical text (sorted compact JSON), which is what
results are ordered by; a profile row's version stamp is its ``id`` from a sequence.

Unlike the DuckDB store, :meth:`latest_points` reads the table (``DISTINCT ON`` over
the primary key's index) instead of a cache: another replica's points must show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from mlpulse.adapters.store.duckdb_series import labels_text
from mlpulse.adapters.store.postgres.database import Database, Row, at, micros
from mlpulse.domain.series import BucketedPoint, MetricPoint, MinuteProfile, StoredReference
from mlpulse.errors import parameter_error

NAME: Final = "series store"
_AGGREGATES: Final = frozenset({"avg", "max", "min", "sum"})
_decode_labels = msgspec.json.Decoder(dict[str, str]).decode


def _micros(seconds: float) -> int:
    return round(seconds * 1e6)


def _matching(matchers: Mapping[str, str], params: list[Any]) -> str:
    """SQL (and its parameters) keeping points whose labels include ``matchers``."""
    if not matchers:
        return ""
    params.append(labels_text(matchers))
    return " AND labels::jsonb @> %s::jsonb"


class PostgresSeriesStore:
    """:class:`mlpulse.ports.SeriesStore` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _rows(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._db.rows(NAME, action, sql, params)

    # -- minute profiles ---------------------------------------------------------------------

    def append_profiles(self, rows: Sequence[MinuteProfile]) -> None:
        if not rows:
            return
        with (
            self._db.transaction(NAME, "store profiles") as conn,
            conn.cursor().copy(
                "COPY window_profiles (model, version, segment, minute, writer, profile) FROM STDIN"
            ) as copy,
        ):
            for r in rows:
                copy.write_row((r.model, r.version, r.segment, at(r.minute), r.writer, r.profile))

    @staticmethod
    def _where(model: str, start: float, end: float, version: str | None) -> tuple[str, list[Any]]:
        sql = "WHERE model = %s AND minute >= %s AND minute < %s"
        params: list[Any] = [model, at(start), at(end)]
        if version is not None:
            sql += " AND version = %s"
            params.append(version)
        return sql, params

    def read_profiles(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[MinuteProfile]:
        where, params = self._where(model, start, end, version)
        rows = self._rows(
            "read profiles",
            f"SELECT model, version, segment, {micros('minute')}, writer, profile "
            f"FROM window_profiles {where} ORDER BY minute, version, segment, writer, id",
            params,
        )
        return [MinuteProfile(m, v, s, us / 1e6, w, bytes(p)) for m, v, s, us, w, p in rows]

    def profile_index(
        self, model: str, *, start: float, end: float, version: str | None = None
    ) -> list[tuple[float, int, int]]:
        where, params = self._where(model, start, end, version)
        rows = self._rows(
            "index profiles",
            f"SELECT {micros('minute')}, count(*), max(id) FROM window_profiles {where} "
            "GROUP BY minute ORDER BY minute",
            params,
        )
        return [(us / 1e6, int(n), int(last)) for us, n, last in rows]

    # -- metric points -----------------------------------------------------------------------

    def append_points(self, points: Sequence[MetricPoint]) -> None:
        # One row per (name, labels, ts), the last one given winning, as if each point
        # were written in turn (an upsert may not touch a row twice in one statement).
        rows: dict[tuple[str, str, int], MetricPoint] = {}
        for point in points:
            rows[point.name, labels_text(point.labels), _micros(point.ts)] = point
        if not rows:
            return
        keys = sorted(rows)  # one lock order for every writer: no deadlock
        with self._db.transaction(NAME, "store metric points") as conn:
            conn.execute(
                "INSERT INTO metric_points (name, labels, ts, value, status) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], "
                "%s::double precision[], %s::text[]) "
                "ON CONFLICT (name, labels, ts) DO UPDATE "
                "SET value = excluded.value, status = excluded.status",
                (
                    [name for name, _, _ in keys],
                    [text for _, text, _ in keys],
                    [at(us / 1e6) for _, _, us in keys],
                    [rows[key].value for key in keys],
                    [rows[key].status for key in keys],
                ),
            )

    def query_points(
        self, name: str, *, matchers: Mapping[str, str], start: float, end: float
    ) -> list[MetricPoint]:
        params: list[Any] = [name, at(start), at(end)]
        sql = (
            f"SELECT {micros('ts')}, labels, value, status FROM metric_points "
            "WHERE name = %s AND ts >= %s AND ts <= %s"
            + _matching(matchers, params)
            + " ORDER BY ts, labels"
        )
        return [
            MetricPoint(us / 1e6, name, _decode_labels(text), value, status)
            for us, text, value, status in self._rows("query points", sql, params)
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
        """As :meth:`.DuckDBSeriesStore.bucketed_points`: per (bucket, labels) the
        ``aggregate`` of the series' non-NaN values in epoch-aligned buckets."""
        if aggregate not in _AGGREGATES:
            raise parameter_error(
                "aggregate", "bucketed_points", f"one of {sorted(_AGGREGATES)}", aggregate
            )
        step = max(1, _micros(bucket_s))
        params: list[Any] = [name, at(start), at(end)]
        sql = (
            f"SELECT ({micros('ts')} / {step}) * {step} AS bucket, labels, "
            f"{aggregate}(value), count(*) FROM metric_points "
            "WHERE name = %s AND ts >= %s AND ts <= %s AND value <> 'NaN'"
            + _matching(matchers, params)
            + " GROUP BY bucket, labels ORDER BY bucket, labels"
        )
        decoded: dict[str, dict[str, str]] = {}
        found: list[BucketedPoint] = []
        for us, text, value, n in self._rows("query bucketed points", sql, params):
            labels = decoded.get(text)
            if labels is None:
                labels = decoded[text] = _decode_labels(text)
            found.append(BucketedPoint(us / 1e6, labels, float(value), int(n)))
        return found

    def latest_points(self) -> list[MetricPoint]:
        rows = self._rows(
            "read the latest points",
            f"SELECT DISTINCT ON (name, labels) name, labels, {micros('ts')}, value, status "
            "FROM metric_points ORDER BY name, labels, ts DESC",
        )
        return [
            MetricPoint(us / 1e6, name, _decode_labels(text), value, status)
            for name, text, us, value, status in rows
        ]

    # -- references --------------------------------------------------------------------------

    def put_reference(self, reference: StoredReference) -> None:
        r = reference
        with self._db.transaction(NAME, "store a reference") as conn:
            conn.execute(
                "INSERT INTO model_references (model, version, created_at, source, profile, "
                "sample) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (model, version) DO UPDATE "
                "SET created_at = excluded.created_at, source = excluded.source, "
                "profile = excluded.profile, sample = excluded.sample",
                (r.model, r.version, at(r.created_at), r.source, r.profile, r.sample),
            )

    def get_reference(self, model: str, version: str) -> StoredReference | None:
        rows = self._rows(
            "read a reference",
            f"SELECT model, version, {micros('created_at')}, source, profile, sample "
            "FROM model_references WHERE model = %s AND version IN (%s, '') "
            "ORDER BY version = '' LIMIT 1",
            (model, version),
        )
        if not rows:
            return None
        m, v, us, source, profile, sample = rows[0]
        return StoredReference(m, v, us / 1e6, source, bytes(profile), bytes(sample))

    def close(self) -> None:
        """Nothing of its own to release: the backend closes the shared database."""

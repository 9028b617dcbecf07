"""Predictions joined to their labels, and the raw events' retention, in DuckDB.

What :class:`~mlpulse.adapters.store.duckdb_events.DuckDBEventStore` runs for
:class:`mlpulse.ports.LabelStore`. The functions take a cursor and read the one
prediction table of :mod:`.prediction_rows`; the event store maps DuckDB's errors to
ours.

A prediction's label is the latest label of its model with the same ``request_id``:
the one received last, and of those received at once the one stored last (``rowid``).
A label applies to every version that predicted the request (a shadow version and
the live one are judged by the same truth); the label's own ``version`` is not used.
A label whose value is null carries no truth: it is ignored.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import duckdb
import msgspec

from mlpulse.adapters.store.prediction_rows import TABLE
from mlpulse.domain.series import LabelledRows, segment_key

log = logging.getLogger("mlpulse.store")

_values = msgspec.json.Decoder(list[Any])
_probabilities = msgspec.json.Decoder(list[dict[str, float] | None])
_segments = msgspec.json.Decoder(list[dict[str, str] | None])


def _json_column(values: Sequence[str | None]) -> str:
    """JSON texts (None for SQL NULL) as one JSON array, to decode in one call."""
    return "[" + ",".join("null" if v is None else v for v in values) + "]"


def _empty(total: int) -> LabelledRows:
    return LabelledRows([], [], [], [], [], [], [], [], total=total)


def labelled_predictions(
    cur: duckdb.DuckDBPyConnection,
    model: str,
    *,
    start: float,
    end: float,
    version: str | None = None,
) -> LabelledRows:
    """Predictions with ``ts`` in [start, end) that have a label, by time.

    One statement, so ``total`` and the rows come from the same snapshot; the labels
    aggregated are only those of requests in the window.
    """
    params: list[Any] = [model, round(start * 1e6), round(end * 1e6)]
    only_version = ""
    if version is not None:
        only_version = "AND version = ?"
        params.append(version)
    params.append(model)
    rows = cur.execute(
        f"""
        WITH window_rows AS (
            SELECT ts, version, request_id, prediction, score, probabilities, segment
            FROM {TABLE}
            WHERE model = ? AND ts >= make_timestamptz(?::BIGINT)
              AND ts < make_timestamptz(?::BIGINT)
            {only_version}
        ),
        latest AS (
            SELECT request_id, arg_max(label, (received_at, rowid)) AS label
            FROM labels
            WHERE model = ? AND label IS NOT NULL
              AND request_id IN (SELECT request_id FROM window_rows)
            GROUP BY request_id
        ),
        joined AS (
            SELECT w.*, l.label FROM window_rows AS w JOIN latest AS l USING (request_id)
        )
        SELECT t.total, epoch_us(j.ts), j.version, j.request_id, j.prediction, j.score,
               j.probabilities, j.segment, j.label
        FROM (SELECT count(*) AS total FROM window_rows) AS t LEFT JOIN joined AS j ON true
        ORDER BY j.ts, j.request_id, j.version
        """,
        params,
    ).fetchall()
    total = int(rows[0][0])
    if rows[0][3] is None:  # the LEFT JOIN's one row: nothing in the window is labelled
        return _empty(total)
    _, us, versions, request_ids, predictions, scores, probabilities, segments, labels = (
        list(column) for column in zip(*rows, strict=True)
    )
    return LabelledRows(
        ts=[t / 1e6 for t in us],
        version=versions,
        request_id=request_ids,
        prediction=_values.decode(_json_column(predictions)),
        score=scores,
        probabilities=_probabilities.decode(_json_column(probabilities)),
        segment=[segment_key(s) for s in _segments.decode(_json_column(segments))],
        label=_values.decode(_json_column(labels)),
        total=total,
    )


def labelled_since(
    cur: duckdb.DuckDBPyConnection,
    model: str,
    *,
    since: float,
    window: float | None = None,
) -> list[tuple[str, float]]:
    """(version, prediction ts) of predictions labelled at or after ``since``, by time;
    with ``window``, each distinct (version, start of the aligned window) once."""
    bucket = "epoch_us(ts)"
    params: list[Any] = []
    if window is not None:
        window_us = round(window * 1e6)
        bucket = "(epoch_us(ts) // ?) * ?"
        params += [window_us, window_us]
    rows = cur.execute(
        f"""
        SELECT DISTINCT version, {bucket} AS us FROM {TABLE}
        WHERE model = ? AND request_id IN (
            SELECT request_id FROM labels
            WHERE model = ? AND label IS NOT NULL
              AND received_at >= make_timestamptz(?::BIGINT)
        )
        ORDER BY us, version
        """,
        [*params, model, model, round(since * 1e6)],
    ).fetchall()
    return [(version, us / 1e6) for version, us in rows]


def delete_events_before(
    con: duckdb.DuckDBPyConnection, tables: Sequence[str], cutoff: float
) -> int:
    """Delete the rows of ``tables`` with ``ts`` < cutoff, and the ``batches`` received
    before it, in one transaction.

    ``batches`` remembers each batch's id to recognise a retry, so the window in which
    a retried batch is recognised equals the retention. The event store runs this on
    its writer thread, between two group commits.
    """
    return _delete(con, tables, round(cutoff * 1e6))


def _delete(con: duckdb.DuckDBPyConnection, tables: Sequence[str], cutoff_us: int) -> int:
    deleted = 0
    con.execute("BEGIN TRANSACTION")
    try:
        for table in tables:
            row = con.execute(
                f"DELETE FROM {table} WHERE ts < make_timestamptz(?::BIGINT)", [cutoff_us]
            ).fetchone()
            deleted += int(row[0]) if row else 0
        con.execute(
            "DELETE FROM batches WHERE received_at < make_timestamptz(?::BIGINT)", [cutoff_us]
        )
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended it already
            con.execute("ROLLBACK")
        raise
    return deleted

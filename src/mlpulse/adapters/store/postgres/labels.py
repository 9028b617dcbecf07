"""Predictions joined to their labels, and the raw events' retention, on PostgreSQL.

What :class:`~.events.PostgresEventStore` runs for :class:`mlpulse.ports.LabelStore`,
with the rules of :mod:`mlpulse.adapters.store.duckdb_labels`: a prediction's label is
the latest non-null label of its model with the same ``request_id`` (received last; of
those received at once, stored last: the ``labels.id`` sequence), whatever version
the label names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from mlpulse.adapters.store.postgres.database import Database, at, micros
from mlpulse.domain.series import LabelledRows, segment_key

NAME: Final = "event store"
_values = msgspec.json.Decoder(list[Any])
_probabilities = msgspec.json.Decoder(list[dict[str, float] | None])
_segments = msgspec.json.Decoder(list[dict[str, str] | None])

# The latest label of each request of the window (DISTINCT ON keeps the first row of
# each request_id in the ORDER BY).
LATEST_LABELS: Final = """
    SELECT DISTINCT ON (request_id) request_id, label
    FROM labels
    WHERE model = %(model)s AND label IS NOT NULL
      AND request_id IN (SELECT request_id FROM window_rows)
    ORDER BY request_id, received_at DESC, id DESC
"""


def _json_column(values: Sequence[str | None]) -> bytes:
    """JSON texts (None for SQL NULL) as one JSON array, to decode in one call."""
    return ("[" + ",".join("null" if v is None else v for v in values) + "]").encode()


def _empty(total: int) -> LabelledRows:
    return LabelledRows([], [], [], [], [], [], [], [], total=total)


def labelled_predictions(
    db: Database, model: str, *, start: float, end: float, version: str | None = None
) -> LabelledRows:
    """Predictions with ``ts`` in [start, end) that have a label, by time; ``total`` and
    the rows from one statement, so from one snapshot."""
    params: dict[str, Any] = {"model": model, "start": at(start), "end": at(end)}
    only_version = ""
    if version is not None:
        only_version = "AND version = %(version)s"
        params["version"] = version
    rows = db.rows(
        NAME,
        "join predictions to labels",
        f"""
        WITH window_rows AS (
            SELECT ts, version, request_id, prediction, score, probabilities, segment
            FROM predictions
            WHERE model = %(model)s AND ts >= %(start)s AND ts < %(end)s {only_version}
        ),
        latest AS ({LATEST_LABELS}),
        joined AS (
            SELECT w.*, l.label FROM window_rows AS w JOIN latest AS l USING (request_id)
        )
        SELECT t.total, {micros("j.ts")}, j.version, j.request_id, j.prediction::text,
               j.score, j.probabilities::text, j.segment::text, j.label::text
        FROM (SELECT count(*) AS total FROM window_rows) AS t LEFT JOIN joined AS j ON true
        ORDER BY j.ts, j.request_id, j.version
        """,
        params,
    )
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
    db: Database, model: str, *, since: float, window: float | None = None
) -> list[tuple[str, float]]:
    """(version, prediction ts) of predictions labelled at or after ``since``, by time;
    with ``window``, each distinct (version, start of the aligned window) once."""
    bucket = micros("ts")
    params: dict[str, Any] = {"model": model, "since": at(since)}
    if window is not None:
        # Integer division truncates; times after the epoch are positive, so it floors.
        bucket = f"({bucket} / %(window)s) * %(window)s"
        params["window"] = round(window * 1e6)
    rows = db.rows(
        NAME,
        "find newly labelled predictions",
        f"""
        SELECT DISTINCT version, {bucket} AS us FROM predictions
        WHERE model = %(model)s AND request_id IN (
            SELECT request_id FROM labels
            WHERE model = %(model)s AND label IS NOT NULL AND received_at >= %(since)s
        )
        ORDER BY us, version
        """,
        params,
    )
    return [(version, us / 1e6) for version, us in rows]


def delete_events_before(db: Database, tables: Sequence[str], cutoff: float) -> int:
    """Delete the rows of ``tables`` with ``ts`` < cutoff in one transaction; returns
    how many.

    The batch ids received before the cutoff go too (not counted: they are no events).
    Kept for ever, their rejection lists grew without bound; a retry older than the
    retention is stored again, and its old events go at the next pass.
    """
    deleted = 0
    with db.transaction(NAME, f"delete the events before {cutoff}") as conn:
        for table in tables:
            cursor = conn.execute(f"DELETE FROM {table} WHERE ts < %s", (at(cutoff),))
            deleted += max(cursor.rowcount, 0)
        conn.execute("DELETE FROM batches WHERE received_at < %s", (at(cutoff),))
    return deleted

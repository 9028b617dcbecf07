"""The schema of the PostgreSQL store as numbered forward migrations.

A migration is never edited once released: a change is a new migration appended with
the next number (``ALTER TABLE outbox ADD COLUMN ...``), which
:class:`~.database.Database` applies at open and records in ``schema_version``.

Text columns that results are sorted by are ``COLLATE "C"``: byte order, which is
code-point order for UTF-8, the order Python, SQLite and DuckDB sort strings in; a
database's default collation (e.g. ``en_US.UTF-8``) would order ``"B" < "a"`` the
other way round from the embedded store.

Layout of the events: one ``predictions`` table for every model (a ``model`` column),
the features of a prediction as one JSON object. No DDL happens on the ingest path,
however many models or feature names arrive. JSON values are ``json`` (text kept as
written: cheaper to write than ``jsonb``, which parses and converts every value, and
compared by their text as the embedded store compares them); cast to ``jsonb`` to
query them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_C: Final = 'text COLLATE "C"'

_EVENTS: Final = (
    f"""CREATE TABLE batches (
        batch_id {_C} PRIMARY KEY, received_at timestamptz NOT NULL,
        accepted integer NOT NULL, rejected json NOT NULL)""",
    f"""CREATE TABLE predictions (
        model {_C} NOT NULL, version {_C} NOT NULL, request_id {_C} NOT NULL,
        ts timestamptz NOT NULL, received_at timestamptz NOT NULL, prediction json,
        score double precision, probabilities json, latency_ms double precision,
        segment json, trace_id text, error text, batch_id text NOT NULL,
        features json NOT NULL)""",
    "CREATE INDEX predictions_by_time ON predictions (model, ts)",
    "CREATE INDEX predictions_by_request ON predictions (model, request_id)",
    f"""CREATE TABLE labels (
        id bigserial PRIMARY KEY, model {_C} NOT NULL, version {_C},
        request_id {_C} NOT NULL, ts timestamptz NOT NULL, received_at timestamptz NOT NULL,
        label json, batch_id text NOT NULL)""",
    "CREATE INDEX labels_by_request ON labels (model, request_id)",
    "CREATE INDEX labels_by_arrival ON labels (model, received_at)",
    f"""CREATE TABLE outcomes (
        name {_C} NOT NULL, value double precision, model {_C}, version {_C},
        request_id {_C}, unit_id {_C}, ts timestamptz NOT NULL,
        received_at timestamptz NOT NULL, batch_id text NOT NULL)""",
    "CREATE INDEX outcomes_by_model ON outcomes (model, name, ts)",
    f"""CREATE TABLE resources (
        model {_C}, version {_C}, host {_C}, pid bigint, ts timestamptz NOT NULL,
        received_at timestamptz NOT NULL, cpu_percent double precision,
        memory_rss_mb double precision, memory_percent double precision,
        gpu_utilization double precision[], gpu_memory_used_mb double precision[],
        batch_id text NOT NULL)""",
    "CREATE INDEX resources_by_model ON resources (model, ts)",
)

_SERIES: Final = (
    f"""CREATE TABLE window_profiles (
        id bigserial PRIMARY KEY, model {_C} NOT NULL, version {_C} NOT NULL,
        segment {_C} NOT NULL, minute timestamptz NOT NULL, writer {_C} NOT NULL,
        profile bytea NOT NULL)""",
    "CREATE INDEX window_profiles_by_minute ON window_profiles (model, minute)",
    f"""CREATE TABLE metric_points (
        name {_C} NOT NULL, labels {_C} NOT NULL, ts timestamptz NOT NULL,
        value double precision NOT NULL, status text, PRIMARY KEY (name, labels, ts))""",
    f"""CREATE TABLE model_references (
        model {_C} NOT NULL, version {_C} NOT NULL, created_at timestamptz NOT NULL,
        source text NOT NULL, profile bytea NOT NULL, sample bytea NOT NULL,
        PRIMARY KEY (model, version))""",
)

_METADATA: Final = (
    f"""CREATE TABLE api_keys (
        key_id {_C} PRIMARY KEY, name text NOT NULL, token_hash text NOT NULL UNIQUE,
        scopes text NOT NULL, created_at double precision NOT NULL,
        revoked_at double precision)""",
    f"""CREATE TABLE model_versions (
        model {_C} NOT NULL, version {_C} NOT NULL, first_seen double precision NOT NULL,
        PRIMARY KEY (model, version))""",
    """CREATE TABLE applied_config (
        id integer PRIMARY KEY CHECK (id = 1), document text NOT NULL,
        applied_at double precision NOT NULL)""",
    f"""CREATE TABLE model_columns (
        model {_C} NOT NULL, name {_C} NOT NULL,
        source text NOT NULL CHECK (source IN ('inferred', 'override')),
        kind text NOT NULL, PRIMARY KEY (model, name, source))""",
)

# Alerts, the outbox and incidents: MessagePack bodies beside the columns queries
# filter on, as in the SQLite store. The outbox gains its lease columns by a later
# migration, without touching these.
_ALERTS: Final = (
    f"""CREATE TABLE alerts (
        fingerprint {_C} PRIMARY KEY, state text NOT NULL,
        updated_at double precision NOT NULL, body bytea NOT NULL)""",
    f"""CREATE TABLE silences (
        id {_C} PRIMARY KEY, ends_at double precision NOT NULL, body bytea NOT NULL)""",
    f"CREATE TABLE alert_groups (key {_C} PRIMARY KEY, body bytea NOT NULL)",
    f"""CREATE TABLE outbox (
        id {_C} PRIMARY KEY, receiver {_C} NOT NULL, dedup_key {_C} NOT NULL,
        status text NOT NULL, next_attempt_at double precision NOT NULL,
        created_at double precision NOT NULL, body bytea NOT NULL)""",
    "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
    "CREATE INDEX outbox_key ON outbox (receiver, dedup_key, status)",
    f"""CREATE TABLE deliveries (
        id bigserial PRIMARY KEY, outbox_id {_C} NOT NULL, at double precision NOT NULL,
        delivered boolean NOT NULL, status_code integer, detail text NOT NULL)""",
    "CREATE INDEX deliveries_by_entry ON deliveries (outbox_id)",
    f"""CREATE TABLE incidents (
        id {_C} PRIMARY KEY, model {_C} NOT NULL, status text NOT NULL,
        opened_at double precision NOT NULL, body bytea NOT NULL)""",
    "CREATE INDEX incidents_by_model ON incidents (model, opened_at)",
    f"""CREATE TABLE actions (
        id bigserial PRIMARY KEY, runbook {_C} NOT NULL, at double precision NOT NULL,
        body bytea NOT NULL)""",
)

_REGISTRY: Final = (
    f"""CREATE TABLE registry_models (
        model {_C} PRIMARY KEY, revision integer NOT NULL,
        updated_at double precision NOT NULL)""",
    f"""CREATE TABLE registry_versions (
        seq bigserial, model {_C} NOT NULL REFERENCES registry_models (model),
        version {_C} NOT NULL, artifact_uri text NOT NULL, metadata text NOT NULL,
        created_at double precision NOT NULL, stage text NOT NULL, weight integer NOT NULL,
        PRIMARY KEY (model, version))""",
    f"""CREATE TABLE deployments (
        seq bigserial PRIMARY KEY, model {_C} NOT NULL, version {_C} NOT NULL,
        at double precision NOT NULL, kind text NOT NULL, detail text NOT NULL,
        actor text NOT NULL)""",
    "CREATE INDEX deployments_model_at ON deployments (model, at)",
)

# Records kept whole as JSON (``json``, not ``jsonb``: the text is kept as written, so
# msgspec reads back exactly the floats it wrote).
_DOCUMENTS: Final = tuple(
    f"""CREATE TABLE {table} (
        {key} {_C} PRIMARY KEY, model {_C} NOT NULL, status text NOT NULL,
        created_at double precision NOT NULL, body json NOT NULL)"""
    for table, key in (("experiments", "name"), ("rollouts", "id"), ("bandits", "id"))
)

MIGRATIONS: Final = (
    Migration(
        1,
        "events, series, metadata, alerts, registry and documents",
        _EVENTS + _SERIES + _METADATA + _ALERTS + _REGISTRY + _DOCUMENTS,
    ),
    Migration(
        2,
        "runbook approvals kept across restarts",
        (
            f"""CREATE TABLE approvals (
            id {_C} PRIMARY KEY, status {_C} NOT NULL, requested_at double precision NOT NULL,
            body bytea NOT NULL)""",
        ),
    ),
    Migration(
        3,
        "the cluster: the detectors' stream log, its reader's cursor, the leader's address",
        (
            """CREATE TABLE stream_log (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            received_at double precision NOT NULL, payload bytea NOT NULL)""",
            """CREATE TABLE stream_log_cursor (
            id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL)""",
            """CREATE TABLE cluster_leader (
            id integer PRIMARY KEY CHECK (id = 1), name text NOT NULL, url text NOT NULL,
            since timestamptz NOT NULL)""",
        ),
    ),
    Migration(
        4,
        "the outbox read by receiver, in insertion order, and leased to one worker at a time",
        (
            "ALTER TABLE outbox ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY",
            "ALTER TABLE outbox ADD COLUMN lease_owner text",
            "ALTER TABLE outbox ADD COLUMN lease_until double precision",
            "CREATE INDEX outbox_lane ON outbox (receiver, status, next_attempt_at)",
            "CREATE INDEX outbox_key_order ON outbox (receiver, dedup_key, seq)"
            " WHERE status = 'pending'",
        ),
    ),
    Migration(
        5,
        "dashboard sessions ended by logout",
        (
            f"""CREATE TABLE ended_sessions (
            session_id {_C} PRIMARY KEY, expires_at double precision NOT NULL)""",
        ),
    ),
)

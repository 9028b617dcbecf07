"""Event types: what serving code sends to the collector.

These structs *are* the wire schema. The SDK encodes them (MessagePack) and the
collector decodes and validates them with msgspec in C, so type checks, length
limits and "finite number" checks cost no Python per event. Every constraint
below therefore shows up as a per-event rejection naming the field.

A batch on the wire (row form; the SDK sends predictions as column blocks, see
:class:`PredictionBlock`)::

    {"batch_id": "b-...", "events": [
        {"kind": "prediction", "model": "fraud", "version": "v3", "request_id": "r1",
         "timestamp": 1767225600.0, "features": {"amount": 12.5, "country": "DE"},
         "prediction": 0, "score": 0.12, "latency_ms": 3.1},
        {"kind": "label", "model": "fraud", "request_id": "r1", "label": 0},
        {"kind": "outcome", "name": "purchase", "value": 19.99, "request_id": "r1"},
        {"kind": "resource", "host": "web-1", "pid": 4242, "cpu_percent": 35.0,
         "memory_rss_mb": 812.5, "gpu_utilization": [87.0]}]}

Timestamps are seconds since the Unix epoch (float) or, in JSON, ISO-8601 strings
with a time zone. An absent timestamp means "when the collector received it".

Feature values are numbers, strings, booleans or null. A non-finite feature value
(NaN, +inf, -inf, which only MessagePack can carry) is recorded as missing (null):
pandas uses NaN for "missing", and missing values are what data-quality checks
count. Everywhere else (score, probabilities, latency, label, outcome value,
timestamp) a number must be finite and an event that breaks this is rejected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, TypeAlias, TypeVar

import msgspec

MAX_NAME_LENGTH: Final = 200
MAX_STRING_VALUE_LENGTH: Final = 10_000
# Per event, per block, and distinct names per model across all batches (see the
# ingest service's SchemaTracker): the store keeps a model's features in one row.
MAX_FEATURES: Final = 2_000
# Distinct models with predictions, per collector.
MAX_MODELS: Final = 10_000
MAX_SEGMENT_TAGS: Final = 32
MAX_BATCH_EVENTS: Final = 100_000
MAX_GPUS: Final = 64
_FLOAT_MAX: Final = 1.7976931348623157e308
_INT64_MAX: Final = 2**63 - 1
_T = TypeVar("_T")
# Seconds since the epoch; the upper bound (year 5138) catches milliseconds sent by mistake.
MAX_EPOCH_SECONDS: Final = 1e11

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
ShortText = Annotated[str, msgspec.Meta(max_length=MAX_STRING_VALUE_LENGTH)]
# NaN fails every comparison and ±inf fails the bounds, so this rejects all non-finite values.
FiniteFloat = Annotated[float, msgspec.Meta(ge=-_FLOAT_MAX, le=_FLOAT_MAX)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0.0, le=_FLOAT_MAX)]
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Percent = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
# Bounded to fit the store's BIGINT: a larger one would fail the whole group commit.
ProcessId = Annotated[int, msgspec.Meta(ge=0, le=_INT64_MAX)]
EpochSeconds = Annotated[float, msgspec.Meta(gt=0.0, lt=MAX_EPOCH_SECONDS)]
# A datetime must carry its time zone: a naive one would be read in the collector's zone.
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Timestamp: TypeAlias = EpochSeconds | AwareDatetime

FeatureValue: TypeAlias = float | ShortText | bool | None
Features = Annotated[dict[Name, FeatureValue], msgspec.Meta(max_length=MAX_FEATURES)]
Segment = Annotated[dict[Name, Name], msgspec.Meta(max_length=MAX_SEGMENT_TAGS)]
# A prediction or label: a number, a class name, a flag, or a ranked list of item ids.
Target: TypeAlias = FiniteFloat | ShortText | bool | list[ShortText | int] | None


class Prediction(
    msgspec.Struct, tag="prediction", tag_field="kind", frozen=True, forbid_unknown_fields=True
):
    """One answer of one model version to one request."""

    model: Name
    version: Name
    request_id: Name
    features: Features = msgspec.field(default_factory=dict)
    prediction: Target = None
    timestamp: Timestamp | None = None
    score: FiniteFloat | None = None
    probabilities: dict[Name, Probability] | None = None
    latency_ms: NonNegativeFloat | None = None
    segment: Segment | None = None
    trace_id: Name | None = None
    error: ShortText | None = None


class Label(msgspec.Struct, tag="label", tag_field="kind", frozen=True, forbid_unknown_fields=True):
    """Ground truth for an earlier prediction, joined to it by ``request_id``."""

    model: Name
    request_id: Name
    label: Target
    version: Name | None = None
    timestamp: Timestamp | None = None


class Outcome(
    msgspec.Struct, tag="outcome", tag_field="kind", frozen=True, forbid_unknown_fields=True
):
    """A business event (click, purchase, revenue), optionally tied to a prediction."""

    name: Name
    value: FiniteFloat = 1.0
    model: Name | None = None
    version: Name | None = None
    request_id: Name | None = None
    unit_id: Name | None = None
    timestamp: Timestamp | None = None


class Resource(
    msgspec.Struct, tag="resource", tag_field="kind", frozen=True, forbid_unknown_fields=True
):
    """A CPU/GPU/memory sample of one process, optionally tied to the model it serves.

    ``cpu_percent`` is the process's share of one core (so above 100 on several cores,
    as ``psutil`` and ``top`` report it); ``memory_percent`` is its resident memory as a
    share of the host's, in [0, 100]. Sizes are in MB of 2**20 bytes. The GPU lists hold
    one value per device, in device order: utilization in [0, 100] and memory used.
    """

    model: Name | None = None
    version: Name | None = None
    host: Name | None = None
    pid: ProcessId | None = None
    timestamp: Timestamp | None = None
    cpu_percent: NonNegativeFloat | None = None
    memory_rss_mb: NonNegativeFloat | None = None
    memory_percent: Percent | None = None
    gpu_utilization: Annotated[list[Percent], msgspec.Meta(max_length=MAX_GPUS)] | None = None
    gpu_memory_used_mb: (
        Annotated[list[NonNegativeFloat], msgspec.Meta(max_length=MAX_GPUS)] | None
    ) = None


Event: TypeAlias = Prediction | Label | Outcome | Resource
EVENT_KINDS: Final = ("prediction", "label", "outcome", "resource")

BatchId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


Column = Annotated[list[_T], msgspec.Meta(max_length=MAX_BATCH_EVENTS)]


class PredictionBlock(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Predictions of one model version, column by column: what the SDK sends.

    Row ``i`` of the block is the prediction whose fields are the ``i``-th value of
    each column; every column has as many values as ``request_id``. A column left
    out (``None``) is null in every row. The element types are those of
    :class:`Prediction`, so a block row is valid exactly when that prediction is.

    Columns cost a fraction of rows to encode, decode and store: a feature name is
    sent once per block instead of once per event, and each column becomes one
    Arrow array in one C call on the collector.
    """

    model: Name
    version: Name
    request_id: Column[Name]
    features: dict[Name, Column[FeatureValue]] = msgspec.field(default_factory=dict)
    prediction: Column[Target] | None = None
    timestamp: Column[Timestamp | None] | None = None
    score: Column[FiniteFloat | None] | None = None
    probabilities: Column[dict[Name, Probability] | None] | None = None
    latency_ms: Column[NonNegativeFloat | None] | None = None
    segment: Column[Segment | None] | None = None
    trace_id: Column[Name | None] | None = None
    error: Column[ShortText | None] | None = None

    def __len__(self) -> int:
        return len(self.request_id)


# The optional per-row columns of a block, in the order of Prediction's fields.
BLOCK_COLUMNS: Final = (
    "prediction", "timestamp", "score", "probabilities", "latency_ms", "segment", "trace_id",
    "error",
)  # fmt: skip


class Batch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What ``POST /v1/ingest`` takes. ``batch_id`` makes a retried batch idempotent.

    Events come as rows (``events``: any kind, easy to write by hand) or, for
    predictions, as column blocks (``predictions``), or both. Event positions
    (``Rejection.index``) count the rows first, then the block rows in order.
    """

    events: Annotated[list[Event], msgspec.Meta(max_length=MAX_BATCH_EVENTS)] = msgspec.field(
        default_factory=list
    )
    predictions: Annotated[list[PredictionBlock], msgspec.Meta(max_length=10_000)] = msgspec.field(
        default_factory=list
    )
    batch_id: BatchId | None = None


def epoch_seconds(value: Timestamp) -> float:
    """Seconds since the epoch for either wire form of a timestamp.

    >>> from datetime import timezone
    >>> epoch_seconds(datetime(2026, 1, 1, tzinfo=timezone.utc))
    1767225600.0
    >>> epoch_seconds(12.5)
    12.5
    """
    if isinstance(value, datetime):
        return value.timestamp()
    return value

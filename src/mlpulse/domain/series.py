"""What the window aggregator and the evaluator keep in the store.

* :class:`MinuteProfile` — one collector's partial window profile
  (:class:`~mlpulse.core.profiles.window.WindowProfile`) of one (model, version,
  segment, minute). Several rows for the same key (other
  collectors, or events that arrived after the minute was flushed) merge on read.
* :class:`MetricPoint` — (time, name, labels, value, status): what checks emit.
  Writing a point with the same (name, labels, time) again replaces it, so a window
  recomputed after late labels has one value.
* :class:`StoredReference` — the baseline a model version's drift is measured against.
* :class:`LabelledRows` — predictions joined to their labels, for performance checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

__all__ = ["LabelledRows", "MetricPoint", "MinuteProfile", "StoredReference", "segment_key"]


def segment_key(segment: Mapping[str, str] | None) -> str:
    """The canonical text of a segment's tags ("" for none): sorted compact JSON.

    >>> segment_key({"mode": "batch", "country": "DE"}), segment_key(None)
    ('{"country":"DE","mode":"batch"}', '')
    """
    if not segment:
        return ""
    return json.dumps(dict(sorted(segment.items())), separators=(",", ":"), ensure_ascii=False)


class MinuteProfile(msgspec.Struct, frozen=True):
    """A partial window profile of one minute; ``minute`` is its start (epoch seconds)."""

    model: str
    version: str
    segment: str
    minute: float
    writer: str
    profile: bytes


class MetricPoint(msgspec.Struct, frozen=True):
    """One value of one series at one time. ``status`` is the check's verdict, if any."""

    ts: float
    name: str
    labels: dict[str, str]
    value: float
    status: str | None = None


class BucketedPoint(NamedTuple):
    """One bucket of one series: its start (epoch seconds), labels, aggregate, points."""

    ts: float
    labels: dict[str, str]
    value: float
    n: int  # points behind the aggregate


class OutcomeBucket(NamedTuple):
    """One bucket of one outcome name: its start (epoch seconds), how many events, the
    sum of their values (0.0 when none has one) and how many carry a value."""

    ts: float
    name: str
    events: int
    total: float
    valued: int


class StoredReference(msgspec.Struct, frozen=True):
    """A model version's baseline: a window profile and a sample for calibration.

    ``version`` is "" for a reference of every version of the model. ``sample`` holds
    MessagePack columns (``score``, ``label``, ``prediction``) of up to 100,000 rows,
    which performance estimation (CBPE) fits its calibration on; empty when none.
    ``source`` says where it came from (``upload:train.parquet``, ``window:...``).
    """

    model: str
    version: str
    created_at: float
    source: str
    profile: bytes
    sample: bytes = b""


class LabelledRows(msgspec.Struct, frozen=True):
    """Predictions in a window joined to their latest label, column by column.

    ``prediction`` and ``label`` hold the values as sent (numbers, class names, flags
    or ranked lists); ``score`` is None where the prediction had none. ``total`` counts
    every prediction of the window, labelled or not (so coverage is ``len / total``).
    """

    ts: list[float]
    version: list[str]
    request_id: list[str]
    prediction: list[Any]
    score: list[float | None]
    probabilities: list[dict[str, float] | None]
    segment: list[str]
    label: list[Any]
    total: int

    def __len__(self) -> int:
        return len(self.request_id)

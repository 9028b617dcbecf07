"""What the collector answers to ``POST /v1/ingest``."""

from __future__ import annotations

import msgspec


class Rejection(msgspec.Struct, frozen=True):
    """One event the collector refused, and why."""

    index: int
    field: str
    reason: str


class IngestResult(msgspec.Struct, frozen=True):
    """The collector's answer to one batch.

    ``accepted`` events are durable when this is sent. ``duplicate`` is true when the
    batch id was seen before: nothing was stored again, and the counts are those of
    the first delivery. The collector keeps a batch's first 100 rejections to answer its
    retries: ``rejected_total`` then says how many there were (None in a first answer,
    which lists them all).
    """

    batch_id: str
    accepted: int
    rejected: list[Rejection] = msgspec.field(default_factory=list)
    duplicate: bool = False
    rejected_total: int | None = None

"""What the ingest service hands to the event store."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlpulse.domain.events import Label, Outcome, Prediction
from mlpulse.domain.ingest import Rejection


@dataclass(frozen=True, slots=True)
class AcceptedBatch:
    """The valid events of one request, plus what was rejected (kept to answer retries)."""

    batch_id: str
    received_at: float
    predictions: list[Prediction] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.predictions) + len(self.labels) + len(self.outcomes)

"""What the ingest service hands to the event store."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlpulse.domain.events import Label, Outcome, PredictionBlock, Resource
from mlpulse.domain.ingest import Rejection


@dataclass(frozen=True, slots=True)
class AcceptedBatch:
    """The valid events of one request, plus what was rejected (kept to answer retries).

    Predictions are column blocks, one or more per (model, version).
    """

    batch_id: str
    received_at: float
    predictions: list[PredictionBlock] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return (
            sum(map(len, self.predictions))
            + len(self.labels)
            + len(self.outcomes)
            + len(self.resources)
        )

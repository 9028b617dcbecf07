"""A champion–challenger rollout as stored and shown (see :mod:`mlpulse.services.rollouts`)."""

from __future__ import annotations

from typing import Literal

import msgspec

from mlpulse.core.experiments.rollout import RolloutPlan
from mlpulse.domain.registry import Name

Status = Literal["running", "promoted", "rolled_back", "cancelled"]


class RolloutMetric(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A metric compared at each step; ``max_harm`` is a relative margin (0.02 = 2%)."""

    name: Name
    kind: Literal["mean", "proportion"] = "proportion"
    direction: Literal["increase", "decrease"] = "increase"
    max_harm: float | None = None


class PlanView(msgspec.Struct, frozen=True):
    """A :class:`RolloutPlan` as stored and shown."""

    steps: list[int]
    min_units_per_step: int
    max_units_per_step: int | None
    alpha: float

    def plan(self) -> RolloutPlan:
        return RolloutPlan(
            tuple(self.steps), self.min_units_per_step, self.max_units_per_step, self.alpha
        )


class TimelineEntry(msgspec.Struct, frozen=True):
    """One decision: ``share`` is the challenger's percent when it was taken."""

    at: float
    action: Literal["start", "hold", "advance", "promote", "rollback", "cancel"]
    share: int
    units_per_arm: int
    reason: str
    ticks: int = 1


class Rollout(msgspec.Struct, frozen=True):
    id: str
    model: str
    champion: str
    challenger: str
    primary: RolloutMetric
    guardrails: list[RolloutMetric]
    plan: PlanView
    exposure: str
    status: Status
    step_index: int
    step_started_at: float
    created_at: float
    finished_at: float | None = None
    timeline: list[TimelineEntry] = []

    @property
    def share(self) -> int:
        return self.plan.steps[self.step_index]

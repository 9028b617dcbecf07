"""A bandit as stored and shown (see :mod:`mlpulse.services.bandits`)."""

from __future__ import annotations

from typing import Literal

import msgspec

from mlpulse.domain.registry import Name

PolicyName = Literal["thompson", "ucb1", "epsilon_greedy"]
RewardKind = Literal["proportion", "mean"]
Status = Literal["running", "stopped", "cancelled"]


class BanditReward(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The outcome a bandit maximises, per unit: a conversion share or a mean."""

    name: Name
    kind: RewardKind = "proportion"


class ArmView(msgspec.Struct, frozen=True):
    """One version at the last tick: ``total`` is conversions (or the sum of rewards),
    ``probability`` the policy's share before the floor, ``weight`` the percent routed."""

    version: str
    units: int
    total: float
    mean: float | None
    probability: float
    weight: int


class Allocation(msgspec.Struct, frozen=True):
    """The weights one tick set (or kept, ``ticks`` times in a row)."""

    at: float
    weights: dict[str, int]
    champion: str
    units: int
    reason: str
    ticks: int = 1


class Bandit(msgspec.Struct, frozen=True):
    id: str
    model: str
    versions: list[str]
    policy: PolicyName
    reward: BanditReward
    floor: float
    every: str
    exposure: str
    seed: int
    status: Status
    champion: str
    weights: dict[str, int]
    created_at: float
    ticked_at: float
    arms: list[ArmView] = []
    finished_at: float | None = None
    stop_reason: str = ""
    history: list[Allocation] = []

"""From per-arm reward totals to the integer percent weights a routing table holds.

Pure (numpy and the core policies): the bandit service (:mod:`mlpulse.services.bandits`)
reads the totals and writes the table; everything in between is here, so it is tested
without a store, a registry or a clock.

- :func:`probabilities`: the policy's allocation before any floor. Thompson sampling gives
  each arm its posterior probability of being the best, by Monte Carlo with a fixed
  ``seed`` (the same stats give the same weights, so a quiet tick moves nothing); UCB1
  and epsilon-greedy give their exact allocation.
- :func:`percent_weights`: ``floor + (1 - k·floor)·p`` (each arm at least ``floor``, the
  shares still summing to 1), then integer percents that sum to 100 by largest remainder,
  never below the floor.
- :func:`best_arm`: the champion, the arm with the highest mean reward per unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlpulse.core.experiments.bandits import from_state
from mlpulse.domain.bandits import PolicyName, RewardKind

POLICIES: tuple[PolicyName, ...] = ("thompson", "ucb1", "epsilon_greedy")
DRAWS = 20_000
"""Monte Carlo draws for Thompson sampling: P(best) to within about ±0.4 percentage points."""


@dataclass(frozen=True)
class ArmTotals:
    """One arm's units and the sum and sum of squares of their rewards (one per unit).

    A unit's reward is 1 or 0 (it converted or not) for a ``proportion`` reward, the sum
    of its reward values for a ``mean`` reward.
    """

    version: str
    units: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    @property
    def mean(self) -> float | None:
        """The mean reward per unit; None before the first unit."""
        return self.total / self.units if self.units else None

    @classmethod
    def from_rewards(cls, version: str, rewards: Sequence[float]) -> ArmTotals:
        values = np.asarray(rewards, dtype=float)
        return cls(version, int(values.size), float(values.sum()), float(values @ values))


def probabilities(
    policy: PolicyName, kind: RewardKind, arms: Sequence[ArmTotals], *, seed: int
) -> list[float]:
    """The policy's allocation over ``arms`` (summing to 1), before the exploration floor.

    ``thompson`` is Beta–Bernoulli for a ``proportion`` reward and Gaussian (unknown
    variance) for a ``mean`` reward; UCB1's ``c = √2`` assumes rewards in [0, 1].

    >>> arms = [ArmTotals("a", 100, 10.0, 10.0), ArmTotals("b", 100, 30.0, 30.0)]
    >>> probabilities("ucb1", "proportion", arms, seed=0)
    [0.0, 1.0]
    """
    name = {
        "thompson": "thompson_bernoulli" if kind == "proportion" else "thompson_gaussian",
        "ucb1": "ucb1",
        "epsilon_greedy": "epsilon_greedy",
    }[policy]
    # The core policies' ``state`` is plain data: per arm the count, the mean and the sum
    # of squared deviations (Welford's M2). Building it from totals replaces one update()
    # per unit, which would cost a Python call per unit on every tick.
    n = [float(a.units) for a in arms]
    mean = [a.total / a.units if a.units else 0.0 for a in arms]
    m2 = [max(a.total_sq - a.total * m, 0.0) for a, m in zip(arms, mean, strict=True)]
    state = {
        "policy": name,
        "arms": [a.version for a in arms],
        "params": {},
        "stats": {"n": n, "mean": mean, "m2": m2},
    }
    chosen = from_state(state)
    shares = chosen.weights(np.random.default_rng(seed), floor=0.0, draws=DRAWS)
    return [shares[a.version] for a in arms]


def percent_weights(shares: Sequence[float], floor: float) -> list[int]:
    """Integer percents summing to 100, each at least ``floor`` (a share, in [0, 1/k]).

    The shares are mixed with the uniform floor, ``floor + (1 - k·floor)·p``, then every
    arm gets ``⌈100·floor⌉`` percent (capped at ``⌊100/k⌋``) and the rest is split in
    proportion to what each share has above that, by largest remainder (ties to the
    larger share, then to the earlier arm).

    >>> percent_weights([0.0, 0.0, 1.0], 0.05)
    [5, 5, 90]
    >>> percent_weights([1 / 3, 1 / 3, 1 / 3], 0.05)
    [34, 33, 33]
    """
    k = len(shares)
    mixed = [floor + (1 - k * floor) * p for p in shares]
    low = min(math.ceil(round(100 * floor, 9)), 100 // k)
    extra = [max(100 * m - low, 0.0) for m in mixed]
    rest = 100 - k * low
    above = sum(extra)
    quotas = [rest * e / above for e in extra] if above > 0 else [rest / k] * k
    whole = [math.floor(q) for q in quotas]
    order = sorted(range(k), key=lambda i: (whole[i] - quotas[i], -mixed[i], i))
    for i in order[: rest - sum(whole)]:
        whole[i] += 1
    return [low + w for w in whole]


def best_arm(arms: Sequence[ArmTotals], current: str) -> str:
    """The arm with the highest mean reward per unit; ``current`` on a tie or without data.

    >>> best_arm([ArmTotals("a", 10, 1.0), ArmTotals("b", 10, 3.0)], "a")
    'b'
    >>> best_arm([ArmTotals("a"), ArmTotals("b")], "a")
    'a'
    """
    scored = [(a.mean, a.version) for a in arms if a.mean is not None]
    if not scored:
        return current
    top = max(mean for mean, _ in scored)
    tied = [version for mean, version in scored if mean == top]
    return current if current in tied else tied[0]

"""Multi-armed bandits over model versions: traffic weights that follow the rewards.

:meth:`Bandits.start` routes the model's traffic over the bandit's versions;
:meth:`Bandits.tick` (the collector's background loop, each bandit every ``every``, or
``POST .../tick`` at once) reads each version's reward totals since the start, asks the
policy for its allocation, and sets the routing table through
:meth:`Registry.set_routing`, so each change is a deployment event with its reason.

Choices a reviewer should know:

- **Units** are counted as rollouts count them: the unit ids seen, per version, in the
  reward outcome or the ``exposure`` outcome (``Client.router(model, exposure="exposure")``
  logs it) since the bandit started, totalled in the store
  (``mlpulse.adapters.store.duckdb_bandits``). A unit the weights moved is counted under
  each version it was logged with; its rewards go to the version they were logged with.
- **Rewards**: a ``proportion`` reward is 1 for a unit with at least one reward event and
  0 otherwise; a ``mean`` reward is the unit's sum of values (0 without events).
- **Policies**: ``thompson`` (Beta–Bernoulli for a proportion, Gaussian with unknown
  variance for a mean: each arm gets its probability of being best), ``ucb1`` and
  ``epsilon_greedy`` (ε = 0.1), from :mod:`mlpulse.core.experiments.bandits`; the
  arithmetic from totals to percents is :mod:`mlpulse.services.bandit_allocation`.
  **LinUCB is not offered here**: a contextual policy picks an arm per request from that
  request's features, which one set of weights shared by every request cannot express.
  Use :class:`~mlpulse.core.experiments.bandits.LinUCB` in the serving process instead.
- **Champion** is the arm with the highest mean reward per unit (it stays on a tie, and
  before any data it is the model's champion, when it is one of the versions); the other
  versions are challengers with their weights. Other serving versions of the model go
  to weight 0 (as challengers, so they stay rollback targets).
- **Ownership**: a bandit whose versions are re-routed by someone else (a promote, a
  rollback, a manual change) is ``cancelled`` at its next tick rather than fighting over
  the table. :meth:`Bandits.stop` leaves the last weights in place; promote the champion
  to give it all the traffic.
- **History** keeps every allocation with its reason; consecutive ticks that leave the
  weights alone are kept as one entry (``ticks`` counts them), and only the last
  :data:`MAX_HISTORY` entries are kept.
"""

from __future__ import annotations

import builtins
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

# Bandit and BanditReward are re-exported: callers build and read them with the service.
from mlpulse.domain.bandits import Allocation, ArmView, PolicyName
from mlpulse.domain.bandits import Bandit as Bandit
from mlpulse.domain.bandits import BanditReward as BanditReward
from mlpulse.domain.registry import SERVING, ModelVersion, RoutingEntry, RoutingTable
from mlpulse.domain.window import parse_duration
from mlpulse.errors import ConflictError, InvalidInputError, NotFoundError
from mlpulse.ports import BanditStore, Clock, RewardTotals
from mlpulse.services.bandit_allocation import (
    POLICIES,
    ArmTotals,
    best_arm,
    percent_weights,
    probabilities,
)
from mlpulse.services.budget_policy import BudgetSpentError

MAX_HISTORY = 1000
_LOG = logging.getLogger("mlpulse.bandits")


class RoutingRegistry(Protocol):
    """What a bandit needs of :class:`mlpulse.services.registry.Registry`."""

    def versions(self, model: str) -> list[ModelVersion]: ...

    def set_routing(
        self, model: str, entries: Sequence[RoutingEntry], *, actor: str, reason: str = ""
    ) -> RoutingTable: ...


class Bandits:
    """``busy(model)`` says why ``model`` may not get a bandit now (None when it may)."""

    def __init__(
        self, store: BanditStore, outcomes: RewardTotals, registry: RoutingRegistry,
        clock: Clock, *, busy: Callable[[str], str | None] = lambda model: None,
        steering: threading.Lock | None = None,
    ) -> None:  # fmt: skip
        """``steering``, shared with the rollouts, makes the ``busy`` check and the start
        one step (else a rollout and a bandit started at once could both pass it)."""
        self._steering = steering or threading.Lock()
        self._store = store
        self._outcomes = outcomes
        self._registry = registry
        self._clock = clock
        self._busy = busy
        self._lock = threading.Lock()  # one read-decide-write at a time

    def start(
        self,
        model: str,
        versions: Sequence[str],
        *,
        policy: str,
        reward: BanditReward,
        floor: float = 0.05,
        every: str = "5m",
        exposure: str = "exposure",
        seed: int | None = None,
    ) -> Bandit:
        """Route ``model``'s traffic over ``versions`` (the policy's first allocation)."""
        versions = list(versions)
        name = _check(versions, policy, reward, floor, every, exposure)
        with self._lock, self._steering:
            current = self._registry.versions(model)
            registered = {v.version for v in current}
            for i, version in enumerate(versions):
                if version not in registered:
                    raise InvalidInputError(
                        f"versions[{i}]: no version {version!r} of {model!r}; register it first",
                        field=f"versions[{i}]",
                    )
            running = [
                b.id for b in self._store.list() if (b.model, b.status) == (model, "running")
            ]
            if running:
                raise ConflictError(
                    f"model: {model!r} has a running bandit already ({running[0]})", field="model"
                )
            why = self._busy(model)
            if why is not None:  # one steering job per model (a running rollout): 409
                raise ConflictError(f"model: {why}", field="model")
            champion = next((v.version for v in current if v.stage == "champion"), None)
            now = self._clock.now()
            bandit_id = uuid.uuid4().hex[:12]
            bandit = Bandit(
                id=bandit_id, model=model, versions=versions, policy=name, reward=reward,
                floor=float(floor), every=every, exposure=exposure,
                seed=int(bandit_id, 16) % 2**32 if seed is None else seed, status="running",
                champion=champion if champion in versions else versions[0], weights={},
                created_at=now, ticked_at=now,
            )  # fmt: skip
            bandit = self._allocate(bandit, [ArmTotals(v) for v in versions], now)
            self._store.save(bandit)
        return bandit

    def get(self, bandit_id: str) -> Bandit:
        found = self._store.get(bandit_id)
        if found is None:
            raise NotFoundError(f"no bandit with id {bandit_id!r}")
        return found

    def list(self) -> builtins.list[Bandit]:
        return self._store.list()

    def tick(self, bandit_id: str | None = None) -> builtins.list[Bandit]:
        """Re-allocate the bandit named (now) or every running bandit that is due.

        A bandit is due ``every`` after its last tick. Without an id this is the
        background loop: a bandit that fails is logged and the others still tick.
        """
        with self._lock:
            if bandit_id is not None:
                bandit = self.get(bandit_id)
                if bandit.status == "running":
                    bandit = self._tick(bandit)
                    self._store.save(bandit)
                return [bandit]
            done = []
            for bandit in self._store.list():
                now = self._clock.now()
                due = now - bandit.ticked_at >= parse_duration(bandit.every, field="every")
                if bandit.status == "running" and due:
                    try:
                        bandit = self._tick(bandit)
                        self._store.save(bandit)
                    except BudgetSpentError as exc:  # the budget policy: weights stay as they are
                        _LOG.warning("bandit %s holds: %s", bandit.id, exc.message)
                    except Exception:  # a loop boundary: one bandit must not stop the rest
                        _LOG.exception("bandit %s of %s failed to tick", bandit.id, bandit.model)
                done.append(bandit)
        return done

    def stop(self, bandit_id: str, reason: str = "") -> Bandit:
        """Stop moving the weights (they stay as the last tick set them)."""
        with self._lock:
            bandit = self.get(bandit_id)
            if bandit.status != "running":
                return bandit
            bandit = msgspec.structs.replace(
                bandit, status="stopped", finished_at=self._clock.now(),
                stop_reason=reason or "stopped",
            )  # fmt: skip
            self._store.save(bandit)
        return bandit

    # -- internals --------------------------------------------------------------------------

    def _tick(self, bandit: Bandit) -> Bandit:
        now = self._clock.now()
        routed = {v.version: f"{v.stage}:{v.weight}" for v in self._registry.versions(bandit.model)}
        moved = []
        for v in bandit.versions:
            stage = "champion" if v == bandit.champion else "challenger"
            if routed.get(v) != f"{stage}:{bandit.weights.get(v)}":
                moved.append(f"{v}={routed.get(v, 'unregistered')}")
        if moved:
            reason = f"routing of {bandit.model} changed outside the bandit ({', '.join(moved)})"
            return msgspec.structs.replace(
                bandit, status="cancelled", finished_at=now, stop_reason=reason, ticked_at=now
            )
        return self._allocate(bandit, self._totals(bandit, now), now)

    def _totals(self, bandit: Bandit, now: float) -> builtins.list[ArmTotals]:
        found = {
            version: ArmTotals(version, units, total, total_sq)
            for version, units, total, total_sq in self._outcomes.reward_totals(
                bandit.model, bandit.versions, reward=bandit.reward.name,
                kind=bandit.reward.kind, exposure=bandit.exposure, start=bandit.created_at,
                end=now,
            )
        }  # fmt: skip
        return [found.get(v, ArmTotals(v)) for v in bandit.versions]

    def _allocate(self, bandit: Bandit, arms: Sequence[ArmTotals], now: float) -> Bandit:
        """Set the weights the policy gives ``arms`` and record them on the history."""
        shares = probabilities(bandit.policy, bandit.reward.kind, arms, seed=bandit.seed)
        percents = percent_weights(shares, bandit.floor)
        weights = {a.version: w for a, w in zip(arms, percents, strict=True)}
        champion = best_arm(arms, bandit.champion)
        views = [
            ArmView(a.version, a.units, a.total, a.mean, p, w)
            for a, p, w in zip(arms, shares, percents, strict=True)
        ]
        described = ", ".join(
            f"{a.version} {w}%" + ("" if a.mean is None else f" ({a.mean:.4g}, {a.units} units)")
            for a, w in zip(arms, percents, strict=True)
        )
        reason = (
            f"bandit {bandit.id} ({bandit.policy} on {bandit.reward.name}): {described}; "
            f"champion {champion}"
        )
        entries = [
            RoutingEntry(v, "champion" if v == champion else "challenger", weights[v])
            for v in bandit.versions
        ] + [
            RoutingEntry(v.version, "challenger", 0)
            for v in self._registry.versions(bandit.model)
            if v.stage in SERVING and v.version not in weights
        ]
        actor = f"bandit:{bandit.id}"
        self._registry.set_routing(bandit.model, entries, actor=actor, reason=reason)
        units = sum(a.units for a in arms)
        history = list(bandit.history)
        last = history[-1] if history else None
        if last is not None and last.weights == weights and last.champion == champion:
            history[-1] = Allocation(now, weights, champion, units, reason, last.ticks + 1)
        else:
            history.append(Allocation(now, weights, champion, units, reason))
        return msgspec.structs.replace(
            bandit, champion=champion, weights=weights, arms=views, ticked_at=now,
            history=history[-MAX_HISTORY:],
        )  # fmt: skip


def _check(
    versions: Sequence[str], policy: str, reward: BanditReward, floor: float, every: str,
    exposure: str,
) -> PolicyName:  # fmt: skip
    """The policy's name; :class:`InvalidInputError` naming the first bad parameter."""
    if len(versions) < 2 or len(set(versions)) != len(versions):
        raise InvalidInputError(
            f"versions: must list at least 2 distinct versions; got {list(versions)}",
            field="versions",
        )
    if policy not in POLICIES:
        contextual = (
            " (LinUCB is contextual: its choice depends on each request's features, which "
            "weights shared by every request cannot express; use "
            "mlpulse.core.experiments.bandits.LinUCB in the serving process)"
            if policy == "linucb"
            else ""
        )
        raise InvalidInputError(
            f"policy: must be one of {', '.join(POLICIES)}; got {policy!r}{contextual}",
            field="policy",
        )
    k = len(versions)
    if isinstance(floor, bool) or not isinstance(floor, int | float) or not 0 <= floor <= 1 / k:
        raise InvalidInputError(
            f"floor: must be in [0, 1/len(versions)] = [0, {1 / k:.4g}]; got {floor!r}",
            field="floor",
        )
    parse_duration(every, field="every")
    if not exposure or len(exposure) > 200:
        raise InvalidInputError(
            f"exposure: must be an outcome name of 1 to 200 characters; got {exposure!r}",
            field="exposure",
        )
    if exposure == reward.name:
        raise InvalidInputError(
            f"reward.name: must differ from the exposure outcome ({exposure!r}), or every "
            "exposed unit would count as a reward",
            field="reward.name",
        )
    return next(p for p in POLICIES if p == policy)

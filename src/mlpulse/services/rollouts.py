"""Champion–challenger rollouts: walk a challenger through the traffic steps of a plan.

:meth:`Rollouts.start` routes ``plan.steps[0]`` percent of units to the challenger;
:meth:`Rollouts.tick` (the collector's background loop, or ``POST .../tick``) reads the
statistics of the current step and applies :func:`mlpulse.core.experiments.rollout.decide`:
``advance`` sets the next weights, ``promote`` calls :meth:`Registry.promote`,
``rollback`` restores the champion.

Choices a reviewer should know:

- **Units.** The units of a step are the unit ids seen, per *version*, in the outcome events
  of the rollout's metrics or of its ``exposure`` event (default ``"exposure"``: log it
  when a unit is served, or units that never convert are not counted) with ``ts`` since the
  step began. A unit is counted under every version it was logged with; within a step the
  weights do not move, so a unit keeps its version (the router's hash).
- **Statistics.** A ``proportion`` metric is the share of units with at least one event; a
  ``mean`` metric the mean over units of each unit's sum of values (0 for a unit without
  events), as the experiments' ``per_unit="sum"``.
- **Rollback** sets the champion back to 100 and *archives* the challenger in one
  :meth:`Registry.set_routing`: :meth:`Registry.rollback` would archive the champion,
  which is the one that must stay. With ``incidents`` (the collector always passes it)
  that change runs as an audited automatic action
  (:meth:`IncidentService.run_automatic_action`): it opens or joins the model's incident
  with the rollout's reason, and its outcome goes to the actions log and the incident's
  timeline like a runbook's. A rollback that fails is recorded as failed and the
  rollout stays ``running``, so the next tick tries again.
- **Timeline.** Every decision is kept, with its reason, in the rollout's ``timeline``;
  consecutive ``hold`` decisions at one step are kept as one entry (the latest reason,
  with ``ticks`` counting them), so a rollout that waits a day for traffic stays small.
  Routing changes also carry the reason into the registry's deployment history.
- A rollout whose champion is changed by someone else (a manual promote or rollback)
  is ``cancelled`` at the next tick rather than fighting over the table.
- **One steering job per model.** A model with a running rollout, or a running bandit
  (``busy``), refuses another with :class:`~mlpulse.errors.ConflictError` (409).
- **Validated at creation**: every metric's ``max_harm`` is a finite float >= 0, so a bad
  rollout is refused (422 naming the field) instead of failing every tick. The
  background :meth:`Rollouts.tick` isolates rollouts: one that fails is logged and its
  timeline says why (a ``hold``), and the others still tick.
"""

from __future__ import annotations

import builtins
import logging
import math
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import msgspec

from mlpulse.core.experiments.rollout import MetricObservation, RolloutPlan, decide
from mlpulse.core.experiments.sufficient import MeanStats, ProportionStats
from mlpulse.domain.incidents import ActionKind, ActionOutcome
from mlpulse.domain.registry import RoutingEntry, RoutingTable

# Rollout and RolloutMetric are re-exported: callers build and read them with the service.
from mlpulse.domain.rollouts import PlanView, Status, TimelineEntry
from mlpulse.domain.rollouts import Rollout as Rollout
from mlpulse.domain.rollouts import RolloutMetric as RolloutMetric
from mlpulse.errors import ConflictError, InvalidInputError, NotFoundError
from mlpulse.ports import Clock, RolloutStore, VersionOutcomes
from mlpulse.services.budget_policy import BudgetSpentError

_LOG = logging.getLogger("mlpulse.rollouts")


class RoutingRegistry(Protocol):
    """What a rollout needs of :class:`mlpulse.services.registry.Registry`."""

    def table(self, model: str) -> RoutingTable: ...

    def set_routing(
        self, model: str, entries: Sequence[RoutingEntry], *, actor: str, reason: str = ""
    ) -> RoutingTable: ...

    def promote(
        self, model: str, version: str, *, actor: str, reason: str = ""
    ) -> RoutingTable: ...


class AutomaticActions(Protocol):
    """What a rollout needs of :class:`mlpulse.services.incidents.IncidentService`."""

    def run_automatic_action(
        self,
        model: str,
        *,
        source: str,
        title: str,
        action: ActionKind,
        reason: str,
        run: Callable[[], str],
        onset_at: float | None = None,
    ) -> ActionOutcome: ...


Totals = dict[str, dict[str, float]]  # version -> unit -> sum of value (count > 0 only)


class Rollouts:
    def __init__(
        self, store: RolloutStore, outcomes: VersionOutcomes, registry: RoutingRegistry,
        clock: Clock, *, incidents: AutomaticActions | None = None,
        busy: Callable[[str], str | None] = lambda model: None,
        steering: threading.Lock | None = None,
    ) -> None:  # fmt: skip
        """``incidents``: where a rollback is run and audited; without it (a library
        user with no incident service) the rollback only changes the routing.
        ``busy(model)`` says why ``model`` may not get a rollout now (a running bandit);
        ``steering``, shared with the bandits, makes that check and the start one step."""
        self._busy = busy
        self._steering = steering or threading.Lock()
        self._store = store
        self._outcomes = outcomes
        self._registry = registry
        self._clock = clock
        self._incidents = incidents
        self._lock = threading.Lock()  # one read-decide-write at a time

    def start(
        self,
        model: str,
        challenger: str,
        *,
        primary: RolloutMetric,
        guardrails: Sequence[RolloutMetric] = (),
        plan: RolloutPlan,
        exposure: str = "exposure",
    ) -> Rollout:
        """Route ``plan.steps[0]`` percent to ``challenger`` and start watching it."""
        for field, metric in [
            ("primary", primary),
            *((f"guardrails[{i}]", g) for i, g in enumerate(guardrails)),
        ]:
            harm = metric.max_harm
            if harm is not None and (isinstance(harm, bool) or not 0.0 <= harm < math.inf):
                raise InvalidInputError(
                    f"{field}.max_harm: must be a finite float >= 0 (a relative margin, "
                    f"0.02 = 2%); got {harm!r}",
                    field=f"{field}.max_harm",
                )  # fmt: skip
        names = [primary.name, *(g.name for g in guardrails)]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"guardrails: metric names must be unique; got {names}",
                                    field="guardrails")  # fmt: skip
        with self._lock, self._steering:
            champion = self._registry.table(model).fallback
            if champion is None or champion == challenger:
                why = "has no champion" if champion is None else f"has {challenger!r} as champion"
                raise InvalidInputError(f"challenger: {model!r} {why}", field="challenger")
            running = [r.id for r in self._store.list()
                       if r.model == model and r.status == "running"]  # fmt: skip
            if running:
                raise ConflictError(
                    f"model: {model!r} has a running rollout already ({running[0]})",
                    field="model",
                )
            steered = self._busy(model)
            if steered is not None:
                raise ConflictError(f"model: {steered}", field="model")
            now = self._clock.now()
            rollout = Rollout(
                id=uuid.uuid4().hex[:12], model=model, champion=champion,
                challenger=challenger, primary=primary, guardrails=list(guardrails),
                plan=PlanView(list(plan.steps), plan.min_units_per_step,
                              plan.max_units_per_step, plan.alpha),
                exposure=exposure, status="running", step_index=0, step_started_at=now,
                created_at=now,
            )  # fmt: skip
            reason = f"rollout {rollout.id}: {challenger} at {rollout.share}% beside {champion}"
            self._route(rollout, rollout.share, reason)
            rollout = self._record(rollout, "start", rollout.share, 0, reason)
            self._store.save(rollout)
        return rollout

    def get(self, rollout_id: str) -> Rollout:
        found = self._store.get(rollout_id)
        if found is None:
            raise NotFoundError(f"no rollout with id {rollout_id!r}")
        return found

    def list(self) -> builtins.list[Rollout]:
        return self._store.list()

    def tick(self, rollout_id: str | None = None) -> builtins.list[Rollout]:
        """Decide for every running rollout (or the one named); the rollouts afterwards."""
        with self._lock:
            if rollout_id is not None:
                rollout = self.get(rollout_id)
                if rollout.status == "running":
                    rollout = self._tick(rollout)
                    self._store.save(rollout)
                return [rollout]
            done = []
            for rollout in self._store.list():
                if rollout.status == "running":
                    try:
                        rollout = self._tick(rollout)
                    except BudgetSpentError as exc:  # the budget policy: wait, do not fail
                        rollout = self._record(rollout, "hold", rollout.share, 0, exc.message)
                    except Exception as exc:  # a loop boundary: one must not stop the rest
                        _LOG.exception("rollout %s of %s failed to tick", rollout.id,
                                       rollout.model)  # fmt: skip
                        reason = f"tick failed: {type(exc).__name__}: {exc}"
                        rollout = self._record(rollout, "hold", rollout.share, 0, reason)
                    self._store.save(rollout)
                done.append(rollout)
        return done

    # -- internals --------------------------------------------------------------------------

    def _tick(self, rollout: Rollout) -> Rollout:
        now = self._clock.now()
        champion = self._registry.table(rollout.model).fallback
        if champion != rollout.champion:
            reason = f"champion of {rollout.model} changed to {champion!r} outside the rollout"
            return self._finish(rollout, "cancelled", "cancel", 0, reason)
        plan = rollout.plan.plan()
        decision = decide(plan, rollout.step_index, self._observations(rollout, now))
        units, reason = decision.units_per_arm, decision.reason
        if decision.action == "hold":
            return self._record(rollout, "hold", rollout.share, units, reason)
        if decision.action == "advance":
            nxt = decision.step_index_next
            assert nxt is not None  # an advance always names the next step
            self._route(rollout, plan.steps[nxt], reason)
            rollout = self._record(rollout, "advance", rollout.share, units, reason)
            return msgspec.structs.replace(rollout, step_index=nxt, step_started_at=now)
        if decision.action == "promote":
            actor = f"rollout:{rollout.id}"
            self._registry.promote(rollout.model, rollout.challenger, actor=actor, reason=reason)
            return self._finish(rollout, "promoted", "promote", units, reason)
        return self._rollback(rollout, units, reason)

    def _rollback(self, rollout: Rollout, units: int, reason: str) -> Rollout:
        def run() -> str:
            self._route(rollout, 0, reason)
            return (f"{rollout.model}: champion {rollout.champion} back to 100%, "
                    f"challenger {rollout.challenger} archived")  # fmt: skip

        if self._incidents is None:
            run()
            return self._finish(rollout, "rolled_back", "rollback", units, reason)
        outcome = self._incidents.run_automatic_action(
            rollout.model, source=f"rollout:{rollout.id}", action="rollback", reason=reason,
            title=f"rollout {rollout.id} rolled back {rollout.challenger} ({rollout.model})",
            run=run, onset_at=rollout.step_started_at,
        )  # fmt: skip
        if outcome.status != "ok":  # still running: the next tick decides (and tries) again
            failed = f"{reason}; the rollback failed: {outcome.detail}"
            return self._record(rollout, "rollback", rollout.share, units, failed)
        return self._finish(rollout, "rolled_back", "rollback", units, reason)

    def _observations(self, rollout: Rollout, now: float) -> builtins.list[MetricObservation]:
        metrics = [rollout.primary, *rollout.guardrails]
        versions = (rollout.champion, rollout.challenger)
        totals: dict[str, Totals] = {}
        for name in {m.name for m in metrics} | {rollout.exposure}:
            found: Totals = {v: {} for v in versions}
            for version, unit, total, count in self._outcomes.version_unit_totals(
                rollout.model, name, versions, start=rollout.step_started_at, end=now
            ):
                if count > 0 and version in found:
                    found[version][unit] = total
            totals[name] = found
        units = {v: set().union(*(t[v].keys() for t in totals.values())) for v in versions}
        return [
            MetricObservation(
                m.name,
                m.kind,
                m.direction,
                _stats(m, units[rollout.champion], totals[m.name][rollout.champion]),
                _stats(m, units[rollout.challenger], totals[m.name][rollout.challenger]),
                guardrail=i > 0,
                max_harm=m.max_harm,
            )
            for i, m in enumerate(metrics)  # the primary first
        ]

    def _route(self, rollout: Rollout, share: int, reason: str) -> None:
        stage: Literal["challenger", "archived"] = "challenger" if share else "archived"
        entries = [
            RoutingEntry(rollout.champion, "champion", 100 - share),
            RoutingEntry(rollout.challenger, stage, share),
        ]
        actor = f"rollout:{rollout.id}"
        self._registry.set_routing(rollout.model, entries, actor=actor, reason=reason)

    def _record(
        self, rollout: Rollout, action: Literal["start", "hold", "advance", "promote",
                                                "rollback", "cancel"],
        share: int, units: int, reason: str,
    ) -> Rollout:  # fmt: skip
        timeline = list(rollout.timeline)
        entry = TimelineEntry(self._clock.now(), action, share, units, reason)
        last = timeline[-1] if timeline else None
        if action == "hold" and last is not None and last.action == "hold" and last.share == share:
            entry = msgspec.structs.replace(entry, ticks=last.ticks + 1)
            timeline[-1] = entry
        else:
            timeline.append(entry)
        return msgspec.structs.replace(rollout, timeline=timeline)

    def _finish(
        self, rollout: Rollout, status: Status,
        action: Literal["promote", "rollback", "cancel"], units: int, reason: str,
    ) -> Rollout:  # fmt: skip
        rollout = self._record(rollout, action, rollout.share, units, reason)
        return msgspec.structs.replace(rollout, status=status, finished_at=self._clock.now())


def _stats(
    metric: RolloutMetric, units: set[str], totals: dict[str, float]
) -> MeanStats | ProportionStats:
    if metric.kind == "proportion":
        return ProportionStats(len(units), sum(1 for u in units if u in totals))
    values = [totals.get(u, 0.0) for u in units]
    return MeanStats.from_values(values) if values else MeanStats()

"""Experiments: create, start, stop, assign units, compute results, stop early for harm.

Assignment is a pure function of (experiment name, unit id, allocation, coverage): the
hash of :func:`mlpulse.core.experiments.assignment.assign`. Results therefore need no
exposure log: every unit seen in the outcome events of the experiment's metrics (and of
its ``exposure`` event) between start and stop is re-assigned to its variant. The price:
a unit never seen in those events is not counted (log an ``exposure`` outcome to count
units that never convert), and the allocation must not change while the experiment runs
(the spec is immutable once created; raise coverage by creating a new experiment).

Choices a reviewer should know:

- Holm's correction runs over every (non-control variant, metric) comparison;
  ``significant`` uses the adjusted p-value (Bayesian: chance to beat >= 1 - alpha).
- ``group_sequential``: the look is the share of ``planned_units`` seen so far (all
  variants); each comparison is judged against the Lan–DeMets boundary of that look at
  ``alpha / m`` over the m comparisons (Bonferroni instead of Holm), and the verdict
  opens with the look and whether the primary metric crossed (see
  :func:`.experiment_analysis.plan_look`).
- Metrics with ``source="labels"`` read :meth:`OutcomeSource.label_totals`: per unit and
  version, so each unit keeps only the predictions of its assigned variant's version.
- Guardrails are judged by the always-valid mSPRT whatever the method (see
  :mod:`.experiment_analysis`); :meth:`Experiments.check_guardrails` stops a running
  experiment whose guardrail is breached, with the reason. :meth:`check_running`, called
  by the collector's background loop, does it for every running experiment at most once
  per ``guardrail_interval_s``.
- A unit of an experiment that is not running gets the control (``enrolled`` false).
- ``guard(model, action)`` (the error budget policy) may refuse a start; a stop never asks.
"""

from __future__ import annotations

import builtins
import contextlib
import threading
from collections.abc import Callable

import msgspec

from mlpulse.core.experiments.assignment import assign
from mlpulse.domain.experiments import (
    Assignment,
    Comparison,
    ExperimentResults,
    ExperimentSpec,
    LookView,
    MetricResult,
    MetricSpec,
    Role,
)
from mlpulse.errors import InvalidInputError, NotFoundError
from mlpulse.ports import Clock, ExperimentStore, OutcomeSource
from mlpulse.services import experiment_analysis as analysis

UnitTotals = dict[str, tuple[float, int]]  # unit id -> (sum of values, count of events)


class Experiments:
    def __init__(
        self,
        store: ExperimentStore,
        outcomes: OutcomeSource,
        clock: Clock,
        *,
        guardrail_interval_s: float = 60.0,
        guard: Callable[[str, str], None] = lambda model, action: None,
    ) -> None:
        self._store = store
        self._guard = guard
        self._outcomes = outcomes
        self._clock = clock
        self._lock = threading.Lock()
        self._interval = guardrail_interval_s
        self._last_check = float("-inf")

    # -- lifecycle ----------------------------------------------------------------------

    def create(self, spec: ExperimentSpec) -> ExperimentSpec:
        """Store a new experiment as ``draft``."""
        lifecycle = ("status", "started_at", "stopped_at", "created_at", "stop_reason")
        defaults = ExperimentSpec(
            spec.name, spec.model, spec.variants, spec.allocation, spec.control, spec.primary
        )
        for field in lifecycle:
            if getattr(spec, field) != getattr(defaults, field):
                raise InvalidInputError(
                    f"{field}: set by the collector (a new experiment is a draft; start it "
                    "with POST /v1/experiments/<name>/start)",
                    field=field,
                )
        created = msgspec.structs.replace(spec, created_at=self._clock.now())
        with self._lock:
            self._store.insert(created)
        return created

    def get(self, name: str) -> ExperimentSpec:
        found = self._store.get(name)
        if found is None:
            raise NotFoundError(f"no experiment named {name!r}")
        return found

    def list(self) -> list[ExperimentSpec]:
        return self._store.list()

    def start(self, name: str) -> ExperimentSpec:
        with self._lock:
            spec = self.get(name)
            if spec.status != "draft":
                raise InvalidInputError(
                    f"status: {name!r} is {spec.status}; only a draft can start "
                    "(create a new experiment to run it again)",
                    field="status",
                )
            self._guard(spec.model, f"experiment {name!r} start")
            started = msgspec.structs.replace(spec, status="running", started_at=self._clock.now())
            self._store.update(started)
        return started

    def stop(self, name: str, reason: str) -> ExperimentSpec:
        with self._lock:
            spec = self.get(name)
            if spec.status == "stopped":
                raise InvalidInputError(f"status: {name!r} is stopped already", field="status")
            stopped = msgspec.structs.replace(
                spec, status="stopped", stopped_at=self._clock.now(), stop_reason=reason
            )
            self._store.update(stopped)
        return stopped

    # -- assignment -----------------------------------------------------------------------

    def assignment(self, name: str, unit: str) -> Assignment:
        spec = self.get(name)
        variant = assign(spec.name, unit, spec.weights(), coverage=spec.coverage)
        enrolled = spec.status == "running" and variant is not None
        chosen = variant if enrolled and variant is not None else spec.control
        return Assignment(spec.name, unit, chosen, spec.variants[chosen], enrolled)

    # -- results ----------------------------------------------------------------------------

    def results(self, name: str) -> ExperimentResults:
        return self._results(self.get(name))

    def _results(self, spec: ExperimentSpec) -> ExperimentResults:
        end = spec.stopped_at if spec.stopped_at is not None else self._clock.now()
        totals = self._totals(spec, end)
        units = self._units(spec, totals)
        srm = analysis.srm(spec, units)
        look: LookView | None = None
        if spec.method == "group_sequential":
            look = analysis.plan_look(spec, sum(len(u) for u in units.values()))
        boundary = look.boundary if look is not None and look.look > 0 else None
        rows: builtins.list[
            tuple[MetricSpec, Role, builtins.list[Comparison], dict[str, analysis.Stats]]
        ] = []
        for role, metric in spec.metrics():
            stats = {v: analysis.unit_stats(metric, units[v], totals[metric.name]) for v in units}
            control = stats[spec.control]
            comparisons = [
                Comparison.blank(
                    spec.control, spec.variants[spec.control], control.n, analysis.estimate(control)
                )
            ]
            comparisons += [
                analysis.compare(
                    spec.method,
                    spec.alpha,
                    control,
                    stats[v],
                    name=v,
                    version=spec.variants[v],
                    boundary=boundary,
                )
                for v in spec.variants
                if v != spec.control
            ]
            rows.append((metric, role, comparisons, stats))
        adjusted = (
            {}  # judged against the look's boundary instead (see plan_look)
            if spec.method == "group_sequential"
            else analysis.holm_adjusted([c for _, _, cs, _ in rows for c in cs])
        )
        metrics: list[MetricResult] = []
        breached: list[str] = []
        for metric, role, comparisons, stats in rows:
            judged = [
                analysis.judge(adjusted.get(id(c), c), metric, spec.method, spec.alpha)
                for c in comparisons
            ]
            hit = role == "guardrail" and any(
                analysis.harm(
                    c,
                    metric,
                    analysis.guardrail_test(stats[spec.control], stats[c.variant], spec.alpha),
                )
                for c in judged
                if c.outcome != "control"
            )
            if hit:
                breached.append(metric.name)
            metrics.append(
                MetricResult(
                    metric.name,
                    role,
                    metric.kind,
                    metric.direction,
                    judged,
                    analysis.metric_verdict(metric.name, judged),
                    hit,
                )
            )
        verdict = analysis.experiment_verdict(
            metrics[0].verdict,
            srm_mismatch=srm.status == "mismatch",
            breached=breached,
            stop_reason=spec.stop_reason,
        )
        if look is not None:
            crossed = any(c.significant for c in metrics[0].variants)
            look = msgspec.structs.replace(look, crossed=crossed)
            verdict = f"{analysis.look_verdict(look)}. {verdict}"
        if spec.started_at is None:
            verdict = "Not started yet: no results."
        return ExperimentResults(
            experiment=spec,
            start=spec.started_at,
            end=end,
            units=sum(len(u) for u in units.values()),
            srm=srm,
            metrics=metrics,
            guardrails_hold=not breached,
            verdict=verdict,
            look=look,
        )

    def _totals(self, spec: ExperimentSpec, end: float) -> dict[str, UnitTotals]:
        names = [m.name for _, m in spec.metrics() if m.source == "outcomes"]
        if spec.exposure is not None and spec.exposure not in names:
            names.append(spec.exposure)
        labelled = [m for _, m in spec.metrics() if m.source == "labels"]
        if spec.started_at is None:
            return {name: {} for name in [*names, *(m.name for m in labelled)]}
        start = spec.started_at
        found = {
            name: {
                unit: (total, count)
                for unit, total, count in self._outcomes.unit_totals(
                    spec.model, name, start=start, end=end
                )
            }
            for name in names
        }
        for metric in labelled:
            found[metric.name] = self._label_totals(spec, metric, start, end)
        return found

    def _label_totals(
        self, spec: ExperimentSpec, metric: MetricSpec, start: float, end: float
    ) -> UnitTotals:
        """A labels metric's totals per unit, of its assigned variant's version only."""
        weights = spec.weights()
        versions: dict[str, str | None] = {}
        totals: UnitTotals = {}
        rows = self._outcomes.label_totals(spec.model, kind=metric.kind, start=start, end=end)
        for unit, version, total, count in rows:
            if unit not in versions:
                variant = assign(spec.name, unit, weights, coverage=spec.coverage)
                versions[unit] = None if variant is None else spec.variants[variant]
            if version == versions[unit] and count > 0:
                old_total, old_count = totals.get(unit, (0.0, 0))
                totals[unit] = (old_total + total, old_count + count)
        return totals

    @staticmethod
    def _units(
        spec: ExperimentSpec, totals: dict[str, UnitTotals]
    ) -> dict[str, builtins.list[str]]:
        seen: set[str] = set().union(*(t.keys() for t in totals.values()))
        units: dict[str, builtins.list[str]] = {v: [] for v in spec.variants}
        weights = spec.weights()
        for unit in sorted(seen):
            variant = assign(spec.name, unit, weights, coverage=spec.coverage)
            if variant is not None:
                units[variant].append(unit)
        return units

    # -- early stopping for harm ------------------------------------------------------------

    def check_guardrails(self, name: str) -> ExperimentResults:
        """The results; a running experiment with a breached guardrail is stopped first."""
        spec = self.get(name)
        found = self._results(spec)
        if spec.status == "running" and not found.guardrails_hold:
            breached = [m for m in found.metrics if m.breached]
            reason = "guardrail breached: " + "; ".join(m.verdict for m in breached)
            with contextlib.suppress(InvalidInputError):  # stopped meanwhile by someone else
                self.stop(name, reason)
            found = self._results(self.get(name))
        return found

    def check_running(self) -> builtins.list[str]:
        """Check every running experiment's guardrails, at most once per interval;
        the names of those stopped."""
        now = self._clock.now()
        if now - self._last_check < self._interval:
            return []
        self._last_check = now
        stopped = []
        for spec in self._store.list():
            if spec.status != "running" or not spec.guardrails:
                continue
            if self.check_guardrails(spec.name).experiment.status == "stopped":
                stopped.append(spec.name)
        return stopped

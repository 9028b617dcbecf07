"""SLOs as Sloth-compatible Prometheus rules over the collector's ``/metrics`` counters.

A source for :func:`~mlpulse.adapters.export.prometheus_rules.prometheus_rules`
(``sources=[slo_rule_groups]``). Per SLO whose SLI PromQL can express, three groups named
and labelled as Sloth (https://github.com/slok/sloth) writes them, so Sloth's Grafana
dashboards and queries work unchanged (labels ``sloth_service`` = the model,
``sloth_slo`` = the SLO, ``sloth_id`` = ``<model>-<slo>``):

* ``sloth-slo-sli-recordings-<id>``: ``slo:sli_error:ratio_rate<w>`` (label
  ``sloth_window``) for Sloth's windows 5m, 30m, 1h, 2h, 6h, 1d, 3d and those of the SLO's
  alerts, and ``slo:sli_error:ratio_rate<period>`` (the 5m ratio averaged over the
  period, as Sloth does);
* ``sloth-slo-meta-recordings-<id>``: ``slo:objective:ratio``, ``slo:error_budget:ratio``,
  ``slo:time_period:days``, ``slo:current_burn_rate:ratio``,
  ``slo:period_burn_rate:ratio``, ``slo:period_error_budget_remaining:ratio``;
* ``sloth-slo-alerts-<id>``: the SLO's multi-window multi-burn-rate alerts,
  ``<slo>-budget-burn-page`` and ``<slo>-budget-burn-ticket`` (labels ``sloth_severity``,
  and ``severity`` ``critical`` or ``warning`` as mlpulse's own derived rules), each
  firing while the error ratio over both windows of one of its pairs exceeds
  ``burn_rate × (1 - objective)``. (Sloth gives both one name; two names let a
  ``promtool`` test expect each on its own.)

SLI kinds and PromQL:

* ``availability`` — ``rate(mlpulse_prediction_errors_total) /
  rate(mlpulse_predictions_total)``, the counters the traffic recording rules read.
* ``latency`` — ``1 - rate(bucket{le=threshold}) / rate(count)`` of
  ``mlpulse_prediction_latency_seconds``: only when ``threshold_ms`` is one of the
  histogram's bounds (:data:`LATENCY_BUCKETS_S`); else skipped.
* ``drift_free`` and ``performance`` — skipped: their good events are judged by
  mlpulse's evaluator (a drift point's severity, a performance window against its
  target) and ``/metrics`` shows only the latest gauge, not a count of good events.
  mlpulse's own derived rules over ``mlpulse_slo_alert_burn_rate`` cover them.

A calendar-month period has no PromQL range: its period rules use 30d.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from mlpulse.adapters.export.prometheus_rule_file import (
    AlertingRule,
    RecordingRule,
    RuleGroup,
    duration,
    number,
    selector,
)
from mlpulse.domain.monitoring import Config
from mlpulse.domain.slo_rules import slo_rule_name
from mlpulse.domain.slos import CALENDAR_MONTH, SloConfig
from mlpulse.domain.window import parse_duration

__all__ = [
    "LATENCY_BUCKETS_S",
    "SLOTH_WINDOWS",
    "SkippedSlo",
    "error_ratio",
    "latency_bound",
    "slo_alert_name",
    "slo_rule_groups",
    "slo_rule_skips",
]

SLOTH_WINDOWS: Final = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
_SLI: Final = "slo:sli_error:ratio_rate"
_RATE: Final = "sum(rate({}[{}]))"
# The bounds of the collector's latency histogram (mlpulse.server.metrics, which an
# adapter does not import; a test keeps the two equal).
LATENCY_BUCKETS_S: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SkippedSlo:
    name: str
    kind: str
    reason: str


def slo_alert_name(slo: str, severity: str) -> str:
    return f"{slo}-budget-burn-{severity}"


def _match(slo: SloConfig) -> dict[str, str]:
    return {"model": slo.model} | ({"version": slo.version} if slo.version else {})


def error_ratio(slo: SloConfig, window: str) -> str | None:
    """The SLI's error ratio over ``window`` in PromQL, or None where it has none."""
    match = _match(slo)
    if slo.sli.kind == "availability":
        errors = _RATE.format(selector("mlpulse_prediction_errors_total", match), window)
        total = _RATE.format(selector("mlpulse_predictions_total", match), window)
        return f"({errors}) / ({total})"
    if slo.sli.kind == "latency" and slo.sli.threshold_ms is not None:
        bound = latency_bound(slo.sli.threshold_ms)
        if bound is None:
            return None
        series = "mlpulse_prediction_latency_seconds"
        good = _RATE.format(selector(f"{series}_bucket", match | {"le": bound}), window)
        total = _RATE.format(selector(f"{series}_count", match), window)
        return f"1 - (({good}) / ({total}))"
    return None


def latency_bound(threshold_ms: float) -> str | None:
    """The histogram bound (its ``le`` label) equal to ``threshold_ms``, if one is."""
    for bound in LATENCY_BUCKETS_S:
        if math.isclose(bound * 1000.0, threshold_ms):
            return repr(bound)  # the le label as the collector writes it
    return None


def slo_rule_skips(config: Config) -> list[SkippedSlo]:
    """The SLOs :func:`slo_rule_groups` leaves out, and why."""
    skipped = []
    for name, slo in sorted(config.slos.items()):
        if error_ratio(slo, "5m") is not None:
            continue
        if slo.sli.kind == "latency":
            bounds = ", ".join(f"{b * 1000:g}" for b in LATENCY_BUCKETS_S)
            reason = f"threshold_ms is not a bound of the latency histogram ({bounds})"
        else:
            reason = (
                f"a {slo.sli.kind} SLI's good events are judged by mlpulse's evaluator; "
                "/metrics has no count of them (mlpulse's own burn-rate rules cover it)"
            )
        skipped.append(SkippedSlo(name, slo.sli.kind, reason))
    return skipped


def replaced_rules(config: Config) -> set[str]:
    """The config's own burn-rate rules (``<slo>-burn-<long>-<short>``) of the SLOs that
    get Sloth's alerts here: left out of the export, so that one set of rules pages."""
    return {
        slo_rule_name(name, alert)
        for name, slo in config.slos.items()
        if error_ratio(slo, "5m") is not None
        for alert in slo.burn_alerts
    }


def slo_rule_groups(config: Config) -> Sequence[RuleGroup]:
    """Sloth's three rule groups for every SLO whose SLI PromQL can express."""
    groups: list[RuleGroup] = []
    for name, slo in sorted(config.slos.items()):
        if error_ratio(slo, "5m") is not None:
            groups += _groups(name, slo)
    return groups


def _windows(slo: SloConfig) -> list[str]:
    wanted = {*SLOTH_WINDOWS, *(w for a in slo.burn_alerts for w in (a.long, a.short))}
    texts = {duration(w) or w for w in wanted}
    return sorted(texts, key=parse_duration)


def _groups(name: str, slo: SloConfig) -> list[RuleGroup]:
    sloth_id = f"{slo.model}-{name}".replace("/", "-")
    ids = {"sloth_id": sloth_id, "sloth_service": slo.model, "sloth_slo": name}
    mine = selector("", ids)
    days = 30 if slo.period == CALENDAR_MONTH else round(parse_duration(slo.period) / 86400)
    period = f"{days}d"
    sli: list[RecordingRule] = []
    for window in _windows(slo):
        expr = error_ratio(slo, window)
        assert expr is not None
        sli.append(RecordingRule(f"{_SLI}{window}", expr, ids | {"sloth_window": window}))
    first = f"{_SLI}5m{mine}"
    sli.append(RecordingRule(
        f"{_SLI}{period}",
        f"sum_over_time({first}[{period}]) / ignoring (sloth_window) "
        f"count_over_time({first}[{period}])",
        ids | {"sloth_window": period},
    ))  # fmt: skip
    budget = float(f"{1.0 - slo.objective:.12g}")  # 0.001, not 0.0010000000000000009
    on = "on(sloth_id, sloth_slo, sloth_service) group_left"
    meta = [
        RecordingRule("slo:objective:ratio", f"vector({number(slo.objective)})", ids),
        RecordingRule("slo:error_budget:ratio", f"vector({number(budget)})", ids),
        RecordingRule("slo:time_period:days", f"vector({days})", ids),
        RecordingRule(
            "slo:current_burn_rate:ratio",
            f"{first} / {on} slo:error_budget:ratio{mine}",
            ids,
        ),
        RecordingRule(
            "slo:period_burn_rate:ratio",
            f"{_SLI}{period}{mine} / {on} slo:error_budget:ratio{mine}",
            ids,
        ),
        RecordingRule(
            "slo:period_error_budget_remaining:ratio",
            f"1 - slo:period_burn_rate:ratio{mine}",
            ids,
        ),
    ]
    alerts = []
    for severity in ("page", "ticket"):
        pairs = [a for a in slo.burn_alerts if a.severity == severity]
        if not pairs:
            continue
        terms = [
            f"(max({_SLI}{duration(a.short)}{mine} > ({number(a.burn_rate)} * {number(budget)}))"
            f" without (sloth_window) and max({_SLI}{duration(a.long)}{mine} >"
            f" ({number(a.burn_rate)} * {number(budget)})) without (sloth_window))"
            for a in pairs
        ]
        alerts.append(AlertingRule(
            alert=slo_alert_name(name, severity),
            expr=" or ".join(terms),
            labels={"sloth_severity": severity,
                    "severity": "critical" if severity == "page" else "warning"},
            annotations={
                "summary": f"{slo.model}: SLO {name} burns its error budget too fast",
                "title": f"({severity}) {{{{ $labels.sloth_service }}}} "
                f"{{{{ $labels.sloth_slo }}}} SLO error budget burn rate is too fast.",
            },
        ))  # fmt: skip
    groups = [
        RuleGroup(f"sloth-slo-sli-recordings-{sloth_id}", tuple(sli)),
        RuleGroup(f"sloth-slo-meta-recordings-{sloth_id}", tuple(meta)),
    ]
    if alerts and slo.page:
        groups.append(RuleGroup(f"sloth-slo-alerts-{sloth_id}", tuple(alerts)))
    return groups

"""The rule a monitor with ``page: true`` writes: alert whenever its status is critical.

A monitor's ``warning`` and ``critical`` grade its points (the status the dashboard and
reports colour); only rules make alerts. So that a threshold set once also pages,
``page: true`` derives the threshold rule ``<monitor>-page`` over the monitor's series,
matching its points (``model``, ``monitor``, and ``percentile`` or ``metric``), that fires
exactly when a point is graded critical: ``>`` critical when larger values are worse,
``<`` critical when smaller ones are (an accuracy), as the check grades; latency
thresholds are in milliseconds and its series in seconds; a drift monitor's series is a
severity, critical past 2 for every column and method. Its
severity is ``critical``; it is routed like any other rule. The derived rule is written
into the config's ``rules`` when the file is decoded, so ``mlpulse plan`` shows it and the
alert engine runs it like a rule written by hand.

>>> from mlpulse.domain.monitoring import MonitorConfig
>>> rule = paging_rule("fraud-p99", MonitorConfig(
...     model="fraud", check="latency", metric="p99", critical=800.0, page=True))
>>> rule.series, rule.op, rule.value, rule.severity
('mlpulse_latency_seconds', '>', 0.8, 'critical')
>>> rule.match
{'model': 'fraud', 'monitor': 'fraud-p99', 'percentile': 'p99'}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from mlpulse.domain.monitoring import MonitorConfig, default_direction
from mlpulse.domain.rules import Op, RuleConfig
from mlpulse.domain.series_catalogue import series_of_check

CRITICAL_SEVERITY: Final = 2.0
"""The drift severity of a column's critical threshold (mlpulse.core.drift.severity)."""

__all__ = ["PAGE_SUFFIX", "paging_problems", "paging_rule", "paging_rule_name", "paging_rules"]

PAGE_SUFFIX: Final = "-page"
_LABEL: Final = {
    "latency": "percentile",
    "performance": "metric",
    "estimated_performance": "metric",
}


def paging_rule_name(monitor: str) -> str:
    return f"{monitor}{PAGE_SUFFIX}"


def paging_problems(monitor: MonitorConfig) -> Iterator[str]:
    """Why ``monitor`` cannot page (the problems of its ``page``); nothing when it can."""
    if not monitor.page:
        return
    if series_of_check(monitor.check) is None:
        yield (
            f"a {monitor.check} monitor grades its series with thresholds of its own; "
            f"page from a rule over its series instead"
        )
    elif monitor.critical is None:
        yield "needs critical: the monitor pages when a point is graded critical"


def paging_rule(name: str, monitor: MonitorConfig) -> RuleConfig | None:
    """The rule ``monitor`` (called ``name``) pages with, or None when it does not page."""
    series = series_of_check(monitor.check)
    if not monitor.page or series is None or monitor.critical is None:
        return None
    value = monitor.critical
    if monitor.check in ("drift", "prediction_drift"):
        # The drift series is a severity: 2 is each column's own critical threshold
        # (monitor_checks grades a column critical strictly past it, whatever its method).
        direction, value = "above", CRITICAL_SEVERITY
    else:
        metric = monitor.metric or ""
        direction = monitor.direction or default_direction(metric)
        if monitor.check == "latency":
            value = monitor.critical / 1000.0  # thresholds in ms, the series in seconds
    match = {"model": monitor.model, "monitor": name}
    label = _LABEL.get(monitor.check)
    if label is not None and monitor.metric is not None:
        match[label] = monitor.metric
    if monitor.version is not None:
        match["version"] = monitor.version
    op: Op = ">" if direction == "above" else "<"
    return RuleConfig(
        kind="threshold",
        series=series,
        match=match,
        op=op,
        value=value,
        severity="critical",
        annotations={
            "summary": f"{{{{ $labels.model }}}}: monitor {name} is critical "
            f"({{{{ $value }}}} {op} {value:g})",
        },
    )


def paging_rules(monitors: Mapping[str, MonitorConfig]) -> dict[str, RuleConfig]:
    """The derived rule of every paging monitor, by rule name."""
    found = {}
    for name, monitor in monitors.items():
        rule = paging_rule(name, monitor)
        if rule is not None:
            found[paging_rule_name(name)] = rule
    return found

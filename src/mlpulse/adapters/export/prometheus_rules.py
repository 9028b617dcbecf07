"""``mlpulse.yaml``'s rules as Prometheus recording and alerting rules over ``/metrics``.

The collector shows the evaluator's latest point of every series as a gauge of the same
name and labels (:mod:`mlpulse.server.check_metrics`), and the traffic per model version
as counters and a latency histogram (:mod:`mlpulse.server.metrics`). So a rule of the
file becomes a PromQL expression over the same series:

============  ============================================================================
rule kind     PromQL
============  ============================================================================
threshold     ``series{match} > value``; with ``resolve_value`` (hysteresis) the alert
              stays while past ``resolve_value`` by joining its own ``ALERTS`` series
relative      ``series{match} < ratio * baseline_value``, or against the trailing median,
              ``ratio * quantile_over_time(0.5, series{match}[baseline_window])``
absent        ``absent(series{match})`` for ``absent_for``: only a series that is
              not exposed at all (``/metrics`` has no point timestamps, so a stale point
              that the collector still shows is not "absent" to Prometheus)
anomaly       skipped: mlpulse's robust seasonal baseline has no PromQL equivalent
detection     skipped: a streaming detection is an event (its point's time), which a
              gauge without timestamps cannot show
============  ============================================================================

Paging monitors (``page: true``) are exported through their derived ``<monitor>-page``
rules, which decoding already put in ``config.rules``. ``for``, ``keep_firing_for``,
``severity`` (a label), the rule's labels and its annotations carry over; annotation
templates use Prometheus' notation already, ``{{ $value }}`` gets mlpulse's four
significant digits and ``{{ $drifted_columns }}`` becomes the alert's ``column`` label.

More groups come from :data:`GroupSource` functions (the SLO burn-rate rules, with
Sloth's names, plug in there): ``prometheus_rules(config, sources=[slo_rule_groups])``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from mlpulse.domain.monitoring import Config
from mlpulse.domain.rules import RuleConfig
from mlpulse.domain.window import parse_duration

__all__ = [
    "TRAFFIC_RECORDING",
    "AlertingRule",
    "ExportedRule",
    "GroupSource",
    "PrometheusRulesResult",
    "RecordingRule",
    "RuleGroup",
    "SkippedRule",
    "duration",
    "prometheus_rules",
    "selector",
    "template",
]

ALERTS_GROUP: Final = "mlpulse-alerts"
RECORDING_GROUP: Final = "mlpulse-traffic"
_BY: Final = "model, version"
_RATE: Final = "sum by (model, version) (rate({}[5m]))"

# Traffic per model version from the collector's own counters and histogram, recorded
# under Prometheus' level:metric:operations convention; the dashboards read these.
TRAFFIC_RECORDING: Final[Mapping[str, str]] = {
    "mlpulse:predictions:rate5m": _RATE.format("mlpulse_predictions_total"),
    "mlpulse:prediction_errors:rate5m": _RATE.format("mlpulse_prediction_errors_total"),
    "mlpulse:prediction_errors:ratio_rate5m": (
        f"{_RATE.format('mlpulse_prediction_errors_total')}"
        f" / {_RATE.format('mlpulse_predictions_total')}"
    ),
    **{
        f"mlpulse:prediction_latency_seconds:p{q}_rate5m": (
            f"histogram_quantile(0.{q}, sum by ({_BY}, le) "
            "(rate(mlpulse_prediction_latency_seconds_bucket[5m])))"
        )
        for q in ("50", "95", "99")
    },
}

# A template field mlpulse knows, any other {{ ... }} (text to mlpulse), or a lone {{.
_ACTION: Final = re.compile(
    r"\{\{\s*\$(?:(labels\.[A-Za-z_][A-Za-z0-9_]*)|(value)|(drifted_columns))\s*\}\}"
    r"|\{\{.*?\}\}|\{\{"
)
_LABEL_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class RecordingRule:
    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = {"record": self.record, "expr": self.expr}
        if self.labels:
            found["labels"] = dict(self.labels)
        return found


@dataclass(frozen=True, slots=True)
class AlertingRule:
    alert: str
    expr: str
    for_: str | None = None
    keep_firing_for: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_:
            found["for"] = self.for_
        if self.keep_firing_for:
            found["keep_firing_for"] = self.keep_firing_for
        if self.labels:
            found["labels"] = dict(self.labels)
        if self.annotations:
            found["annotations"] = dict(self.annotations)
        return found


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """A Prometheus rule group (evaluated in order, every ``interval`` when set)."""

    name: str
    rules: tuple[RecordingRule | AlertingRule, ...]
    interval: str | None = None

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name}
        if self.interval:
            found["interval"] = self.interval
        found["rules"] = [rule.document() for rule in self.rules]
        return found


@dataclass(frozen=True, slots=True)
class ExportedRule:
    """A rule of the file and the Prometheus rule it became."""

    name: str
    rule: RuleConfig
    alerting: AlertingRule


@dataclass(frozen=True, slots=True)
class SkippedRule:
    name: str
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class PrometheusRulesResult:
    groups: tuple[RuleGroup, ...]
    exported: tuple[ExportedRule, ...]
    skipped: tuple[SkippedRule, ...]

    def yaml(self) -> str:
        """The rule file, with a comment naming each rule that was not exported."""
        head = ["# Generated by `mlpulse export prometheus-rules`; do not edit by hand."]
        head += [f"# skipped {s.name} ({s.kind}): {s.reason}" for s in self.skipped]
        body = yaml.safe_dump(
            {"groups": [group.document() for group in self.groups]},
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
        return "\n".join(head) + "\n" + body


GroupSource = Callable[[Config], Sequence[RuleGroup]]
"""More rule groups from the config (the extension point of SLO burn-rate rules)."""


def duration(text: str) -> str | None:
    """An mlpulse duration as Prometheus writes it (whole units; None for zero).

    >>> duration("1.5h"), duration("10m"), duration("0m"), duration("7d")
    ('90m', '10m', None, '7d')
    """
    return _whole(_seconds(text))


def _seconds(text: str) -> float:
    return 0.0 if text.strip() in ("0", "0s", "0m", "0h") else parse_duration(text)


def _whole(seconds: float) -> str | None:
    total = round(seconds)
    if total <= 0:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total % size == 0:
            return f"{total // size}{unit}"
    return f"{total}s"


def selector(series: str, match: Mapping[str, str]) -> str:
    """A PromQL selector; an empty value matches a missing label, as in mlpulse.

    >>> selector("mlpulse_error_rate", {"model": "fraud", "mode": ""})
    'mlpulse_error_rate{mode="",model="fraud"}'
    """
    if not match:
        return series
    inner = ",".join(f"{key}={json.dumps(value)}" for key, value in sorted(match.items()))
    return f"{series}{{{inner}}}"


def number(value: float) -> str:
    """A float as a PromQL literal.

    >>> number(2.0), number(0.8), number(1e-5)
    ('2', '0.8', '1e-05')
    """
    if not math.isfinite(value):
        return "NaN"
    text = repr(value)
    return text.removesuffix(".0")


def template(text: str) -> str:
    """An mlpulse annotation template as a Prometheus (Go) one that renders the same.

    mlpulse fills in ``$labels.<name>``, ``$value`` (four significant digits) and
    ``$drifted_columns`` and leaves any other ``{{`` as text, which Go would run or
    reject: it becomes a Go string literal.

    >>> template("{{ $labels.model }}: {{ $value }} {{ $drifted_columns }}")
    '{{ $labels.model }}: {{ $value | printf "%.4g" }} {{ $labels.column }}'
    >>> template("{{ .Secret }} and {{")
    '{{ "{{ .Secret }}" }} and {{ "{{" }}'
    """

    def action(match: re.Match[str]) -> str:
        label, value, drifted = match.groups()
        if label is not None:
            return f"{{{{ ${label} }}}}"
        if value is not None:
            return '{{ $value | printf "%.4g" }}'
        if drifted is not None:
            return "{{ $labels.column }}"
        return f"{{{{ {json.dumps(match.group(0))} }}}}"

    return _ACTION.sub(action, text)


def _annotations(annotations: Mapping[str, str]) -> dict[str, str]:
    return {key: template(text) for key, text in annotations.items()}


def _threshold(name: str, rule: RuleConfig, base: str) -> str:
    assert rule.op is not None and rule.value is not None
    expr = f"{base} {rule.op} {number(rule.value)}"
    if rule.resolve_value is None or rule.resolve_value == rule.value:
        return expr
    # Hysteresis: a firing alert holds while the series is past resolve_value.
    ignored = ", ".join(sorted({"alertname", "alertstate", "severity", *rule.labels}))
    firing = selector("ALERTS", {"alertname": name, "alertstate": "firing"})
    return (
        f"{expr} or ({base} {rule.op} {number(rule.resolve_value)}"
        f" and ignoring({ignored}) {firing})"
    )


def _expression(name: str, rule: RuleConfig) -> str | SkippedRule:
    base = selector(rule.series, rule.match)
    if rule.kind == "threshold":
        return _threshold(name, rule, base)
    if rule.kind == "relative":
        assert rule.op is not None and rule.ratio is not None
        if rule.baseline_value is not None:
            return f"{base} {rule.op} {number(rule.ratio * rule.baseline_value)}"
        window = duration(rule.baseline_window)
        return f"{base} {rule.op} {number(rule.ratio)} * quantile_over_time(0.5, {base}[{window}])"
    if rule.kind == "absent":
        assert rule.absent_for is not None
        return f"absent({base})"
    reason = {
        "anomaly": "mlpulse's robust seasonal baseline has no PromQL equivalent",
        "detection": "a streaming detection is an event at its point's time, which a gauge "
        "without timestamps cannot show",
    }[rule.kind]
    return SkippedRule(name, rule.kind, reason)


def _wait(rule: RuleConfig) -> float:
    """Seconds a condition holds before the alert fires: an absent rule's condition
    itself takes absent_for (from the start, as in mlpulse), then ``for``."""
    wait = _seconds(rule.for_)
    if rule.kind == "absent" and rule.absent_for is not None:
        wait += _seconds(rule.absent_for)
    return wait


def _labels_problem(rule: RuleConfig) -> str | None:
    bad = sorted(k for k in (*rule.match, *rule.labels) if not _LABEL_NAME.match(k))
    return f"label names {bad} are not valid in Prometheus" if bad else None


def alert_rules(config: Config) -> tuple[list[ExportedRule], list[SkippedRule]]:
    """Each rule of ``config`` as an alerting rule, or why it cannot be one."""
    exported, skipped = [], []
    for name, rule in sorted(config.rules.items()):
        problem = _labels_problem(rule)
        expr = SkippedRule(name, rule.kind, problem) if problem else _expression(name, rule)
        if isinstance(expr, SkippedRule):
            skipped.append(expr)
            continue
        alerting = AlertingRule(
            alert=name,
            expr=expr,
            for_=_whole(_wait(rule)),
            keep_firing_for=duration(rule.keep_firing_for),
            labels={**rule.labels, "severity": rule.severity},
            annotations=_annotations(rule.annotations),
        )
        exported.append(ExportedRule(name, rule, alerting))
    return exported, skipped


def traffic_group() -> RuleGroup:
    return RuleGroup(
        RECORDING_GROUP,
        tuple(RecordingRule(record, expr) for record, expr in TRAFFIC_RECORDING.items()),
    )


def prometheus_rules(
    config: Config, *, sources: Sequence[GroupSource] = ()
) -> PrometheusRulesResult:
    """The traffic recording rules, the config's alerting rules, then each source's groups."""
    exported, skipped = alert_rules(config)
    groups = [traffic_group()]
    if exported:
        groups.append(RuleGroup(ALERTS_GROUP, tuple(e.alerting for e in exported)))
    for source in sources:
        groups.extend(source(config))
    return PrometheusRulesResult(tuple(groups), tuple(exported), tuple(skipped))

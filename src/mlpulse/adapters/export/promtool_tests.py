"""``promtool test rules`` unit tests for the exported alerting rules.

For each exported rule: two input series that its selector matches (label
``unit_test="breach"`` past the threshold, ``unit_test="quiet"`` short of it), and the
alerts expected just before ``for`` has elapsed (none) and just after (the breaching
series alone, with the labels and the annotations mlpulse itself would render, so the
translated templates are checked too). A rule against its trailing median gets a
history at a baseline of 1 first; an ``absent`` rule gets a series of other labels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

import yaml

from mlpulse.adapters.export.prometheus_rules import (
    ExportedRule,
    PrometheusRulesResult,
    selector,
)
from mlpulse.domain.rules import RuleConfig
from mlpulse.domain.window import parse_duration

__all__ = ["promtool_tests"]

CASE_LABEL: Final = "unit_test"
_STEP_S: Final = 60
_HISTORY: Final = 60  # samples of baseline before a relative rule's breach
_FIELD: Final = re.compile(
    r"\{\{\s*\$(labels\.([A-Za-z_][A-Za-z0-9_]*)|value|drifted_columns)\s*\}\}"
)


def render(templates: Mapping[str, str], labels: Mapping[str, str], value: float) -> dict[str, str]:
    """The annotations Prometheus should write for the exported templates: what mlpulse
    writes (a test compares this with mlpulse.services.alert_templates.render), with
    ``{{ $drifted_columns }}`` as the alert's column.

    >>> render({"s": "{{ $labels.model }}: {{ $value }} {{ $drifted_columns }}"},
    ...        {"model": "fraud", "column": "amount"}, 0.123456)
    {'s': 'fraud: 0.1235 amount'}
    """
    shown = "NaN" if math.isnan(value) else f"{value:.4g}"

    def field(match: re.Match[str]) -> str:
        if match.group(1) == "value":
            return shown
        if match.group(1) == "drifted_columns":
            return labels.get("column", "")
        return labels.get(match.group(2), "")

    return {key: _FIELD.sub(field, text) for key, text in templates.items()}


def _limit(rule: RuleConfig) -> float:
    if rule.kind == "threshold":
        assert rule.value is not None
        return rule.value
    assert rule.ratio is not None
    return rule.ratio * (1.0 if rule.baseline_value is None else rule.baseline_value)


def _sides(rule: RuleConfig) -> tuple[float, float]:
    """A breaching value and a quiet one for a threshold or relative rule."""
    limit = _limit(rule)
    step = max(1.0, abs(limit)) * 0.5
    if rule.op in (">", ">="):
        return limit + step, limit - step
    return limit - step, limit + step


def _series(rule: RuleConfig, case: str) -> str:
    labels = {k: v for k, v in rule.match.items() if v != ""}
    labels[CASE_LABEL] = case
    return selector(rule.series, labels)


def _for_steps(exported: ExportedRule) -> int:
    return _steps(exported.alerting.for_)


def _steps(text: str | None) -> int:
    """Whole evaluation steps in a duration (rounded up)."""
    if text is None or text.strip() in ("0", "0s", "0m", "0h"):
        return 0
    return -(-round(parse_duration(text)) // _STEP_S)


def _expected(exported: ExportedRule, labels: dict[str, str], value: float) -> dict[str, Any]:
    return {
        "exp_labels": {**labels, **exported.alerting.labels},
        "exp_annotations": render(exported.rule.annotations, labels, value),
    }


def _case(exported: ExportedRule) -> dict[str, Any]:
    rule = exported.rule
    wait = _for_steps(exported)
    if rule.kind == "absent":
        # Only the collector's own series: the one the rule watches is absent.
        inputs = [{"series": 'up{job="mlpulse"}', "values": f"1x{wait + 5}"}]
        labels = {k: v for k, v in rule.match.items() if v != ""}
        return _test(exported, inputs, start=0, wait=wait, labels=labels, value=1.0)
    breach, quiet = _sides(rule)
    history = _HISTORY if rule.kind == "relative" and rule.baseline_value is None else 0
    keep = _steps(rule.keep_firing_for)
    samples = wait + keep + 10
    inputs = []
    for case, value in (("breach", breach), ("quiet", quiet)):
        head = f"1x{history - 1} " if history else ""
        inputs.append({"series": _series(rule, case), "values": f"{head}{value!r}x{samples}"})
    labels = {**{k: v for k, v in rule.match.items() if v != ""}, CASE_LABEL: "breach"}
    test = _test(exported, inputs, start=history, wait=wait, labels=labels, value=breach)
    if rule.kind == "threshold" and rule.resolve_value is not None:
        test = _hysteresis(exported, test, wait=wait, keep=keep, breach=breach)
    return test


def _hysteresis(
    exported: ExportedRule, test: dict[str, Any], *, wait: int, keep: int, breach: float
) -> dict[str, Any]:
    """A third series fires, then stays between resolve_value and value past
    keep_firing_for: the alert holds (a series back short of resolve_value would not)."""
    rule = exported.rule
    assert rule.value is not None and rule.resolve_value is not None
    between = (rule.value + rule.resolve_value) / 2
    fired = wait + 2
    inputs = [*test["input_series"], {
        "series": _series(rule, "hold"),
        "values": f"{breach!r}x{fired} {between!r}x{keep + 8}",
    }]  # fmt: skip
    match = {k: v for k, v in rule.match.items() if v != ""}
    at = fired + keep + 3
    expected = [
        _expected(exported, {**match, CASE_LABEL: "breach"}, breach),
        _expected(exported, {**match, CASE_LABEL: "hold"}, between),
    ]
    hold = _expected(exported, {**match, CASE_LABEL: "hold"}, breach)
    checks = [
        {**check, "exp_alerts": [*check["exp_alerts"], hold]} if check["exp_alerts"] else check
        for check in test["alert_rule_test"]
    ]
    checks.append({"eval_time": f"{at}m", "alertname": exported.name, "exp_alerts": expected})
    return {**test, "input_series": inputs, "alert_rule_test": checks}


def _test(
    exported: ExportedRule,
    inputs: list[dict[str, str]],
    *,
    start: int,
    wait: int,
    labels: dict[str, str],
    value: float,
) -> dict[str, Any]:
    name = exported.name
    checks: list[dict[str, Any]] = []
    if wait >= 2:
        checks.append({"eval_time": f"{start + wait - 1}m", "alertname": name, "exp_alerts": []})
    checks.append({
        "eval_time": f"{start + wait + 1}m",
        "alertname": name,
        "exp_alerts": [_expected(exported, labels, value)],
    })  # fmt: skip
    return {"name": name, "interval": "1m", "input_series": inputs, "alert_rule_test": checks}


def promtool_tests(result: PrometheusRulesResult, *, rule_file: str) -> str:
    """The test file for ``promtool test rules`` (``rule_file``: the rules, relative to it)."""
    document = {
        "rule_files": [rule_file],
        "evaluation_interval": "1m",
        "tests": [_case(exported) for exported in result.exported],
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)

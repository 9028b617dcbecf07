"""The Prometheus rule file: recording and alerting rules in groups, and PromQL pieces.

What :mod:`mlpulse.adapters.export.prometheus_rules` writes, and what more rule groups
(SLO burn-rate rules) are made of: a :data:`~mlpulse.adapters.export.prometheus_rules.GroupSource`
returns :class:`RuleGroup` values of :class:`RecordingRule` and :class:`AlertingRule`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlpulse.domain.window import parse_duration

__all__ = ["AlertingRule", "RecordingRule", "RuleGroup", "duration", "number", "selector", "whole"]


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


def duration(text: str) -> str | None:
    """An mlpulse duration as Prometheus writes it (whole units; None for zero).

    >>> duration("1.5h"), duration("10m"), duration("0m"), duration("7d")
    ('90m', '10m', None, '7d')
    """
    return whole(seconds(text))


def seconds(text: str) -> float:
    return 0.0 if text.strip() in ("0", "0s", "0m", "0h") else parse_duration(text)


def whole(seconds: float) -> str | None:
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

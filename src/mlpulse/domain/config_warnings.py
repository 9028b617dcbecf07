"""Names in ``mlpulse.yaml`` that nothing will ever match: warnings, with "did you mean".

A file can be valid and still never alert: a rule over ``mlpulse_drift_shar`` (no such
series), a ``match`` on model ``cancr`` or on ``percentile: "0.99"`` (latency points carry
``p99``), a monitor of column ``mean radiu``. These are warnings, not errors: a model may
simply not have sent traffic yet. :func:`config_warnings` finds them against

* the series the collector writes and their labels (:mod:`mlpulse.domain.series_catalogue`),
  always;
* the names in the file itself: models, monitors (and the default monitors of its models),
  rules (for ``alertname``), declared schemas;
* with ``seen``, the models, columns, versions and label values the collector has seen
  (``mlpulse plan`` and ``PUT /v1/config`` pass them; ``mlpulse plan --offline`` cannot).

Offline, a name missing from the file is reported only when it is close to one there (a
likely typo); with ``seen``, every model or column neither declared nor seen is.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from mlpulse.domain.default_monitors import default_monitor
from mlpulse.domain.monitoring import Config
from mlpulse.domain.paging_rules import paging_rules
from mlpulse.domain.rules import RouteConfig, RuleConfig
from mlpulse.domain.series_catalogue import SERIES, SIDE_BY_SIDE_LABELS, SeriesLabels
from mlpulse.domain.slo_rules import slo_rules
from mlpulse.errors import ConfigProblem

__all__ = ["Seen", "config_warnings"]

_SEVERITIES = ("info", "warning", "critical")
_LISTED = 12  # known values shown in a message at most


@dataclass(frozen=True)
class Seen:
    """What the collector has seen: each model's columns, and the values of each label
    on its series (the newest point of each) and of ``version``."""

    models: Mapping[str, frozenset[str]] = field(default_factory=dict)
    labels: Mapping[str, frozenset[str]] = field(default_factory=dict)


def config_warnings(config: Config, *, seen: Seen | None = None) -> list[ConfigProblem]:
    """Every name in ``config`` that matches nothing known, in document order.

    >>> from mlpulse.domain.rules import RuleConfig
    >>> config = Config(version=1, rules={"r": RuleConfig(
    ...     kind="threshold", series="mlpulse_drift_shar", op=">", value=0.5)})
    >>> [str(w) for w in config_warnings(config)]
    ["rules.r.series: the collector writes no series named 'mlpulse_drift_shar'; \
did you mean 'mlpulse_drift_share'?"]
    """
    names = _Names.of(config, seen)
    found: list[ConfigProblem] = []
    for name, monitor in config.monitors.items():
        path = f"monitors.{name}"
        found += names.model(f"{path}.model", monitor.model)
        columns = names.columns(monitor.model)
        for i, column in enumerate(monitor.columns or ()):
            found += names.column(f"{path}.columns[{i}]", column, monitor.model, columns)
        for column in monitor.columns_config:
            found += names.column(f"{path}.columns_config.{column}", column, monitor.model, columns)
    for name, slo in config.slos.items():
        found += names.model(f"slos.{name}.model", slo.model)
    # Derived rules name the monitor's or the SLO's series and model, warned above.
    derived = paging_rules(config.monitors) | slo_rules(config.slos)
    for name, rule in config.rules.items():
        if derived.get(name) != rule:
            found += _rule(f"rules.{name}", rule, names)
    if config.route is not None:
        found += _route("route", config.route, names)
    for i, inhibit in enumerate(config.inhibit_rules):
        found += names.alert_match(f"inhibit_rules[{i}].source_match", inhibit.source_match)
        found += names.alert_match(f"inhibit_rules[{i}].target_match", inhibit.target_match)
    for name, runbook in config.runbooks.items():
        # An external runbook acts on Alertmanager's alerts, named by other rules.
        match = {k: v for k, v in runbook.match.items() if k != "alertname" or not runbook.external}
        found += names.alert_match(f"runbooks.{name}.match", match)
    return found


def _hint(value: str, known: Iterable[str]) -> str:
    names = list(known)
    same = [name for name in names if name.casefold() == value.casefold()]
    close = same or difflib.get_close_matches(value, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _listed(values: Collection[str]) -> str:
    shown = sorted(values)[:_LISTED]
    more = f" and {len(values) - _LISTED} more" if len(values) > _LISTED else ""
    return ", ".join(shown) + more


def _rule(path: str, rule: RuleConfig, names: _Names) -> Iterator[ConfigProblem]:
    spec = SERIES.get(rule.series)
    if spec is None:
        yield ConfigProblem(
            f"{path}.series",
            f"the collector writes no series named {rule.series!r}{_hint(rule.series, SERIES)}",
        )
        return
    keys = set(spec.labels)
    if spec.per_monitor:
        keys |= names.segment_labels | set(SIDE_BY_SIDE_LABELS)
    for key, value in rule.match.items():
        here = f"{path}.match.{key}"
        if key not in keys:
            yield ConfigProblem(
                here,
                f"{rule.series} has no label {key!r}{_hint(key, keys)} (its labels: "
                f"{', '.join(sorted(keys))})",
            )
        elif value:  # an empty value matches the label's absence
            yield from _label_value(here, rule, spec, key, value, names)


def _label_value(
    path: str, rule: RuleConfig, spec: SeriesLabels, key: str, value: str, names: _Names
) -> Iterator[ConfigProblem]:
    fixed = spec.values.get(key)
    if fixed is not None and value not in fixed:
        yield ConfigProblem(
            path,
            f"{rule.series} never has {key} {value!r}{_hint(value, fixed)} (its values: "
            f"{', '.join(fixed)})",
        )
    elif key == "model":
        yield from names.model(path, value)
    elif key == "monitor":
        yield from names.monitor(path, value, rule.match.get("model"))
    elif key == "probe" and value not in names.config.probes:
        yield names._unknown(path, "probe", value, set(names.config.probes), file_only=True)
    elif key == "column" and fixed is None:
        model = rule.match.get("model")
        columns = names.columns(model) if model else names.all_columns()
        yield from names.column(path, value, model, columns)
    elif fixed is None and names.seen is not None and key in names.seen.labels:
        known = names.seen.labels[key]
        if value not in known:  # a version or segment value no series has (yet)
            yield ConfigProblem(
                path,
                f"no series has {key} {value!r} now{_hint(value, known)} (seen: {_listed(known)})",
            )


def _route(path: str, route: RouteConfig, names: _Names) -> Iterator[ConfigProblem]:
    yield from names.alert_match(f"{path}.match", route.match)
    for i, child in enumerate(route.routes):
        yield from _route(f"{path}.routes[{i}]", child, names)


@dataclass
class _Names:
    """The names a value in the file may refer to, and whether the list is complete."""

    config: Config
    seen: Seen | None
    models: set[str]
    segment_labels: set[str]

    @classmethod
    def of(cls, config: Config, seen: Seen | None) -> _Names:
        models = set(config.models) | (set(seen.models) if seen is not None else set())
        segments = {s for m in config.models.values() for s in m.segments}
        segments |= {s for m in config.monitors.values() for s in m.segment_by}
        return cls(config, seen, models, segments)

    def _unknown(
        self, path: str, what: str, value: str, known: Collection[str], *, file_only: bool = False
    ) -> ConfigProblem:
        where = "the file declares"
        if self.seen is not None and not file_only:
            where += " or the collector has seen"
        listing = f" ({where}: {_listed(known)})" if known else f" ({where} none)"
        return ConfigProblem(path, f"no {what} named {value!r}{_hint(value, known)}{listing}")

    def model(self, path: str, value: str) -> Iterator[ConfigProblem]:
        if value in self.models:
            return
        # Offline a monitor may name a model only the collector knows: a typo when close.
        if self.seen is not None or _hint(value, self.models):
            yield self._unknown(path, "model", value, self.models)

    def monitor(self, path: str, value: str, model: str | None) -> Iterator[ConfigProblem]:
        known = set(self.config.monitors)
        for name in [model] if model else self.models:
            known |= {m for m in self._defaults(name) if m}
        if value in known:
            return
        if model is None and self.seen is None and not _hint(value, known):
            return  # offline, a default monitor of a model the file does not name
        yield self._unknown(path, "monitor", value, known)

    @staticmethod
    def _defaults(model: str) -> list[str]:
        suffixes = ("drift", "quality", "prediction-drift", "latency", "errors", "throughput",
                    "performance", "estimated-performance")  # fmt: skip
        return [
            f"{model}-{s}" for s in suffixes if default_monitor(model, f"{model}-{s}") is not None
        ]

    def columns(self, model: str | None) -> frozenset[str] | None:
        """The columns ``model`` is known to have, or None when they are not known."""
        if model is None:
            return None
        declared = self.config.models.get(model)
        schema = set(declared.schema) if declared is not None else set()
        if self.seen is not None and model in self.seen.models:
            return frozenset(schema | self.seen.models[model])
        return frozenset(schema) if schema else None

    def all_columns(self) -> frozenset[str] | None:
        if self.seen is None:
            return None
        return frozenset(c for columns in self.seen.models.values() for c in columns)

    def column(
        self, path: str, value: str, model: str | None, known: frozenset[str] | None
    ) -> Iterator[ConfigProblem]:
        if known is None or value in known:
            return
        complete = self.seen is not None and (model is None or model in self.seen.models)
        if not complete and not _hint(value, known):
            return  # a declared schema lists some columns only: a typo when close
        owner = f"model {model!r}" if model else "any model"
        yield ConfigProblem(
            path,
            f"{owner} has no column {value!r}{_hint(value, known)} (known: {_listed(known)})",
        )

    def alert_match(self, path: str, match: Mapping[str, str]) -> Iterator[ConfigProblem]:
        """Alert labels: ``alertname`` is a rule's name, ``severity`` one of three."""
        name = match.get("alertname")
        if name and name not in self.config.rules:
            rules = set(self.config.rules)
            yield self._unknown(f"{path}.alertname", "rule", name, rules, file_only=True)
        severity = match.get("severity")
        if severity and severity not in _SEVERITIES:
            yield ConfigProblem(
                f"{path}.severity",
                f"no alert has severity {severity!r}{_hint(severity, _SEVERITIES)} "
                f"(severities: {', '.join(_SEVERITIES)})",
            )
        if match.get("model"):
            yield from self.model(f"{path}.model", match["model"])

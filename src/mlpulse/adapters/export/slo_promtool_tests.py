"""``promtool test rules`` cases for the Sloth-compatible SLO alerts (:mod:`.slo_rules`).

Per exported SLO, over the collector's counters (60 predictions a minute of model
version ``v1``), the SRE workbook's two checks (ch. 5):

* **outage**: good traffic for the longest page window, then every prediction bad. No
  page before; the page fires within ``ceil(k) + 1`` minutes of the outage, ``k`` the
  minutes of a full outage that spend ``burn_rate × budget`` of the page pair's long
  window (on 99.9% and 1h/5m at 14.4×: k = 0.86, so within 2 minutes).
* **slow burn**: bad events at twice the budgeted rate for 7 hours: a pair fires only
  when its ``burn_rate`` is below 2 (the defaults: the 3d/6h ticket at 1×, no page).

The cases assume a budget small enough that the short window's ratio passes its bar a
minute into the outage (any objective of 90% or more).
"""

from __future__ import annotations

import math
from typing import Any, Final

from mlpulse.adapters.export.prometheus_rule_file import selector
from mlpulse.adapters.export.slo_rules import error_ratio, latency_bound, slo_alert_name
from mlpulse.domain.monitoring import Config
from mlpulse.domain.slos import SloConfig
from mlpulse.domain.window import parse_duration

__all__ = ["slo_promtool_cases"]

PER_MINUTE: Final = 60
SLOW_BURN: Final = 2.0
SLOW_MINUTES: Final = 7 * 60


def _budget(slo: SloConfig) -> float:
    return float(f"{1.0 - slo.objective:.12g}")


def _series(slo: SloConfig, good: str, total: str) -> list[dict[str, str]]:
    """Input series: ``good`` counts good events, ``total`` all (promtool notation)."""
    labels = {"model": slo.model, "version": slo.version or "v1"}
    if slo.sli.kind == "availability":
        return [
            {"series": selector("mlpulse_predictions_total", labels), "values": total},
            {"series": selector("mlpulse_prediction_errors_total", labels), "values": good},
        ]
    assert slo.sli.threshold_ms is not None
    bound = latency_bound(slo.sli.threshold_ms)
    assert bound is not None
    name = "mlpulse_prediction_latency_seconds"
    return [
        {"series": selector(f"{name}_count", labels), "values": total},
        {"series": selector(f"{name}_bucket", labels | {"le": bound}), "values": good},
    ]


def _alert(name: str, slo: SloConfig, severity: str) -> dict[str, Any]:
    return {
        "exp_labels": {
            "sloth_id": f"{slo.model}-{name}".replace("/", "-"),
            "sloth_service": slo.model,
            "sloth_slo": name,
            "sloth_severity": severity,
            "severity": "critical" if severity == "page" else "warning",
        },
        "exp_annotations": {
            "summary": f"{slo.model}: SLO {name} burns its error budget too fast",
            "title": f"({severity}) {slo.model} {name} SLO error budget burn rate is too fast.",
        },
    }


def _outage(name: str, slo: SloConfig) -> dict[str, Any] | None:
    pages = [a for a in slo.burn_alerts if a.severity == "page"]
    if not pages:
        return None
    budget = _budget(slo)
    history = max(round(parse_duration(a.long) / 60) for a in pages)
    k = min(a.burn_rate * budget * parse_duration(a.long) / 60 for a in pages)
    fires = math.ceil(k) + 1
    after = fires + 5
    total = f"0+{PER_MINUTE}x{history + after + 1}"
    if slo.sli.kind == "availability":  # the counter of bad events
        bad = f"0x{history} {PER_MINUTE}+{PER_MINUTE}x{after}"
    else:  # the counter of good events stops
        bad = f"0+{PER_MINUTE}x{history} {PER_MINUTE * history}+0x{after}"
    alertname = slo_alert_name(name, "page")
    return {
        "name": f"{name}: a full outage pages within {fires} minutes",
        "interval": "1m",
        "input_series": _series(slo, bad, total),
        "alert_rule_test": [
            {"eval_time": f"{history}m", "alertname": alertname, "exp_alerts": []},
            {"eval_time": f"{history + fires}m", "alertname": alertname,
             "exp_alerts": [_alert(name, slo, "page")]},
        ],
    }  # fmt: skip


def _slow_burn(name: str, slo: SloConfig) -> dict[str, Any]:
    share = SLOW_BURN * _budget(slo)  # of events bad
    total = f"0+{PER_MINUTE}x{SLOW_MINUTES}"
    if slo.sli.kind == "availability":
        counted = f"0+{PER_MINUTE * share!r}x{SLOW_MINUTES}"
    else:
        counted = f"0+{PER_MINUTE * (1 - share)!r}x{SLOW_MINUTES}"
    checks = []
    for severity in ("page", "ticket"):
        pairs = [a for a in slo.burn_alerts if a.severity == severity]
        if not pairs:
            continue
        fires = any(a.burn_rate < SLOW_BURN for a in pairs)
        checks.append({
            "eval_time": f"{SLOW_MINUTES}m",
            "alertname": slo_alert_name(name, severity),
            "exp_alerts": [_alert(name, slo, severity)] if fires else [],
        })  # fmt: skip
    return {
        "name": f"{name}: a {SLOW_BURN:g}x burn fires only the pairs below {SLOW_BURN:g}x",
        "interval": "1m",
        "input_series": _series(slo, counted, total),
        "alert_rule_test": checks,
    }


def slo_promtool_cases(config: Config) -> list[dict[str, Any]]:
    """The test cases of every SLO that has Sloth rules (and pages)."""
    cases: list[dict[str, Any]] = []
    for name, slo in sorted(config.slos.items()):
        if not slo.page or error_ratio(slo, "5m") is None:
            continue
        outage = _outage(name, slo)
        cases += [outage] if outage is not None else []
        cases.append(_slow_burn(name, slo))
    return cases

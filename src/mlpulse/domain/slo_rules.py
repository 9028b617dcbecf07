"""The rules an SLO's burn-rate alerts derive, so they go through the existing routing.

A multi-window alert fires while the burn rate over its long window *and* over its short
window both reach its ``burn_rate``; that is, while the smaller of the two does. The SLO
service writes that smaller burn rate as ``mlpulse_slo_alert_burn_rate`` (labels
``model``, ``slo``, ``long``, ``short``), so each alert is a plain threshold rule
``<slo>-burn-<long>-<short>`` over it: ``>=`` the alert's burn rate, severity ``critical``
for a page and ``warning`` for a ticket (labelled ``slo_alert: page|ticket`` to route on).
Like a monitor's ``page: true``, the rules are written into the config when it is decoded,
so ``mlpulse plan`` shows them.

>>> from mlpulse.domain.slos import SliConfig, SloConfig
>>> rules = slo_rules({"avail": SloConfig(model="fraud", objective=0.999,
...                                       sli=SliConfig(kind="availability"))})
>>> sorted(rules)[:2]
['avail-burn-1d-2h', 'avail-burn-1h-5m']
>>> rule = rules["avail-burn-1h-5m"]
>>> rule.series, rule.op, rule.value, rule.severity
('mlpulse_slo_alert_burn_rate', '>=', 14.4, 'critical')
>>> rule.match
{'slo': 'avail', 'long': '1h', 'short': '5m'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from mlpulse.domain.rules import RuleConfig
from mlpulse.domain.slos import BurnAlertConfig, SloConfig

__all__ = ["ALERT_SERIES", "BURN_SUFFIX", "slo_rule_name", "slo_rules"]

ALERT_SERIES: Final = "mlpulse_slo_alert_burn_rate"
BURN_SUFFIX: Final = "-burn-"


def slo_rule_name(slo: str, alert: BurnAlertConfig) -> str:
    return f"{slo}{BURN_SUFFIX}{alert.long}-{alert.short}"


def slo_rules(slos: Mapping[str, SloConfig]) -> dict[str, RuleConfig]:
    """The derived rule of every burn-rate alert of every paging SLO, by rule name."""
    found: dict[str, RuleConfig] = {}
    for name, slo in slos.items():
        if not slo.page:
            continue
        for alert in slo.burn_alerts:
            found[slo_rule_name(name, alert)] = RuleConfig(
                kind="threshold",
                series=ALERT_SERIES,
                match={"slo": name, "long": alert.long, "short": alert.short},
                op=">=",
                value=alert.burn_rate,
                severity="critical" if alert.severity == "page" else "warning",
                labels={"slo_alert": alert.severity},
                annotations={
                    "summary": f"{{{{ $labels.model }}}}: SLO {name} burns its error budget "
                    f"at {{{{ $value }}}}x over {alert.long} and {alert.short} "
                    f"(alert at {alert.burn_rate:g}x)",
                },
            )
    return found

"""An experiment's results as one self-contained HTML page: inline CSS, no script."""

from __future__ import annotations

import math
import time
from html import escape

from mlpulse.domain.experiments import Comparison, ExperimentResults, MetricResult

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d2330}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em}
.verdict{font-size:1.1em;padding:.8em 1em;border-left:4px solid #3b6fd4;background:#f2f5fb}
.bad{border-color:#c0392b;background:#fbf0ef}.meta{color:#5a6372}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border-bottom:1px solid #dfe3ea;padding:.35em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f7f9}
.better{color:#1e7d3a;font-weight:600}.worse{color:#c0392b;font-weight:600}
"""


def _num(value: float, spec: str = ".4g") -> str:
    return "–" if value is None or not math.isfinite(value) else format(value, spec)


def _pct(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value * 100:+.2f}%"


def _interval(pair: tuple[float, float], pct: bool) -> str:
    fmt = _pct if pct else _num
    if not all(math.isfinite(v) for v in pair):
        return "–"
    return f"[{fmt(pair[0])}, {fmt(pair[1])}]"


def _row(c: Comparison, bayesian: bool) -> str:
    chance = _num(c.chance_to_beat, ".1%") if bayesian else ""
    p = "" if bayesian else f"<td>{_num(c.p_value)}</td><td>{_num(c.adjusted_p_value)}</td>"
    cells = [
        escape(c.variant) + ("" if c.outcome != "control" else " (control)"),
        escape(c.version), str(c.n), _num(c.estimate), _num(c.difference, "+.4g"),
        _interval(c.ci, False), _pct(c.relative), _interval(c.relative_ci, True),
    ]  # fmt: skip
    tail = f"<td>{chance}</td>" if bayesian else p
    outcome = f'<td class="{c.outcome}">{escape(c.outcome)}</td>'
    return "<tr>" + "".join(f"<td>{x}</td>" for x in cells) + tail + outcome + "</tr>"


def _metric(m: MetricResult, bayesian: bool) -> str:
    stat = "<th>chance to beat</th>" if bayesian else "<th>p-value</th><th>adjusted p</th>"
    head = (
        "<tr><th>variant</th><th>version</th><th>units</th><th>estimate</th>"
        "<th>difference</th><th>interval</th><th>relative</th><th>relative interval</th>"
        f"{stat}<th>outcome</th></tr>"
    )
    rows = "".join(_row(c, bayesian) for c in m.variants)
    flag = " — <span class='worse'>breached</span>" if m.breached else ""
    return (
        f"<h2>{escape(m.name)} <span class='meta'>({m.role}, {m.kind}, "
        f"{m.direction} is better)</span>{flag}</h2>"
        f"<p>{escape(m.verdict)}</p><table>{head}{rows}</table>"
    )


def experiment_html(results: ExperimentResults) -> str:
    """The report: the verdict, the split (SRM), then one table per metric."""
    spec = results.experiment
    bayesian = spec.method == "bayesian"
    srm = results.srm
    split = ", ".join(
        f"{escape(v)} {srm.observed[v]} (expected {srm.expected[v]:.0f})" for v in srm.observed
    )
    when = (
        "–"
        if results.start is None
        else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(results.start))
    )
    bad = "" if results.guardrails_hold and srm.status != "mismatch" else " bad"
    body = "".join(_metric(m, bayesian) for m in results.metrics)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Experiment {escape(spec.name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Experiment {escape(spec.name)}</h1>"
        f"<p class='meta'>model {escape(spec.model)} · {spec.status} · method {spec.method} · "
        f"alpha {spec.alpha:g} · unit {spec.unit} · started {when} · "
        f"{results.units} units</p>"
        f"<p class='verdict{bad}'>{escape(results.verdict)}</p>"
        f"<p>Split: {split} — sample ratio check: <b>{escape(srm.status)}</b> "
        f"(p = {_num(srm.p_value)})</p>{body}</body></html>"
    )

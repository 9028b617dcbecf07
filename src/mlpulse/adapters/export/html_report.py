"""A drift report as one self-contained HTML page: inline CSS and SVG, no scripts.

It opens offline, in a browser or as a CI artifact, and shows a summary table and, per
column, the two distributions overlaid and the drift value against its threshold.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any, Protocol

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}th,td{padding:.35rem .6rem;border-bottom:1px solid #ddd;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37}.warning{color:#b35900}.critical{color:#c62828;font-weight:600}
.insufficient_data{color:#777}.verdict{padding:.8rem 1rem;border-radius:6px;background:#f4f4f4}
div.verdict{color:#222;font-weight:400}.verdict.critical{background:#fdecea}
.verdict.warning{background:#fff4e5}.verdict.ok{background:#e9f5ec}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}
svg{display:block;margin:.5rem 0}
"""
_REFERENCE, _CURRENT = "#5b8def", "#f28e2b"


class Distribution(Protocol):
    @property
    def labels(self) -> list[str]: ...
    @property
    def reference(self) -> list[float]: ...
    @property
    def current(self) -> list[float]: ...


def _e(value: object) -> str:
    return html.escape(str(value))


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _ticks(top: float) -> tuple[float, list[float]]:
    """A rounded top of the y-axis and 2-5 evenly spaced ticks from 0 to it."""
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5):
        if top / step <= 5:
            break
    count = max(math.ceil(top / step - 1e-9), 1)
    return count * step, [i * step for i in range(count + 1)]


def _bars(distribution: Distribution, *, width: int = 640, height: int = 160) -> str:
    """Both distributions as bars, with a y-axis in share of rows."""
    n = len(distribution.labels)
    if n == 0:
        return "<p>No values to show.</p>"
    peak = max(max(distribution.reference, default=0), max(distribution.current, default=0))
    top, ticks = _ticks(peak or 0.01)
    slot = width / n
    left, above = 64, 8  # room for the axis title and tick labels; for the top tick label
    parts = [
        f'<svg class="histogram" width="{width + left + 20}" height="{height + above + 30}" '
        f'role="img" aria-label="share of rows per {"bin" if n > 15 else "category"}">',
        f'<text class="axis-title" x="12" y="{above + height / 2:.0f}" font-size="11" '
        f'text-anchor="middle" transform="rotate(-90 12 {above + height / 2:.0f})">'
        "share of rows</text>",
        f'<g transform="translate({left},{above})">',
        f'<line x1="0" y1="0" x2="0" y2="{height}" stroke="#888"/>',
    ]
    for tick in ticks:
        y = height - tick / top * height
        parts.append(
            f'<line x1="-4" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text class="y-tick" x="-6" y="{y + 3:.1f}" font-size="10" text-anchor="end">'
            f"{tick:.0%}</text>"
        )
    for i, (label, r, c) in enumerate(
        zip(distribution.labels, distribution.reference, distribution.current, strict=True)
    ):
        x = i * slot
        for offset, share, colour in ((0.1, r, _REFERENCE), (0.5, c, _CURRENT)):
            h = share / top * height
            parts.append(
                f'<rect x="{x + offset * slot:.1f}" y="{height - h:.1f}" width="{0.4 * slot:.1f}" '
                f'height="{h:.1f}" fill="{colour}" opacity="0.85"><title>{_e(label)}: '
                f"{share:.2%}</title></rect>"
            )
        if n <= 15 or i % max(n // 6, 1) == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{height + 14}" font-size="10" '
                f'text-anchor="middle">{_e(label[:12])}</text>'
            )
    parts.append(f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#888"/></g></svg>')
    return "".join(parts)


def severity(value: float, warning: float, critical: float, *, p_value: bool) -> float:
    """A drift value on the scale every method shares: 0 = no drift, 1 = the warning
    threshold, 2 = the critical one, linear between them (and beyond, at the slope
    between warning and critical). A distance ``d`` below ``warning`` is ``d / warning``.
    A p-value is placed by its ``-log10``, as are its thresholds; p = 0 is infinite.

    >>> severity(0.25, 0.5, 1.0, p_value=False), severity(1.5, 0.5, 1.0, p_value=False)
    (0.5, 3.0)
    >>> round(severity(0.01, 0.05, 0.01, p_value=True), 6)
    2.0
    """
    if p_value:
        value, warning, critical = (
            math.inf if v <= 0 else -math.log10(v) for v in (value, warning, critical)
        )
    if value <= warning:
        return value / warning if warning > 0 else 0.0
    if critical <= warning:
        return 2.0
    return 1.0 + (value - warning) / (critical - warning)


_SCALE = 3.0  # the gauge shows severities 0 to 3; a higher one sits at its end


def _unit(column: Mapping[str, Any]) -> str:
    if column["value_is_p_value"]:
        return "p-value, lower is worse"
    if column["method"] == "wasserstein":
        return "distance in reference standard deviations, higher is worse"
    return "distance, higher is worse"


def _gauge(column: Mapping[str, Any]) -> str:
    """The value on the common severity scale, with the warning and critical marks."""
    value = column["value"]
    if value is None:
        return ""
    warning, critical = column["thresholds"]["warning"], column["thresholds"]["critical"]
    level = severity(value, warning, critical, p_value=column["value_is_p_value"])

    def x(v: float) -> float:
        return 20 + 540 * min(max(v, 0.0), _SCALE) / _SCALE

    colour = {"critical": "#c62828", "warning": "#b35900"}.get(column["status"], "#1a7f37")
    marks = "".join(
        f'<line x1="{x(at):.1f}" y1="24" x2="{x(at):.1f}" y2="46" stroke="{stroke}"/>'
        f'<text class="mark" x="{x(at):.1f}" y="60" font-size="10" text-anchor="middle" '
        f'fill="{stroke}">{name} {threshold:.4g}</text>'
        for at, name, threshold, stroke in (
            (1.0, "warning", warning, "#b35900"),
            (2.0, "critical", critical, "#c62828"),
        )
    )
    return (
        f'<svg class="gauge" width="700" height="66" role="img" aria-label="'
        f"{_e(column['method'])} = {value:.4g} ({_unit(column)}); severity {level:.2f} "
        f'(1 = warning, 2 = critical)">'
        f'<text class="gauge-title" x="20" y="12" font-size="11">{_e(column["method"])} = '
        f"{value:.4g} ({_e(_unit(column))}): severity {level:.2f} "
        "(1 = warning, 2 = critical)</text>"
        f'<rect x="{x(0):.1f}" y="31" width="{x(1) - x(0):.1f}" height="8" fill="#e3f1e6"/>'
        f'<rect x="{x(1):.1f}" y="31" width="{x(2) - x(1):.1f}" height="8" fill="#fbe9d6"/>'
        f'<rect x="{x(2):.1f}" y="31" width="{x(_SCALE) - x(2):.1f}" height="8" fill="#f8d7d7"/>'
        f'<text x="{x(0):.1f}" y="60" font-size="10" text-anchor="middle">no drift</text>'
        f"{marks}"
        f'<circle class="value" cx="{x(level):.1f}" cy="35" r="6" fill="{colour}">'
        f"<title>{value:.4g}</title></circle></svg>"
    )


def _headline(dataset: Mapping[str, Any], columns: Mapping[str, Mapping[str, Any]]) -> str:
    """How many columns are critical and warning, coloured by the worst of them and the
    dataset verdict: never green beside a critical column."""
    statuses = [c["status"] for c in columns.values()]
    critical, warning = statuses.count("critical"), statuses.count("warning")
    worst = "critical" if critical else "warning" if warning else "ok"
    if _RANK.get(dataset["status"], 0) > _RANK[worst]:
        worst = dataset["status"]
    share = dataset["drifted_share"]
    return (
        f'<div class="verdict {worst}"><b class="{worst}">{critical} critical, {warning} warning'
        f"</b> of {len(columns)} columns. Dataset drift: "
        f'<span class="{dataset["status"]}">{_e(dataset["status"])}</span> '
        f"({dataset['n_drifted']} of {dataset['n_columns']} columns drifted"
        f"{'' if share is None else f', {share:.0%} weighted'}; the dataset counts as drifted "
        f"from {dataset['share_thresholds']['warning']:.0%} (warning) and "
        f"{dataset['share_thresholds']['critical']:.0%} (critical)).</div>"
    )


def _level(column: Mapping[str, Any]) -> str:
    if column["value"] is None:
        return "n/a"
    t = column["thresholds"]
    level = severity(
        column["value"], t["warning"], t["critical"], p_value=column["value_is_p_value"]
    )
    return f"{level:.2f}"


_RANK = {"insufficient_data": -1, "ok": 0, "warning": 1, "critical": 2}


def render_html(report: Mapping[str, Any], distributions: Mapping[str, Distribution]) -> str:
    dataset = report["dataset"]
    columns: Mapping[str, Mapping[str, Any]] = report["columns"]
    order = sorted(
        columns,
        key=lambda n: (
            ["critical", "warning", "ok", "insufficient_data"].index(columns[n]["status"]),
            n,
        ),
    )
    rows = "".join(
        f'<tr><td><a href="#col-{_e(n)}">{_e(n)}</a></td><td>{_e(c["kind"])}</td>'
        f'<td>{_e(c["method"])}</td><td class="num">{_value(c["value"])}</td>'
        f'<td class="num">{c["threshold"]:.4g}</td><td class="num">{_level(c)}</td>'
        f'<td class="{c["status"]}">{_e(c["status"])}</td>'
        f'<td class="num">{c["n_reference"]:,}</td><td class="num">{c["n_current"]:,}</td></tr>'
        for n in order
        for c in [columns[n]]
    )
    sections = "".join(
        f'<h2 id="col-{_e(n)}">{_e(n)} <span class="{c["status"]}">{_e(c["status"])}</span></h2>'
        f"<p>{_e(c['method'])} = {_value(c['value'])} ({_e(_unit(c))}; "
        f"warning at {c['thresholds']['warning']:.4g}, "
        f"critical at {c['thresholds']['critical']:.4g})</p>" + _gauge(c) + _bars(distributions[n])
        for n in order
        for c in [columns[n]]
    )
    verdict = _headline(dataset, columns)
    quality = report.get("quality", [])
    quality_rows = "".join(
        f"<tr><td>{_e(q['check'])}</td><td>{_e(q['column'] or '(dataset)')}</td>"
        f'<td class="num">{_value(q["value"])}</td><td class="{q["status"]}">'
        f"{_e(q['status'])}</td></tr>"
        for q in quality
        if q["status"] != "ok"
    )
    quality_table = (
        "<h2>Data quality</h2>"
        + (
            "<table><thead><tr><th>check</th><th>column</th><th>value</th><th>status</th>"
            f"</tr></thead><tbody>{quality_rows}</tbody></table>"
            if quality_rows
            else f"<p class='ok'>All {len(quality)} checks ok.</p>"
        )
        if quality
        else ""
    )
    joint = report.get("multivariate", [])
    joint_table = (
        "<h2>Multivariate drift</h2><table><thead><tr><th>check</th><th>value</th>"
        "<th>warning</th><th>critical</th><th>status</th><th>columns</th></tr></thead><tbody>"
        + "".join(
            f"<tr><td>{_e(m['check'])}</td><td class='num'>{_value(m['value'])}</td>"
            f"<td class='num'>{m['thresholds']['warning']:.4g}</td>"
            f"<td class='num'>{m['thresholds']['critical']:.4g}</td>"
            f'<td class="{m["status"]}">{_e(m["status"])}</td>'
            f"<td>{_e(', '.join(m['columns']))}</td></tr>"
            for m in joint
        )
        + "</tbody></table><p>pca_reconstruction: mean reconstruction error of current rows"
        " by the reference's PCA, over the reference's own (1 = no change). domain_classifier:"
        " cross-validated ROC AUC of a classifier telling current rows from reference rows"
        " (0.5 = indistinguishable).</p>"
        if joint
        else ""
    )
    legend = (
        f'<p class="legend"><span style="background:{_REFERENCE}"></span>reference'
        f'<span style="background:{_CURRENT}"></span>current</p>'
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>mlpulse drift report</title>"
        f"<style>{_CSS}</style></head><body><h1>Drift report</h1>{verdict}"
        "<table><thead><tr><th>column</th><th>kind</th><th>method</th><th>value</th>"
        "<th>threshold</th><th title='0 none, 1 warning, 2 critical'>severity</th>"
        "<th>status</th><th>reference rows</th><th>current rows</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>{joint_table}{quality_table}{legend}{sections}"
        "</body></html>"
    )

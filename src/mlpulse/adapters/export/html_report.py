"""A drift report as one self-contained HTML page: inline CSS and SVG, no scripts.

It opens offline, in a browser or as a CI artifact, and shows a summary table and, per
column, the two distributions overlaid and the drift value against its threshold.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, Protocol

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}th,td{padding:.35rem .6rem;border-bottom:1px solid #ddd;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37}.warning{color:#b35900}.critical{color:#c62828;font-weight:600}
.insufficient_data{color:#777}.verdict{padding:.8rem 1rem;border-radius:6px;background:#f4f4f4}
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


def _bars(distribution: Distribution, *, width: int = 640, height: int = 160) -> str:
    n = len(distribution.labels)
    if n == 0:
        return "<p>No values to show.</p>"
    top = max(max(distribution.reference, default=0), max(distribution.current, default=0)) or 1.0
    slot = width / n
    # A margin on each side, so the first and last labels are not cut off.
    parts = [
        f'<svg width="{width + 40}" height="{height + 30}" role="img">',
        '<g transform="translate(20,0)">',
    ]
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
    parts.append("</g></svg>")
    return "".join(parts)


def _gauge(value: float | None, warning: float, critical: float, *, p_value: bool) -> str:
    """The value on a line with its two thresholds marked."""
    if value is None:
        return ""
    span = max(abs(value), warning, critical) * 1.2 or 1.0

    def x(v: float) -> float:
        return 10 + 300 * min(max(v, 0.0), span) / span

    colour = "#c62828" if (value < warning if p_value else value > warning) else "#1a7f37"
    return (
        f'<svg width="330" height="34"><line x1="10" y1="17" x2="310" y2="17" stroke="#ccc"/>'
        f'<line x1="{x(warning):.1f}" y1="6" x2="{x(warning):.1f}" y2="28" stroke="#b35900">'
        f"<title>warning {warning:.4g}</title></line>"
        f'<line x1="{x(critical):.1f}" y1="6" x2="{x(critical):.1f}" y2="28" stroke="#c62828">'
        f"<title>critical {critical:.4g}</title></line>"
        f'<circle cx="{x(value):.1f}" cy="17" r="6" fill="{colour}"><title>{value:.4g}</title>'
        f"</circle></svg>"
    )


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
        f'<td class="num">{c["threshold"]:.4g}</td><td class="{c["status"]}">{_e(c["status"])}</td>'
        f'<td class="num">{c["n_reference"]:,}</td><td class="num">{c["n_current"]:,}</td></tr>'
        for n in order
        for c in [columns[n]]
    )
    sections = "".join(
        f'<h2 id="col-{_e(n)}">{_e(n)} <span class="{c["status"]}">{_e(c["status"])}</span></h2>'
        f"<p>{_e(c['method'])} = {_value(c['value'])} "
        f"({'p-value: lower is worse' if c['value_is_p_value'] else 'higher is worse'}; "
        f"warning at {c['thresholds']['warning']:.4g}, "
        f"critical at {c['thresholds']['critical']:.4g})</p>"
        + _gauge(c["value"], c["thresholds"]["warning"], c["thresholds"]["critical"],
                 p_value=c["value_is_p_value"])
        + _bars(distributions[n])
        for n in order
        for c in [columns[n]]
    )  # fmt: skip
    share = dataset["drifted_share"]
    verdict = (
        f'<div class="verdict"><b class="{dataset["status"]}">{_e(dataset["status"])}</b>: '
        f"{dataset['n_drifted']} of {dataset['n_columns']} columns drifted"
        f"{'' if share is None else f' ({share:.0%} weighted)'}; the dataset counts as drifted "
        f"from {dataset['share_thresholds']['warning']:.0%} (warning) and "
        f"{dataset['share_thresholds']['critical']:.0%} (critical).</div>"
    )
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
        "<th>threshold</th><th>status</th><th>reference rows</th><th>current rows</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>{joint_table}{quality_table}{legend}{sections}"
        "</body></html>"
    )

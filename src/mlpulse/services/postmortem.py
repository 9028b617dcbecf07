"""A post-mortem draft in Markdown, from an incident and what the store knows around it.

Sections: summary, impact (requests and errors of the model while it lasted), timeline,
detection and recovery times, root-cause hints ranked (deployments shortly before the
onset, the most drifted features, the series that moved most between the hour before
and the incident, serving processes whose CPU, memory or GPU reached saturation), actions
taken with their outcomes, and a follow-up checklist.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from mlpulse.domain.incidents import ActionOutcome, Incident
from mlpulse.domain.models import ResourcePeak, VersionSummary
from mlpulse.domain.series import MetricPoint

DEPLOYMENT_LOOKBACK_S = 2 * 3600.0


def _when(ts: float | None) -> str:
    return "—" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def postmortem(
    incident: Incident,
    *,
    traffic: Sequence[VersionSummary] = (),
    deployments: Sequence[tuple[float, str]] = (),
    drift: Sequence[MetricPoint] = (),
    moved: Sequence[tuple[str, float, float]] = (),
    actions: Sequence[ActionOutcome] = (),
    resources: Sequence[ResourcePeak] = (),
) -> str:
    """The Markdown draft.

    ``traffic``: the model's versions over the incident; ``deployments``: (time, text)
    of the model's deployments; ``drift``: the newest ``mlpulse_drift_score`` points of
    the model; ``moved``: (series, mean the hour before, mean during) of the model's
    series; ``actions``: the runbook actions taken for it.
    """
    times = incident.times
    lines = [
        f"# Post-mortem: {incident.title}",
        "",
        "*Draft written by mlpulse from the incident record; edit before sharing.*",
        "",
        "## Summary",
        "",
        f"- Model: `{incident.model or '(none)'}`; severity {incident.severity}; "
        f"status {incident.status}.",
        f"- Onset {_when(incident.onset_at)}; opened {_when(incident.opened_at)}; "
        f"mitigated {_when(incident.mitigated_at)}; resolved {_when(incident.resolved_at)}.",
        f"- Commander: {incident.commander or '—'}. Alerts: {len(incident.alerts)}.",
        "",
        "## Impact",
        "",
    ]
    if traffic:
        total = sum(v.count for v in traffic)
        errors = sum(v.errors for v in traffic)
        share = f"{errors / total:.1%}" if total else "n/a"
        lines.append(f"- {total:,} predictions while it lasted, {errors:,} failed ({share}).")
        for v in traffic:
            p99 = v.latency_ms.p99
            lines.append(
                f"- `{v.version}`: {v.count:,} predictions, error rate {v.error_rate:.1%}, "
                f"p99 latency {'—' if p99 is None else f'{p99:.0f} ms'}"
            )
    else:
        lines.append("- No traffic summary available.")
    lines += [
        "",
        "## Detection and recovery",
        "",
        "| measure | time |",
        "| --- | --- |",
        f"| time to detect (onset → opened) | {_duration(times['time_to_detect'])} |",
        f"| time to acknowledge | {_duration(times['time_to_acknowledge'])} |",
        f"| time to recover (onset → mitigated) | {_duration(times['time_to_recover'])} |",
        f"| time to resolve (onset → resolved) | {_duration(times['time_to_resolve'])} |",
        "",
        "## Timeline",
        "",
    ]
    lines += [f"- {_when(e.at)} — **{e.kind}** {e.text}" for e in sorted(incident.timeline,
              key=lambda e: e.at)]  # fmt: skip
    lines += ["", "## Root-cause hints", ""]
    hints = []
    start, end = incident.onset_at - DEPLOYMENT_LOOKBACK_S, incident.onset_at + 600
    near = [(t, text) for t, text in deployments if start <= t <= end]
    for t, text in sorted(near, key=lambda d: -d[0]):
        gap = _duration(incident.onset_at - t)
        after = t > incident.onset_at
        hints.append(f"Deployment {'just after' if after else gap + ' before'} the onset: {text}")
    drifted = sorted((p for p in drift if not math.isnan(p.value)), key=lambda p: -p.value)[:5]
    for p in drifted:
        if p.status in ("warning", "critical"):
            method = p.labels.get("method", "drift")
            column = p.labels.get("column")
            hints.append(f"Feature `{column}` drifted: {method} {p.value:.3g} ({p.status})")
    for name, before, during in sorted(moved, key=lambda m: -_change(m[1], m[2]))[:5]:
        if _change(before, during) > 0.2:
            hints.append(f"`{name}` moved from {before:.4g} to {during:.4g} "
                         f"({_change(before, during):+.0%})")  # fmt: skip
    hints += saturation_hints(resources)
    lines += [f"{i}. {hint}" for i, hint in enumerate(hints, 1)] or ["- None found."]
    lines += ["", "## Actions taken", ""]
    lines += [f"- {_when(a.at)} `{a.runbook}`: {a.action} — {a.status}: {a.detail}"
              for a in actions] or ["- None."]  # fmt: skip
    lines += [
        "",
        "## Follow-up",
        "",
        "- [ ] Confirm the root cause and write it here.",
        "- [ ] Was detection fast enough? Tune the rule's threshold or `for` if not.",
        "- [ ] Did the runbook do the right thing? Adjust its guardrails.",
        "- [ ] Add a test or a monitor that would have caught it earlier.",
        "",
    ]
    return "\n".join(lines)


def _change(before: float, during: float) -> float:
    if math.isnan(before) or math.isnan(during):
        return 0.0
    scale = max(abs(before), 1e-9)
    return abs(during - before) / scale


# A serving process is saturated when it reaches these (percent): a busy core (a
# GIL-bound Python server peaks near 100), most of the host's memory, a busy GPU.
SATURATED = {"cpu_percent": 90.0, "memory_percent": 90.0, "gpu_utilization": 95.0}
_WHAT = {"cpu_percent": "CPU {:.0f}% of a core", "memory_percent": "memory {:.0f}% of the host",
         "gpu_utilization": "GPU utilization {:.0f}%"}  # fmt: skip


def saturation_hints(resources: Sequence[ResourcePeak]) -> list[str]:
    """A hint per serving process whose resources peaked at saturation, worst first.

    >>> peak = ResourcePeak("web-1", 4242, "v2", 12, 97.0, 41.0, None)
    >>> saturation_hints([peak])
    ['Resource saturation: web-1 pid 4242 (v2) reached CPU 97% of a core (12 samples)']
    """
    found: list[tuple[float, str]] = []
    for peak in resources:
        reached = [
            (getattr(peak, field) / limit, _WHAT[field].format(getattr(peak, field)))
            for field, limit in SATURATED.items()
            if getattr(peak, field) is not None and getattr(peak, field) >= limit
        ]
        if reached:
            where = f"{peak.host or '?'} pid {peak.pid if peak.pid is not None else '?'}"
            version = f" ({peak.version})" if peak.version else ""
            text = ", ".join(what for _, what in reached)
            found.append((max(r for r, _ in reached),
                          f"Resource saturation: {where}{version} reached {text} "
                          f"({peak.samples} samples)"))  # fmt: skip
    return [text for _, text in sorted(found, key=lambda f: -f[0])]

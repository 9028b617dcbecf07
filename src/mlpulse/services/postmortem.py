"""A post-mortem draft in Markdown, from an incident and what the store knows around it.

Sections: summary, impact (requests and errors per version from the onset to the
mitigation — the traffic after a rollback is not the incident's), timeline, detection and
recovery times (with how the onset was estimated), root-cause hints ranked (deployments
shortly before the onset; versions whose latency or error rate regressed against their
own traffic before the onset, or against the other versions; deployments just after the
onset; the most drifted features; the series that moved most between the hour before
and the incident; serving processes whose CPU, memory or GPU reached saturation),
actions taken with their outcomes, and a follow-up checklist.

A deployment made by the mitigation itself (a runbook's rollback, a rollout rolling its
challenger back) is an effect, not a cause: it is never a hint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from mlpulse.domain.incidents import ActionOutcome, Incident
from mlpulse.domain.models import ResourcePeak, VersionSummary
from mlpulse.domain.registry import Deployment
from mlpulse.domain.series import MetricPoint

DEPLOYMENT_LOOKBACK_S = 2 * 3600.0
# Actors whose deployments after the onset are mitigations of it (see the module docstring).
MITIGATING_ACTORS = ("runbook", "rollout:")
# A version regressed when its latency percentile or error rate reached these multiples
# of its reference (and the error rate by at least one point), over at least MIN_COUNT.
LATENCY_RATIO = 1.5
ERROR_RATIO = 2.0
MIN_COUNT = 20
ONSET_METHODS = {
    "detector": "the streaming detector's change-point estimate",
    "crossing": "where the series crossed the rule's threshold",
    "cusum": "the series' change point (CUSUM)",
    "alert": "when the alert's condition began to hold (no better estimate)",
    "reported": "as reported by the alert's sender",
}


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
    before: Sequence[VersionSummary] = (),
    deployments: Sequence[Deployment] = (),
    drift: Sequence[MetricPoint] = (),
    moved: Sequence[tuple[str, float, float]] = (),
    actions: Sequence[ActionOutcome] = (),
    resources: Sequence[ResourcePeak] = (),
) -> str:
    """The Markdown draft.

    ``traffic``: the model's versions from the onset to the mitigation; ``before``: the
    same over the hour before the onset; ``deployments``: the model's deployments;
    ``drift``: the newest ``mlpulse_drift_score`` points of the model; ``moved``: (series,
    mean the hour before, mean during) of the model's series; ``actions``: the runbook
    actions taken for it.
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
        lines.append(f"- {total:,} predictions from the onset to the mitigation, "
                     f"{errors:,} failed ({share}).")  # fmt: skip
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
        f"Onset estimated from {ONSET_METHODS.get(incident.onset_method, 'the first alert')}.",
        "",
        "## Timeline",
        "",
    ]
    lines += [f"- {_when(e.at)} — **{e.kind}** {e.text}" for e in sorted(incident.timeline,
              key=lambda e: e.at)]  # fmt: skip
    lines += ["", "## Root-cause hints", ""]
    hints = []
    causes, later = deployment_hints(deployments, incident)
    hints += causes + regression_hints(traffic, before) + later
    drifted = sorted((p for p in drift if not math.isnan(p.value)), key=lambda p: -p.value)[:5]
    for p in drifted:
        if p.status in ("warning", "critical"):
            method = p.labels.get("method", "drift")
            column = p.labels.get("column")
            hints.append(
                f"Feature `{column}` drifted: {method}, severity {p.value:.3g} ({p.status})"
            )
    for name, was, during in sorted(moved, key=lambda m: -_change(m[1], m[2]))[:5]:
        if _change(was, during) > 0.2:
            hints.append(f"`{name}` moved from {was:.4g} to {during:.4g} "
                         f"({_change(was, during):+.0%})")  # fmt: skip
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


def deployment_hints(
    deployments: Sequence[Deployment], incident: Incident
) -> tuple[list[str], list[str]]:
    """(deployments before the onset, nearest first; those just after it), leaving out
    the mitigation's own."""
    onset = incident.onset_at
    before, after = [], []
    for d in sorted(deployments, key=lambda d: -d.at):
        if not onset - DEPLOYMENT_LOOKBACK_S <= d.at <= onset + 600:
            continue
        text = f"{d.kind} {d.model} {d.version} by {d.actor}"
        if d.at > onset:
            mitigation = d.actor.startswith(MITIGATING_ACTORS) or (
                incident.mitigated_at is not None and d.at >= incident.mitigated_at
            )
            if not mitigation:
                after.append(f"Deployment just after the onset: {text}")
        else:
            before.append(f"Deployment {_duration(onset - d.at)} before the onset: {text}")
    return before, after


def regression_hints(
    during: Sequence[VersionSummary], before: Sequence[VersionSummary]
) -> list[str]:
    """Versions whose latency (p95, then p99) or error rate regressed: against their own
    traffic before the onset, else against the busiest other version during it.

    >>> from mlpulse.domain.models import LatencyPercentiles as L
    >>> slow = VersionSummary("v2", 500, 0, 5.0, 0.0, L(40.0, 450.0, 900.0))
    >>> was = VersionSummary("v2", 5000, 0, 5.0, 0.0, L(40.0, 150.0, 300.0))
    >>> regression_hints([slow], [was])
    ['Latency regression on `v2`: p95 450 ms vs 150 ms before the onset (3.0×)']
    """
    found = []
    earlier = {v.version: v for v in before if v.count >= MIN_COUNT}
    for v in during:
        if v.count < MIN_COUNT:
            continue
        ref, where = earlier.get(v.version), "before the onset"
        if ref is None:
            others = [o for o in during if o.version != v.version and o.count >= MIN_COUNT]
            ref = max(others, key=lambda o: o.count, default=None)
            where = f"on `{ref.version}` meanwhile" if ref is not None else ""
        if ref is None:
            continue
        for name in ("p95", "p99"):
            now, then = getattr(v.latency_ms, name), getattr(ref.latency_ms, name)
            if now is not None and then and now / then >= LATENCY_RATIO:
                found.append(f"Latency regression on `{v.version}`: {name} {now:.0f} ms vs "
                             f"{then:.0f} ms {where} ({now / then:.1f}×)")  # fmt: skip
                break
        if v.error_rate >= max(ERROR_RATIO * ref.error_rate, ref.error_rate + 0.01):
            found.append(f"Errors up on `{v.version}`: {v.error_rate:.1%} vs "
                         f"{ref.error_rate:.1%} {where}")  # fmt: skip
    return found


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

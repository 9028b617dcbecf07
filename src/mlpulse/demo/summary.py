"""The demo's summary: what was detected and how fast, checked against the promises."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mlpulse.demo import script
from mlpulse.demo.day import Feed, Measured, Progress
from mlpulse.demo.live import clock_text

# What the demo promises (the test checks the same numbers).
MAX_RECOVERY_AFTER_DETECTION_S = 10.0
MAX_FRAUD_DETECTION_S = 1.0


@dataclass(frozen=True)
class Summary:
    requests: dict[str, int]
    events_logged: int
    wall_seconds: float
    drift_detected: bool
    drift_time_to_detect_s: float | None
    drift_columns: list[str]
    rollback_done: bool
    deploy_time_to_detect_s: float | None  # MTTD: failure onset -> incident opened
    deploy_time_to_recover_s: float | None  # MTTR: onset -> rolled back (the incident's)
    recovered_after_detection_s: float | None  # incident opened -> router on v1
    experiment_decided: bool
    experiment_promoted: bool
    experiment_decided_after_s: float | None
    experiment: dict[str, Any] | None
    fraud_detected: bool
    fraud_time_to_detect_s: float | None
    alerts_fired: list[str]
    notifications: list[str]
    # The recs availability SLO's error budget left at 12:00 and ten minutes later.
    slo_budget_before_deploy: float | None = None
    slo_budget_after_deploy: float | None = None

    @property
    def budget_burned(self) -> bool:
        before, after = self.slo_budget_before_deploy, self.slo_budget_after_deploy
        return before is not None and after is not None and after < before

    @property
    def ok(self) -> bool:
        return (
            self.drift_detected
            and self.rollback_done
            and self.recovered_after_detection_s is not None
            and self.recovered_after_detection_s < MAX_RECOVERY_AFTER_DETECTION_S
            and self.experiment_decided
            and self.experiment_promoted
            and self.fraud_time_to_detect_s is not None
            and self.fraud_time_to_detect_s <= MAX_FRAUD_DETECTION_S
            and self.budget_burned
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def summarize(
    measured: Measured, progress: Progress, notifications: list[str], wall_seconds: float
) -> Summary:
    day = script.DAY_START
    incident = measured.incident or {}
    opened = incident.get("opened_at")
    switched = measured.router_switched_at
    fraud = measured.fraud_detected_at
    return Summary(
        requests=dict(progress.requests),
        events_logged=progress.logged,
        wall_seconds=wall_seconds,
        drift_detected=measured.drift_alert_at is not None,
        drift_time_to_detect_s=None
        if measured.drift_alert_at is None
        else measured.drift_alert_at - (day + script.DRIFT_AT),
        drift_columns=measured.drift_columns,
        rollback_done=measured.rollback_at is not None,
        deploy_time_to_detect_s=incident.get("time_to_detect"),
        deploy_time_to_recover_s=incident.get("time_to_recover"),
        recovered_after_detection_s=None
        if opened is None or switched is None
        else max(0.0, switched - opened),
        experiment_decided=measured.experiment_decided_at is not None,
        experiment_promoted=measured.promoted_at is not None,
        experiment_decided_after_s=None
        if measured.experiment_decided_at is None
        else measured.experiment_decided_at - (day + script.EXPERIMENT_AT),
        experiment=measured.experiment_result,
        fraud_detected=fraud is not None,
        fraud_time_to_detect_s=None if fraud is None else fraud - (day + script.FRAUD_SHIFT_AT),
        alerts_fired=list(measured.alerts_fired),
        notifications=notifications,
        slo_budget_before_deploy=measured.budget_before,
        slo_budget_after_deploy=measured.budget_after,
    )


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 120:
        return f"{value / 60:.1f} min"
    return f"{value:.2f} s"


def rows(summary: Summary) -> list[tuple[str, str, bool]]:
    """(what, measured, met) for the console and the HTML report."""
    experiment = summary.experiment or {}
    lift = experiment.get("relative")
    ci = experiment.get("relative_ci") or (None, None)
    experiment_text = (
        f"{experiment.get('outcome')} on click: {lift:+.1%} [{ci[0]:+.1%}, {ci[1]:+.1%}], "
        f"{experiment.get('units', 0):,} users, decided after "
        f"{_seconds(summary.experiment_decided_after_s)}"
        + ("; v3 promoted" if summary.experiment_promoted else "")
        if lift is not None and ci[0] is not None and ci[1] is not None
        else "not decided"
    )
    return [
        (
            "feature drift (09:00, recs item_price)",
            f"alert after {_seconds(summary.drift_time_to_detect_s)}"
            + (f"; drifted: {', '.join(summary.drift_columns)}" if summary.drift_columns else ""),
            summary.drift_detected,
        ),
        (
            "bad deployment (12:00, recs v2)",
            f"MTTD {_seconds(summary.deploy_time_to_detect_s)}, MTTR "
            f"{_seconds(summary.deploy_time_to_recover_s)}; traffic back on v1 "
            f"{_seconds(summary.recovered_after_detection_s)} after detection",
            summary.rollback_done
            and summary.recovered_after_detection_s is not None
            and summary.recovered_after_detection_s < MAX_RECOVERY_AFTER_DETECTION_S,
        ),
        (
            f"error budget ({script.SLO}, {script.SLO_OBJECTIVE:.0%} over 30 days)",
            f"{_share(summary.slo_budget_before_deploy)} left before the deploy, "
            f"{_share(summary.slo_budget_after_deploy)} ten minutes after",
            summary.budget_burned,
        ),
        (
            "A/B test (14:00, v3 vs v1, sequential)",
            experiment_text,
            summary.experiment_decided and summary.experiment_promoted,
        ),
        (
            "fraud score shift (20:00)",
            f"detected {_seconds(summary.fraud_time_to_detect_s)} after it began",
            summary.fraud_time_to_detect_s is not None
            and summary.fraud_time_to_detect_s <= MAX_FRAUD_DETECTION_S,
        ),
    ]


def print_summary(console: Console, summary: Summary) -> None:
    table = Table(title="what the day showed (simulated time)", show_lines=False)
    table.add_column("event")
    table.add_column("measured")
    table.add_column("", justify="center")
    for what, measured, met in rows(summary):
        table.add_row(what, measured, "[green]✓" if met else "[red]✗")
    console.print(table)
    requests = sum(summary.requests.values())
    console.print(
        f"{requests:,} requests simulated ({summary.requests['recs']:,} recs, "
        f"{summary.requests['fraud']:,} fraud); {summary.events_logged:,} predictions logged "
        f"through the SDK in {summary.wall_seconds:.0f} s; alerts fired: "
        f"{len(summary.alerts_fired)}; notifications on the on-call webhook: "
        f"{len(summary.notifications)}"
    )


def write_report(
    path: Path,
    summary: Summary,
    feed: Feed,
    *,
    postmortem: str | None,
    drift_report: Path | None,
) -> Path:
    """A self-contained HTML page: the summary, the day's timeline, the post-mortem."""
    esc = html.escape
    table = "".join(
        f"<tr><td>{esc(what)}</td><td>{esc(measured)}</td>"
        f"<td class={'ok' if met else 'bad'}>{'met' if met else 'missed'}</td></tr>"
        for what, measured, met in rows(summary)
    )
    timeline = "".join(
        f"<tr><td class=t>{clock_text(at)}</td><td>{esc(text)}</td></tr>"
        for at, text, _style in feed.entries
    )
    drift = (
        f'<p><a href="{esc(drift_report.name)}">Drift report: recs, reference (00:00-06:00) '
        f"against the drifted hour</a></p>"
        if drift_report is not None
        else ""
    )
    notes = f"<h2>Post-mortem draft</h2><pre>{esc(postmortem)}</pre>" if postmortem else ""
    requests = sum(summary.requests.values())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mlpulse demo: a day of production</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; }}
table {{ border-collapse: collapse; width: 100%; margin: 1rem 0; }}
td, th {{ border-bottom: 1px solid #dde2ea; padding: .35rem .6rem; text-align: left; }}
td.t {{ font-family: ui-monospace, monospace; color: #667; white-space: nowrap; }}
.ok {{ color: #137333; font-weight: 600; }} .bad {{ color: #b3261e; font-weight: 600; }}
pre {{ background: #f5f7fa; padding: 1rem; overflow-x: auto; white-space: pre-wrap; }}
</style></head><body>
<h1>mlpulse demo: a day of production</h1>
<p>{requests:,} requests simulated ({summary.requests["recs"]:,} recommendation,
{summary.requests["fraud"]:,} fraud); {summary.events_logged:,} predictions logged through the
SDK to a real collector in {summary.wall_seconds:.0f} s of wall time. Times below are
simulated.</p>
<table><tr><th>event</th><th>measured</th><th></th></tr>{table}</table>
{drift}
<h2>Timeline</h2><table>{timeline}</table>
{notes}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path

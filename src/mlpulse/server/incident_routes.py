"""``/v1/incidents``: list, show, acknowledge, resolve, annotate; post-mortem drafts."""

from __future__ import annotations

import math
import statistics
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlpulse.domain.auth import ApiKey, Scope
from mlpulse.domain.incidents import ActionOutcome, Approval, Incident
from mlpulse.domain.series import MetricPoint
from mlpulse.domain.series_catalogue import NOT_SEGMENTS
from mlpulse.ports import EventStore, SeriesStore
from mlpulse.server.auth import require
from mlpulse.server.bodies import json_response, read_json
from mlpulse.server.openapi import response_schema
from mlpulse.services.incidents import IncidentService
from mlpulse.services.postmortem import postmortem

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
AdminKey = Annotated[ApiKey, Depends(require(Scope.ADMIN))]
# Series compared between the hour before the onset and the incident, for the hints.
MOVED_SERIES = ("mlpulse_error_rate", "mlpulse_latency_seconds", "mlpulse_throughput_per_second",
                "mlpulse_drift_share", "mlpulse_estimated_performance")  # fmt: skip


# Labels that name a series rather than a segment of the traffic.


class IncidentView(msgspec.Struct, frozen=True):
    incident: Incident
    times: dict[str, float | None]


class IncidentList(msgspec.Struct, frozen=True):
    incidents: list[IncidentView]
    summary: dict[str, float | None]


class NoteRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]


def _service(request: Request) -> IncidentService:
    service: IncidentService = request.app.state.incidents
    return service


def _view(incident: Incident) -> IncidentView:
    return IncidentView(incident, incident.times)


def _mean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return statistics.fmean(kept) if kept else math.nan


@router.get(
    "",
    summary="Incidents, newest first, with MTTD/MTTA/MTTR over the list (per model, period)",
    openapi_extra=response_schema(IncidentList),
    dependencies=[Depends(require(Scope.READ))],
)
async def list_incidents(
    request: Request,
    model: str | None = Query(None),
    status: str | None = Query(None, pattern="^(triggered|acknowledged|mitigated|resolved)$"),
    since: float | None = Query(None, description="Opened at or after (seconds since the epoch)"),
    until: float | None = Query(None, description="Opened before (seconds since the epoch)"),
) -> Response:
    found = await run_in_threadpool(lambda: _service(request).incidents(model=model, status=status))
    found = [
        i for i in found
        if (since is None or i.opened_at >= since) and (until is None or i.opened_at < until)
    ]  # fmt: skip
    summary: dict[str, float | None] = {}
    for measure in ("time_to_detect", "time_to_acknowledge", "time_to_recover", "time_to_resolve"):
        values = [v for i in found if (v := i.times[measure]) is not None]
        summary["mean_" + measure] = statistics.fmean(values) if values else None
    return json_response(IncidentList([_view(i) for i in found], summary))


class ApprovalView(msgspec.Struct, frozen=True):
    id: str
    runbook: str
    action: str
    model: str
    alert: str
    requested_at: float
    expires_at: float
    version: str = ""


class RejectRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ApprovalList(msgspec.Struct, frozen=True):
    approvals: list[ApprovalView]


@router.get(
    "/approvals",
    summary="Runbook actions waiting for a person's approval",
    openapi_extra=response_schema(ApprovalList),
    dependencies=[Depends(require(Scope.READ))],
)
async def approvals(request: Request) -> Response:
    pending = await run_in_threadpool(_service(request).approvals)
    return json_response(
        ApprovalList([
            ApprovalView(a.id, a.runbook, a.action.kind, a.model,
                         a.alert.labels.get("alertname", a.alert.rule), a.requested_at,
                         a.expires_at, a.alert.labels.get("version", ""))
            for a in pending
        ])
    )  # fmt: skip


@router.post(
    "/approvals/{approval_id}",
    summary="Approve a waiting runbook action: re-checked (409 when stale), then it runs now",
    openapi_extra=response_schema(ActionOutcome),
)
async def approve(request: Request, approval_id: str, key: AdminKey) -> Response:
    service = _service(request)
    firing = request.app.state.alerts.alerts(state="firing")
    outcome = await run_in_threadpool(
        lambda: service.approve(approval_id, by=key.name or key.key_id, firing=firing)
    )
    return json_response(outcome)


@router.post(
    "/approvals/{approval_id}/reject",
    summary="Reject a waiting runbook action: it never runs",
    openapi_extra=response_schema(Approval),
)
async def reject(request: Request, approval_id: str, key: AdminKey) -> Response:
    empty = request.headers.get("content-length", "0") == "0"  # a reason is optional
    body = RejectRequest() if empty else await read_json(request, RejectRequest)
    service = _service(request)
    rejected = await run_in_threadpool(
        lambda: service.reject(approval_id, by=key.name or key.key_id, reason=body.reason)
    )
    return json_response(rejected)


@router.get(
    "/{incident_id}",
    summary="One incident with its timeline",
    openapi_extra=response_schema(IncidentView),
    dependencies=[Depends(require(Scope.READ))],
)
async def show(request: Request, incident_id: str) -> Response:
    return json_response(_view(await run_in_threadpool(_service(request).get, incident_id)))


class SimilarIncident(msgspec.Struct, frozen=True):
    incident: Incident
    score: float


class SimilarList(msgspec.Struct, frozen=True):
    similar: list[SimilarIncident]


@router.get(
    "/{incident_id}/similar",
    summary="Past incidents like this one (same model, shared signals)",
    openapi_extra=response_schema(SimilarList),
    dependencies=[Depends(require(Scope.READ))],
)
async def similar(request: Request, incident_id: str) -> Response:
    found = await run_in_threadpool(_service(request).similar, incident_id)
    return json_response(SimilarList([SimilarIncident(i, score) for i, score in found]))


@router.post(
    "/{incident_id}/ack",
    summary="Acknowledge, with its firing alerts (paged at once); you become commander if none",
)
async def acknowledge(request: Request, incident_id: str, key: AdminKey) -> Response:
    service = _service(request)
    engine = request.app.state.alerts
    incident = await run_in_threadpool(
        lambda: service.acknowledge(incident_id, by=key.name or key.key_id, alerts=engine)
    )
    return json_response(_view(incident))


@router.post("/{incident_id}/resolve", summary="Resolve the incident")
async def resolve(request: Request, incident_id: str, key: AdminKey) -> Response:
    service = _service(request)
    incident = await run_in_threadpool(
        lambda: service.resolve(incident_id, by=key.name or key.key_id)
    )
    return json_response(_view(incident))


@router.post("/{incident_id}/notes", summary="Add a note to the timeline")
async def note(request: Request, incident_id: str, key: AdminKey) -> Response:
    body = await read_json(request, NoteRequest)
    service = _service(request)
    incident = await run_in_threadpool(
        lambda: service.note(incident_id, body.text, by=key.name or key.key_id)
    )
    return json_response(_view(incident), status=201)


@router.get(
    "/{incident_id}/postmortem",
    summary="A Markdown post-mortem draft",
    dependencies=[Depends(require(Scope.READ))],
)
async def draft(request: Request, incident_id: str) -> Response:
    incident = await run_in_threadpool(_service(request).get, incident_id)
    text = await run_in_threadpool(_draft, request, incident)
    return Response(text, media_type="text/markdown; charset=utf-8")


def _draft(request: Request, incident: Incident) -> str:
    store: EventStore = request.app.state.store
    series: SeriesStore = request.app.state.series
    clock = request.app.state.clock
    end = incident.resolved_at or clock.now()
    model, onset = incident.model, incident.onset_at
    # The impact runs from the onset to the mitigation: after a rollback the traffic is
    # the healthy version's, not the incident's.
    impact_end = incident.mitigated_at or end
    traffic = store.version_summaries(model, start=onset, end=impact_end) if model else []
    earlier = store.version_summaries(model, start=onset - 3600, end=onset) if model else []
    registry: Any = getattr(request.app.state, "registry", None)
    deployments = registry.deployments(model=model) if registry is not None and model else []
    drift: dict[tuple[tuple[str, str], ...], MetricPoint] = {}
    for point in series.query_points(
        "mlpulse_drift_score", matchers={"model": model}, start=onset - 3600, end=end
    ):
        drift[tuple(sorted(point.labels.items()))] = point  # the newest per series
    moved = []
    for name in MOVED_SERIES:
        points = series.query_points(
            name, matchers={"model": model}, start=onset - 3600, end=impact_end
        )
        # The model as a whole, and each segment (mode, environment, segment_by tags).
        groups: dict[str, list[MetricPoint]] = {}
        for point in points:
            segment = ",".join(
                f"{k}={v}" for k, v in sorted(point.labels.items()) if k not in NOT_SEGMENTS
            )
            groups.setdefault(f"{name}{{{segment}}}" if segment else name, []).append(point)
        for label, group in groups.items():
            before = _mean([p.value for p in group if p.ts < onset])
            during = _mean([p.value for p in group if p.ts >= onset])
            moved.append((label, before, during))
    alert_store: Any = request.app.state.alert_store
    actions: list[ActionOutcome] = [
        a for a in alert_store.actions(since=onset - 3600) if a.incident == incident.id
    ]
    # Saturation from ten minutes before the onset: a resource that fills up often does
    # so before the errors it causes.
    resources = store.resource_peaks(model, start=onset - 600, end=end) if model else []
    return postmortem(
        incident, traffic=traffic, before=earlier, deployments=deployments,
        drift=list(drift.values()),
        moved=moved, actions=actions, resources=resources,
    )  # fmt: skip

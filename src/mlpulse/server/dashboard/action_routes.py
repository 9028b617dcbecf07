"""What people do from the dashboard: acknowledge an alert, add a silence.

The same service calls as ``/v1/alerts/{fp}/ack`` and ``POST /v1/silences``, behind the
session's CSRF token and an ``admin`` key (:func:`guards.acting_session`). Answers are
the re-rendered piece of the page, for htmx to swap in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from mlpulse.domain.window import parse_duration
from mlpulse.errors import InvalidInputError
from mlpulse.server.dashboard.guards import acting_session
from mlpulse.server.dashboard.templating import SECURITY_HEADERS, fragment, render
from mlpulse.services.alert_engine import AlertEngine

router = APIRouter(include_in_schema=False)
MAX_COMMENT = 2000


def parse_matchers(text: str) -> dict[str, str]:
    """``model=fraud, severity=critical`` (commas or new lines) as a dict.

    >>> parse_matchers("model=fraud,\\n severity = critical")
    {'model': 'fraud', 'severity': 'critical'}
    """
    matchers: dict[str, str] = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidInputError(
                f"matchers: write them as name=value, separated by commas; got {part.strip()!r}",
                field="matchers",
            )
        matchers[name.strip()] = value.strip()
    if not matchers:
        raise InvalidInputError("matchers: a silence needs at least one", field="matchers")
    return matchers


@router.post("/alerts/{fingerprint}/ack")
async def acknowledge(request: Request, fingerprint: str) -> Response:
    session = await acting_session(request)
    engine: AlertEngine = request.app.state.alerts
    alert = await run_in_threadpool(engine.acknowledge, fingerprint, by=session.who)
    return render(request, "_alert_row.html", session=session, alert=alert)


@router.post("/alerts/silences")
async def add_silence(request: Request) -> Response:
    session = await acting_session(request)
    form = await request.form()
    matchers = parse_matchers(str(form.get("matchers", "")))
    seconds = parse_duration(str(form.get("duration", "")).strip(), field="duration")
    comment = str(form.get("comment", "")).strip()
    if not comment or len(comment) > MAX_COMMENT:
        raise InvalidInputError(
            f"comment: say why (1 to {MAX_COMMENT} characters)", field="comment"
        )
    engine: AlertEngine = request.app.state.alerts
    clock = request.app.state.clock

    def silence() -> None:
        engine.silence(
            matchers,
            starts_at=None,
            ends_at=clock.now() + seconds,
            created_by=session.who,
            comment=comment,
        )

    await run_in_threadpool(silence)
    now = clock.now()
    silences = [
        s
        for s in await run_in_threadpool(request.app.state.alert_store.silences)
        if s.ends_at > now
    ]
    html = fragment(
        "_silences.html", silences=sorted(silences, key=lambda s: -s.ends_at), session=session
    )
    return HTMLResponse(html, status_code=201, headers=SECURITY_HEADERS)

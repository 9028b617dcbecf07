"""Jinja2 templates of the dashboard, their filters, and the page response.

Pages carry a Content-Security-Policy that admits scripts from the collector only
(no inline scripts, no CDN). Styles may be inline: ECharts writes its tooltips as
HTML with style attributes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Final

import jinja2
from fastapi import Request
from starlette.responses import HTMLResponse

from mlpulse.server.dashboard.assets import assets_missing
from mlpulse.server.dashboard.sessions import Session
from mlpulse.server.dashboard.time_range import RANGES

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def when(ts: float | None) -> str:
    """A time as UTC text.

    >>> when(0.0), when(None)
    ('1970-01-01 00:00:00 UTC', '—')
    """
    if ts is None or not math.isfinite(ts):
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def num(value: float | int | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; missing and NaN show as a dash.

    >>> num(0.012345), num(1234.5), num(None), num(float("nan")), num(7)
    ('0.0123', '1.23e+03', '—', '—', '7')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def pct(value: float | None) -> str:
    """A share as a percentage.

    >>> pct(0.0123), pct(None)
    ('1.23%', '—')
    """
    if value is None or not math.isfinite(value):
        return "—"
    return f"{100 * value:.3g}%"


def duration(seconds: float | None) -> str:
    """Seconds as a short duration.

    >>> duration(42.0), duration(600.0), duration(7200.0), duration(None)
    ('42 s', '10 min', '2.0 h', '—')
    """
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200 - 1e-9:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, num=num, pct=pct, duration=duration)
    return env


_ENV: Final = _environment()


def render(
    request: Request,
    template: str,
    *,
    session: Session | None,
    status: int = 200,
    nav: str = "",
    title: str = "Log in",
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` with the context every page has."""
    html = _ENV.get_template(template).render(
        session=session,
        nav=nav,
        title=title,
        ranges=list(RANGES),
        assets_missing=assets_missing(request.app.state.settings),
        now=request.app.state.clock.now(),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def fragment(template: str, **context: Any) -> str:
    """A piece of a page (an htmx swap), rendered alone."""
    return _ENV.get_template(template).render(**context)

"""Who may see and do what on the dashboard: sessions, redirects to login, CSRF.

Pages without a session answer 303 to ``/login?next=<path>``; data endpoints and
actions answer 401 (JSON, as the API does). Actions need the session's CSRF token, in
the ``X-CSRF-Token`` header (htmx sends it from ``<meta name="csrf-token">``) or the
``csrf_token`` form field, else 403; and an ``admin`` key, else 403.
"""

from __future__ import annotations

import hmac
import threading
from urllib.parse import quote

from fastapi import Request
from starlette.responses import RedirectResponse

from mlpulse.errors import ForbiddenError, UnauthenticatedError
from mlpulse.server.dashboard.sessions import SESSION_COOKIE, Session, Sessions, Signer, load_secret
from mlpulse.server.settings import Settings

_lock = threading.Lock()


def sessions(request: Request) -> Sessions:
    """The app's session maker, built on first use (the data directory exists by then)."""
    state = request.app.state
    found: Sessions | None = getattr(state, "dashboard_sessions", None)
    if found is None:
        with _lock:
            found = getattr(state, "dashboard_sessions", None)
            if found is None:
                settings: Settings = state.settings
                found = Sessions(
                    Signer(
                        settings.dashboard_secret.encode()
                        if settings.dashboard_secret  # a cluster's replicas share it
                        else load_secret(settings.data_dir)
                    ),
                    state.metadata,
                    cache_seconds=settings.key_cache_seconds,
                )
                state.dashboard_sessions = found
    return found


def current_session(request: Request) -> Session | None:
    return sessions(request).read(request.cookies.get(SESSION_COOKIE))


def safe_next(target: str | None) -> str:
    """A same-origin path to go to after login; anything else gives ``/``.

    >>> safe_next("/models/fraud?range=7d"), safe_next("//evil.example/x"), safe_next("http://x/")
    ('/models/fraud?range=7d', '/', '/')
    >>> safe_next("/\\\\evil.example"), safe_next(None)
    ('/', '/')
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 for c in target):
        return "/"
    return target


def login_redirect(request: Request) -> RedirectResponse:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(path, safe='')}", status_code=303)


def data_session(request: Request) -> Session:
    """The session of a data endpoint's caller; 401 without one."""
    session = current_session(request)
    if session is None:
        raise UnauthenticatedError("log in to the dashboard first (no valid session)")
    return session


async def acting_session(request: Request) -> Session:
    """The session of an action's caller: valid CSRF token and an admin key, else 401/403."""
    session = data_session(request)
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise ForbiddenError("the CSRF token is missing or wrong: reload the page and try again")
    if not session.can_act:
        raise ForbiddenError(
            f"this action needs an 'admin' key; you logged in with {session.who!r} (read only)"
        )
    return session

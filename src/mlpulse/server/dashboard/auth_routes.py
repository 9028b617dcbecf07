"""``/login`` and ``/logout``: a read (or admin) API key buys a session cookie."""

from __future__ import annotations

import hmac
from typing import Final

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from mlpulse.domain.auth import Scope
from mlpulse.errors import ForbiddenError, UnauthenticatedError
from mlpulse.server.auth import Authenticator
from mlpulse.server.dashboard.guards import current_session, safe_next, sessions
from mlpulse.server.dashboard.sessions import LOGIN_COOKIE, SESSION_COOKIE, SESSION_SECONDS
from mlpulse.server.dashboard.templating import render

router = APIRouter(include_in_schema=False)
LOGIN_FORM_SECONDS: Final = 3600


def _login_page(
    request: Request, *, next_path: str, error: str = "", status: int = 200
) -> Response:
    token = sessions(request).new_login_token()
    response = render(
        request,
        "login.html",
        session=None,
        status=status,
        csrf_token=token,
        next_path=next_path,
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_FORM_SECONDS,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
def login_form(request: Request, next_path: str = Query("/", alias="next")) -> Response:
    return _login_page(request, next_path=safe_next(next_path))


@router.post("/login")
def login(
    request: Request,
    api_key: str = Form(""),
    csrf_token: str = Form(""),
    next_path: str = Form("/", alias="next"),
) -> Response:
    target = safe_next(next_path)
    if not sessions(request).login_token_valid(request.cookies.get(LOGIN_COOKIE), csrf_token):
        return _login_page(
            request,
            next_path=target,
            error="The form expired or was not sent from this page: try again.",
            status=403,
        )
    auth: Authenticator = request.app.state.auth
    try:
        key = auth.authenticate(api_key.strip() or None, Scope.READ)
    except UnauthenticatedError:
        return _login_page(
            request,
            next_path=target,
            error="That API key is invalid (unknown or revoked).",
            status=401,
        )
    except ForbiddenError:
        return _login_page(
            request,
            next_path=target,
            error="That API key cannot read: the dashboard needs a key with the "
            "'read' or 'admin' scope.",
            status=403,
        )
    token, _ = sessions(request).start(key)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    session = current_session(request)
    if session is not None and not hmac.compare_digest(csrf_token, session.csrf_token):
        raise ForbiddenError("the CSRF token is missing or wrong: reload the page and try again")
    if session is not None:
        sessions(request).end(session)  # a copy of the cookie no longer works anywhere
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response

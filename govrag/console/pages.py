"""How the console answers: Jinja2 pages, its security headers, errors as HTML pages, and the signed-in user.

Routes raise the domain's errors as the API's routes do; `ConsoleRoute` turns them into pages with the API's
status codes (401 becomes a redirect to the sign-in page), so the console shows a person what the API would
tell a program. Every response under `/console` carries a Content-Security-Policy that allows only this
origin's files (no inline script or style) and refuses framing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govrag.console.sessions import ApiKeySignIn, Session, SessionCodec, SignInMethod, load_secret
from govrag.runtime import Runtime
from retrieval import errors
from retrieval.domain import Principal

logger = logging.getLogger(__name__)

PREFIX = "/console"
SESSION_COOKIE = "govrag_console"
LOGIN_COOKIE = "govrag_console_login"
HERE = Path(__file__).resolve().parent

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]

# What each console page needs the policy to allow (no corpus: the action in general, as the API checks it).
PAGES = [
    ("corpora", "Corpora", "list_corpora"),
    ("audit", "Provenance log", "read_audit"),
    ("audit/insights", "Insights", "read_audit"),
]

STATUS_BY_ERROR: list[tuple[type[errors.GovragError], int, str]] = [
    (errors.PermissionDenied, 403, "Not allowed"),
    (errors.NotFound, 404, "Not found"),
    (errors.Conflict, 409, "Conflict"),
    (errors.InvalidRequest, 400, "Invalid request"),
    (errors.BackendUnavailable, 503, "Unavailable"),
]

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class SecurityHeaders:
    """Add the console's security headers to every response under `/console` (the API's `/docs` page loads
    scripts this policy would block, so the rest of the app is left alone)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class ConsoleState:
    """The console's per-process parts, made on first use from the runtime's settings."""

    codec: SessionCodec
    sign_in: SignInMethod


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState | None = getattr(request.app.state, "console", None)
    if state is None:
        runtime: Runtime = request.app.state.runtime
        secret = load_secret(runtime.settings)
        state = ConsoleState(
            codec=SessionCodec(secret, runtime.settings.console.session_minutes * 60.0),
            sign_in=ApiKeySignIn(lambda: runtime.principals, secret),
        )
        request.app.state.console = state
    return state


class NotSignedIn(Exception):
    """No valid session: the console sends the browser to its sign-in page."""


@dataclass
class User:
    """The signed-in principal of one request, its session and what the policy lets it open."""

    principal: Principal
    session: Session
    csrf: str
    runtime: Runtime
    pages: list[tuple[str, str]] = field(default_factory=list)

    def can(self, action: str) -> bool:
        return self.runtime.policy.is_allowed(self.principal, action)


async def current_user(request: Request) -> User:
    """The session's principal, re-checked against the principal directory on every request."""
    state = console_state(request)
    runtime: Runtime = request.app.state.runtime
    try:
        session = state.codec.read(request.cookies.get(SESSION_COOKIE))
        principal = state.sign_in.recheck(session.principal_id, session.binding)
    except errors.AuthenticationError as exc:
        raise NotSignedIn(exc.detail) from exc
    user = User(principal, session, state.codec.csrf_token(session.session_id), runtime)
    user.pages = [(f"{PREFIX}/{path}", label) for path, label, action in PAGES if user.can(action)]
    return user


CurrentUser = Annotated[User, Depends(current_user)]


class CsrfRefused(Exception):
    """A form came without this session's CSRF token."""


async def checked_form(request: Request, user: CurrentUser) -> dict[str, str]:
    """The fields of a POSTed form, once its CSRF token proved it came from a page of this session."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not console_state(request).codec.csrf_ok(user.session.session_id, fields.get("csrf_token")):
        raise CsrfRefused
    return fields


Form = Annotated[dict[str, str], Depends(checked_form)]


def render(
    name: str,
    context: Mapping[str, Any],
    *,
    user: User | None = None,
    status_code: int = 200,
    request: Request | None = None,
) -> HTMLResponse:
    page = templates.get_template(name).render(
        user=user, path=request.url.path if request is not None else "", prefix=PREFIX, **context
    )
    return HTMLResponse(page, status_code=status_code)


def error_page(status: int, title: str, detail: str) -> HTMLResponse:
    return render("error.html", {"status": status, "title": title, "detail": detail}, status_code=status)


def _for_error(exc: errors.GovragError) -> HTMLResponse:
    for cls, status, title in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            if status == 503 and not isinstance(exc, errors.AuditUnavailable):
                logger.error("backend unavailable: %s", exc.detail)
                return error_page(status, title, "a backing store is unavailable; try again later")
            return error_page(status, title, exc.detail)
    logger.error("unmapped error %s: %s", type(exc).__name__, exc.detail)
    return error_page(500, "Error", "internal error")


class ConsoleRoute(APIRoute):
    """A console route: domain errors become HTML pages, a missing session a redirect to the sign-in page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except NotSignedIn:
                response = RedirectResponse(f"{PREFIX}/login", status_code=303)
                response.delete_cookie(SESSION_COOKIE, path=PREFIX)
                return response
            except CsrfRefused:
                return error_page(403, "Not allowed", "the form was not sent from this console (CSRF check)")
            except RequestValidationError:
                return error_page(422, "Invalid request", "a field of the request is missing or invalid")
            except errors.GovragError as exc:
                return _for_error(exc)

        return console_handler

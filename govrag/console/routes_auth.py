"""Console sign-in, sign-out and the start page.

The sign-in form is itself protected against cross-site posting: the GET sets a random nonce in a cookie and
puts its keyed hash in the form, and the POST must bring both.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from govrag.console.pages import (
    LOGIN_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    ConsoleRoute,
    CurrentUser,
    Form,
    console_state,
    error_page,
    render,
)
from retrieval.errors import AuthenticationError

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def _login_page(request: Request, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    token = console_state(request).codec.csrf_token(f"login:{nonce}")
    response = render("login.html", {"csrf": token, "error": error}, status_code=status_code)
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=600,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    state = console_state(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    nonce = request.cookies.get(LOGIN_COOKIE)
    if nonce is None or not state.codec.csrf_ok(f"login:{nonce}", form.get("csrf_token")):
        return error_page(403, "Not allowed", "the form was not sent from this console (CSRF check)")
    try:
        signed_in = state.sign_in.sign_in(form)
    except AuthenticationError:
        # The same words whatever was wrong, and the key is never echoed back.
        return _login_page(request, "That key is not valid.", status_code=401)
    cookie, _ = state.codec.issue(signed_in.principal.id, signed_in.binding)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(state.codec.lifetime_s),
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, user: CurrentUser, form: Form) -> Response:
    console_state(request).codec.end(user.session)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/")
async def home(user: CurrentUser) -> Response:
    if not user.pages:
        return render(
            "error.html",
            {
                "status": 403,
                "title": "Not allowed",
                "detail": f"{user.principal.id} has no console page: the console is for stewards, auditors "
                "and admins.",
            },
            user=user,
            status_code=403,
        )
    return render("home.html", {}, user=user)


@router.get("")
async def root() -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)

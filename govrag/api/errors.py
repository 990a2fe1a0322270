"""Maps exceptions to HTTP statuses with a stable `{type, detail}` body; nothing leaks a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from retrieval import errors

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[errors.GovragError], int]] = [
    (errors.AuthenticationError, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.InvalidCursor, 422),  # before its parent: the first match wins
    (errors.InvalidRequest, 400),
    (errors.InvalidPolicy, 422),
    (errors.BackendUnavailable, 503),
]


def _body(status: int, type_: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"type": type_, "detail": detail}, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.GovragError)
    async def _govrag(_: Request, exc: errors.GovragError) -> JSONResponse:
        for cls, status in STATUS_BY_ERROR:
            if isinstance(exc, cls):
                headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
                if status == 503 and not isinstance(exc, errors.AuditUnavailable | errors.RetrievalFailed):
                    # The detail names paths and hosts: it goes to the log, the caller gets the kind only.
                    logger.error("backend unavailable: %s", exc.detail)
                    return _body(status, exc.type, "a backing store is unavailable; try again later")
                return _body(status, exc.type, exc.detail, headers)
        logger.error("unmapped error %s: %s", type(exc).__name__, exc.detail)
        return _body(500, "internal_error", "internal error")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _body(422, "validation_error", _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return _body(exc.status_code, type_, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled %s", type(exc).__name__)
        return _body(500, "internal_error", "internal error")

"""ASGI middleware: a request id on every request (logs and `X-Request-ID`), one access line, size limits."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govrag.logs import request_id_var

logger = logging.getLogger("retrieval.access")

REQUEST_ID_HEADER = "X-Request-ID"
# A caller (a gateway, a chat app) may hand its own id in so both logs line up; anything else is replaced.
_CALLER_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


class RequestContextMiddleware:
    """Give each request an id, expose it in `X-Request-ID` and every log line, and log one access line.

    The access line names the method, the path (never the query string), the status and the duration; no
    header, so no key, is ever in it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, b"x-request-id")
        request_id = offered if offered is not None and _CALLER_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logger.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Refuse request bodies over `max_bytes` with 413 and a `{type, detail}` body.

    A declared `Content-Length` is checked before anything is read; a chunked body is counted as it
    arrives, and reading stops at the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_error(send, 400, "invalid_request", "Content-Length is not a number")
                return
            if int(declared) > self.max_bytes:
                await _send_error(send, 413, "payload_too_large", self._detail())
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI lets it through its body parsing to the app's handler.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return f"the request body is larger than the limit of {self.max_bytes} bytes"


# The longest target (path and query string, as sent) the service reads: a cursor of 4,096 characters fits
# even with every character percent-encoded (three bytes each); nothing the API takes needs more.
MAX_URL_BYTES = 16 * 1024
# What the HTTP parser buffers for one request head (request line and headers) before it gives up. Well
# above MAX_URL_BYTES, so an over-long URL is read in full and answered 414 in JSON; only a head over this
# meets the parser's own refusal (a bare 400 and a closed connection, possibly reset before it is read).
MAX_REQUEST_HEAD_BYTES = 256 * 1024


def server_options() -> dict[str, Any]:
    """uvicorn options every server of the app uses (`govrag serve`, the demo, the tests' live servers)."""
    # access_log=False: the app logs one JSON access line per request, with its id and no query string.
    return {"access_log": False, "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES}


class UrlLengthLimitMiddleware:
    """Refuse a request whose target (path and query string) is over `max_bytes`: 414, `{type, detail}`."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_URL_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            if len(raw_path) + len(scope.get("query_string", b"")) > self.max_bytes:
                detail = f"the request URL is longer than the limit of {self.max_bytes} bytes"
                await _send_error(send, 414, "uri_too_long", detail)
                return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send_error(send: Send, status: int, type_: str, detail: str) -> None:
    body = json.dumps({"type": type_, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})

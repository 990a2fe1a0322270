"""Operations endpoints: `/readyz` (the stores answer) and `/metrics` (Prometheus), and the request timer.

Both endpoints are unauthenticated, like `/healthz`, for probes and scrapers; neither says more than up or
down per store, and metrics carry no query, principal or document (see `retrieval.telemetry`).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govrag.api.deps import RuntimeDep
from govrag.api.schemas import Readiness, StoreCheckOut
from govrag.readiness import check_stores
from retrieval import telemetry

router = APIRouter(tags=["operations"])


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(runtime: RuntimeDep) -> Any:
    checks = check_stores(runtime.db, runtime.store)
    body = Readiness(
        status="ready" if all(c.ok for c in checks) else "unavailable",
        role=runtime.role.value,
        checks={c.name: StoreCheckOut(ok=c.ok, seconds=c.seconds) for c in checks},
    )
    if body.status == "ready":
        return body
    down = ", ".join(c.name for c in checks if not c.ok)
    body.type = "backend_unavailable"
    body.detail = f"unavailable: the {down} store"
    return JSONResponse(status_code=503, content=body.model_dump())


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics() -> Response:
    return Response(content=telemetry.exposition(), media_type=telemetry.CONTENT_TYPE)


class RequestTimer:
    """ASGI middleware: every HTTP request's latency into `govrag_request_duration_seconds`.

    The endpoint label is the matched route's template (`/corpora/{corpus_id}`), or `unmatched`, and the
    method one of a fixed set or `OTHER`, so that arbitrary paths and methods cannot grow the label set; the
    outcome is the response status (500 when the app raised).
    Plain ASGI rather than Starlette's BaseHTTPMiddleware: no extra task or body copy per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            method = telemetry.method_label(scope["method"])
            telemetry.REQUEST_SECONDS.labels(endpoint, method, str(status)).observe(
                time.perf_counter() - started
            )

"""The FastAPI application: backends built once in the lifespan, routes, error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from govrag.api import answers, audit, corpora, operations, policy, privacy, retrieve
from govrag.api.deps import CurrentPrincipal
from govrag.api.errors import install_error_handlers
from govrag.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware, UrlLengthLimitMiddleware
from govrag.api.schemas import Health
from govrag.console import mount_console
from govrag.runtime import Runtime, build_runtime
from retrieval.pii.helpers import stop_helpers
from retrieval.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, *, stop_process: bool = False
) -> FastAPI:
    """An app over `runtime` if given (tests, the demo), else over backends built from `settings`.

    The app closes the runtime on shutdown if it built it. With `stop_process` (the server of a process
    that ends with the app: `govrag serve`, the demo) it also closes a given runtime and stops the PII helper
    processes: uvicorn ends its process by re-raising the stop signal after shutdown, so code after
    `uvicorn.run` does not run then.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = runtime if runtime is not None else build_runtime(settings or get_settings())
        try:
            yield
        finally:
            if owned or stop_process:
                app.state.runtime.close()
            if stop_process:
                stop_helpers()

    limits = settings or (runtime.settings if runtime is not None else get_settings())
    public_docs = {} if limits.docs_public else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(
        title="govrag",
        version="0.1.0",
        summary="Governed retrieval for enterprise RAG",
        lifespan=lifespan,
        **public_docs,  # type: ignore[arg-type]
    )
    install_error_handlers(app)
    app.add_middleware(operations.RequestTimer)
    # Added last, runs first: the request id is set before the size checks, so a 413 or 414 carries it too.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=limits.max_request_bytes)
    app.add_middleware(UrlLengthLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(retrieve.router)
    app.include_router(answers.router)
    app.include_router(corpora.router)
    app.include_router(audit.router)
    app.include_router(policy.router)
    app.include_router(privacy.router)
    app.include_router(operations.router)
    mount_console(app)

    @app.get("/healthz", response_model=Health, tags=["operations"])
    def healthz() -> Health:
        return Health(status="ok")

    if not limits.docs_public:
        # The schema maps every route and parameter: for callers with a key only, unless made public.
        @app.get("/openapi.json", include_in_schema=False)
        async def openapi(_: CurrentPrincipal) -> JSONResponse:
            return JSONResponse(app.openapi())

    return app

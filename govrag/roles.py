"""What one process of the service does: `all` (answer HTTP and run jobs), `api` (answer HTTP, only queue
jobs) or `worker` (run jobs and the refresh scheduler; serve only `/healthz`, `/readyz` and `/metrics`)."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from govrag.api.errors import install_error_handlers
from govrag.api.schemas import Health
from retrieval.errors import ConfigurationError
from retrieval.pii.helpers import stop_helpers
from retrieval.settings import Settings

if TYPE_CHECKING:
    from govrag.runtime import Runtime

__all__ = ["Role", "app_for_role", "check_role", "parse_role", "worker_app"]


class Role(enum.StrEnum):
    all = "all"
    api = "api"
    worker = "worker"

    @property
    def runs_jobs(self) -> bool:
        return self is not Role.api


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ConfigurationError(f"unknown role {value!r}: all, api or worker") from None


def check_role(settings: Settings, role: Role) -> None:
    """`ConfigurationError` for a split of roles the settings cannot carry.

    The embedded vector store is one directory owned by one process: an `api` process that searches it and a
    `worker` that writes it cannot both open it, so split roles need a Qdrant server.
    """
    if role is not Role.all and not settings.qdrant_url:
        raise ConfigurationError(
            f"the {role.value} role needs a Qdrant server (GOVRAG_QDRANT_URL): the embedded vector store "
            "is owned by one process, so api and worker processes cannot share it; use --role all"
        )


def worker_app(runtime: Runtime, *, stop_process: bool = False) -> FastAPI:
    """The worker's HTTP surface: liveness, readiness (with its role) and metrics; nothing that reads data.

    With `stop_process` the runtime is closed when the server stops: the job in progress ends after its
    current document and its lease is released, so another worker can take the queue at once.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime
        try:
            yield
        finally:
            if stop_process:
                runtime.close()
                stop_helpers()

    from govrag.api import operations  # the routes reach the runtime module, which imports this one

    app = FastAPI(title="govrag worker", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    app.include_router(operations.router)

    @app.get("/healthz", response_model=Health, tags=["operations"])
    def healthz() -> Health:
        return Health(status="ok")

    return app


def app_for_role(settings: Settings, runtime: Runtime, create_app: Callable[..., FastAPI]) -> FastAPI:
    """The server of a process that ends with the app (`govrag serve`): the full API, or the worker's."""
    if runtime.role is Role.worker:
        return worker_app(runtime, stop_process=True)
    return create_app(settings, runtime, stop_process=True)

"""The console: server-rendered pages for stewards and auditors at `/console`, over the API's use cases
and policy (`routes_*`), with signed sessions (`sessions`), pages and headers (`pages`), SVG `charts`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from govrag.console import routes_audit, routes_auth, routes_corpora
from govrag.console.pages import HERE, PREFIX, SecurityHeaders, error_page

__all__ = ["PREFIX", "mount_console"]


def mount_console(app: FastAPI) -> None:
    """Add the console's routes, its static files and its security headers to the app."""
    app.add_middleware(SecurityHeaders)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(routes_auth.router)
    app.include_router(routes_corpora.router)
    app.include_router(routes_audit.router)

    @app.api_route(f"{PREFIX}/{{rest:path}}", methods=["GET", "POST"], include_in_schema=False)
    async def not_found(rest: str) -> Response:
        return error_page(404, "Not found", "there is no such console page")

"""`govrag serve` and `govrag demo`: run the service in this process."""

from __future__ import annotations

import logging
from typing import Annotated

import typer


def worker(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
) -> None:
    """`govrag serve --role worker`: run jobs and the refresh scheduler; serve /healthz, /readyz, /metrics."""
    serve(host=host, port=port, role="worker")


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    role: Annotated[str, typer.Option(help="all | api (queues jobs only) | worker (runs jobs).")] = "all",
) -> None:
    """Run the service with the settings from GOVRAG_* environment variables."""
    import uvicorn

    from govrag.api.app import create_app
    from govrag.api.middleware import server_options
    from govrag.logs import configure_logging
    from retrieval.errors import ConfigurationError
    from retrieval.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        from govrag.roles import app_for_role, parse_role
        from govrag.runtime import build_runtime

        runtime = build_runtime(settings, parse_role(role))
    except ConfigurationError as exc:
        typer.echo(f"govrag cannot start: {exc.detail}", err=True)
        raise typer.Exit(3) from exc
    # A log record like every other line the service writes (JSON on standard error), not bare text.
    logging.getLogger("govrag.serve").info(
        "serving on http://%s:%s (console: http://%s:%s/console/)", host, port, host, port
    )
    try:
        app = app_for_role(settings, runtime, create_app)
        uvicorn.run(app, host=host, port=port, log_config=None, **server_options())
    finally:
        runtime.close()


def demo(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Ingest and print, then exit.")] = False,
) -> None:
    """Start the service on the embedded default with the sample corpora in examples/ ingested."""
    from govrag.demo import run_demo

    run_demo(host=host, port=port, serve=not no_serve)

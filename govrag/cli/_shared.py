"""What the commands that call a running service share: the --url and --api-key options, JSON output, and
the typed client whose errors end a command with a message and an exit code (1: the service refused, 2: it
could not be reached or answered something else)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from govrag_client import ApiError, GovragClient, ProtocolError, TransportError

DEFAULT_URL = "http://127.0.0.1:8000"
# Generous: a steward's call may wait on a busy service; an export has its own read timeout.
TIMEOUT_SECONDS = 60.0

UrlOption = Annotated[
    str, typer.Option("--url", envvar="GOVRAG_URL", help="Base URL of the running service.")
]
KeyOption = Annotated[
    str,
    typer.Option(
        "--api-key",
        envvar="GOVRAG_API_KEY",
        help="Your API key (prefer the environment variable).",
        show_default=False,
    ),
]


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def fail(message: str, code: int) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@contextmanager
def service(url: str, api_key: str) -> Iterator[GovragClient]:
    """A client of the service at `url` for one command; its errors become the command's message and exit."""
    if not api_key:
        raise fail("error: no API key: set GOVRAG_API_KEY (or give --api-key)", 1)
    try:
        client = GovragClient(url, api_key, timeout=TIMEOUT_SECONDS)
    except ValueError as exc:
        raise fail(f"error: cannot reach the service at {url}: {exc}", 2) from exc
    try:
        with client:
            yield client
    except ApiError as exc:
        raise fail(f"error {exc.status}: {exc.type}: {exc.detail}", 1) from exc
    except TransportError as exc:
        raise fail(f"error: cannot reach the service at {url}: {exc.kind}", 2) from exc
    except ProtocolError as exc:
        raise fail(f"error: {url} answered something that is not govrag's: {exc}", 2) from exc
    except ValueError as exc:  # an argument the client refuses to send, e.g. an empty id
        raise fail(f"error: {exc}", 2) from exc

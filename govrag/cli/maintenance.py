"""Operator commands on this machine's stores and keys: `govrag db`, `govrag store`, `govrag key`."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated, Any

import typer

from govrag.cli._shared import print_json
from retrieval.identity import hash_api_key

db_app = typer.Typer(help="Manage the relational schema.", no_args_is_help=True)
key_app = typer.Typer(help="Make API keys and their hashes for the principals file.", no_args_is_help=True)
store_app = typer.Typer(help="Maintain the vector store, with the service stopped.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Run the migrations against GOVRAG_DATABASE_URL (or the default SQLite file)."""
    from retrieval.db import upgrade
    from retrieval.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url, revision)
    typer.echo(f"schema at {revision}")


@store_app.command("optimize")
def store_optimize(
    partition: Annotated[
        list[str] | None, typer.Option(help="Only this partition (region.sensitivity); repeatable.")
    ] = None,
) -> None:
    """Build the HNSW index of every partition of the embedded store (run with the service stopped).

    The embedded engine indexes nothing by itself: searches stay exact, which slows down past ~100k chunks
    a partition. Building the index holds the process for its duration (1.5-2 min for 250k chunks, 15 min
    for 1M on two cores) and the store's directory belongs to one process at a time, hence offline: stop
    the service, run this after a bulk load, start it again. A Qdrant server indexes by itself.
    """
    import time

    from retrieval.errors import BackendUnavailable
    from retrieval.settings import get_settings
    from retrieval.vectorstore import create_vector_store

    settings = get_settings()
    if settings.qdrant_url:
        typer.echo("error: GOVRAG_QDRANT_URL is set: a Qdrant server builds its indexes by itself", err=True)
        raise typer.Exit(2)
    store = create_vector_store(settings)
    report: list[dict[str, Any]] = []
    try:
        chosen = partition or store.partitions()
        for name in chosen:
            started = time.monotonic()
            typer.echo(f"optimizing {name} ({store.count(name)} chunks)...", err=True)
            changed = store.optimize(name)
            report.append(
                {"partition": name, "changed": changed, "seconds": round(time.monotonic() - started, 1)}
            )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except BackendUnavailable as exc:
        # The usual cause: the service holds the store (see `govrag serve`).
        typer.echo(f"error: {exc.detail} (is the service running? stop it first)", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    print_json({"optimized": report})


@key_app.command("new")
def key_new() -> None:
    """Print a new random API key and the sha256 to put in the principals file."""
    key = secrets.token_urlsafe(32)
    print_json({"api_key": key, "api_key_sha256": hash_api_key(key)})


@key_app.command("hash")
def key_hash() -> None:
    """Read a key on standard input and print its sha256 (the key is not echoed)."""
    key = sys.stdin.readline().strip()
    if not key:
        typer.echo("error: no key on standard input", err=True)
        raise typer.Exit(1)
    typer.echo(hash_api_key(key))

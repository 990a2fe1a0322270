"""The `govrag` command line: run the service or the demo, and call a running service as a steward or auditor.

The service process owns the embedded store, so steward and auditor commands go through its HTTP API.
"""

from __future__ import annotations

import json
import secrets
import sys
from typing import Annotated, Any

import httpx
import typer

from retrieval.identity import hash_api_key

app = typer.Typer(help="govrag: governed retrieval for enterprise RAG.", no_args_is_help=True)
corpus_app = typer.Typer(help="Register, approve, ingest and list corpora (steward).", no_args_is_help=True)
job_app = typer.Typer(help="Follow ingestion jobs (steward).", no_args_is_help=True)
audit_app = typer.Typer(help="Read the provenance log (auditor).", no_args_is_help=True)
db_app = typer.Typer(help="Manage the relational schema.", no_args_is_help=True)
key_app = typer.Typer(help="Make API keys and their hashes for the principals file.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
app.add_typer(job_app, name="job")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(key_app, name="key")

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


def _call(method: str, url: str, path: str, key: str, **kwargs: Any) -> Any:
    try:
        response = httpx.request(
            method, url.rstrip("/") + path, headers={"Authorization": f"Bearer {key}"}, timeout=60, **kwargs
        )
    except httpx.HTTPError as exc:
        typer.echo(f"error: cannot reach the service at {url}: {type(exc).__name__}", err=True)
        raise typer.Exit(2) from exc
    if response.is_error:
        try:
            body = response.json()
            message = f"{body.get('type')}: {body.get('detail')}"
        except ValueError:
            message = response.text[:200]
        typer.echo(f"error {response.status_code}: {message}", err=True)
        raise typer.Exit(1)
    return response.json()


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the service with the settings from GOVRAG_* environment variables."""
    import uvicorn

    from retrieval.api.app import create_app
    from retrieval.errors import ConfigurationError
    from retrieval.logs import configure_logging
    from retrieval.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        from retrieval.runtime import build_runtime

        runtime = build_runtime(settings)
    except ConfigurationError as exc:
        typer.echo(f"govrag cannot start: {exc.detail}", err=True)
        raise typer.Exit(3) from exc
    try:
        uvicorn.run(create_app(settings, runtime), host=host, port=port, log_config=None)
    finally:
        runtime.close()


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Ingest and print, then exit.")] = False,
) -> None:
    """Start the service on the embedded default with the sample corpora in examples/ ingested."""
    from retrieval.demo import run_demo

    run_demo(host=host, port=port, serve=not no_serve)


@corpus_app.command("register")
def corpus_register(
    name: Annotated[str, typer.Option(help="Unique corpus name.")],
    region: Annotated[str, typer.Option(help="Data region, e.g. eu or us.")],
    sensitivity: Annotated[str, typer.Option(help="public, internal, confidential or restricted.")],
    source_path: Annotated[
        str, typer.Option(help="Directory on the service's machine, under a source root.")
    ],
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: KeyOption = "",
    description: Annotated[str, typer.Option(help="Free text.")] = "",
    refresh_interval: Annotated[
        int | None, typer.Option(help="Re-scan the source every N seconds (at least 60).")
    ] = None,
) -> None:
    """Register a corpus (status: registered)."""
    body: dict[str, Any] = {
        "name": name,
        "region": region,
        "sensitivity": sensitivity,
        "source_path": source_path,
        "description": description,
    }
    if refresh_interval is not None:
        body["refresh_interval_seconds"] = refresh_interval
    _print(_call("POST", url, "/corpora", api_key, json=body))


@corpus_app.command("approve")
def corpus_approve(corpus_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = "") -> None:
    """Approve a corpus so that it may be ingested and searched."""
    _print(_call("POST", url, f"/corpora/{corpus_id}/approve", api_key))


@corpus_app.command("ingest")
def corpus_ingest(
    corpus_id: str,
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: KeyOption = "",
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar until it ends.")] = True,
) -> None:
    """Start an incremental ingestion job for an approved corpus (new, changed and removed documents)."""
    _start_job(url, api_key, f"/corpora/{corpus_id}/ingest", wait)


@app.command()
def reindex(
    corpus_id: str,
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: KeyOption = "",
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar until it ends.")] = True,
) -> None:
    """Re-embed a corpus's documents whose embedding model differs from the configured one."""
    _start_job(url, api_key, f"/corpora/{corpus_id}/reindex", wait)


@corpus_app.command("revoke")
def corpus_revoke(corpus_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = "") -> None:
    """Make a corpus unsearchable now and remove its chunks from the index."""
    _print(_call("POST", url, f"/corpora/{corpus_id}/revoke", api_key))


@corpus_app.command("delete-document")
def corpus_delete_document(
    corpus_id: str, document_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = ""
) -> None:
    """Remove one document from the index (later scans of the source leave it out)."""
    _print(_call("DELETE", url, f"/corpora/{corpus_id}/documents/{document_id}", api_key))


def _start_job(url: str, api_key: str, path: str, wait: bool) -> None:
    job = _call("POST", url, path, api_key)
    if not wait:
        _print(job)
        return
    final = _follow_job(url, api_key, job["job_id"])
    _print(final)
    _summary(final)
    if final["status"] != "succeeded":
        raise typer.Exit(1)


def _follow_job(url: str, api_key: str, job_id: str, poll_seconds: float = 0.5) -> Any:
    """Poll the job, with a progress bar of documents (rate and ETA once the total is known)."""
    import time

    from tqdm import tqdm

    with tqdm(desc="ingesting", unit="doc", file=sys.stderr, dynamic_ncols=True) as bar:
        while True:
            job = _call("GET", url, f"/jobs/{job_id}", api_key)
            if job["documents_total"] and bar.total != job["documents_total"]:
                bar.total = job["documents_total"]
                bar.refresh()
            bar.update(job["documents_seen"] - bar.n)
            bar.set_postfix(
                chunks=job["chunks_written"], skipped=job["documents_skipped"], failed=job["documents_failed"]
            )
            if job["status"] in ("succeeded", "failed"):
                return job
            time.sleep(poll_seconds)


def _summary(job: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"job {job['id']}: {job['status']}")
    for column in ("documents", "ingested", "skipped", "failed", "removed", "chunks written", "seconds"):
        table.add_column(column, justify="right")
    seconds = ""
    if job.get("started_at") and job.get("finished_at"):
        from datetime import datetime

        elapsed = datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
        seconds = f"{elapsed.total_seconds():.1f}"
    table.add_row(
        str(job["documents_total"]),
        str(job["documents_ingested"]),
        str(job["documents_skipped"]),
        str(job["documents_failed"]),
        str(job["documents_removed"]),
        str(job["chunks_written"]),
        seconds,
    )
    console = Console(stderr=True)
    console.print(table)
    for error in job["errors"][:20]:
        console.print(f"  failed: {error['source_uri']}: {error['reason']}", markup=False)
    if len(job["errors"]) > 20:
        console.print(f"  … and {len(job['errors']) - 20} more (govrag job show {job['id']})", markup=False)


@corpus_app.command("list")
def corpus_list(url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = "") -> None:
    """List corpora."""
    _print(_call("GET", url, "/corpora", api_key))


@corpus_app.command("documents")
def corpus_documents(
    corpus_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = ""
) -> None:
    """List a corpus's documents with their status and failure reasons."""
    _print(_call("GET", url, f"/corpora/{corpus_id}/documents", api_key))


@job_app.command("show")
def job_show(job_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = "") -> None:
    """Show an ingestion job."""
    _print(_call("GET", url, f"/jobs/{job_id}", api_key))


@audit_app.command("events")
def audit_events(
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: KeyOption = "",
    principal_id: Annotated[str | None, typer.Option(help="Only this caller's events.")] = None,
    document_id: Annotated[str | None, typer.Option(help="Only answers that used this document.")] = None,
    corpus_id: Annotated[str | None, typer.Option(help="Only answers that used this corpus.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time, inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 time, exclusive.")] = None,
    limit: Annotated[int, typer.Option(help="Events per page (1-1000).")] = 100,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
) -> None:
    """List provenance events, newest first."""
    params = {
        k: v
        for k, v in {
            "principal_id": principal_id,
            "document_id": document_id,
            "corpus_id": corpus_id,
            "since": since,
            "until": until,
            "limit": limit,
            "cursor": cursor,
        }.items()
        if v is not None
    }
    _print(_call("GET", url, "/audit/events", api_key, params=params))


@audit_app.command("event")
def audit_event(request_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = "") -> None:
    """Show the provenance event of one request."""
    _print(_call("GET", url, f"/audit/events/{request_id}", api_key))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Run the migrations against GOVRAG_DATABASE_URL (or the default SQLite file)."""
    from retrieval.db import upgrade
    from retrieval.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url, revision)
    typer.echo(f"schema at {revision}")


@key_app.command("new")
def key_new() -> None:
    """Print a new random API key and the sha256 to put in the principals file."""
    key = secrets.token_urlsafe(32)
    _print({"api_key": key, "api_key_sha256": hash_api_key(key)})


@key_app.command("hash")
def key_hash() -> None:
    """Read a key on standard input and print its sha256 (the key is not echoed)."""
    key = sys.stdin.readline().strip()
    if not key:
        typer.echo("error: no key on standard input", err=True)
        raise typer.Exit(1)
    typer.echo(hash_api_key(key))


def main() -> None:
    app()


if __name__ == "__main__":
    main()

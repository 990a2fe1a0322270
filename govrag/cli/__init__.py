"""The `govrag` command line: run the service or the demo, and call a running service as a steward or auditor.

The service process owns the embedded store, so steward and auditor commands go through its HTTP API.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer

from retrieval.identity import hash_api_key

app = typer.Typer(help="govrag: governed retrieval for enterprise RAG.", no_args_is_help=True)
corpus_app = typer.Typer(help="Register, approve, ingest and list corpora (steward).", no_args_is_help=True)
job_app = typer.Typer(help="Follow ingestion jobs (steward).", no_args_is_help=True)
audit_app = typer.Typer(help="Read the provenance log (auditor).", no_args_is_help=True)
db_app = typer.Typer(help="Manage the relational schema.", no_args_is_help=True)
key_app = typer.Typer(help="Make API keys and their hashes for the principals file.", no_args_is_help=True)
store_app = typer.Typer(help="Maintain the vector store, with the service stopped.", no_args_is_help=True)
eval_app = typer.Typer(
    help="Measure the models and the retrieval the service uses (PII masking, BEIR retrieval).",
    no_args_is_help=True,
)
app.add_typer(corpus_app, name="corpus")
app.add_typer(job_app, name="job")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(key_app, name="key")
app.add_typer(store_app, name="store")
app.add_typer(eval_app, name="eval")

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
        _call_error(response)
    return response.json()


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


@app.command()
def worker(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
) -> None:
    """`govrag serve --role worker`: run jobs and the refresh scheduler; serve /healthz, /readyz, /metrics."""
    serve(host=host, port=port, role="worker")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    role: Annotated[str, typer.Option(help="all | api (queues jobs only) | worker (runs jobs).")] = "all",
) -> None:
    """Run the service with the settings from GOVRAG_* environment variables."""
    import uvicorn

    from govrag.api.app import create_app
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
    typer.echo(f"govrag serving on http://{host}:{port} (console: http://{host}:{port}/console/)", err=True)
    try:
        # access_log=False: the app logs one JSON access line per request, with its id and no query string.
        uvicorn.run(
            app_for_role(settings, runtime, create_app),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
    finally:
        runtime.close()


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Ingest and print, then exit.")] = False,
) -> None:
    """Start the service on the embedded default with the sample corpora in examples/ ingested."""
    from govrag.demo import run_demo

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
    masking_strategy: Annotated[
        str, typer.Option(help="PII masking: replace, redact or pseudonymize (needs the pseudonym key).")
    ] = "replace",
    pii_allow: Annotated[
        list[str] | None,
        typer.Option(help="An entity type kept in the text, e.g. ORGANIZATION or LOCATION (repeatable)."),
    ] = None,
) -> None:
    """Register a corpus (status: registered)."""
    body: dict[str, Any] = {
        "name": name,
        "region": region,
        "sensitivity": sensitivity,
        "source_path": source_path,
        "description": description,
        "masking_strategy": masking_strategy,
        "pii_allow_list": pii_allow or [],
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


def _audit_filters(**filters: str | int | None) -> dict[str, str | int]:
    return {k: v for k, v in filters.items() if v is not None}


PrincipalFilter = Annotated[str | None, typer.Option(help="Only this caller's events.")]
EndUserFilter = Annotated[str | None, typer.Option(help="Only this end user's events.")]
DocumentFilter = Annotated[
    str | None, typer.Option(help="Only answers that used this document (and events that concerned it).")
]
CorpusFilter = Annotated[
    str | None, typer.Option(help="Only answers that used this corpus (and events that concerned it).")
]
RegionFilter = Annotated[str | None, typer.Option(help="Only answers that searched this region.")]
OutcomeFilter = Annotated[
    str | None, typer.Option(help="answered, empty, denied, error, succeeded, failed …")
]
SinceFilter = Annotated[str | None, typer.Option(help="ISO 8601 time, inclusive.")]
UntilFilter = Annotated[str | None, typer.Option(help="ISO 8601 time, exclusive.")]


@audit_app.command("events")
def audit_events(
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: KeyOption = "",
    principal_id: PrincipalFilter = None,
    end_user_id: EndUserFilter = None,
    document_id: DocumentFilter = None,
    corpus_id: CorpusFilter = None,
    region: RegionFilter = None,
    outcome: OutcomeFilter = None,
    action: Annotated[
        str | None, typer.Option(help="retrieve (the default), corpus.register, corpus.* or * for all.")
    ] = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    limit: Annotated[int, typer.Option(help="Events per page (1-1000).")] = 100,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
) -> None:
    """List provenance events, newest first."""
    params = _audit_filters(
        principal_id=principal_id,
        end_user_id=end_user_id,
        document_id=document_id,
        corpus_id=corpus_id,
        region=region,
        outcome=outcome,
        action=action,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    _print(_call("GET", url, "/audit/events", api_key, params=params))


@audit_app.command("event")
def audit_event(request_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = "") -> None:
    """Show the provenance event of one request."""
    _print(_call("GET", url, f"/audit/events/{request_id}", api_key))


@audit_app.command("usage")
def audit_usage(
    document_id: str,
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: KeyOption = "",
    limit: Annotated[int, typer.Option(help="Answers per page (1-1000).")] = 100,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
) -> None:
    """List the answers that used a document, newest first."""
    params = _audit_filters(limit=limit, cursor=cursor)
    _print(_call("GET", url, f"/audit/documents/{document_id}/usage", api_key, params=params))


@audit_app.command("replay")
def audit_replay(request_id: str, url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = "") -> None:
    """Hold an answer's chunks against today's catalog and policy."""
    _print(_call("GET", url, f"/audit/events/{request_id}/replay", api_key))


@audit_app.command("verify")
def audit_verify(url: UrlOption = "http://127.0.0.1:8000", api_key: KeyOption = "") -> None:
    """Check the log's hash chain and signed checkpoints; exit 1 if a link is broken."""
    report = _call("GET", url, "/audit/verify", api_key)
    _print(report)
    if not report.get("ok"):
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (replaced).")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: KeyOption = "",
    principal_id: PrincipalFilter = None,
    end_user_id: EndUserFilter = None,
    document_id: DocumentFilter = None,
    corpus_id: CorpusFilter = None,
    region: RegionFilter = None,
    outcome: OutcomeFilter = None,
    action: Annotated[
        str | None, typer.Option(help="An action, a prefix (corpus.*) or * (the default).")
    ] = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
) -> None:
    """Stream matching events (every action unless filtered), oldest first, into a file."""
    if fmt not in ("jsonl", "csv"):
        typer.echo("error: --format is jsonl or csv", err=True)
        raise typer.Exit(2)
    params = _audit_filters(
        format=fmt,
        principal_id=principal_id,
        end_user_id=end_user_id,
        document_id=document_id,
        corpus_id=corpus_id,
        region=region,
        outcome=outcome,
        action=action,
        since=since,
        until=until,
    )
    written = _download(url, "/audit/export", api_key, params, output)
    _print({"output": str(output), "format": fmt, "bytes": written})


def _download(url: str, path: str, key: str, params: dict[str, Any], output: Path) -> int:
    """Stream a response body into `output` (through a temporary file, so a failed export leaves none)."""
    partial = output.with_name(output.name + ".partial")
    written = 0
    try:
        with httpx.stream(
            "GET",
            url.rstrip("/") + path,
            params=params,
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(60, read=600),
        ) as response:
            if response.is_error:
                response.read()
                _call_error(response)
            with partial.open("wb") as handle:
                for block in response.iter_bytes():
                    handle.write(block)
                    written += len(block)
        partial.replace(output)
    except httpx.HTTPError as exc:
        typer.echo(f"error: export from {url} failed: {type(exc).__name__}", err=True)
        raise typer.Exit(2) from exc
    finally:
        partial.unlink(missing_ok=True)
    return written


def _call_error(response: httpx.Response) -> NoReturn:
    try:
        body = response.json()
        message = f"{body.get('type')}: {body.get('detail')}"
    except ValueError:
        message = response.text[:200]
    typer.echo(f"error {response.status_code}: {message}", err=True)
    raise typer.Exit(1)


@audit_app.command("prune")
def audit_prune(
    before: Annotated[
        str | None, typer.Option(help="ISO 8601 cut; default: now minus GOVRAG_AUDIT__RETENTION_DAYS.")
    ] = None,
) -> None:
    """Delete old events from GOVRAG_DATABASE_URL, leaving a signed anchor (an operator's command).

    Runs like `db upgrade`, against the database and keys in the settings; the service may keep running."""
    from datetime import UTC, datetime, timedelta

    from retrieval.audit import SqlAuditStore, load_keys
    from retrieval.db import Database
    from retrieval.errors import GovragError
    from retrieval.settings import get_settings

    settings = get_settings()
    if before is not None:
        try:
            cut = datetime.fromisoformat(before)
        except ValueError as exc:
            typer.echo(f"error: --before is not an ISO 8601 time: {before!r}", err=True)
            raise typer.Exit(2) from exc
        cut = cut if cut.tzinfo is not None else cut.replace(tzinfo=UTC)
    elif settings.audit.retention_days is not None:
        cut = datetime.now(UTC) - timedelta(days=settings.audit.retention_days)
    else:
        typer.echo(
            "error: no retention is configured (GOVRAG_AUDIT__RETENTION_DAYS); give --before", err=True
        )
        raise typer.Exit(2)
    db = Database(settings.resolved_database_url)
    try:
        store = SqlAuditStore(db, load_keys(settings), checkpoint_every=settings.audit.checkpoint_every)
        report = store.prune(cut, principal_id="operator:govrag-audit-prune")
    except GovragError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    _print({"pruned": report.pruned, "anchor_sequence": report.anchor_sequence, "before": cut.isoformat()})


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
    _print({"optimized": report})


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


@eval_app.command("pii")
def eval_pii(
    file: Annotated[
        Path,
        typer.Argument(
            help="Labelled sentences in the presidio-research format (a JSON list of {full_text, spans}).",
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Score the ingestion PII masker on labelled sentences: span precision, recall, F2, speed (JSON)."""
    from retrieval.pii.evaluation import evaluate_file

    try:
        report = evaluate_file(file)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _print(report)


@eval_app.command("retrieval")
def eval_retrieval(
    corpus: Annotated[
        Path, typer.Option(help="BEIR corpus.jsonl, or a BEIR data-set directory holding one.", exists=True)
    ],
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl.", exists=True, dir_okay=False)],
    qrels: Annotated[Path, typer.Option(help="BEIR qrels TSV (query-id, corpus-id, score).", exists=True)],
    limit_docs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Index at most N documents, the judged ones first (a quick, optimistic slice)."
        ),
    ] = None,
    mode: Annotated[
        list[str] | None,
        typer.Option("--mode", help="dense, sparse or hybrid; repeat for several (default: all)."),
    ] = None,
    no_baselines: Annotated[
        bool, typer.Option("--no-baselines", help="Skip the bare model and BM25 exact-search reference.")
    ] = False,
    work_dir: Annotated[
        Path | None, typer.Option(help="Keep the ingested data here (default: a temporary directory).")
    ] = None,
) -> None:
    """Ingest a BEIR data set through the pipeline and score /retrieve per mode (JSON: nDCG@10, Recall@10/100,
    MRR@10), beside the bare embedding model and BM25 searched exactly on the same documents."""
    from govrag.evaluation.run import EvaluationRequest, run_evaluation
    from govrag.logs import configure_logging
    from retrieval.domain import SearchMode
    from retrieval.settings import get_settings

    try:
        modes = tuple(SearchMode(m) for m in mode) if mode else tuple(SearchMode)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings = get_settings()
    configure_logging("WARNING")
    request = EvaluationRequest(
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        limit_docs=limit_docs,
        modes=modes,
        baselines=not no_baselines,
        work_dir=work_dir,
    )
    try:
        report = run_evaluation(request, settings)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _print(report)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

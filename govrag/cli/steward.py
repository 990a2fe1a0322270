"""Steward commands (`govrag corpus …`, `govrag job show`, `govrag reindex`) over the running service's API.

The service process owns the embedded store, so these go through HTTP, with the typed client.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from govrag_client import GovragClient, Job, JobAccepted

from govrag.cli._shared import DEFAULT_URL, KeyOption, UrlOption, print_json, service

corpus_app = typer.Typer(help="Register, approve, ingest and list corpora (steward).", no_args_is_help=True)
job_app = typer.Typer(help="Follow ingestion jobs (steward).", no_args_is_help=True)

WaitOption = Annotated[bool, typer.Option(help="Follow the job with a progress bar until it ends.")]
# A job's failures printed under its summary; the rest are in `govrag job show`.
ERRORS_SHOWN = 20


@corpus_app.command("register")
def corpus_register(
    name: Annotated[str, typer.Option(help="Unique corpus name.")],
    region: Annotated[str, typer.Option(help="Data region, e.g. eu or us.")],
    sensitivity: Annotated[str, typer.Option(help="public, internal, confidential or restricted.")],
    source_path: Annotated[
        str,
        typer.Option(help="Directory on the service's machine, or s3://bucket/prefix, under a source root."),
    ],
    url: UrlOption = DEFAULT_URL,
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
    with service(url, api_key) as govrag:
        corpus = govrag.register_corpus(
            name,
            region=region,
            sensitivity=sensitivity,
            source_path=source_path,
            description=description,
            refresh_interval_seconds=refresh_interval,
            masking_strategy=masking_strategy,
            pii_allow_list=pii_allow or [],
        )
    print_json(corpus.raw)


@corpus_app.command("approve")
def corpus_approve(corpus_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Approve a corpus so that it may be ingested and searched."""
    with service(url, api_key) as govrag:
        print_json(govrag.approve_corpus(corpus_id).raw)


@corpus_app.command("ingest")
def corpus_ingest(
    corpus_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "", wait: WaitOption = True
) -> None:
    """Start an incremental ingestion job for an approved corpus (new, changed and removed documents)."""
    with service(url, api_key) as govrag:
        _run_job(govrag, govrag.ingest_corpus(corpus_id), wait)


def reindex(
    corpus_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "", wait: WaitOption = True
) -> None:
    """Re-embed a corpus's documents whose embedding model differs from the configured one."""
    with service(url, api_key) as govrag:
        _run_job(govrag, govrag.reindex_corpus(corpus_id), wait)


@corpus_app.command("revoke")
def corpus_revoke(corpus_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Make a corpus unsearchable now and remove its chunks from the index."""
    with service(url, api_key) as govrag:
        print_json(govrag.revoke_corpus(corpus_id).raw)


@corpus_app.command("delete-document")
def corpus_delete_document(
    corpus_id: str, document_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = ""
) -> None:
    """Remove one document from the index (later scans of the source leave it out)."""
    with service(url, api_key) as govrag:
        print_json(govrag.delete_document(corpus_id, document_id).raw)


@corpus_app.command("list")
def corpus_list(url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """List corpora."""
    with service(url, api_key) as govrag:
        print_json([corpus.raw for corpus in govrag.corpora()])


@corpus_app.command("documents")
def corpus_documents(
    corpus_id: str,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = "",
    status: Annotated[str | None, typer.Option(help="Only this status (ingested, failed…).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Documents per page.")] = 100,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of an earlier page.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow the cursors.")] = False,
) -> None:
    """List a corpus's documents (a page, or --all) with their status and failure reasons."""
    with service(url, api_key) as govrag:
        if all_pages:
            every = govrag.iter_documents(corpus_id, status=status, page_size=limit)
            print_json({"documents": [document.raw for document in every], "next_cursor": None})
        else:
            print_json(govrag.documents(corpus_id, status=status, limit=limit, cursor=cursor).raw)


@job_app.command("show")
def job_show(job_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Show an ingestion job."""
    with service(url, api_key) as govrag:
        print_json(govrag.job(job_id).raw)


def _run_job(govrag: GovragClient, accepted: JobAccepted, wait: bool) -> None:
    if not wait:
        print_json(accepted.raw)
        return
    final = _follow_job(govrag, accepted.job_id)
    print_json(final.raw)
    _summary(final)
    if final.status != "succeeded":
        raise typer.Exit(1)


def _follow_job(govrag: GovragClient, job_id: str, poll_seconds: float = 0.5) -> Job:
    """Poll the job, with a progress bar of documents (rate and ETA once the total is known)."""
    from tqdm import tqdm

    with tqdm(desc="ingesting", unit="doc", file=sys.stderr, dynamic_ncols=True) as bar:
        while True:
            job = govrag.job(job_id)
            if job.documents_total and bar.total != job.documents_total:
                bar.total = job.documents_total
                bar.refresh()
            bar.update(job.documents_seen - bar.n)
            bar.set_postfix(
                chunks=job.chunks_written, skipped=job.documents_skipped, failed=job.documents_failed
            )
            if job.finished:
                return job
            time.sleep(poll_seconds)


def _summary(job: Job) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"job {job.id}: {job.status}")
    for column in ("documents", "ingested", "skipped", "failed", "removed", "chunks written", "seconds"):
        table.add_column(column, justify="right")
    seconds = ""
    if job.started_at is not None and job.finished_at is not None:
        seconds = f"{(job.finished_at - job.started_at).total_seconds():.1f}"
    table.add_row(
        str(job.documents_total),
        str(job.documents_ingested),
        str(job.documents_skipped),
        str(job.documents_failed),
        str(job.documents_removed),
        str(job.chunks_written),
        seconds,
    )
    console = Console(stderr=True)
    console.print(table)
    for error in job.errors[:ERRORS_SHOWN]:
        console.print(f"  failed: {error.source_uri}: {error.reason}", markup=False)
    if len(job.errors) > ERRORS_SHOWN:
        more = len(job.errors) - ERRORS_SHOWN
        console.print(f"  … and {more} more (govrag job show {job.id})", markup=False)

"""Auditor commands (`govrag audit …`): read, verify and export the provenance log through the service's API
with the typed client; `audit prune` is the operator's, run against the database itself. `govrag policy
simulate` (auditor, admin) asks the service what candidate policy files would change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from govrag_client import AuditFilter, TransportError

from govrag.cli._shared import DEFAULT_URL, KeyOption, UrlOption, fail, print_json, service

audit_app = typer.Typer(help="Read the provenance log (auditor).", no_args_is_help=True)

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
CursorOption = Annotated[str | None, typer.Option(help="next_cursor of the previous page.")]


@audit_app.command("events")
def audit_events(
    url: UrlOption = DEFAULT_URL,
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
    cursor: CursorOption = None,
) -> None:
    """List provenance events, newest first."""
    filters = AuditFilter(
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
    with service(url, api_key) as govrag:
        print_json(govrag.audit_events(filters, limit=limit, cursor=cursor).raw)


@audit_app.command("event")
def audit_event(request_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Show the provenance event of one request."""
    with service(url, api_key) as govrag:
        print_json(govrag.audit_event(request_id).raw)


@audit_app.command("usage")
def audit_usage(
    document_id: str,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = "",
    limit: Annotated[int, typer.Option(help="Answers per page (1-1000).")] = 100,
    cursor: CursorOption = None,
) -> None:
    """List the answers that used a document, newest first."""
    with service(url, api_key) as govrag:
        print_json(govrag.document_usage(document_id, limit=limit, cursor=cursor).raw)


@audit_app.command("replay")
def audit_replay(request_id: str, url: UrlOption = DEFAULT_URL, api_key: KeyOption = "") -> None:
    """Hold an answer's chunks against today's catalog and policy."""
    with service(url, api_key) as govrag:
        print_json(govrag.replay(request_id).raw)


@audit_app.command("verify")
def audit_verify(
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = "",
    export: Annotated[
        Path | None,
        typer.Option(
            help="Verify this signed export (`audit export --format signed`) offline instead.", exists=True
        ),
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            help="A trusted public key (PEM) to verify --export with; may be repeated.", exists=True
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(help="With --export: resume from the checkpoint recorded here, and record the new one."),
    ] = None,
) -> None:
    """Check the log's hash chain, signed checkpoints and signed head; exit 1 if a link is broken.

    With --export and --public-key it needs no service, database or secret: only the file and the key."""
    if export is None:
        with service(url, api_key) as govrag:
            report = govrag.verify_log()
        print_json(report.raw)
        if not report.ok:
            raise typer.Exit(1)
        return
    from dataclasses import asdict

    from retrieval.audit.offline import ExportFormatError, Resume, read_lines, verify_export
    from retrieval.audit.signing import load_public_pem

    if not public_key:
        raise fail("error: --export needs --public-key (the PEM from GET /audit/public-key)", 2)
    try:
        keys = [load_public_pem(path.read_bytes()) for path in public_key]
    except ValueError as exc:
        raise fail(f"error: a --public-key is not an Ed25519 public key in PEM: {exc}", 2) from exc
    resume = None
    if state is not None and state.exists():
        try:
            saved = json.loads(state.read_text(encoding="utf-8"))
            resume = Resume(int(saved["sequence"]), str(saved["hash"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise fail(f"error: the state file {state} is not one this command wrote", 2) from exc
    try:
        result = verify_export(read_lines(str(export)), keys, resume)
    except ExportFormatError as exc:
        raise fail(f"error: {exc}", 2) from exc
    print_json(asdict(result))
    if not result.ok:
        raise typer.Exit(1)
    if state is not None and result.last_signed_checkpoint > 0:
        passed = result.last_signed_checkpoint
        checkpoint = _checkpoint_hash(str(export), passed)
        if checkpoint is not None:
            state.write_text(json.dumps({"sequence": passed, "hash": checkpoint}), encoding="utf-8")


def _checkpoint_hash(export: str, sequence: int) -> str | None:
    with open(export, encoding="ascii", errors="replace") as handle:
        header = json.loads(handle.readline())
    found = [c["hash"] for c in header.get("checkpoints", ()) if c.get("sequence") == sequence]
    return str(found[0]) if found else None


@audit_app.command("rotate-key")
def audit_rotate_key(
    new_key_file: Annotated[Path, typer.Option(help="The new Ed25519 private key (PEM); created if absent.")],
) -> None:
    """Announce a new signing key in the log, signed by the current one and by the new one (an operator's
    command, like `prune`); then point GOVRAG_AUDIT__SIGNING_KEY_FILE at the new file on every host."""
    from retrieval.audit import SqlAuditStore, load_keys
    from retrieval.audit.signing import load_signing_key
    from retrieval.db import Database
    from retrieval.errors import GovragError
    from retrieval.settings import get_settings

    settings = get_settings()
    db = Database(settings.resolved_database_url)
    try:
        new = load_signing_key(new_key_file, create=True)
        store = SqlAuditStore(db, load_keys(settings), checkpoint_every=settings.audit.checkpoint_every)
        previous = store.signing_key_id
        event = store.rotate_key(new, principal_id="operator:govrag-audit-rotate-key")
    except GovragError as exc:
        raise fail(f"error: {exc.detail}", 1) from exc
    finally:
        db.dispose()
    print_json({"previous_key_id": previous, "key_id": new.key_id, "sequence": event.sequence})


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (replaced).")],
    fmt: Annotated[
        str, typer.Option("--format", help="jsonl, csv, or signed (the whole log, verifiable offline).")
    ] = "jsonl",
    url: UrlOption = DEFAULT_URL,
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
    if fmt not in ("jsonl", "csv", "signed"):
        raise fail("error: --format is jsonl, csv or signed", 2)
    filters = AuditFilter(
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
    with service(url, api_key) as govrag:
        try:
            result = govrag.export_audit(output, filters, format=cast(Literal["jsonl", "csv", "signed"], fmt))
        except TransportError as exc:
            raise fail(f"error: export from {url} failed: {exc.kind}", 2) from exc
    print_json({"output": str(result.path), "format": result.format, "bytes": result.bytes})


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
            raise fail(f"error: --before is not an ISO 8601 time: {before!r}", 2) from exc
        cut = cut if cut.tzinfo is not None else cut.replace(tzinfo=UTC)
    elif settings.audit.retention_days is not None:
        cut = datetime.now(UTC) - timedelta(days=settings.audit.retention_days)
    else:
        raise fail("error: no retention is configured (GOVRAG_AUDIT__RETENTION_DAYS); give --before", 2)
    db = Database(settings.resolved_database_url)
    try:
        store = SqlAuditStore(db, load_keys(settings), checkpoint_every=settings.audit.checkpoint_every)
        report = store.prune(cut, principal_id="operator:govrag-audit-prune")
    except GovragError as exc:
        raise fail(f"error: {exc.detail}", 1) from exc
    finally:
        db.dispose()
    print_json(
        {"pruned": report.pruned, "anchor_sequence": report.anchor_sequence, "before": cut.isoformat()}
    )


policy_app = typer.Typer(
    help="Ask what candidate policy files would change (auditor, admin).", no_args_is_help=True
)

MAX_POLICY_FILES = 16


@policy_app.command("simulate")
def policy_simulate(
    directory: Annotated[Path, typer.Argument(help="A folder of candidate *.cedar files.")],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = "",
    recent: Annotated[int, typer.Option(help="How many of the last answers to re-judge (0-1000).")] = 100,
) -> None:
    """Who would gain or lose access, and how many chunks of recent answers would be refused, if the *.cedar
    files in DIRECTORY replaced today's files of those names. Nothing is applied."""
    if not directory.is_dir():
        raise fail(f"error: {directory} is not a folder", 1)
    paths = sorted(directory.glob("*.cedar"))
    if not paths:
        raise fail(f"error: no *.cedar files in {directory}", 1)
    if len(paths) > MAX_POLICY_FILES:
        raise fail(f"error: more than {MAX_POLICY_FILES} *.cedar files in {directory}", 1)
    try:
        files = {path.name: path.read_text(encoding="utf-8") for path in paths}
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"error: cannot read the files in {directory}: {exc}", 1) from exc
    with service(url, api_key) as govrag:
        print_json(govrag.simulate_policy(files, recent=recent).raw)

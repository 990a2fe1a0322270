"""Auditor endpoints over the provenance log: query, usage, export, verify, replay, prune."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from govrag.api.deps import CurrentPrincipal, RuntimeDep
from govrag.api.schemas import (
    AuditEventOut,
    AuditPageOut,
    DocumentUsageOut,
    DocumentUseOut,
    PruneOut,
    PruneRequest,
    ReplayOut,
    VerifyOut,
    error_responses,
)
from retrieval.audit import ANSWER, RETRIEVE, AuditQuery, event_json
from retrieval.audit.export import MEDIA_TYPES
from retrieval.errors import InvalidRequest

EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "signed": "jsonl"}
router = APIRouter(tags=["audit"], responses=error_responses(400, 404, 409))


def _utc(value: datetime | None) -> datetime | None:
    # A time without a zone is read as UTC, the zone every event is stored in.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise InvalidRequest("cursor is not one this service issued")
    return int(cursor)


def _filters(default_action: str) -> Callable[..., AuditQuery]:
    def dependency(
        principal_id: Annotated[str | None, Query(max_length=200, description="The caller.")] = None,
        end_user_id: Annotated[str | None, Query(max_length=200, description="The chat app's user.")] = None,
        document_id: Annotated[
            str | None, Query(max_length=64, description="Answers that used it; events that concerned it.")
        ] = None,
        corpus_id: Annotated[
            str | None, Query(max_length=64, description="Answers that used it; events that concerned it.")
        ] = None,
        region: Annotated[
            str | None, Query(max_length=16, description="A region the answer searched.")
        ] = None,
        outcome: Annotated[str | None, Query(max_length=16)] = None,
        action: Annotated[
            str,
            Query(
                max_length=32,
                description="An action (`retrieve`, `corpus.register` …), a prefix (`corpus.*`) or `*`.",
            ),
        ] = default_action,
        since: Annotated[datetime | None, Query(description="Inclusive.")] = None,
        until: Annotated[datetime | None, Query(description="Exclusive.")] = None,
    ) -> AuditQuery:
        return AuditQuery(
            principal_id=principal_id,
            end_user_id=end_user_id,
            document_id=document_id,
            corpus_id=corpus_id,
            region=region,
            outcome=outcome,
            action=None if action == "*" else action,
            since=_utc(since),
            until=_utc(until),
        )

    return dependency


AnswerFilters = Annotated[AuditQuery, Depends(_filters(RETRIEVE))]
EveryFilter = Annotated[AuditQuery, Depends(_filters("*"))]


@router.get("/audit/events", response_model=AuditPageOut)
def list_events(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    filters: AnswerFilters,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> AuditPageOut:
    """Events newest first; answers (`action=retrieve`) unless another action is asked for."""
    query = AuditQuery(**{**asdict(filters), "limit": limit, "cursor": _cursor(cursor)})
    page = runtime.auditing.events(principal, query)
    return AuditPageOut(
        events=[AuditEventOut.model_validate(event_json(event)) for event in page.events],
        next_cursor=str(page.next_cursor) if page.next_cursor is not None else None,
    )


@router.get("/audit/events/{request_id}", response_model=AuditEventOut)
def get_event(request_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> AuditEventOut:
    """One event; a retrieval comes with its verified answers (`answers`), each with its checks."""
    event = runtime.auditing.event(principal, request_id)
    answers = runtime.auditing.answers(principal, request_id) if event.action == RETRIEVE else []
    return AuditEventOut.model_validate({**event_json(event), "answers": [event_json(a) for a in answers]})


@router.get("/audit/events/{request_id}/replay", response_model=ReplayOut)
def replay_event(request_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> ReplayOut:
    """Each chunk of the answer against today's catalog and policy: still there, changed, still allowed."""
    return ReplayOut.model_validate(asdict(runtime.auditing.replay(principal, request_id)))


@router.get("/audit/documents/{document_id}/usage", response_model=DocumentUsageOut)
def document_usage(
    document_id: str,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    use: Annotated[
        Literal["retrieved", "cited", "any"],
        Query(
            description="retrieved: returned by a retrieval; cited: cited by a verified answer; any: both."
        ),
    ] = "any",
) -> DocumentUsageOut:
    """The retrievals that returned a document and the verified answers that cited it, newest first."""
    query = AuditQuery(since=_utc(since), until=_utc(until), limit=limit, cursor=_cursor(cursor))
    actions = {"retrieved": (RETRIEVE,), "cited": (ANSWER,), "any": (RETRIEVE, ANSWER)}[use]
    page = runtime.auditing.document_usage(principal, document_id, query, actions)
    return DocumentUsageOut(
        document_id=document_id,
        uses=[DocumentUseOut.model_validate(_use(event_json(event))) for event in page.events],
        next_cursor=str(page.next_cursor) if page.next_cursor is not None else None,
    )


def _use(event: dict[str, Any]) -> dict[str, Any]:
    cited = event["action"] == ANSWER
    request_id = (event["details"] or {}).get("request_id") if cited else event["request_id"]
    return {**event, "use": "cited" if cited else "retrieved", "retrieval_request_id": request_id}


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
def export_events(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    filters: EveryFilter,
    format: Annotated[Literal["jsonl", "csv", "signed"], Query()] = "jsonl",
) -> StreamingResponse:
    """Every matching event (every action unless filtered), oldest first, streamed. `signed`: the whole log
    behind a header with the signed head, checkpoints and public keys (`govrag audit verify --export`)."""
    pieces = runtime.auditing.export(principal, filters, format)
    return StreamingResponse(
        pieces,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="govrag-audit.{EXTENSIONS[format]}"'},
    )


@router.get("/audit/verify", response_model=VerifyOut)
def verify(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    since_checkpoint: Annotated[
        int | None, Query(ge=1, description="Resume from this signed checkpoint, verified before.")
    ] = None,
) -> VerifyOut:
    """Walk the hash chain, the signed checkpoints and the signed head; the first broken link, if any."""
    return VerifyOut.model_validate(asdict(runtime.auditing.verify(principal, since_checkpoint)))


@router.get(
    "/audit/public-key",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/x-pem-file": {}}}},
)
def public_key(principal: CurrentPrincipal, runtime: RuntimeDep) -> PlainTextResponse:
    """The PEM of the Ed25519 key that signs the log now (for `govrag audit verify --export`)."""
    return PlainTextResponse(runtime.auditing.public_key(principal), media_type="application/x-pem-file")


@router.post("/audit/prune", response_model=PruneOut)
def prune(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    body: Annotated[PruneRequest | None, Body()] = None,
) -> PruneOut:
    """Delete events older than the cut, leaving a signed anchor so that the rest still verifies (admin)."""
    before = _utc(body.before) if body is not None else None
    return PruneOut.model_validate(asdict(runtime.auditing.prune(principal, before)))

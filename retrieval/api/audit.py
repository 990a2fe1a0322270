"""Auditor endpoints over the provenance log."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from retrieval.api.deps import CurrentPrincipal, RuntimeDep
from retrieval.api.schemas import AuditEventOut, AuditPageOut, error_responses
from retrieval.audit import AuditQuery
from retrieval.errors import InvalidRequest

router = APIRouter(tags=["audit"], responses=error_responses(400, 404))


def _utc(value: datetime | None) -> datetime | None:
    # A time without a zone is read as UTC, the zone every event is stored in.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get("/audit/events", response_model=AuditPageOut)
def list_events(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    principal_id: Annotated[str | None, Query(max_length=200)] = None,
    document_id: Annotated[str | None, Query(max_length=64)] = None,
    corpus_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> AuditPageOut:
    if cursor is not None and not cursor.isdigit():
        raise InvalidRequest("cursor is not one this service issued")
    page = runtime.auditing.events(
        principal,
        AuditQuery(
            principal_id=principal_id,
            document_id=document_id,
            corpus_id=corpus_id,
            since=_utc(since),
            until=_utc(until),
            limit=limit,
            cursor=int(cursor) if cursor is not None else None,
        ),
    )
    return AuditPageOut(
        events=[AuditEventOut.model_validate(asdict(event)) for event in page.events],
        next_cursor=str(page.next_cursor) if page.next_cursor is not None else None,
    )


@router.get("/audit/events/{request_id}", response_model=AuditEventOut)
def get_event(request_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> AuditEventOut:
    return AuditEventOut.model_validate(asdict(runtime.auditing.event(principal, request_id)))

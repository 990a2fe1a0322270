"""How events map to rows: the audit tables, row values, the auditor's filters, and loading events back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from typing import cast as typing_cast

from sqlalchemy import ColumnElement, Connection, Row, String, Table, exists, select, union_all
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from retrieval.audit.events import (
    ACTIONS,
    CHUNK_ACTIONS,
    AuditChunk,
    AuditEvent,
    AuditQuery,
    PolicyDecision,
    PrincipalSnapshot,
)
from retrieval.domain import ChunkWhy
from retrieval.models import (
    AuditCheckpointRow,
    AuditChunkRow,
    AuditEventRow,
    AuditHeadRow,
    AuditPersonalRow,
    AuditRegionRow,
    AuditSigningKeyRow,
)

EVENTS = typing_cast(Table, AuditEventRow.__table__)
CHUNKS = typing_cast(Table, AuditChunkRow.__table__)
REGIONS = typing_cast(Table, AuditRegionRow.__table__)
CHECKPOINTS = typing_cast(Table, AuditCheckpointRow.__table__)
HEAD = typing_cast(Table, AuditHeadRow.__table__)
SIGNING_KEYS = typing_cast(Table, AuditSigningKeyRow.__table__)
PERSONAL = typing_cast(Table, AuditPersonalRow.__table__)


def event_values(event: AuditEvent) -> dict[str, Any]:
    principal = event.principal
    return {
        "sequence": event.sequence,
        "request_id": event.request_id,
        "occurred_at": event.occurred_at,
        "action": event.action,
        "principal_id": event.principal_id,
        "end_user_id": event.end_user_id,
        "principal": None
        if principal is None
        else {
            "roles": list(principal.roles),
            "clearance": principal.clearance,
            "regions": list(principal.regions),
            "groups": list(principal.groups),
        },
        "query_masked": event.query_masked,
        "query_hmac": event.query_hmac,
        "top_k": event.top_k,
        "policy_version": event.policy_version,
        "decisions": [
            {"corpus_id": d.corpus_id, "allowed": d.allowed, "policy_ids": list(d.policy_ids)}
            for d in event.decisions
        ],
        "allowed_corpora": list(event.allowed_corpora),
        "partitions": list(event.partitions),
        "unavailable": list(event.unavailable),
        "outcome": event.outcome,
        "latency_ms": event.latency_ms,
        "corpus_id": event.corpus_id,
        "document_id": event.document_id,
        "details": event.details,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def chunk_values(chunk: AuditChunk) -> dict[str, Any]:
    return {
        "rank": chunk.rank,
        "score": chunk.score,
        "chunk_id": chunk.chunk_id,
        "document_id": chunk.document_id,
        "document_version": chunk.document_version,
        "corpus_id": chunk.corpus_id,
        "content_sha256": chunk.content_sha256,
        "embedding_model": chunk.embedding_model,
        "why": chunk.why.as_json() if chunk.why is not None else None,
        "pii_counts": chunk.pii_counts,
    }


def _action_scope(action: str | None, actions: tuple[str, ...] = ()) -> tuple[bool, bool]:
    """Whether an action filter can match events with chunks (retrievals and answers), and whether it can
    match governance events."""
    if actions:
        return any(a in CHUNK_ACTIONS for a in actions), any(a not in CHUNK_ACTIONS for a in actions)
    if action is None or action == "*":
        return True, True
    if action.endswith(".*"):
        return any(a.startswith(action[:-1]) for a in CHUNK_ACTIONS), True
    return action in CHUNK_ACTIONS, action not in CHUNK_ACTIONS


def filters(query: AuditQuery, dialect: str = "", subject: str | None = None) -> list[ColumnElement[bool]]:
    """The query's filters as SQL conditions on `audit_events`, for pages ordered by id.

    Documents and corpora are `id IN (subquery)` semi-joins, which the planners drive from the side table's
    `(value, event_id)` index when the value is rare; "an answer used it, or a governance event concerned it"
    is one `IN` over a `UNION ALL`, not an `OR` (which would force a scan of the whole log). Regions, few and
    common, are `EXISTS` probes of the region key (SQLite would otherwise build the list of every event of
    the region). On SQLite a time range makes the action and outcome terms unindexable (`+action`): with a
    million events its planner would otherwise walk the (action, id) index in id order past the whole range
    instead of taking the time index.

    `subject`: the keyed digest of `query.end_user_id` (`AuditKeys.subject_digest`). Events that commit their
    end user (from revision 0011) are found through their kept personal values, which erasure deletes; older
    ones through the plain column.
    """
    e = EVENTS.c
    action: ColumnElement[str] = e.action
    outcome: ColumnElement[str] = e.outcome
    if dialect == "sqlite" and (query.since is not None or query.until is not None):
        action, outcome = _unindexed(action), _unindexed(outcome)
    conditions: list[ColumnElement[bool]] = []
    for column, value in ((e.principal_id, query.principal_id), (outcome, query.outcome)):
        if value is not None:
            conditions.append(column == value)
    if query.end_user_id is not None:
        if subject is None:
            conditions.append(e.end_user_id == query.end_user_id)
        else:
            committed = select(PERSONAL.c.event_id).where(PERSONAL.c.subject == subject)
            legacy = select(e.id).where(e.end_user_id == query.end_user_id)
            conditions.append(e.id.in_(union_all(legacy, committed)))
    if query.action is not None and query.action != "*":
        if query.action.endswith(".*"):
            # The known actions with the prefix, not LIKE: that uses the index under any collation.
            prefix = query.action[:-1]
            conditions.append(action.in_([a for a in ACTIONS if a.startswith(prefix)]))
        else:
            conditions.append(action == query.action)
    if query.actions:
        conditions.append(action.in_(query.actions))
    if query.since is not None:
        conditions.append(e.occurred_at >= query.since)
    if query.until is not None:
        conditions.append(e.occurred_at < query.until)
    if query.region is not None:
        conditions.append(exists().where(REGIONS.c.event_id == e.id, REGIONS.c.region == query.region))
    answers, governance = _action_scope(query.action, query.actions)
    for chunk_column, subject_column, value in (
        (CHUNKS.c.document_id, e.document_id, query.document_id),
        (CHUNKS.c.corpus_id, e.corpus_id, query.corpus_id),
    ):
        if value is None:
            continue
        used = select(CHUNKS.c.event_id).where(chunk_column == value)
        if answers and governance:
            concerned = select(e.id).where(subject_column == value)
            conditions.append(e.id.in_(union_all(used, concerned)))
        elif answers:
            conditions.append(e.id.in_(used))
        else:
            conditions.append(subject_column == value)
    return conditions


def _unindexed(column: ColumnElement[str]) -> ColumnElement[str]:
    return UnaryExpression(column, operator=custom_op("+"), type_=String())


# The columns an event is read with, in the order `_to_event` unpacks them (tuples: attribute access on
# SQLAlchemy rows would cost more than the rest of the read).
EVENT_COLUMNS = [
    EVENTS.c[name]
    for name in (
        "id", "sequence", "request_id", "occurred_at", "action", "principal_id", "end_user_id", "principal",
        "query_masked", "query_hmac", "top_k", "policy_version", "decisions", "allowed_corpora", "partitions",
        "unavailable", "outcome", "latency_ms", "corpus_id", "document_id", "details", "prev_hash", "hash",
    )
]  # fmt: skip
CHUNK_COLUMNS = [
    CHUNKS.c[name]
    for name in (
        "event_id", "rank", "score", "chunk_id", "document_id", "document_version", "corpus_id",
        "content_sha256", "embedding_model", "why", "pii_counts",
    )
]  # fmt: skip


def load(connection: Connection, rows: Sequence[Row[Any]]) -> list[AuditEvent]:
    """Events from their rows (selected as `EVENT_COLUMNS`, any further columns ignored), with their chunks
    and regions: two more queries for the whole batch."""
    if not rows:
        return []
    ids = [row[0] for row in rows]
    chunks: dict[int, list[AuditChunk]] = defaultdict(list)
    for event_id, *fields in connection.execute(select(*CHUNK_COLUMNS).where(CHUNKS.c.event_id.in_(ids))):
        # The columns in `AuditChunk`'s field order; `why` and `pii_counts` are kept as JSON.
        *identity, why, pii_counts = fields
        chunk = replace(AuditChunk(*identity), pii_counts=pii_counts)
        chunks[event_id].append(replace(chunk, why=ChunkWhy.from_json(why)) if why is not None else chunk)
    regions: dict[int, list[str]] = defaultdict(list)
    for event_id, region in connection.execute(
        select(REGIONS.c.event_id, REGIONS.c.region).where(REGIONS.c.event_id.in_(ids))
    ):
        regions[event_id].append(region)
    return [_to_event(row, chunks.get(row[0], []), regions.get(row[0], [])) for row in rows]


def _to_event(row: Row[Any], chunks: list[AuditChunk], regions: list[str]) -> AuditEvent:
    (
        _event_id, sequence, request_id, occurred_at, action, principal_id, end_user_id, principal,
        query_masked, query_hmac, top_k, policy_version, decisions, allowed_corpora, partitions,
        unavailable, outcome, latency_ms, corpus_id, document_id, details, prev_hash, hash_, *_,
    ) = typing_cast(tuple[Any, ...], row)  # fmt: skip
    return AuditEvent(
        request_id=request_id,
        occurred_at=occurred_at,
        action=action,
        principal_id=principal_id,
        policy_version=policy_version,
        outcome=outcome,
        end_user_id=end_user_id,
        principal=None
        if principal is None
        else PrincipalSnapshot(
            roles=tuple(principal.get("roles", ())),
            clearance=str(principal.get("clearance", "public")),
            regions=tuple(principal.get("regions", ())),
            groups=tuple(principal.get("groups", ())),
        ),
        query_masked=query_masked,
        query_hmac=query_hmac,
        top_k=top_k,
        decisions=tuple(
            PolicyDecision(str(d["corpus_id"]), bool(d["allowed"]), tuple(d.get("policy_ids", ())))
            for d in decisions or ()
        ),
        allowed_corpora=tuple(allowed_corpora or ()),
        partitions=tuple(partitions or ()),
        regions=tuple(sorted(regions)),
        unavailable=tuple(unavailable or ()),
        latency_ms=latency_ms,
        chunks=tuple(sorted(chunks, key=lambda c: c.rank)),
        corpus_id=corpus_id,
        document_id=document_id,
        details=details,
        sequence=sequence,
        prev_hash=prev_hash,
        hash=hash_,
    )

"""The export's read paths: events as JSON-ready records without building `AuditEvent`s, and on PostgreSQL
each event's JSON text built by the server itself."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from typing import cast as typing_cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    String,
    Text,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from retrieval.audit.rows import CHUNK_COLUMNS, CHUNKS, EVENT_COLUMNS, EVENTS, REGIONS

# The export's columns: as `EVENT_COLUMNS`, but the time as the driver gives it (SQLite's text is turned into
# ISO 8601 without the per-row parsing of SQLAlchemy's SQLite DateTime type).
RECORD_COLUMNS = [
    type_coerce(EVENTS.c.occurred_at, String) if column.name == "occurred_at" else column
    for column in EVENT_COLUMNS
]


def load_records(connection: Connection, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """Rows (selected as `RECORD_COLUMNS`) straight to JSON-ready dicts of the shape of
    `export.event_json`, without building `AuditEvent`s: the export's path, several times faster."""
    if not rows:
        return []
    ids = [row[0] for row in rows]
    chunks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event_id, rank, score, chunk_id, document_id, version, corpus_id, sha, model in connection.execute(
        select(*CHUNK_COLUMNS).where(CHUNKS.c.event_id.in_(ids)).order_by(CHUNKS.c.event_id, CHUNKS.c.rank)
    ):
        chunks[event_id].append(
            {
                "rank": rank,
                "score": score,
                "chunk_id": chunk_id,
                "document_id": document_id,
                "document_version": version,
                "corpus_id": corpus_id,
                "content_sha256": sha,
                "embedding_model": model,
            }
        )
    regions: dict[int, list[str]] = defaultdict(list)
    for event_id, region in connection.execute(
        select(REGIONS.c.event_id, REGIONS.c.region)
        .where(REGIONS.c.event_id.in_(ids))
        .order_by(REGIONS.c.event_id, REGIONS.c.region)
    ):
        regions[event_id].append(region)
    records = []
    for (
        event_id, sequence, request_id, occurred_at, action, principal_id, end_user_id, principal,
        query_masked, query_hmac, top_k, policy_version, decisions, allowed_corpora, partitions,
        unavailable, outcome, latency_ms, corpus_id, document_id, details, prev_hash, hash_,
    ) in typing_cast(Sequence[tuple[Any, ...]], rows):  # fmt: skip
        records.append(
            {
                "sequence": sequence,
                "request_id": request_id,
                "occurred_at": _iso(occurred_at),
                "action": action,
                "principal_id": principal_id,
                "end_user_id": end_user_id,
                "principal": principal,
                "policy_version": policy_version,
                "outcome": outcome,
                "query_masked": query_masked,
                "query_hmac": query_hmac,
                "top_k": top_k,
                "decisions": decisions or [],
                "allowed_corpora": allowed_corpora or [],
                "partitions": partitions or [],
                "regions": regions.get(event_id, []),
                "unavailable": unavailable or [],
                "latency_ms": latency_ms,
                "chunks": chunks.get(event_id, []),
                "corpus_id": corpus_id,
                "document_id": document_id,
                "details": details,
                "prev_hash": prev_hash,
                "hash": hash_,
            }
        )
    return records


def _iso(value: datetime | str) -> str:
    if isinstance(value, datetime):  # PostgreSQL's driver gives aware datetimes
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    # SQLite holds UTC as "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's storage format, microseconds always).
    return f"{value[:10]}T{value[11:26]}+00:00"


def _json_object(*pairs: tuple[str, ColumnElement[Any]]) -> ColumnElement[Any]:
    # Keys as SQL literals: json_build_object cannot type bind parameters. They are constants, never input.
    return func.json_build_object(
        *(part for key, value in pairs for part in (literal_column(f"'{key}'"), value))
    )


def _pg_json_line() -> ColumnElement[str]:
    """PostgreSQL builds each event's `event_json` text itself (the JSONL export's path there): Python then
    only passes text on. Same values as `load_records` (floats print shortest-exact from PostgreSQL 12 on)."""
    e, c = EVENTS.c, CHUNKS.c
    chunks = (
        select(
            func.json_agg(
                aggregate_order_by(
                    _json_object(
                        ("rank", c.rank),
                        ("score", c.score),
                        ("chunk_id", c.chunk_id),
                        ("document_id", c.document_id),
                        ("document_version", c.document_version),
                        ("corpus_id", c.corpus_id),
                        ("content_sha256", c.content_sha256),
                        ("embedding_model", c.embedding_model),
                    ),
                    c.rank,
                )
            )
        )
        .where(c.event_id == e.id)
        .scalar_subquery()
    )
    regions = (
        select(func.json_agg(aggregate_order_by(REGIONS.c.region, REGIONS.c.region)))
        .where(REGIONS.c.event_id == e.id)
        .scalar_subquery()
    )
    empty: ColumnElement[Any] = literal_column("'[]'::json")
    utc: ColumnElement[str] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'""")
    line = _json_object(
        ("sequence", e.sequence),
        ("request_id", e.request_id),
        ("occurred_at", func.to_char(func.timezone(literal_column("'UTC'"), e.occurred_at), utc)),
        ("action", e.action),
        ("principal_id", e.principal_id),
        ("end_user_id", e.end_user_id),
        ("principal", e.principal),
        ("policy_version", e.policy_version),
        ("outcome", e.outcome),
        ("query_masked", e.query_masked),
        ("query_hmac", e.query_hmac),
        ("top_k", e.top_k),
        ("decisions", e.decisions),
        ("allowed_corpora", e.allowed_corpora),
        ("partitions", e.partitions),
        ("regions", func.coalesce(regions, empty)),
        ("unavailable", e.unavailable),
        ("latency_ms", e.latency_ms),
        ("chunks", func.coalesce(chunks, empty)),
        ("corpus_id", e.corpus_id),
        ("document_id", e.document_id),
        ("details", e.details),
        ("prev_hash", e.prev_hash),
        ("hash", e.hash),
    )
    return cast(line, Text)


# The JSONL export's columns on PostgreSQL: the id (the keyset) and the line.
PG_JSON_LINE_COLUMNS: list[ColumnElement[Any]] = [EVENTS.c.id, _pg_json_line()]

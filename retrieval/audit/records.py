"""The export's read paths: each event's JSON text spliced from the canonical text the store kept, or its
JSON-ready record from one parse of it; built from the columns for events older than that text.

The kept text is the canonical object `chain.canonical` hashed (sorted keys, no spaces, ASCII escapes); an
export line is that object with `prev_hash` and `hash` added before its closing brace, so no event is parsed
or encoded again on the way out. `verify` holds the text to the columns, so both say the same.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from typing import cast as typing_cast

from sqlalchemy import ColumnElement, Connection, Row, String, select, type_coerce

from retrieval.audit.rows import CHUNK_COLUMNS, CHUNKS, EVENT_COLUMNS, EVENTS, REGIONS

# The export's columns: as `EVENT_COLUMNS`, but the time as the driver gives it (SQLite's text is turned into
# ISO 8601 without the per-row parsing of SQLAlchemy's SQLite DateTime type).
RECORD_COLUMNS = [
    type_coerce(EVENTS.c.occurred_at, String) if column.name == "occurred_at" else column
    for column in EVENT_COLUMNS
]


def side_rows(
    connection: Connection, events: Callable[[ColumnElement[int]], ColumnElement[bool]]
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[str]]]:
    """The chunks (as the canonical form has them) and regions of the events `events` selects by id."""
    chunks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    chunk_rows = connection.execute(
        select(*CHUNK_COLUMNS).where(events(CHUNKS.c.event_id)).order_by(CHUNKS.c.event_id, CHUNKS.c.rank)
    )
    for event_id, rank, score, chunk_id, document_id, version, corpus_id, sha, model, why, pii in chunk_rows:
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
                # As in the canonical form: only where the chunk has one (`chain.chunk_content`).
                **({"why": why} if why is not None else {}),
                **({"pii_counts": dict(sorted(pii.items()))} if pii is not None else {}),
            }
        )
    regions: dict[int, list[str]] = defaultdict(list)
    for event_id, region in connection.execute(
        select(REGIONS.c.event_id, REGIONS.c.region)
        .where(events(REGIONS.c.event_id))
        .order_by(REGIONS.c.event_id, REGIONS.c.region)
    ):
        regions[event_id].append(region)
    return chunks, regions


def record_json(
    columns: Mapping[str, Any], regions: list[str], chunks: list[dict[str, Any]]
) -> dict[str, Any]:
    """An event's canonical object (what its hash covers) from its side rows and its columns, by column name
    (the JSON columns parsed, the time as the driver gives it; other columns ignored)."""
    return {
        "sequence": columns["sequence"],
        "request_id": columns["request_id"],
        "occurred_at": _iso(columns["occurred_at"]),
        "action": columns["action"],
        "principal_id": columns["principal_id"],
        "end_user_id": columns["end_user_id"],
        "principal": columns["principal"],
        "policy_version": columns["policy_version"],
        "outcome": columns["outcome"],
        "query_masked": columns["query_masked"],
        "query_hmac": columns["query_hmac"],
        "top_k": columns["top_k"],
        "decisions": columns["decisions"] or [],
        "allowed_corpora": columns["allowed_corpora"] or [],
        "partitions": columns["partitions"] or [],
        "regions": regions,
        "unavailable": columns["unavailable"] or [],
        "latency_ms": columns["latency_ms"],
        "chunks": chunks,
        "corpus_id": columns["corpus_id"],
        "document_id": columns["document_id"],
        "details": columns["details"],
    }


_RECORD_NAMES = tuple(column.name for column in EVENT_COLUMNS)


def load_records(connection: Connection, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """Rows (selected as `RECORD_COLUMNS`) straight to JSON-ready dicts of the shape of
    `export.event_json`, without building `AuditEvent`s: the export's path, several times faster."""
    if not rows:
        return []
    ids = [row[0] for row in rows]
    chunks, regions = side_rows(connection, lambda event_id: event_id.in_(ids))
    records = []
    for row in rows:
        columns = dict(zip(_RECORD_NAMES, row, strict=True))
        event_id = columns["id"]
        records.append(
            {
                **record_json(columns, regions.get(event_id, []), chunks.get(event_id, [])),
                "prev_hash": columns["prev_hash"],
                "hash": columns["hash"],
            }
        )
    return records


def _iso(value: datetime | str) -> str:
    if isinstance(value, datetime):  # PostgreSQL's driver gives aware datetimes
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    # SQLite holds UTC as "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's storage format, microseconds always).
    if len(value) == 26:
        return f"{value[:10]}T{value[11:26]}+00:00"
    # Another form (a row written outside SQLAlchemy): read as SQLAlchemy does, the wall time taken as UTC.
    found = _SQLITE_TIME.match(value)
    if found is None:
        raise ValueError(f"not a stored time: {value!r}")
    stamp = datetime.fromisoformat(f"{found[1]}T{found[2]}{found[3] or ''}").replace(tzinfo=UTC)
    return stamp.isoformat(timespec="microseconds")


_SQLITE_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d{6})?")


# The export's columns where the store kept each event's canonical text: the id (the keyset) and the text
# with the two hashes it leaves out.
STORED_COLUMNS: list[ColumnElement[Any]] = [
    EVENTS.c.id,
    EVENTS.c.canonical,
    EVENTS.c.prev_hash,
    EVENTS.c.hash,
]


def load_lines(connection: Connection, rows: Sequence[Row[Any]]) -> list[str]:
    """Rows (selected as `STORED_COLUMNS`) to each event's JSON text, the values of `export.event_json`:
    the canonical text (sorted keys, no spaces, ASCII escapes), then `prev_hash` and `hash`."""
    legacy = _legacy_records(connection, rows)
    lines = []
    for event_id, text, prev_hash, hash_ in typing_cast(Sequence[tuple[int, str | None, str, str]], rows):
        if text is None:  # the same shape: the canonical form, here of the values read from the columns
            record = legacy[event_id]
            text = json.dumps(
                {k: v for k, v in record.items() if k not in ("prev_hash", "hash")},
                sort_keys=True,
                separators=(",", ":"),
            )
        # The hashes go through the encoder too: a hand-edited row must not break the line's JSON.
        lines.append(f'{text[:-1]},"prev_hash":{_string(prev_hash)},"hash":{_string(hash_)}}}')
    return lines


def load_stored_records(connection: Connection, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """Rows (selected as `STORED_COLUMNS`) to `export.event_json` values: one parse of each kept text."""
    legacy = _legacy_records(connection, rows)
    records = []
    for event_id, text, prev_hash, hash_ in typing_cast(Sequence[tuple[int, str | None, str, str]], rows):
        if text is None:
            records.append(legacy[event_id])
        else:
            record = json.loads(text)
            record["prev_hash"] = prev_hash
            record["hash"] = hash_
            records.append(record)
    return records


def _legacy_records(connection: Connection, rows: Sequence[Row[Any]]) -> dict[int, dict[str, Any]]:
    """The records of the rows without a kept text (events written before it was kept), from the columns."""
    stored = typing_cast(Sequence[tuple[int, str | None]], rows)
    ids = [event_id for event_id, text, *_ in stored if text is None]
    if not ids:
        return {}
    found = connection.execute(select(*RECORD_COLUMNS).where(EVENTS.c.id.in_(ids))).all()
    return {row[0]: record for row, record in zip(found, load_records(connection, found), strict=True)}


_string = json.encoder.encode_basestring_ascii

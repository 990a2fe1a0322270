"""Export: events as JSON Lines or CSV text, produced piece by piece from an iterator of events.

Nothing here holds more than one piece (about 64 KiB) of output: the store reads in keyset batches and these
generators turn each event into text as it comes, so an export of any size streams in constant memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from retrieval.audit.chain import content
from retrieval.audit.events import AuditEvent, AuditQuery, AuditStore

ExportFormat = Literal["jsonl", "csv"]
MEDIA_TYPES: dict[str, str] = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
PIECE_BYTES = 64 * 1024

CSV_COLUMNS = (
    "sequence",
    "request_id",
    "occurred_at",
    "action",
    "outcome",
    "principal_id",
    "end_user_id",
    "policy_version",
    "query_masked",
    "query_hmac",
    "top_k",
    "latency_ms",
    "allowed_corpora",
    "partitions",
    "regions",
    "unavailable",
    "corpus_id",
    "document_id",
    "document_ids",
    "chunks",
    "decisions",
    "principal",
    "details",
    "prev_hash",
    "hash",
)
# Text a spreadsheet would run as a formula; such cells get a leading apostrophe (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def event_json(event: AuditEvent) -> dict[str, Any]:
    """The event as plain JSON values (the shape of `GET /audit/events/{request_id}`), built directly: this
    runs once per exported event, where `dataclasses.asdict` would cost several times the rest."""
    return {**content(event), "prev_hash": event.prev_hash, "hash": event.hash}


def export(store: AuditStore, query: AuditQuery, fmt: ExportFormat) -> Iterator[str]:
    """The matching events, oldest first, as text pieces of JSON Lines or CSV."""
    if fmt == "jsonl":
        return jsonl(store.iter_json(query))
    if fmt == "csv":
        return csv_text(store.iter_records(query))
    raise ValueError(f"unknown export format {fmt!r}")


def jsonl(lines: Iterable[str]) -> Iterator[str]:
    """JSON Lines pieces from events' JSON texts (`AuditStore.iter_json`)."""
    return _pieces(line + "\n" for line in lines)


def csv_text(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV pieces (a header, then one row per event) from `event_json` values (`AuditStore.iter_records`)."""
    return _csv(records)


def _csv(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        writer.writerow(_csv_row(record))
        if buffer.tell() >= PIECE_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _csv_row(body: dict[str, Any]) -> list[Any]:
    def compact(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    row: list[Any] = []
    for column in CSV_COLUMNS:
        if column == "document_ids":
            value: Any = " ".join(dict.fromkeys(c["document_id"] for c in body["chunks"]))
        elif column in ("allowed_corpora", "partitions", "regions", "unavailable"):
            value = " ".join(body[column])
        elif column in ("chunks", "decisions", "principal", "details"):
            value = "" if body[column] is None else compact(body[column])
        else:
            value = body[column]
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            value = "'" + value
        row.append("" if value is None else value)
    return row


def _pieces(lines: Iterable[str]) -> Iterator[str]:
    piece: list[str] = []
    size = 0
    for line in lines:
        piece.append(line)
        size += len(line)
        if size >= PIECE_BYTES:
            yield "".join(piece)
            piece, size = [], 0
    if piece:
        yield "".join(piece)

"""Export: events as JSON Lines or CSV text, produced piece by piece from an iterator of events.

Nothing here holds more than one piece (about 64 KiB) of output: the store reads in keyset batches and these
generators turn each event into text as it comes, so an export of any size streams in constant memory.
"""

from __future__ import annotations

import itertools
import json
import json.scanner
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, cast

from retrieval.audit.chain import content
from retrieval.audit.events import AuditEvent, AuditQuery, AuditStore
from retrieval.audit.offline import header_line
from retrieval.errors import InvalidRequest

ExportFormat = Literal["jsonl", "csv", "signed"]
MEDIA_TYPES: dict[str, str] = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "signed": "application/x-ndjson",
}
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
        return csv_from_json(store.iter_json(query))
    if fmt == "signed":
        return signed(store, query)
    raise ValueError(f"unknown export format {fmt!r}")


def signed(store: AuditStore, query: AuditQuery) -> Iterator[str]:
    """The whole log as a signed export (`offline`): the header, then every event up to the signed head."""
    if query != AuditQuery():
        raise InvalidRequest("a signed export holds the whole log: it takes no filters")
    head, checkpoints, keys, upto = store.signed_state()
    return _pieces(itertools.chain([header_line(head, checkpoints, keys) + "\n"], _lines(store, upto)))


def _lines(store: AuditStore, upto: int) -> Iterator[str]:
    for line in store.iter_sealed(upto):
        yield line + "\n"


def jsonl(lines: Iterable[str]) -> Iterator[str]:
    """JSON Lines pieces from events' JSON texts (`AuditStore.iter_json`)."""
    return _pieces(line + "\n" for line in lines)


def csv_text(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV pieces (a header, then one row per event) from `event_json` values (`AuditStore.iter_records`)."""

    def cells(record: dict[str, Any]) -> str:
        return _csv_line(record, lambda column: _compact(record[column]))

    return _pieces(itertools.chain([_HEADER], map(cells, records)))


def csv_from_json(lines: Iterable[str]) -> Iterator[str]:
    """The same CSV as `csv_text`, from events' JSON texts (`AuditStore.iter_json`): each is parsed once,
    and the JSON cells (chunks, decisions, principal, details) are cut from it rather than encoded again:
    in the canonical text each nested value is already written as `_compact` would write it."""

    def cells(line: str) -> str:
        values, spans = _parse_flat(line)
        return _csv_line(values, lambda column: line[spans[column][0] : spans[column][1]])

    return _pieces(itertools.chain([_HEADER], map(cells, lines)))


def _csv_line(values: dict[str, Any], json_cell: Callable[[str], str]) -> str:
    cells: list[str] = []
    for column in CSV_COLUMNS:
        if column == "document_ids":
            value: Any = " ".join(dict.fromkeys(c["document_id"] for c in values["chunks"]))
        elif column in _LIST_COLUMNS:
            value = " ".join(values[column])
        elif column in _JSON_COLUMNS:
            value = "" if values[column] is None else json_cell(column)
        else:
            value = values[column]
            if value is None:
                value = ""
            elif not isinstance(value, str):  # a number, written as csv.writer does (str: a float's repr)
                cells.append(str(value))
                continue
        if value.startswith(_FORMULA_START):
            value = "'" + value
        cells.append(_quoted(value))
    return ",".join(cells) + "\r\n"


def _quoted(cell: str) -> str:
    # csv.writer's minimal quoting (delimiter, quote or line break inside), written out: on cells full of
    # quotes, as the JSON ones are, the csv module takes several times longer than the whole rest of a row.
    if '"' in cell:
        return '"' + cell.replace('"', '""') + '"'
    if "," in cell or "\n" in cell or "\r" in cell:
        return '"' + cell + '"'
    return cell


def _compact(value: Any) -> str:
    # Sorted keys, as in the canonical text a line comes from: the same cell whichever path read it.
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _parse_flat(line: str) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    """A flat JSON object's values and where each value's text lies in `line` (no spaces between tokens)."""
    values: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    end = len(line) - 1
    if not line.startswith("{") or line[end] != "}":
        raise ValueError("an exported event is not a JSON object")
    position = 1
    try:
        while position < end:
            key, colon = _scan(line, position)
            value, after = _scan(line, colon + 1)
            if line[colon] != ":" or line[after] not in ",}":
                raise ValueError("an exported event is not compact JSON")
            values[key] = value
            spans[key] = (colon + 1, after)
            position = after + 1
    except (StopIteration, IndexError) as exc:
        raise ValueError("an exported event is not valid JSON") from exc
    return values, spans


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


_HEADER = ",".join(CSV_COLUMNS) + "\r\n"
_LIST_COLUMNS = frozenset(("allowed_corpora", "partitions", "regions", "unavailable"))
_JSON_COLUMNS = frozenset(("chunks", "decisions", "principal", "details"))
# The json module's own scanner (C): one value at an index, and the index after it.
_scan = json.scanner.make_scanner(cast(Any, json.JSONDecoder()))

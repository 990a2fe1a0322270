"""Verification's read path: each event row to its chain link, checking its content on the way.

An event is sound when the canonical text the store kept hashes (over `prev_hash`) to its `hash`, and its
columns and side-table rows say what that text says (the auditor's queries read the columns; the export
streams the text). The columns are compared with the text as JSON values: the JSON columns arrive as their
stored text (cast in SQL, past SQLAlchemy's and the driver's per-value decoding layers) and each is decoded
on its own by the C decoder, so a column can only ever stand for one value (texts decoded together could be
made to shift into one another's places). No event is rebuilt or encoded. An event that
fails either check is read again and checked the slow way (`chain.event_link`), which also says whether the
columns or the text were edited. Events without a kept text (before revision 0006) are hashed from their
columns' canonical form.

Personal values kept beside the chain (`kept`, from revision 0011) are checked against the commitments the
text holds: each kept value must open its commitment (else it was edited), and a commitment without its
value is an erased one, which is sound.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, String, Text, cast, select, type_coerce

from retrieval.audit.chain import Link, event_link, text_hash
from retrieval.audit.kept import UNREADABLE, openings_between
from retrieval.audit.personal import PREFIX, Tally, check_openings
from retrieval.audit.records import record_json, side_rows
from retrieval.audit.rows import EVENT_COLUMNS, EVENTS, load

_JSON = ("principal", "decisions", "allowed_corpora", "partitions", "unavailable", "details")
_SCALARS = (
    "id", "sequence", "request_id", "occurred_at", "action", "principal_id", "end_user_id", "query_masked",
    "query_hmac", "top_k", "policy_version", "outcome", "latency_ms", "corpus_id", "document_id",
    "prev_hash", "hash",
)  # fmt: skip

# The scalar columns (the time as the driver gives it), then the JSON columns as text, then the kept text.
VERIFY_COLUMNS = [
    *(type_coerce(EVENTS.c[n], String) if n == "occurred_at" else EVENTS.c[n] for n in _SCALARS),
    *(cast(EVENTS.c[n], Text) for n in _JSON),
    EVENTS.c.canonical,
]
_KEPT = len(VERIFY_COLUMNS) - 1
_END_USER, _QUERY = _SCALARS.index("end_user_id"), _SCALARS.index("query_masked")
_DETAILS = len(_SCALARS) + _JSON.index("details")
_raw_decode = json.JSONDecoder().raw_decode


def _loads(text: str) -> Any:
    """One JSON value that is the whole text (`json.loads` without its per-call layers); `ValueError`
    otherwise, leading or trailing whitespace included (the store never writes any)."""
    value, end = _raw_decode(text)
    if end != len(text):
        raise ValueError("not one JSON value")
    return value


def load_links(connection: Connection, rows: Sequence[Row[Any]], tally: Tally | None = None) -> list[Link]:
    """The rows' links (rows selected as `VERIFY_COLUMNS`, ascending); `tally` counts personal values."""
    if not rows:
        return []
    # The side rows by a range of event ids, not an IN list of 2,000 (whose statement text alone costs the
    # driver milliseconds to parse). Rows of events outside the batch, if ids were ever out of step with
    # sequences, are never looked up.
    low, high = min(row[0] for row in rows), max(row[0] for row in rows)
    chunks, regions = side_rows(connection, lambda event_id: event_id.between(low, high))
    personal = openings_between(connection, low, high)
    links: list[Link] = []
    for row in rows:
        link = _link(connection, row, chunks, regions)
        if link[4] is None and (row[0] in personal or row[_KEPT] is None or PREFIX in row[_KEPT]):
            link = _check_personal(link, row, personal.get(row[0]), tally)
        links.append(link)
    return links


def _check_personal(link: Link, row: Row[Any], kept: str | None, tally: Tally | None) -> Link:
    """The link, broken if a kept personal value does not open the commitment the event holds. Read from
    the columns: the link holds, so they say what the chained text says (or stand for it, before 0006)."""
    details = row[_DETAILS]
    content = {
        "end_user_id": row[_END_USER],
        "query_masked": row[_QUERY],
        "details": None if details is None else _loads(details),
    }
    try:
        opened = _loads(kept) if kept is not None else {}
    except ValueError:
        opened = None
    if not isinstance(opened, dict):  # not what the store writes: reported as a value of no field
        opened = {UNREADABLE: None}
    _, problem = check_openings(content, opened, tally)
    return link if problem is None else (*link[:4], problem)


def _link(connection: Connection, row: Row[Any], chunks: Any, regions: Any) -> Link:
    """One row's link: the fast check of its kept text against its columns, else the slow path."""
    columns = dict(zip(_SCALARS, row[: len(_SCALARS)], strict=True))
    event_id, sequence, request_id = columns["id"], columns["sequence"], columns["request_id"]
    prev, hash_ = columns["prev_hash"], columns["hash"]
    kept = row[_KEPT]
    try:
        *parsed_columns, parsed = [None if value is None else _loads(value) for value in row[len(_SCALARS) :]]
    except ValueError:  # a column or text that is not JSON: the slow path says which
        pass
    else:
        columns.update(zip(_JSON, parsed_columns, strict=True))
        record = record_json(columns, regions.get(event_id, []), chunks.get(event_id, []))
        if kept is None:
            text = json.dumps(record, sort_keys=True, separators=(",", ":"))
            if text_hash(text, prev) == hash_:
                return (sequence, prev, hash_, request_id, None)
        elif parsed == record and text_hash(kept, prev) == hash_:
            return (sequence, prev, hash_, request_id, None)
    exact = connection.execute(select(*EVENT_COLUMNS).where(EVENTS.c.id == event_id)).all()
    return event_link(load(connection, exact)[0], kept)

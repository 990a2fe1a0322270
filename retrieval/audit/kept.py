"""The personal values kept beside the chain (`audit_personal`): written with their event, read back into
what the log shows, carried with a signed export, checked by verification, and deleted by erasure.

An event written from revision 0011 on holds salted commitments in its chained form (`personal`); its
values are one row here (its openings as canonical JSON), tagged with a keyed digest of the end user
(`AuditKeys.subject_digest`). Readers get the values back in place of the commitments, or `[erased]`; the
signed export carries the event's chained text unchanged with the values as openings (`"personal": {field:
{"salt", "value"}}` after its hashes), so an offline verifier can check each one against its commitment and
still verify the chain after they are gone.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
from typing import cast as typing_cast

from sqlalchemy import Connection, Row, delete, func, insert, select

from retrieval.audit.events import AuditEvent
from retrieval.audit.personal import (
    ERASED,
    PREFIX,
    PersonalValue,
    commitment,
    openings,
    reveal,
    reveal_event,
)
from retrieval.audit.rows import EVENTS, PERSONAL

ValuesByEvent = dict[int, list[PersonalValue]]


def write(connection: Connection, event_id: int, kept: Sequence[PersonalValue], subject: str | None) -> None:
    """Keep an event's values (in its append's transaction: an answer leaves only once both are durable)."""
    if kept:
        connection.execute(
            _INSERT, {"event_id": event_id, "subject": subject, "openings": _canonical(openings(kept))}
        )


def values_of(connection: Connection, ids: Iterable[int]) -> ValuesByEvent:
    wanted = list(ids)
    if not wanted:
        return {}
    return _read(connection.execute(_SELECT.where(PERSONAL.c.event_id.in_(wanted))))


def openings_between(connection: Connection, low: int, high: int) -> dict[int, str]:
    """The kept rows (their openings' JSON text) of the events with ids in [low, high]."""
    rows = connection.execute(_SELECT.where(PERSONAL.c.event_id.between(low, high))).all()
    return dict(typing_cast(Sequence[tuple[int, str]], rows))


def parse(text: str) -> list[PersonalValue]:
    """A row's openings as values. A row that is not what `write` writes reads as one value of a field no
    event has: readers see the event's values as erased, and verification reports the event."""
    try:
        opened = json.loads(text)
    except ValueError:
        opened = None
    if not isinstance(opened, dict) or not all(isinstance(item, dict) for item in opened.values()):
        return [PersonalValue(UNREADABLE, "", "")]
    return [
        PersonalValue(field, str(item.get("salt")), str(item.get("value"))) for field, item in opened.items()
    ]


UNREADABLE = "(unreadable)"


def _read(rows: Iterable[Any]) -> ValuesByEvent:
    found: ValuesByEvent = defaultdict(list)
    for event_id, text in rows:
        found[event_id] = parse(text)
    return found


_INSERT = insert(PERSONAL)
_SELECT = select(PERSONAL.c.event_id, PERSONAL.c.openings)


def reveal_events(connection: Connection, ids: Sequence[int], events: list[AuditEvent]) -> list[AuditEvent]:
    """`events` (with their row ids) as the log shows them: kept values back, `[erased]` where gone."""
    values = values_of(connection, ids)
    return [reveal_event(e, values.get(event_id, ())) for event_id, e in zip(ids, events, strict=True)]


def reveal_lines(connection: Connection, rows: Sequence[Row[Any]], lines: list[str]) -> list[str]:
    """Export lines (`records.load_lines`, from rows selected as `STORED_COLUMNS`) with the values shown."""
    committed = _committed(rows)
    if not committed:
        return lines
    ids = list(committed.values())
    low, high = min(ids), max(ids)
    # A dense batch (the whole log, a recent range) by its id range: one short statement, where an IN list
    # of thousands of ids costs the driver milliseconds to parse; a sparse one (a filter) by its ids.
    dense = high - low < 4 * len(ids)
    near = PERSONAL.c.event_id.between(low, high) if dense else PERSONAL.c.event_id.in_(ids)
    stored = dict(connection.execute(_SELECT.where(near)).all())
    shown = list(lines)
    for index, event_id in committed.items():
        if PREFIX in lines[index]:
            shown[index] = reveal_text(lines[index], stored.get(event_id))
    return shown


def reveal_text(line: str, kept: str | None) -> str:
    """An event's JSON text with each kept value (`kept`: the row's openings) in place of its commitment
    and `[erased]` in place of the rest, spliced into the text rather than parsed and encoded again (the
    export's path: several times faster). A commitment binds its field, salt and value, so the value goes
    where its commitment is; a value is canonical JSON with ASCII escapes, so it stands in the text as is."""
    try:
        opened = json.loads(kept) if kept is not None else {}
    except ValueError:
        opened = {}
    shown: dict[str, str] = {}
    for field, item in opened.items() if isinstance(opened, dict) else ():
        salt, value = (item.get("salt"), item.get("value")) if isinstance(item, dict) else (None, None)
        if not isinstance(salt, str) or not isinstance(value, str):
            continue
        try:
            shown[f'"{commitment(field, salt, value)}"'] = value
        except ValueError:  # a salt that is not hex opens nothing
            continue
    # One pass over the text: each commitment becomes its value, or `[erased]` when none opens it.
    return _COMMITTED.sub(lambda found: shown.get(found[0], _ERASED), line)


# A JSON string that is a whole commitment (its quotes included): what is left once the kept values are in.
_COMMITTED = re.compile('"' + re.escape(PREFIX) + '[0-9a-f]{64}"')
_ERASED = json.dumps(ERASED)


def reveal_records(
    connection: Connection, rows: Sequence[Row[Any]], records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """As `reveal_lines`, for records (`records.load_stored_records`)."""
    committed = _committed(rows)
    if not committed:
        return records
    values = values_of(connection, committed.values())
    shown = list(records)
    for index, event_id in committed.items():
        shown[index] = reveal(records[index], values.get(event_id, ())).content
    return shown


def sealed_lines(connection: Connection, rows: Sequence[Row[Any]], lines: list[str]) -> list[str]:
    """A signed export's lines: each as the chain holds it, then `"personal"` with the values still kept."""
    committed = _committed(rows)
    if not committed:
        return lines
    ids = list(committed.values())
    stored = dict(connection.execute(_SELECT.where(PERSONAL.c.event_id.in_(ids))).all()) if ids else {}
    sealed = list(lines)
    for index, event_id in committed.items():
        text = stored.get(event_id)
        if text is not None:  # as kept: the verifier checks each value against its commitment
            sealed[index] = f'{lines[index][:-1]},"personal":{text}}}'
    return sealed


def erase(connection: Connection, subject: str, end_user_id: str) -> tuple[int, int, int]:
    """Delete the kept values of one end user's events: (events, values) erased, and how many of the end
    user's events hold their values in the chain itself (before revision 0011) and so stay as they are."""
    doomed = connection.execute(select(PERSONAL.c.openings).where(PERSONAL.c.subject == subject)).scalars()
    values = sum(len(parse(text)) for text in doomed)
    events = connection.execute(delete(PERSONAL).where(PERSONAL.c.subject == subject)).rowcount
    legacy = int(
        connection.execute(
            select(func.count()).select_from(EVENTS).where(EVENTS.c.end_user_id == end_user_id)
        ).scalar_one()
    )
    return int(events), values, legacy


def delete_upto(connection: Connection, doomed: Any) -> None:
    """Drop the kept values of pruned events (`doomed`: a subquery of their ids)."""
    connection.execute(delete(PERSONAL).where(PERSONAL.c.event_id.in_(doomed)))


def _committed(rows: Sequence[Row[Any]]) -> dict[int, int]:
    """Index in the batch -> row id, of the rows (id, canonical text, …) whose text holds a commitment, and
    of those without a kept text (their columns may: the text of an event is optional, see `records`)."""
    stored = typing_cast(Sequence[tuple[int, str | None]], rows)
    return {
        index: event_id for index, (event_id, text, *_) in enumerate(stored) if text is None or PREFIX in text
    }


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

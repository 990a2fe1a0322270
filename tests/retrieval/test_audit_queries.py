"""Auditor queries, export and keys on SQLite and PostgreSQL: every filter, answers and governance events
together, the export's records equal to the events, CSV that a spreadsheet cannot run, and the key file."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import SecretStr

from retrieval.audit import AuditEvent, AuditKeys, AuditQuery, SqlAuditStore, event_json, export, load_keys
from retrieval.audit.export import _quoted, csv_text
from retrieval.db import Database, upgrade
from retrieval.settings import AuditSettings, Settings
from tests.factories import make_event

pytestmark = pytest.mark.integration


@pytest.fixture
def store(database_url: str) -> Iterator[SqlAuditStore]:
    upgrade(database_url)
    db = Database(database_url)
    store = SqlAuditStore(db, AuditKeys(b"q" * 32, b"c" * 32), checkpoint_every=3)
    events = [
        replace(make_event(1), end_user_id="u1", regions=("eu",)),
        replace(make_event(2, principal="bob", corpus="c2"), regions=("us", "eu")),
        replace(make_event(3, docs=()), outcome="denied"),
        replace(make_event(4, docs=("doc-x",)), end_user_id="u1", regions=("eu",), outcome="answered"),
        AuditEvent(
            request_id="gov-1",
            occurred_at=make_event(5).occurred_at,
            action="corpus.approve",
            principal_id="steward",
            policy_version="p",
            outcome="succeeded",
            corpus_id="c1",
            details={"status": "approved"},
        ),
        AuditEvent(
            request_id="gov-2",
            occurred_at=make_event(6).occurred_at,
            action="document.delete",
            principal_id="steward",
            policy_version="p",
            outcome="requested",
            corpus_id="c1",
            document_id="doc-x",
            details={"source_uri": 'file:///dossiers/Zoë, "draft".txt'},
        ),
        replace(make_event(7, principal="+cmd"), query_masked='=HYPERLINK("http://evil")'),
    ]
    for event in events:
        store.record(event)
    yield store
    db.dispose()


def ids(store: SqlAuditStore, **filters: object) -> list[str]:
    return [e.request_id[-5:] for e in store.query(AuditQuery(**filters)).events]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["00007", "gov-2", "gov-1", "00004", "00003", "00002", "00001"]),
        ({"action": "retrieve"}, ["00007", "00004", "00003", "00002", "00001"]),
        ({"action": "corpus.*"}, ["gov-1"]),
        ({"action": "document.delete"}, ["gov-2"]),
        ({"action": "nothing.*"}, []),
        ({"end_user_id": "u1"}, ["00004", "00001"]),
        ({"region": "eu"}, ["00004", "00002", "00001"]),
        ({"region": "us"}, ["00002"]),
        ({"outcome": "denied"}, ["00003"]),
        ({"principal_id": "steward"}, ["gov-2", "gov-1"]),
        # A document or corpus matches the answers that used it and the governance events that concerned it …
        ({"document_id": "doc-x"}, ["gov-2", "00004"]),
        ({"corpus_id": "c1"}, ["00007", "gov-2", "gov-1", "00004", "00001"]),
        # … or only one kind, when the action says so.
        ({"document_id": "doc-x", "action": "retrieve"}, ["00004"]),
        ({"corpus_id": "c1", "action": "corpus.*"}, ["gov-1"]),
        ({"corpus_id": "c2", "region": "eu", "principal_id": "bob"}, ["00002"]),
    ],
)
def test_filters(store: SqlAuditStore, filters: dict[str, object], expected: list[str]) -> None:
    assert ids(store, **filters) == expected


def test_pages_follow_the_sequence(store: SqlAuditStore) -> None:
    seen, cursor = [], None
    while True:
        page = store.query(AuditQuery(limit=2, cursor=cursor))
        seen.extend(e.sequence for e in page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [7, 6, 5, 4, 3, 2, 1]


def test_export_records_are_the_events(store: SqlAuditStore) -> None:
    for query in (AuditQuery(), AuditQuery(region="eu"), AuditQuery(action="corpus.*")):
        events = [event_json(e) for e in store.iter_events(query, batch_size=2)]
        assert list(store.iter_records(query, batch_size=2)) == events
        # JSONL text: each event's kept canonical text with its hashes spliced in; the same values.
        assert [json.loads(line) for line in store.iter_json(query, batch_size=2)] == events
        # CSV from the kept texts is, byte for byte, the CSV of the events read column by column.
        assert "".join(export(store, query, "csv")) == "".join(csv_text(events))
    assert [e.sequence for e in store.iter_events(AuditQuery(), batch_size=3)] == list(range(1, 8))


def test_jsonl_and_csv_exports(store: SqlAuditStore) -> None:
    lines = "".join(export(store, AuditQuery(), "jsonl")).splitlines()
    assert [json.loads(line)["sequence"] for line in lines] == list(range(1, 8))
    rows = list(csv.DictReader(io.StringIO("".join(export(store, AuditQuery(), "csv")))))
    assert [row["request_id"][-5:] for row in rows] == [
        "00001",
        "00002",
        "00003",
        "00004",
        "gov-1",
        "gov-2",
        "00007",
    ]
    assert rows[1]["regions"] == "eu us" and rows[3]["document_ids"] == "doc-x"
    assert json.loads(rows[4]["details"]) == {"status": "approved"}
    # Cells a spreadsheet would run as formulas are neutralized.
    assert rows[6]["query_masked"] == '\'=HYPERLINK("http://evil")' and rows[6]["principal_id"] == "'+cmd"
    assert all(len(row["hash"]) == 64 for row in rows)


@given(st.lists(st.text(), min_size=2, max_size=6))
@example(['=a "quoted", cell', "line\r\nbreak", "", " lead", "tab\tend", "ünï"])
def test_csv_cells_are_quoted_as_the_csv_module_quotes_them(cells: list[str]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    assert ",".join(_quoted(cell) for cell in cells) + "\r\n" == buffer.getvalue()


def test_keys_come_from_settings_or_one_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_keys(settings)
    assert load_keys(settings) == first  # kept, so restarts still verify
    key_file = tmp_path / "audit-keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    configured = Settings(
        data_dir=tmp_path / "other",
        audit=AuditSettings(
            query_hmac_key=SecretStr("q" * 32),
            checkpoint_key=SecretStr("c" * 32),
            signing_key_file=tmp_path / "audit-signing-key.pem",
        ),
    )
    assert load_keys(configured) == AuditKeys(b"q" * 32, b"c" * 32, first.signing_key)
    assert not (tmp_path / "other").exists()
    assert "q" * 32 not in repr(load_keys(configured))
    with pytest.raises(ValueError, match="at least 32"):
        AuditSettings(checkpoint_key=SecretStr("short"))

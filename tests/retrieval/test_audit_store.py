"""The provenance log's contract, run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from retrieval.audit import AuditQuery, SqlAuditStore
from retrieval.db import Database, upgrade
from retrieval.errors import AuditUnavailable, InvalidRequest, NotFound
from tests.factories import T0, make_event

pytestmark = pytest.mark.integration


@pytest.fixture
def store(database_url: str) -> Iterator[SqlAuditStore]:
    upgrade(database_url)
    db = Database(database_url)
    yield SqlAuditStore(db)
    db.dispose()


def test_record_then_get_round_trips(store: SqlAuditStore) -> None:
    event = make_event(1, docs=("doc-a", "doc-b"))
    store.record(event)
    got = store.get(event.request_id)
    assert got.chunks == event.chunks
    assert got.query_masked == event.query_masked
    assert got.occurred_at == event.occurred_at
    assert got.allowed_corpora == event.allowed_corpora
    assert got.sequence is not None


def test_unknown_request_is_not_found(store: SqlAuditStore) -> None:
    with pytest.raises(NotFound):
        store.get("missing")


def test_duplicate_request_id_is_refused_not_overwritten(store: SqlAuditStore) -> None:
    store.record(make_event(1))
    with pytest.raises(AuditUnavailable):
        store.record(make_event(1, principal="mallory"))
    assert store.get(make_event(1).request_id).principal_id == "alice"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (AuditQuery(), [5, 4, 3, 2, 1]),
        (AuditQuery(principal_id="bob"), [4, 2]),
        (AuditQuery(document_id="doc-x"), [5, 3]),
        (AuditQuery(corpus_id="c2"), [5]),
        (AuditQuery(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)), [3, 2]),
        (AuditQuery(principal_id="alice", document_id="doc-x"), [5, 3]),
    ],
)
def test_filters(store: SqlAuditStore, query: AuditQuery, expected: list[int]) -> None:
    store.record(make_event(1))
    store.record(make_event(2, principal="bob"))
    store.record(make_event(3, docs=("doc-a", "doc-x")))
    store.record(make_event(4, principal="bob", docs=()))
    store.record(make_event(5, docs=("doc-x",), corpus="c2"))
    page = store.query(query)
    assert [int(e.request_id[-12:]) for e in page.events] == expected


def test_cursor_pagination_visits_every_event_once(store: SqlAuditStore) -> None:
    for n in range(1, 8):
        store.record(make_event(n))
    seen: list[int] = []
    cursor = None
    while True:
        page = store.query(AuditQuery(limit=3, cursor=cursor))
        seen.extend(int(e.request_id[-12:]) for e in page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [7, 6, 5, 4, 3, 2, 1]


def test_limit_is_validated(store: SqlAuditStore) -> None:
    with pytest.raises(InvalidRequest):
        store.query(AuditQuery(limit=0))


def test_record_fails_closed_when_the_database_is_gone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    db = Database(url)
    store = SqlAuditStore(db)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE audit_event_chunks")
    with pytest.raises(AuditUnavailable):
        store.record(make_event(1))
    db.dispose()

"""The log's filters tell answers that cited a document from retrievals that returned it (both databases)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from retrieval.audit import ANSWER, RETRIEVE, AuditChunk, AuditEvent, AuditKeys, AuditQuery, SqlAuditStore
from retrieval.db import Database, upgrade

pytestmark = pytest.mark.integration


@pytest.fixture
def store(database_url: str) -> Iterator[SqlAuditStore]:
    upgrade(database_url)
    db = Database(database_url)
    try:
        yield SqlAuditStore(db, AuditKeys(b"q" * 32, b"c" * 32))
    finally:
        db.dispose()


def event(request_id: str, action: str, document_id: str) -> AuditEvent:
    chunk = AuditChunk(1, 0.5, "c" * 8, document_id, 1, "corpus-a", "0" * 64, "model")
    outcome = "answered" if action == RETRIEVE else "verified"
    return AuditEvent(request_id, datetime.now(UTC), action, "app", "v1", outcome, chunks=(chunk,))


def ids(store: SqlAuditStore, query: AuditQuery) -> list[str]:
    return [e.request_id for e in store.query(query).events]


def test_cited_and_retrieved_are_told_apart(store: SqlAuditStore) -> None:
    store.record(event("r1", RETRIEVE, "doc-x"))
    store.record(event("a1", ANSWER, "doc-x"))
    store.record(event("r2", RETRIEVE, "doc-y"))
    store.record(event("a2", ANSWER, "doc-y"))
    assert ids(store, AuditQuery(action=ANSWER, document_id="doc-x")) == ["a1"]
    assert ids(store, AuditQuery(action=RETRIEVE, document_id="doc-x")) == ["r1"]
    assert ids(store, AuditQuery(actions=(RETRIEVE, ANSWER), document_id="doc-x")) == ["a1", "r1"]
    assert ids(store, AuditQuery(actions=(ANSWER,), corpus_id="corpus-a")) == ["a2", "a1"]
    assert ids(store, AuditQuery(document_id="doc-y")) == ["a2", "r2"]
    assert store.verify().ok

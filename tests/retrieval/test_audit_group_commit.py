"""Group commit: the events of concurrent answers are appended in one transaction, on SQLite and PostgreSQL.

Each caller still returns only after its event is committed (read back here through another connection),
the chain verifies, and an event the database refuses fails alone. The first group is held open by a slowed
commit so that the others queue behind it and must be grouped: the timing is the only thing faked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

import pytest
from sqlalchemy import text

from retrieval.audit import AuditEvent, SqlAuditStore
from retrieval.db import Database, upgrade
from retrieval.errors import AuditUnavailable
from tests.factories import make_event

pytestmark = pytest.mark.integration

CALLERS = 12


@pytest.fixture
def store(database_url: str) -> Iterator[SqlAuditStore]:
    upgrade(database_url)
    db = Database(database_url)
    yield SqlAuditStore(db, checkpoint_every=5)
    db.dispose()


def _hold_first_group(store: SqlAuditStore, seconds: float = 0.4) -> threading.Event:
    """Slow the first group's commit so that the callers started meanwhile queue; set once it is running."""
    commit = store._groups._work  # the group's pass: one transaction for the events given
    running = threading.Event()

    def slow(events: list[AuditEvent]) -> Sequence[AuditEvent]:
        if not running.is_set():
            running.set()
            time.sleep(seconds)
        return commit(events)

    store._groups._work = slow
    return running


def _record_all(store: SqlAuditStore, events: list[AuditEvent]) -> dict[str, AuditEvent | Exception]:
    """Record the first event, then the rest from threads of their own while it is being committed."""
    running = _hold_first_group(store)
    results: dict[str, AuditEvent | Exception] = {}

    def call(event: AuditEvent) -> None:
        try:
            results[event.request_id] = store.record(event)
        except Exception as exc:
            results[event.request_id] = exc

    first = threading.Thread(target=call, args=(events[0],))
    first.start()
    assert running.wait(10)
    others = [threading.Thread(target=call, args=(e,)) for e in events[1:]]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(30)
    return results


def test_concurrent_events_share_a_transaction_and_the_chain_holds(
    store: SqlAuditStore, database_url: str
) -> None:
    events = [make_event(n) for n in range(1, CALLERS + 1)]
    results = _record_all(store, events)

    assert all(isinstance(r, AuditEvent) for r in results.values()), results
    sequences = sorted(r.sequence for r in results.values() if isinstance(r, AuditEvent) and r.sequence)
    assert sequences == list(range(sequences[0], sequences[0] + CALLERS))
    # The first event alone, then the eleven that queued behind it, in few transactions.
    assert store._groups.batches < CALLERS / 2
    report = store.verify()
    assert report.ok and report.events_checked == CALLERS
    assert report.checkpoints_checked == CALLERS // 5  # periodic checkpoints inside a group are kept

    # Committed when `record` returned: another connection reads every event.
    other = Database(database_url)
    try:
        reader = SqlAuditStore(other)
        for event in events:
            assert reader.get(event.request_id).sequence == results[event.request_id].sequence  # type: ignore[union-attr]
    finally:
        other.dispose()


def test_an_event_the_database_refuses_fails_alone(store: SqlAuditStore) -> None:
    store.record(make_event(1))
    repeated = replace(make_event(1), principal_id="mallory")  # the request id is already logged
    events = [make_event(2), repeated, *(make_event(n) for n in range(3, CALLERS + 1))]
    results = _record_all(store, events)

    assert isinstance(results[repeated.request_id], AuditUnavailable)
    for event in events:
        if event is not repeated:
            assert isinstance(results[event.request_id], AuditEvent), results[event.request_id]
    assert store.get(repeated.request_id).principal_id == "alice"
    report = store.verify()
    assert report.ok and report.events_checked == CALLERS


def test_every_caller_fails_closed_when_the_log_cannot_commit(
    store: SqlAuditStore, database_url: str
) -> None:
    db = Database(database_url)
    try:
        with db.engine.begin() as connection:  # the log's table gone: every append fails in the database
            connection.execute(text("DROP TABLE audit_event_chunks"))
    finally:
        db.dispose()
    results = _record_all(store, [make_event(n) for n in range(1, CALLERS + 1)])

    assert len(results) == CALLERS
    assert all(isinstance(r, AuditUnavailable) for r in results.values()), results
    # Each caller holds an error of its own (raised in its own thread, its own traceback).
    assert len({id(r) for r in results.values()}) == CALLERS


def test_without_group_commit_each_event_has_a_transaction_of_its_own(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url)
    try:
        store = SqlAuditStore(db, group_commit=False)
        results = _record_all(store, [make_event(n) for n in range(1, CALLERS + 1)])
        assert all(isinstance(r, AuditEvent) for r in results.values()), results
        assert store._groups.batches == CALLERS
        assert store.verify().ok
    finally:
        db.dispose()

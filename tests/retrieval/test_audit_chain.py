"""The hash chain on SQLite and PostgreSQL: an honest log verifies; each kind of tampering is found and
located; pruning leaves a signed anchor the rest verifies from; events older than the chain get chained."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Connection, insert, text

from retrieval.audit import AuditKeys, AuditQuery, SqlAuditStore, canonical, event_hash, event_json, export
from retrieval.audit.export import csv_text
from retrieval.audit.rows import CHUNKS, EVENTS, event_values
from retrieval.db import Database, upgrade
from retrieval.errors import Conflict
from tests.factories import T0, make_event

pytestmark = pytest.mark.integration

KEYS = AuditKeys(b"q" * 32, b"c" * 32)
EVERY = 4  # checkpoints at 4 and 8 of the 10 events below


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database) -> SqlAuditStore:
    store = SqlAuditStore(db, KEYS, checkpoint_every=EVERY)
    for n in range(1, 11):
        store.record(make_event(n, principal="bob" if n % 2 else "alice", docs=("doc-a", "doc-b")))
    return store


def sql(db: Database, statement: str, **params: object) -> None:
    with db.engine.begin() as connection:
        connection.execute(text(statement), params)


def renumber(connection: Connection, first: int, shift: int) -> None:
    """Shift sequences >= first by `shift`, in two steps so the unique constraint never sees a duplicate."""
    connection.execute(
        text("UPDATE audit_events SET sequence = -sequence WHERE sequence >= :f"), {"f": first}
    )
    connection.execute(
        text("UPDATE audit_events SET sequence = -sequence + :s WHERE sequence < 0"), {"s": shift}
    )


def test_an_honest_log_verifies(store: SqlAuditStore) -> None:
    report = store.verify()
    assert report.ok and report.first_broken is None
    assert report.events_checked == 10 and report.last_verified_sequence == 10
    assert report.checkpoints_checked == 2
    events = list(store.iter_events(AuditQuery()))
    assert [e.sequence for e in events] == list(range(1, 11))
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


def test_another_checkpoint_key_does_not_verify(store: SqlAuditStore, db: Database) -> None:
    report = SqlAuditStore(db, AuditKeys(b"q" * 32, b"x" * 32)).verify()
    assert not report.ok and report.first_broken is not None
    assert report.first_broken.sequence == 4 and "signature" in report.first_broken.reason


def edit_field(db: Database, store: SqlAuditStore) -> None:
    sql(db, "UPDATE audit_events SET principal_id = 'mallory' WHERE sequence = 5")


def edit_text(db: Database, store: SqlAuditStore) -> None:
    # The kept canonical text alone: the export would say "mallory" while the columns and hash say "bob".
    sql(
        db,
        "UPDATE audit_events SET canonical = replace(canonical, :a, :b) WHERE sequence = 5",
        a='"principal_id":"bob"',
        b='"principal_id":"mallory"',
    )


def edit_column_and_text(db: Database, store: SqlAuditStore) -> None:
    # Both, consistently: the text equals the columns again, but neither matches the hash.
    edit_text(db, store)
    edit_field(db, store)


def edit_chunk(db: Database, store: SqlAuditStore) -> None:
    sql(
        db,
        "UPDATE audit_event_chunks SET document_id = 'doc-z' WHERE rank = 2 AND event_id = "
        "(SELECT id FROM audit_events WHERE sequence = 5)",
    )


def edit_time(db: Database, store: SqlAuditStore) -> None:
    event = store.iter_events(AuditQuery()).__next__()
    sql(db, "UPDATE audit_events SET occurred_at = :t WHERE sequence = 5", t=event.occurred_at)


def delete_event(db: Database, store: SqlAuditStore) -> None:
    sql(
        db, "DELETE FROM audit_event_chunks WHERE event_id = (SELECT id FROM audit_events WHERE sequence = 5)"
    )
    sql(db, "DELETE FROM audit_events WHERE sequence = 5")


def insert_event(db: Database, store: SqlAuditStore) -> None:
    # A well-formed forgery: the right sequence, linked to event 4 and hashed; the later events renumbered.
    before = next(e for e in store.iter_events(AuditQuery()) if e.sequence == 4)
    forged = replace(make_event(99, principal="mallory"), sequence=5, prev_hash=before.hash)
    forged = replace(forged, hash=event_hash(forged, before.hash or ""))
    with db.engine.begin() as connection:
        renumber(connection, 5, 1)
        event_id = connection.execute(
            insert(EVENTS).returning(EVENTS.c.id), event_values(forged)
        ).scalar_one()
        connection.execute(
            insert(CHUNKS),
            [
                {"event_id": event_id, **{k: getattr(c, k) for k in c.__slots__}}  # type: ignore[attr-defined]
                for c in forged.chunks
            ],
        )


def reorder_pair(db: Database, store: SqlAuditStore) -> None:
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET sequence = -1 WHERE sequence = 5"))
        connection.execute(text("UPDATE audit_events SET sequence = 5 WHERE sequence = 6"))
        connection.execute(text("UPDATE audit_events SET sequence = 6 WHERE sequence = -1"))


def forge_checkpoint(db: Database, store: SqlAuditStore) -> None:
    sql(db, "UPDATE audit_checkpoints SET hash = :h WHERE sequence = 4", h="f" * 64)


def rewrite_tail(db: Database, store: SqlAuditStore) -> None:
    # Someone without the checkpoint key edits event 6 and recomputes every hash (and kept text) after it:
    # each link holds, but event 8 no longer has the hash its signed checkpoint holds.
    events = list(store.iter_events(AuditQuery(), chained=True))
    prev = events[4].hash or ""
    with db.engine.begin() as connection:
        for event in events[5:]:
            if event.sequence == 6:
                event = replace(event, principal_id="mallory")
            digest = event_hash(event, prev)
            connection.execute(
                text(
                    "UPDATE audit_events SET principal_id = :p, prev_hash = :ph, hash = :h, canonical = :c "
                    "WHERE sequence = :s"
                ),
                {
                    "p": event.principal_id,
                    "ph": prev,
                    "h": digest,
                    "c": canonical(event),
                    "s": event.sequence,
                },
            )
            prev = digest


def truncate_tail(db: Database, store: SqlAuditStore) -> None:
    sql(
        db,
        "DELETE FROM audit_event_chunks WHERE event_id IN (SELECT id FROM audit_events WHERE sequence >= 8)",
    )
    sql(db, "DELETE FROM audit_events WHERE sequence >= 8")


@pytest.mark.parametrize(
    ("tamper", "sequence", "reason"),
    [
        (edit_field, 5, "a field, chunk or region was edited"),
        (edit_text, 5, "the text was edited"),
        (edit_column_and_text, 5, "a field, chunk or region was edited"),
        (edit_chunk, 5, "edited"),
        (edit_time, 5, "edited"),
        (delete_event, 5, "missing"),
        (insert_event, 6, "does not link"),  # the forged 5 links to 4; the old 5 (now 6) does not link to it
        (reorder_pair, 5, "does not link"),
        (forge_checkpoint, 4, "signature"),
        (rewrite_tail, 8, "checkpoint"),
        (truncate_tail, 8, "removed from the end"),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_tampering_is_found_and_located(
    store: SqlAuditStore,
    db: Database,
    tamper: Callable[[Database, SqlAuditStore], None],
    sequence: int,
    reason: str,
) -> None:
    assert store.verify().ok
    tamper(db, store)
    report = store.verify()
    assert not report.ok
    assert report.first_broken is not None
    assert report.first_broken.sequence == sequence, report.first_broken
    assert reason in report.first_broken.reason
    if tamper is not forge_checkpoint:
        assert report.events_checked == sequence - 1


def test_each_event_keeps_the_canonical_text_its_hash_covers(store: SqlAuditStore, db: Database) -> None:
    with db.engine.connect() as connection:
        kept = dict(connection.execute(text("SELECT sequence, canonical FROM audit_events")).all())
    assert kept == {e.sequence: canonical(e) for e in store.iter_events(AuditQuery(), chained=True)}


def test_events_without_a_kept_text_verify_and_export_from_their_columns(
    store: SqlAuditStore, db: Database
) -> None:
    # Events written before revision 0006 have no kept text; a log may mix both kinds.
    sql(db, "UPDATE audit_events SET canonical = NULL WHERE sequence IN (2, 5, 6, 9)")
    assert store.verify().ok
    events = [event_json(e) for e in store.iter_events(AuditQuery())]
    assert list(store.iter_records(AuditQuery(), batch_size=3)) == events
    assert [json.loads(line) for line in store.iter_json(AuditQuery(), batch_size=3)] == events
    assert "".join(export(store, AuditQuery(), "csv")) == "".join(csv_text(events))
    # Without the text, an edited column is still found by the hash.
    edit_field(db, store)
    report = store.verify()
    assert report.first_broken is not None and report.first_broken.sequence == 5
    assert "edited" in report.first_broken.reason


def test_appends_after_a_prune_and_the_log_still_verifies(store: SqlAuditStore, db: Database) -> None:
    report = store.prune(T0 + timedelta(minutes=6))  # events 1-5 are older than the cut
    assert report.pruned == 5 and report.anchor_sequence == 5
    events = list(store.iter_events(AuditQuery()))
    assert [e.sequence for e in events] == [6, 7, 8, 9, 10, 11]
    assert events[-1].action == "audit.prune" and events[-1].details == {
        "before": (T0 + timedelta(minutes=6)).isoformat(),
        "pruned": 5,
        "anchor": 5,
    }
    store.record(make_event(20))
    verified = store.verify()
    assert verified.ok and verified.anchor_sequence == 5 and verified.events_checked == 7
    # Pruning again to the same cut changes nothing.
    assert store.prune(T0 + timedelta(minutes=6)).pruned == 0
    # The anchor is signed: without it (or with it forged) the pruned log does not verify.
    sql(db, "UPDATE audit_checkpoints SET hash = :h WHERE kind = 'anchor'", h="e" * 64)
    broken = store.verify()
    assert not broken.ok and broken.first_broken is not None and broken.first_broken.sequence == 1


def test_pruning_everything_keeps_the_chain_going(store: SqlAuditStore) -> None:
    assert store.prune(T0 + timedelta(days=1)).pruned == 10
    store.record(make_event(30))
    report = store.verify()
    assert report.ok and report.anchor_sequence == 10 and report.events_checked == 2


def test_a_broken_log_is_not_pruned(store: SqlAuditStore, db: Database) -> None:
    edit_field(db, store)
    with pytest.raises(Conflict, match="first broken link at 5"):
        store.prune(T0 + timedelta(minutes=8))
    assert len(list(store.iter_events(AuditQuery()))) == 10


def test_the_policy_version_is_logged_when_it_changes(db: Database) -> None:
    store = SqlAuditStore(db, KEYS)
    first = store.record_policy_version("v1", ["a.cedar"])
    assert first is not None and first.details == {"previous": None, "current": "v1", "files": ["a.cedar"]}
    assert store.record_policy_version("v1", ["a.cedar"]) is None
    second = store.record_policy_version("v2", ["a.cedar", "b.cedar"])
    assert second is not None and second.details is not None and second.details["previous"] == "v1"
    assert [e.sequence for e in store.query(AuditQuery(action="policy.change")).events] == [2, 1]
    assert store.verify().ok


def test_query_fingerprints_are_keyed(db: Database) -> None:
    store = SqlAuditStore(db, KEYS)
    assert store.fingerprint("parental leave") == SqlAuditStore(db, KEYS).fingerprint("parental leave")
    assert store.fingerprint("parental leave") != store.fingerprint("parental leave?")
    assert store.fingerprint("x") != SqlAuditStore(db, AuditKeys(b"r" * 32, b"c" * 32)).fingerprint("x")
    assert len(store.fingerprint("x")) == 64


def test_events_written_before_the_chain_are_chained_by_the_migration(database_url: str) -> None:
    upgrade(database_url, "0002")
    database = Database(database_url)
    try:
        with database.engine.begin() as connection:
            for n in (1, 2, 3):
                connection.execute(
                    text(
                        "INSERT INTO audit_events (request_id, occurred_at, action, principal_id, "
                        "query_masked, top_k, policy_version, allowed_corpora, partitions, outcome, "
                        "latency_ms) VALUES (:r, :t, 'retrieve', 'alice', 'q', 5, 'p', '[\"c1\"]', "
                        "'[\"eu.internal\"]', 'answered', 1.5)"
                    ),
                    {"r": f"legacy-{n}", "t": T0 + timedelta(minutes=n)},
                )
                connection.execute(
                    text(
                        "INSERT INTO audit_event_chunks (event_id, rank, score, chunk_id, document_id, "
                        "document_version, corpus_id, content_sha256, embedding_model) "
                        "SELECT id, 1, 0.5, 'ch', 'doc-a', 1, 'c1', :h, 'm' FROM audit_events "
                        "WHERE request_id = :r"
                    ),
                    {"r": f"legacy-{n}", "h": "a" * 64},
                )
        upgrade(database_url)
        store = SqlAuditStore(database, KEYS)
        store.record(make_event(4))
        report = store.verify()
        assert report.ok and report.events_checked == 4
        legacy = store.get("legacy-2")
        assert legacy.sequence == 2 and legacy.chunks[0].document_id == "doc-a"
        assert legacy.principal is None and legacy.decisions == ()
        # Rows older than the kept canonical text (revision 0006) export from their columns.
        events = [event_json(e) for e in store.iter_events(AuditQuery())]
        assert [json.loads(line) for line in store.iter_json(AuditQuery())] == events
        assert list(store.iter_records(AuditQuery())) == events
    finally:
        database.dispose()

"""Erasure on SQLite and PostgreSQL: an end user's personal values leave every surface of the log (rows,
events, pages, exports, replay), the chain still verifies online and offline with only the public key, other
people's events are untouched, the erasure is logged with counts and no identity, and events written before
values were kept apart are counted as not erased."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, inspect, select, text, update

from retrieval.audit import AuditKeys, AuditQuery, SqlAuditStore, event_json, export, replay
from retrieval.audit.chain import sealed_text
from retrieval.audit.events import PRIVACY_ERASURE, AuditEvent
from retrieval.audit.offline import Resume, verify_export
from retrieval.audit.personal import ERASED, PREFIX
from retrieval.audit.rows import CHUNKS, EVENTS, PERSONAL, chunk_values, event_values
from retrieval.audit.signing import SigningKey, load_public_pem
from retrieval.audit.store import _head
from retrieval.db import Database, upgrade
from retrieval.errors import AuditUnavailable, BackendUnavailable
from tests.factories import make_event

pytestmark = pytest.mark.integration

KEYS = AuditKeys(b"q" * 32, b"c" * 32, SigningKey.derived(b"s" * 32))
# What each person's events hold that is personal, and must be gone after that person's erasure.
JANE = ("enduser-jane", "jane's question about <PERSON>", "Jane is told <LOCATION>", "jane quote", "hr-jane",
        "mailto:jane@example.com")  # fmt: skip
JOHN = ("enduser-john", "john's question", "John is told nothing", "john quote", "hr-john",
        "mailto:john@example.com")  # fmt: skip


def personal_event(n: int, who: tuple[str, ...]) -> AuditEvent:
    user, query, answer, quote, group, mail = who
    return replace(
        make_event(n, principal="chat-app"),
        end_user_id=user,
        query_masked=f"{query} #{n}",
        details={
            "answer_masked": answer,
            "citations": [{"quote_masked": quote, "rank": 1}, {"quote_masked": None, "rank": 2}],
            "end_user": {"groups": [group, mail], "clearance": "internal", "regions": ["eu"]},
        },
    )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database) -> SqlAuditStore:
    return SqlAuditStore(db, KEYS, checkpoint_every=3)


def append_legacy(db: Database, event: AuditEvent) -> None:
    """An event as the log wrote it before revision 0011: its personal values in the chain itself."""
    with db.engine.begin() as connection:
        sequence, prev = _head(connection)
        sealed, canonical = sealed_text(event, sequence + 1, prev)
        event_id = connection.execute(
            insert(EVENTS).returning(EVENTS.c.id), {**event_values(sealed), "canonical": canonical}
        ).scalar_one()
        connection.execute(insert(CHUNKS), [{"event_id": event_id, **chunk_values(c)} for c in sealed.chunks])


def everything_stored(db: Database) -> str:
    """Every row of every table, as text: what someone with the database in hand could read."""
    dump = []
    with db.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            dump.extend(repr(tuple(row)) for row in connection.execute(text(f'SELECT * FROM "{table}"')))
    return "\n".join(dump)


def surfaces(store: SqlAuditStore) -> dict[str, str]:
    """Every way the log is read: one event, pages, the iterators, each export format."""
    events = list(store.iter_events(AuditQuery()))
    return {
        "get": json.dumps([event_json(store.get(e.request_id)) for e in events]),
        "query": json.dumps([event_json(e) for e in store.query(AuditQuery(action=None)).events]),
        "records": json.dumps(list(store.iter_records(AuditQuery()))),
        "jsonl": "".join(export(store, AuditQuery(), "jsonl")),
        "csv": "".join(export(store, AuditQuery(), "csv")),
        "signed": "".join(export(store, AuditQuery(), "signed")),
    }


def fill(store: SqlAuditStore) -> None:
    for n in range(1, 8):
        store.record(personal_event(n, JANE if n % 2 else JOHN))
    store.record(make_event(8))  # a caller reading as itself: its query is personal too, but no end user's


def test_the_chain_holds_commitments_and_readers_see_the_values(store: SqlAuditStore, db: Database) -> None:
    recorded = store.record(personal_event(1, JANE))
    assert recorded.end_user_id == JANE[0] and recorded.query_masked == f"{JANE[1]} #1"
    with db.engine.connect() as connection:
        row = connection.execute(select(EVENTS.c.end_user_id, EVENTS.c.canonical, EVENTS.c.details)).one()
        kept = connection.execute(select(PERSONAL.c.openings, PERSONAL.c.subject)).one()
    chained = row.canonical + row.end_user_id + json.dumps(row.details)
    for value in JANE:
        assert value not in chained
    assert row.end_user_id.startswith(PREFIX)
    assert sorted(json.loads(kept.openings)) == [
        "details.answer_masked",
        "details.citations.0.quote_masked",
        "details.end_user.groups",
        "end_user_id",
        "query_masked",
    ]
    # The end user is found by a keyed digest, not by their id.
    assert kept.subject == KEYS.subject_digest(JANE[0])
    shown = store.get(recorded.request_id)
    assert shown.end_user_id == JANE[0] and shown.details is not None
    assert shown.details["citations"][0]["quote_masked"] == JANE[3]
    assert shown.details["end_user"]["groups"] == [JANE[4], JANE[5]]
    for name, text_ in surfaces(store).items():
        assert JANE[2] in text_, name
    found = store.query(AuditQuery(end_user_id=JANE[0])).events
    assert [e.request_id for e in found] == [recorded.request_id]
    report = store.verify()
    assert report.ok and report.personal_checked == 5 and report.personal_erased == 0


def test_erasure_removes_the_values_from_every_surface_and_the_chain_verifies(
    store: SqlAuditStore, db: Database
) -> None:
    fill(store)
    john_before = [event_json(e) for e in store.iter_events(AuditQuery(end_user_id=JOHN[0]))]
    assert len(john_before) == 3

    report = store.erase(JANE[0], principal_id="admin")

    assert (report.events_erased, report.values_erased, report.legacy_events) == (4, 20, 0)
    stored = everything_stored(db)
    for value in JANE:
        assert value not in stored
    for name, shown in surfaces(store).items():
        for value in JANE:
            assert value not in shown, (name, value)
        assert ERASED in shown or name == "signed", name
    jane = [e for e in store.iter_events(AuditQuery()) if e.end_user_id == ERASED]
    assert len(jane) == 4
    assert all(e.query_masked == ERASED and e.details == _erased_details() for e in jane)
    # Nobody finds them by the id any more: the digest went with the values.
    assert store.query(AuditQuery(end_user_id=JANE[0])).events == []
    # Someone else's events are as they were.
    assert [event_json(e) for e in store.iter_events(AuditQuery(end_user_id=JOHN[0]))] == john_before
    # The erasure is logged with the counts, not the identity.
    erasure = store.get(report.request_id)
    assert erasure.action == PRIVACY_ERASURE and erasure.principal_id == "admin"
    assert erasure.details == {"events_erased": 4, "values_erased": 20, "legacy_events": 0}
    assert JANE[0] not in json.dumps(event_json(erasure))
    # The chain verifies online (fully and from a checkpoint) and offline with only the public key.
    online = store.verify()
    assert online.ok and online.events_checked == 9
    assert online.personal_erased == 20 and online.personal_checked == 3 * 5 + 1
    assert store.verify(since_checkpoint=6).ok
    lines = "".join(export(store, AuditQuery(), "signed")).splitlines()
    offline = verify_export(lines, [load_public_pem(store.public_key_pem())])
    assert offline.ok and offline.events_checked == 9
    assert (offline.personal_erased, offline.personal_checked) == (20, 16)
    # Erasing again finds nothing; the second erasure is logged as well.
    again = store.erase(JANE[0], principal_id="admin")
    assert (again.events_erased, again.values_erased) == (0, 0) and again.sequence == report.sequence + 1
    assert store.verify().ok


def _erased_details() -> dict[str, Any]:
    return {
        "answer_masked": ERASED,
        "citations": [{"quote_masked": ERASED, "rank": 1}, {"quote_masked": None, "rank": 2}],
        "end_user": {"groups": ERASED, "clearance": "internal", "regions": ["eu"]},
    }


def test_an_unknown_end_user_erases_nothing(store: SqlAuditStore) -> None:
    fill(store)
    before = [event_json(e) for e in store.iter_events(AuditQuery())]
    report = store.erase("nobody", principal_id="admin")
    assert (report.events_erased, report.values_erased, report.legacy_events) == (0, 0, 0)
    assert [event_json(e) for e in store.iter_events(AuditQuery())][:-1] == before
    assert store.verify().ok


def test_events_written_before_commitments_are_counted_not_erased(store: SqlAuditStore, db: Database) -> None:
    append_legacy(db, personal_event(1, JANE))
    append_legacy(db, personal_event(2, JOHN))
    store.record(personal_event(3, JANE))
    report = store.erase(JANE[0], principal_id="admin")
    assert (report.events_erased, report.legacy_events) == (1, 1)
    legacy = store.get(personal_event(1, JANE).request_id)
    erased = store.get(personal_event(3, JANE).request_id)
    assert legacy.end_user_id == JANE[0] and legacy.query_masked == f"{JANE[1]} #1"  # in the chain: it stays
    assert erased.end_user_id == ERASED and erased.query_masked == ERASED
    assert store.verify().ok
    lines = "".join(export(store, AuditQuery(), "signed")).splitlines()
    assert verify_export(lines, [load_public_pem(store.public_key_pem())]).ok


def test_an_edited_kept_value_is_found_online_and_offline(store: SqlAuditStore, db: Database) -> None:
    fill(store)
    with db.engine.begin() as connection:
        event_id = connection.execute(select(EVENTS.c.id).where(EVENTS.c.sequence == 4)).scalar_one()
        kept = json.loads(
            connection.execute(
                select(PERSONAL.c.openings).where(PERSONAL.c.event_id == event_id)
            ).scalar_one()
        )
        kept["query_masked"]["value"] = json.dumps("mallory's question")
        connection.execute(
            update(PERSONAL).where(PERSONAL.c.event_id == event_id).values(openings=json.dumps(kept))
        )
    report = store.verify()
    assert not report.ok and report.first_broken is not None
    assert report.first_broken.sequence == 4 and "query_masked" in report.first_broken.reason
    # Readers are never shown a value the chain does not vouch for.
    assert store.get(personal_event(4, JOHN).request_id).query_masked == ERASED
    lines = "".join(export(store, AuditQuery(), "signed")).splitlines()
    offline = verify_export(lines, [load_public_pem(store.public_key_pem())])
    assert not offline.ok and offline.first_broken is not None and offline.first_broken.sequence == 4


def test_an_opening_edited_in_the_export_is_found_offline(store: SqlAuditStore) -> None:
    fill(store)
    lines = "".join(export(store, AuditQuery(), "signed")).splitlines()
    assert ',"personal":{' in lines[1] and JANE[2] in lines[1]  # the header, then event 1 (Jane's)
    forged = [lines[0], lines[1].replace(JANE[2], "Jane is told something else"), *lines[2:]]
    report = verify_export(forged, [load_public_pem(store.public_key_pem())])
    assert not report.ok and report.first_broken is not None
    assert report.first_broken.sequence == 1 and "does not open" in report.first_broken.reason


def test_an_erasure_that_cannot_be_logged_erases_nothing(
    store: SqlAuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(store)

    def fail(*_: object) -> AuditEvent:
        raise BackendUnavailable("disk full")

    monkeypatch.setattr(store, "_append", fail)
    with pytest.raises(AuditUnavailable):
        store.erase(JANE[0], principal_id="admin")
    monkeypatch.undo()
    assert store.get(personal_event(1, JANE).request_id).end_user_id == JANE[0]
    assert len(store.query(AuditQuery(end_user_id=JANE[0])).events) == 4


def test_replay_of_an_erased_answer_judges_no_access(store: SqlAuditStore) -> None:
    fill(store)
    store.erase(JANE[0], principal_id="admin")
    event = store.get(personal_event(1, JANE).request_id)
    # No catalog holds the chunks here: replay says so, and does not judge the erased end user's access.
    report = replay(event, _NoCatalog(), _NoPolicy())  # type: ignore[arg-type]
    assert all(chunk.allowed_now is None for chunk in report.chunks)
    assert JANE[0] not in repr(report)


def test_pruning_takes_the_kept_values_with_the_events(store: SqlAuditStore, db: Database) -> None:
    fill(store)
    first = store.get(personal_event(1, JANE).request_id)
    store.prune(first.occurred_at + timedelta(minutes=3))
    with db.engine.connect() as connection:
        left = connection.execute(
            select(PERSONAL.c.event_id).where(~PERSONAL.c.event_id.in_(select(EVENTS.c.id)))
        ).all()
    assert left == []
    assert store.verify().ok


class _NoCatalog:
    def get(self, corpus_id: str) -> Any:
        from retrieval.errors import NotFound

        raise NotFound(corpus_id)

    def document(self, corpus_id: str, document_id: str) -> Any:
        from retrieval.errors import NotFound

        raise NotFound(document_id)


class _NoPolicy:
    version = "now"


def test_a_kept_row_that_is_not_openings_is_found_and_shows_nothing(
    store: SqlAuditStore, db: Database
) -> None:
    fill(store)
    with db.engine.begin() as connection:
        event_id = connection.execute(select(EVENTS.c.id).where(EVENTS.c.sequence == 3)).scalar_one()
        connection.execute(update(PERSONAL).where(PERSONAL.c.event_id == event_id).values(openings="[1]"))
    report = store.verify()
    assert not report.ok and report.first_broken is not None and report.first_broken.sequence == 3
    shown = store.get(personal_event(3, JANE).request_id)
    assert shown.end_user_id == ERASED and shown.query_masked == ERASED


def test_a_kept_value_with_a_bad_salt_shows_nothing_and_is_found(store: SqlAuditStore, db: Database) -> None:
    fill(store)
    with db.engine.begin() as connection:
        event_id = connection.execute(select(EVENTS.c.id).where(EVENTS.c.sequence == 2)).scalar_one()
        kept = json.loads(
            connection.execute(
                select(PERSONAL.c.openings).where(PERSONAL.c.event_id == event_id)
            ).scalar_one()
        )
        kept["end_user_id"]["salt"] = "not hex"
        connection.execute(
            update(PERSONAL).where(PERSONAL.c.event_id == event_id).values(openings=json.dumps(kept))
        )
    shown = store.get(personal_event(2, JOHN).request_id)
    assert shown.end_user_id == ERASED and shown.query_masked == f"{JOHN[1]} #2"
    report = store.verify()
    assert not report.ok and report.first_broken is not None and report.first_broken.sequence == 2
    lines = "".join(export(store, AuditQuery(), "signed")).splitlines()
    assert not verify_export(lines, [load_public_pem(store.public_key_pem())]).ok


def test_the_export_shows_what_the_events_show(store: SqlAuditStore) -> None:
    # The export splices the values into the text; the events API parses and rebuilds: the same values.
    fill(store)
    store.erase(JANE[0], principal_id="admin")
    store.record(replace(personal_event(20, JOHN), query_masked='quotes " and \\ and ünïcode'))
    events = [event_json(e) for e in store.iter_events(AuditQuery())]
    assert [json.loads(line) for line in store.iter_json(AuditQuery(), batch_size=4)] == events
    assert list(store.iter_records(AuditQuery(), batch_size=4)) == events
    assert events[-1]["query_masked"] == 'quotes " and \\ and ünïcode'


def test_an_auditor_resumes_verification_across_an_erasure(store: SqlAuditStore) -> None:
    # Erasure changes no hash: the checkpoint an auditor verified before still holds, offline and online.
    fill(store)
    public = load_public_pem(store.public_key_pem())
    before = verify_export("".join(export(store, AuditQuery(), "signed")).splitlines(), [public])
    assert before.ok and before.last_signed_checkpoint == 6
    store.erase(JOHN[0], principal_id="admin")
    store.record(personal_event(9, JANE))
    lines = "".join(export(store, AuditQuery(), "signed")).splitlines()
    after = verify_export(lines, [public], Resume(6, _hash_at(store, 6)))
    assert after.ok and after.events_checked == 4  # 7-10: the erasure event and Jane's new event among them
    # John's three events, before the resume point, are erased: a full walk counts their 15 values.
    full = verify_export(lines, [public])
    assert full.ok and full.personal_erased == 15
    assert store.verify(since_checkpoint=6).ok


def _hash_at(store: SqlAuditStore, sequence: int) -> str:
    return next(e.hash or "" for e in store.iter_events(AuditQuery()) if e.sequence == sequence)


def test_an_erasure_amid_concurrent_appends_leaves_nothing_before_it(store: SqlAuditStore) -> None:
    # Appends and the erasure take the same chain lock: every event of hers sequenced before the erasure
    # event is erased, every one after it is kept, and the chain verifies.
    fill(store)
    failures: list[BaseException] = []
    appending = threading.Event()

    def append(worker: int) -> None:
        try:
            for n in range(6):
                store.record(personal_event(1000 + worker * 100 + n, JANE))
                if n == 1:
                    appending.set()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
            appending.set()

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    assert appending.wait(30)  # the erasure lands amid the appends, not before them
    report = store.erase(JANE[0], principal_id="admin")
    for thread in threads:
        thread.join()
    assert failures == []
    jane = [
        e
        for e in store.iter_events(AuditQuery())
        if e.principal_id == "chat-app" and e.end_user_id != JOHN[0]
    ]
    assert len(jane) == 4 + 18
    for event in jane:
        assert event.sequence is not None
        erased = event.end_user_id == ERASED
        assert erased == (event.sequence < report.sequence), event.sequence
        assert (event.query_masked == ERASED) == erased
    assert report.events_erased == sum(e.end_user_id == ERASED for e in jane) >= 4 + 2
    assert store.verify().ok

"""Public-key signatures on SQLite and PostgreSQL: the signed head finds a deleted tail; a signed export
verifies offline with only the public key and names the first broken event for every kind of tampering;
incremental verification; key rotation."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text

from retrieval.audit import AuditKeys, AuditQuery, SqlAuditStore, canonical, export, load_keys
from retrieval.audit.chain import text_hash
from retrieval.audit.offline import ExportFormatError, Resume, verify_export
from retrieval.audit.signing import SigningKey, load_public_pem
from retrieval.db import Database, upgrade
from retrieval.errors import NotFound
from retrieval.settings import AuditSettings, Settings
from tests.factories import T0, make_event

pytestmark = pytest.mark.integration

SIGNER = SigningKey.derived(b"s" * 32)
KEYS = AuditKeys(b"q" * 32, b"c" * 32, SIGNER)
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


def delete_from(db: Database, first: int) -> None:
    sql(
        db,
        "DELETE FROM audit_event_chunks WHERE event_id IN (SELECT id FROM audit_events WHERE sequence >= :s)",
        s=first,
    )
    sql(db, "DELETE FROM audit_events WHERE sequence >= :s", s=first)


def public(store: SqlAuditStore) -> Ed25519PublicKey:
    return load_public_pem(store.public_key_pem())


def signed_lines(store: SqlAuditStore) -> list[str]:
    return "".join(export(store, AuditQuery(), "signed")).splitlines()


# -- the signed head --------------------------------------------------------------------------------------


def test_deleting_the_newest_events_between_checkpoints_is_found(store: SqlAuditStore, db: Database) -> None:
    assert store.verify().ok
    delete_from(db, 9)  # 9 and 10: after the last checkpoint (8), so no checkpoint is left beyond the end
    report = store.verify()
    assert not report.ok and report.first_broken is not None
    assert report.first_broken.sequence == 9 and "removed from the end" in report.first_broken.reason


def test_the_head_is_signed_with_the_time(store: SqlAuditStore, db: Database) -> None:
    head = store.head()
    assert head is not None and head.sequence == 10 and head.key_id == SIGNER.key_id
    assert abs(head.signed_at - datetime.now(UTC)) < timedelta(minutes=5)
    # Moving the head back (without the key: its signature no longer matches) is found.
    sql(db, "UPDATE audit_head SET sequence = 8")
    report = store.verify()
    assert not report.ok and report.first_broken is not None
    assert report.first_broken.sequence == 8 and "head's signature" in report.first_broken.reason


def test_an_append_without_the_key_is_found(store: SqlAuditStore, db: Database) -> None:
    # A writer without the signing key chains a well-formed event 11 but cannot sign the head over it.
    other = SqlAuditStore(db, AuditKeys(b"q" * 32, b"c" * 32, SigningKey.derived(b"m" * 32)))
    other.record(make_event(11))
    report = store.verify()
    assert not report.ok and report.first_broken is not None and report.first_broken.sequence == 11


def test_a_log_without_a_signed_head_does_not_verify(store: SqlAuditStore, db: Database) -> None:
    sql(db, "DELETE FROM audit_head")
    delete_from(db, 9)
    report = store.verify()
    assert not report.ok and report.first_broken is not None and "not signed" in report.first_broken.reason


# -- offline verification of a signed export -------------------------------------------------------------


def test_a_signed_export_verifies_offline_with_the_public_key_alone(store: SqlAuditStore) -> None:
    lines = signed_lines(store)
    header = json.loads(lines[0])
    assert header["head"]["sequence"] == 10 and len(header["checkpoints"]) == 2
    assert [json.loads(line)["sequence"] for line in lines[1:]] == list(range(1, 11))
    report = verify_export(lines, [public(store)])
    assert report.ok and report.events_checked == 10 and report.last_signed_checkpoint == 8
    # Another key trusts nothing here.
    stranger = SigningKey.derived(b"x" * 32).public
    wrong = verify_export(lines, [stranger])
    assert not wrong.ok and wrong.first_broken is not None and "signature" in wrong.first_broken.reason


def _edit(lines: list[str]) -> list[str]:
    lines[5] = lines[5].replace('"principal_id":"bob"', '"principal_id":"mallory"')  # event 5
    return lines


def _rehashed(line: str, prev: str) -> str:
    """An event line linked to `prev` and hashed again (what a forger without the key can do)."""
    body = line[: line.index(',"prev_hash":')] + "}"
    digest = text_hash(body, prev)
    return f'{body[:-1]},"prev_hash":"{prev}","hash":"{digest}"}}'


def _insert(lines: list[str]) -> list[str]:
    # A forged event 5 after 4, linked and hashed: the old event 5 now follows another 5.
    record = json.loads(lines[4])
    forged = replace(make_event(99, principal="mallory"), sequence=5)
    body = canonical(forged)
    lines.insert(5, _rehashed(body[:-1] + ',"prev_hash":"","hash":""}', record["hash"]))
    return lines


def _reorder(lines: list[str]) -> list[str]:
    lines[5], lines[6] = lines[6], lines[5]
    return lines


def _delete_middle(lines: list[str]) -> list[str]:
    del lines[5]
    return lines


def _delete_tail(lines: list[str]) -> list[str]:
    return lines[:-2]  # events 9 and 10: past the last checkpoint


def _rewrite_stretch(lines: list[str]) -> list[str]:
    # Event 6 edited and every later event rehashed: the chain holds but checkpoint 8 does not.
    lines[6] = lines[6].replace('"principal_id":"alice"', '"principal_id":"mallory"')
    for index in range(6, 11):
        prev = json.loads(lines[index - 1])["hash"]
        lines[index] = _rehashed(lines[index], prev)
    return lines


def _forge_checkpoint(lines: list[str]) -> list[str]:
    header = json.loads(lines[0])
    header["checkpoints"][0]["hash"] = "f" * 64
    lines[0] = json.dumps(header)
    return lines


def _forge_head(lines: list[str]) -> list[str]:
    # The tail cut and the head moved back to match: its signature no longer holds.
    header = json.loads(lines[0])
    header["head"]["sequence"] = 8
    header["head"]["hash"] = json.loads(lines[8])["hash"]
    lines[0] = json.dumps(header)
    return lines[:-2]


@pytest.mark.parametrize(
    ("tamper", "sequence", "reason"),
    [
        (_edit, 5, "edited"),
        (_insert, 5, "out of order"),
        (_reorder, 5, "moved"),
        (_delete_middle, 5, "missing"),
        (_delete_tail, 9, "removed from the end"),
        (_rewrite_stretch, 8, "checkpoint"),
        (_forge_checkpoint, 4, "signature"),
        (_forge_head, 8, "head's signature"),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_tampering_with_an_export_is_found_offline(
    store: SqlAuditStore, tamper: Callable[[list[str]], list[str]], sequence: int, reason: str
) -> None:
    lines = signed_lines(store)
    assert verify_export(lines, [public(store)]).ok
    report = verify_export(tamper(list(lines)), [public(store)])
    assert not report.ok and report.first_broken is not None
    assert report.first_broken.sequence == sequence, report.first_broken
    assert reason in report.first_broken.reason


def test_a_file_that_is_not_a_signed_export_is_refused(store: SqlAuditStore) -> None:
    plain = "".join(export(store, AuditQuery(), "jsonl")).splitlines()
    with pytest.raises(ExportFormatError):
        verify_export(plain, [public(store)])


# -- incremental verification --------------------------------------------------------------------------


def test_verification_resumes_from_the_last_signed_checkpoint(store: SqlAuditStore, db: Database) -> None:
    first = verify_export(signed_lines(store), [public(store)])
    assert first.ok and first.last_signed_checkpoint == 8
    resume = Resume(8, json.loads(signed_lines(store)[8])["hash"])
    for n in range(11, 14):
        store.record(make_event(n))
    later = verify_export(signed_lines(store), [public(store)], resume)
    assert later.ok and later.events_checked == 5 and later.last_verified_sequence == 13
    # A log rewritten before the resume point no longer holds the checkpoint verified then.
    forged = _forge_checkpoint(signed_lines(store))
    assert not verify_export(forged[:1] + forged[1:], [public(store)], Resume(4, "0" * 64)).ok
    # The same online: from checkpoint 8, only what follows is walked.
    online = store.verify(since_checkpoint=8)
    assert online.ok and online.events_checked == 5
    with pytest.raises(NotFound):
        store.verify(since_checkpoint=7)
    # Pruned past the resume point: the walk starts at the anchor, online and offline.
    store.prune(T0 + timedelta(minutes=11))
    assert store.verify(since_checkpoint=8).ok
    assert verify_export(signed_lines(store), [public(store)], resume).ok


# -- keys ------------------------------------------------------------------------------------------------


def test_a_rotated_key_is_trusted_through_the_statement_both_keys_signed(
    store: SqlAuditStore, db: Database
) -> None:
    old = public(store)
    new = SigningKey.derived(b"n" * 32)
    event = store.rotate_key(new, principal_id="operator")
    assert event.sequence == 11 and event.details is not None and event.details["key_id"] == new.key_id
    for n in range(12, 15):
        store.record(make_event(n))  # checkpoint 12 and the head now signed with the new key
    assert store.head() is not None and store.head().key_id == new.key_id  # type: ignore[union-attr]
    assert store.verify().ok
    # A service restarted with only the new key still verifies the old key's checkpoints.
    assert SqlAuditStore(db, AuditKeys(b"q" * 32, b"c" * 32, new)).verify().ok
    lines = signed_lines(store)
    assert verify_export(lines, [old]).ok  # the old key vouches for the new one
    assert verify_export(lines, [new.public]).ok  # … and the new one for the old
    # A key slipped into the list without the old key's signature is trusted by nobody.
    header = json.loads(lines[0])
    header["keys"][-1]["previous_signature"] = "00" * 64
    lines[0] = json.dumps(header)
    broken = verify_export(lines, [old])
    assert not broken.ok and broken.first_broken is not None and broken.first_broken.sequence == 12


def test_the_signing_key_is_generated_once_with_mode_0600_or_read_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_keys(settings)
    assert load_keys(settings).signer == first.signer
    key_file = tmp_path / "audit-signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "PRIVATE" not in repr(first.signer)
    shared = Settings(data_dir=tmp_path / "other", audit=AuditSettings(signing_key_file=key_file))
    assert load_keys(shared).signer == first.signer
    assert not (tmp_path / "other" / "audit-signing-key.pem").exists()

"""`AuditStore` on the relational database (SQLite or PostgreSQL): append to the chain, read, verify, prune.

Serializing the append. An append reads the chain head (the last event's sequence and hash), seals the new
event over it and inserts it; two writers must never read the same head, or the chain forks and a sequence
number repeats. The head is read only after taking a lock that every appender takes and that is released only
when its transaction has committed:

- PostgreSQL: `SELECT pg_advisory_xact_lock(CHAIN_LOCK)` is the transaction's first statement. Writers in any
  number of processes queue on it; the lock goes at commit (after the commit is visible), so the next holder's
  head query — a new statement, hence a new snapshot under READ COMMITTED, the default this relies on — sees
  the event just committed. An advisory lock rather than `SELECT … FOR UPDATE` on a head row: no extra row to
  keep in step with the events, and no dead tuple per append.
- SQLite: `BEGIN IMMEDIATE` takes the database's write lock when the transaction starts, before the head is
  read (a deferred transaction would read under a shared lock and fail to upgrade when another writer won).
  Other processes wait on the busy timeout (30 s, see retrieval.db).

Row ids are drawn inside the same lock (PostgreSQL's id sequence, SQLite's rowid), so they increase with the
sequence: pages and exports are ordered by id, which the side tables' `(value, event_id)` indexes deliver in
order. Verification does not rely on that; it walks the sequence.

Each event row keeps the canonical JSON its hash covers (`canonical`, from revision 0006): the export streams
that text (JSON Lines) or parses it once (CSV) instead of rebuilding each event from its columns and side
tables; `verify` holds it equal to the text rebuilt from the columns. Older rows have NULL there and take the
column path.

Group commit. The answers of concurrent requests append together: the first to find no append running
takes every event waiting (up to `GROUP_MAX`) and appends them in one transaction (one lock, one head read,
one signed head, one durable commit); each caller returns only once that commit is done, so no answer leaves
before its event is durable, as with an append of its own. A group that cannot commit is appended again event
by event, so an event the database refuses (a repeated request id) fails alone. In one process appenders no
longer queue on the database's lock (SQLite's busy handler sleeps while it waits); across processes the lock
above still orders the groups.

The unique constraints on `sequence` and `request_id` are the backstop: an append that would repeat either
fails and nothing is answered. Periodic checkpoints are written in the transaction of the event they sign.
Every write error becomes `AuditUnavailable`; read errors are `BackendUnavailable`.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Row, bindparam, delete, func, insert, select, text, update

from retrieval import telemetry
from retrieval.audit import kept
from retrieval.audit.chain import (
    ANCHOR,
    GENESIS,
    PERIODIC,
    Checkpoint,
    SignedHead,
    sealed_text,
    verify_links,
)
from retrieval.audit.events import (
    AUDIT_KEY_ROTATION,
    AUDIT_PRUNE,
    POLICY_CHANGE,
    PRIVACY_ERASURE,
    AuditEvent,
    AuditPage,
    AuditQuery,
    ErasureReport,
    PruneReport,
    VerifyReport,
)
from retrieval.audit.keys import AuditKeys
from retrieval.audit.personal import Tally, commit_event
from retrieval.audit.records import (
    STORED_COLUMNS,
    load_lines,
    load_stored_records,
)
from retrieval.audit.rows import (
    CHECKPOINTS,
    CHUNKS,
    EVENT_COLUMNS,
    EVENTS,
    HEAD,
    REGIONS,
    SIGNING_KEYS,
    chunk_values,
    event_values,
    filters,
    load,
)
from retrieval.audit.signing import (
    PublishedKey,
    SigningKey,
    Trust,
    announce,
    checkpoint_message,
    head_message,
)
from retrieval.audit.verify_reads import VERIFY_COLUMNS, load_links
from retrieval.db import Database
from retrieval.errors import AuditUnavailable, BackendUnavailable, Conflict, InvalidRequest, NotFound
from retrieval.query_batching import QueryBatcher

T = TypeVar("T")
CHAIN_LOCK = 0x676F767261670001  # "govrag" + 1: the advisory lock key of the chain's head
GROUP_MAX = 64  # events appended in one transaction at most


class SqlAuditStore:
    """The provenance log in the relational store; one per process, safe for concurrent writers."""

    def __init__(
        self,
        db: Database,
        keys: AuditKeys | None = None,
        checkpoint_every: int = 1000,
        group_commit: bool = True,
    ) -> None:
        """`group_commit`: the events of concurrent callers appended together (see the module docstring);
        false: each in a transaction of its own."""
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self._db = db
        self._keys = keys or AuditKeys.random()
        self._signer = self._keys.signer
        self._key_published = False
        self._every = checkpoint_every
        self._dialect = db.engine.dialect.name
        # Whatever one event makes fail (the database refusing it, a value that cannot be sealed) fails it
        # alone, never the answers beside it: a group that cannot commit is appended again event by event.
        self._groups: QueryBatcher[AuditEvent, AuditEvent] = QueryBatcher(
            self._commit, max_batch=GROUP_MAX if group_commit else 1, alone_on=(Exception,)
        )

    @property
    def signing_key_id(self) -> str:
        return self._signer.key_id

    def public_key_pem(self) -> str:
        """The PEM of the key this store signs with (what an auditor verifies exports against)."""
        return self._signer.public_pem()

    # -- writing --------------------------------------------------------------------------------------------
    def fingerprint(self, query: str) -> str:
        return self._keys.query_hmac(query)

    def record(self, event: AuditEvent) -> AuditEvent:
        """Append the event, with the events of concurrent callers (see "Group commit" above); returns once
        it is committed."""
        started = time.perf_counter()
        try:
            recorded = self._groups.run(event)
        except Exception:
            telemetry.AUDIT_WRITE_SECONDS.labels("failed").observe(time.perf_counter() - started)
            raise
        telemetry.AUDIT_WRITE_SECONDS.labels("ok").observe(time.perf_counter() - started)
        return recorded

    def _commit(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        try:
            with self._db.session() as session:
                connection = session.connection()
                _lock_chain(connection)
                return self._append_all(connection, events)
        except BackendUnavailable as exc:
            raise AuditUnavailable(
                "the provenance log cannot record this request; nothing is answered"
            ) from exc

    def record_policy_version(self, version: str, files: Sequence[str]) -> AuditEvent | None:
        try:
            with self._db.session() as session:
                connection = session.connection()
                _lock_chain(connection)  # check and append under one lock: workers starting together log once
                last = connection.execute(
                    select(EVENTS.c.details)
                    .where(EVENTS.c.action == POLICY_CHANGE)
                    .order_by(EVENTS.c.id.desc())
                    .limit(1)
                ).scalar()
                previous = (last or {}).get("current")
                if previous == version:
                    return None
                event = AuditEvent(
                    request_id=str(uuid.uuid4()),
                    occurred_at=datetime.now(UTC),
                    action=POLICY_CHANGE,
                    principal_id="system",
                    policy_version=version,
                    outcome="succeeded",
                    details={"previous": previous, "current": version, "files": list(files)},
                )
                return self._append(connection, event)
        except BackendUnavailable as exc:
            raise AuditUnavailable("the provenance log cannot record the policy version") from exc

    def _append(self, connection: Connection, event: AuditEvent) -> AuditEvent:
        return self._append_all(connection, [event])[0]

    def _append_all(self, connection: Connection, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Seal and insert the events in order, each over the one before, and sign the last as the head."""
        head_sequence, head_hash = _head(connection)
        appended = []
        for event in events:
            sealed = self._insert(connection, event, head_sequence, head_hash)
            assert sealed.sequence is not None and sealed.hash is not None
            head_sequence, head_hash = sealed.sequence, sealed.hash
            appended.append(sealed)
        self._sign_head(connection, head_sequence, head_hash)
        return appended

    def _insert(
        self, connection: Connection, event: AuditEvent, head_sequence: int, head_hash: str
    ) -> AuditEvent:
        """Seal the event over the head given and insert it (its personal fields committed, their values
        kept beside it); the event is returned as readers see it, its values in place."""
        committed, values = commit_event(event)
        sealed, canonical = sealed_text(committed, head_sequence + 1, head_hash)
        assert sealed.sequence is not None and sealed.hash is not None
        event_id = connection.execute(
            insert(EVENTS).returning(EVENTS.c.id), {**event_values(sealed), "canonical": canonical}
        ).scalar_one()
        subject = self._keys.subject_digest(event.end_user_id) if event.end_user_id is not None else None
        kept.write(connection, event_id, values, subject)
        if sealed.chunks:
            connection.execute(
                insert(CHUNKS), [{"event_id": event_id, **chunk_values(c)} for c in sealed.chunks]
            )
        if sealed.regions:
            connection.execute(insert(REGIONS), [{"event_id": event_id, "region": r} for r in sealed.regions])
        if sealed.sequence % self._every == 0:
            self._checkpoint(connection, PERIODIC, sealed.sequence, sealed.hash)
        if not values:
            return sealed
        # As readers will see it: the values as given (as JSON values, as they read back), not re-opened.
        details = json.loads(json.dumps(event.details)) if event.details is not None else None
        return replace(
            sealed, end_user_id=event.end_user_id, query_masked=event.query_masked, details=details
        )

    def _sign_head(self, connection: Connection, sequence: int, hash_: str) -> None:
        """Sign the new head in the append's transaction (under the chain lock: one writer at a time)."""
        self._publish_key(connection)
        signed_at = datetime.now(UTC)
        values = {
            "sequence": sequence,
            "hash": hash_,
            "signed_at": signed_at,
            "key_id": self._signer.key_id,
            "signature": self._signer.sign(head_message(sequence, hash_, signed_at)),
        }
        if connection.execute(_HEAD_UPDATE, values).rowcount == 0:
            connection.execute(insert(HEAD).values(id=1, **values))

    def _publish_key(self, connection: Connection) -> None:
        # The public key goes beside the log once, so an export carries every key that signed it.
        if self._key_published:
            return
        known = connection.execute(
            select(SIGNING_KEYS.c.key_id).where(SIGNING_KEYS.c.key_id == self._signer.key_id)
        ).first()
        if known is None:
            connection.execute(
                insert(SIGNING_KEYS).values(
                    key_id=self._signer.key_id,
                    public_key=self._signer.public_pem(),
                    created_at=datetime.now(UTC),
                )
            )
        else:  # committed: only then is it certain (the insert above may yet be rolled back with its append)
            self._key_published = True

    def _checkpoint(self, connection: Connection, kind: str, sequence: int, hash_: str) -> None:
        signature = self._signer.sign(checkpoint_message(kind, sequence, hash_))
        connection.execute(
            insert(CHECKPOINTS).values(
                sequence=sequence,
                kind=kind,
                hash=hash_,
                signature=signature,
                created_at=datetime.now(UTC),
                key_id=self._signer.key_id,
            )
        )

    def rotate_key(self, new: SigningKey, principal_id: str = "system") -> AuditEvent:
        """Announce `new` with a statement signed by the current key and by `new`, log it as an event whose
        head the current key signs, and sign with `new` from the next append on."""
        try:
            with self._db.session() as session:
                connection = session.connection()
                _lock_chain(connection)
                self._publish_key(connection)
                statement = announce(self._signer, new, datetime.now(UTC))
                connection.execute(
                    insert(SIGNING_KEYS).values(
                        key_id=statement.key_id,
                        public_key=statement.public_key,
                        created_at=statement.created_at,
                        previous_key_id=statement.previous_key_id,
                        previous_signature=statement.previous_signature,
                        new_signature=statement.new_signature,
                    )
                )
                event = self._append(
                    connection,
                    AuditEvent(
                        request_id=str(uuid.uuid4()),
                        occurred_at=statement.created_at,
                        action=AUDIT_KEY_ROTATION,
                        principal_id=principal_id,
                        policy_version="",
                        outcome="succeeded",
                        details={
                            "previous_key_id": statement.previous_key_id,
                            "key_id": statement.key_id,
                            "public_key": statement.public_key,
                            "previous_signature": statement.previous_signature,
                            "new_signature": statement.new_signature,
                        },
                    ),
                )
        except BackendUnavailable as exc:
            raise AuditUnavailable("the provenance log cannot record the key rotation") from exc
        self._signer = new
        self._key_published = True
        return event

    # -- reading --------------------------------------------------------------------------------------------
    def get(self, request_id: str) -> AuditEvent:
        with self._db.session() as session:
            connection = session.connection()
            rows = connection.execute(select(*EVENT_COLUMNS).where(EVENTS.c.request_id == request_id)).all()
            if not rows:
                raise NotFound(f"no audit event for request {request_id}")
            return _load_shown(connection, rows)[0]

    def query(self, query: AuditQuery) -> AuditPage:
        if not 1 <= query.limit <= 1000:
            raise InvalidRequest("limit must be between 1 and 1000")
        # Newest first by row id, which orders events as their sequence does (see the module docstring) and
        # lets the planner walk the side tables' (value, event_id) indexes in order. The cursor is an id.
        stmt = select(*EVENT_COLUMNS).where(*self._filters(query))
        if query.cursor is not None:
            stmt = stmt.where(EVENTS.c.id < query.cursor)
        stmt = stmt.order_by(EVENTS.c.id.desc()).limit(query.limit + 1)
        with self._db.session() as session:
            connection = session.connection()
            rows = connection.execute(stmt).all()
            more = len(rows) > query.limit
            events = _load_shown(connection, rows[: query.limit])
        return AuditPage(events=events, next_cursor=rows[query.limit - 1][0] if more else None)

    def iter_events(
        self, query: AuditQuery, batch_size: int = 1000, *, chained: bool = False
    ) -> Iterator[AuditEvent]:
        """`chained`: the events as the chain holds them (personal fields as their commitments), what their
        hashes cover; otherwise as the log shows them."""
        loader = load if chained else _load_shown
        return self._iter(query, batch_size, EVENTS.c.id, self._max(EVENTS.c.id), EVENT_COLUMNS, loader)

    def iter_records(self, query: AuditQuery, batch_size: int = 2000) -> Iterator[dict[str, Any]]:
        # One parse of the kept canonical text per event (see `records`), not a decode column by column.
        upto = self._max(EVENTS.c.id)
        return self._iter(query, batch_size, EVENTS.c.id, upto, STORED_COLUMNS, _records_shown)

    def iter_json(self, query: AuditQuery, batch_size: int = 5000, upto: int | None = None) -> Iterator[str]:
        """As `iter_records`, each event as its JSON text (the JSONL export): the kept canonical text with
        the two hashes spliced in, neither parsed nor encoded again. `upto`: the last row id to read."""
        upto = self._max(EVENTS.c.id) if upto is None else upto
        return self._iter(query, batch_size, EVENTS.c.id, upto, STORED_COLUMNS, _lines_shown)

    def iter_sealed(self, upto: int, batch_size: int = 5000) -> Iterator[str]:
        """Every event up to row id `upto` as a signed export's line: the chained text as hashed, with the
        personal values still kept as openings (`kept.sealed_lines`)."""
        return self._iter(AuditQuery(), batch_size, EVENTS.c.id, upto, STORED_COLUMNS, _lines_sealed)

    def head_sequence(self) -> int:
        return self._max(EVENTS.c.sequence)

    def _max(self, column: ColumnElement[int]) -> int:
        with self._db.session() as session:
            return int(session.scalar(select(func.coalesce(func.max(column), 0))) or 0)

    def _iter(
        self,
        query: AuditQuery,
        batch_size: int,
        key: ColumnElement[int],
        upto: int,
        columns: Sequence[ColumnElement[Any]],
        loader: Callable[[Connection, Sequence[Row[Any]]], list[T]],
        after: int = 0,
    ) -> Iterator[T]:
        # Keyset batches on `key` (the row id; verification walks the sequence itself), each its own short
        # read: no transaction or connection is held while the consumer (a slow HTTP client, say) takes its
        # time, and `upto` fixes the end, so the result is one consistent prefix of the log even while events
        # are appended.
        where = self._filters(query)
        position = 0 if key is EVENTS.c.id else 1  # the key's place in both column lists
        last = after
        while True:
            stmt = select(*columns).where(*where, key > last, key <= upto).order_by(key).limit(batch_size)
            with self._db.session() as session:
                connection = session.connection()
                rows = connection.execute(stmt).all()
                items = loader(connection, rows)
            yield from items
            if len(rows) < batch_size:
                return
            last = rows[-1][position]

    def _filters(self, query: AuditQuery) -> list[ColumnElement[bool]]:
        subject = self._keys.subject_digest(query.end_user_id) if query.end_user_id is not None else None
        return filters(query, self._dialect, subject)

    def checkpoints(self) -> list[Checkpoint]:
        with self._db.session() as session:
            rows = session.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.sequence, CHECKPOINTS.c.id))
            return [Checkpoint(r.sequence, r.kind, r.hash, r.signature, r.created_at, r.key_id) for r in rows]

    def head(self) -> SignedHead | None:
        """The chain head as last signed (None before the first signed append)."""
        with self._db.session() as session:
            row = session.execute(select(HEAD).where(HEAD.c.id == 1)).first()
        if row is None:
            return None
        return SignedHead(row.sequence, row.hash, row.signed_at, row.key_id, row.signature)

    def published_keys(self) -> list[PublishedKey]:
        with self._db.session() as session:
            rows = session.execute(select(SIGNING_KEYS).order_by(SIGNING_KEYS.c.created_at))
            return [
                PublishedKey(
                    r.key_id,
                    r.public_key,
                    r.created_at,
                    r.previous_key_id,
                    r.previous_signature,
                    r.new_signature,
                )
                for r in rows
            ]

    def trust(self) -> Trust:
        """What this store's own verification trusts: its key, the keys rotation statements link to it, and
        the HMAC key for checkpoints signed before public-key signatures."""
        trust = Trust.of([self._signer.public], legacy_hmac_key=self._keys.checkpoint_key)
        trust.extend(self.published_keys())
        return trust

    def signed_state(self) -> tuple[SignedHead | None, list[Checkpoint], list[PublishedKey], int]:
        """What an export carries besides its events: the signed head, the checkpoints and the keys, read in
        an order that makes them cover the events the export then reads (up to the row id returned)."""
        checkpoints = self.checkpoints()
        head = self.head()
        keys = self.published_keys()
        upto = self._max(EVENTS.c.id)
        if head is not None:
            with self._db.session() as session:
                found = session.scalar(select(EVENTS.c.id).where(EVENTS.c.sequence == head.sequence))
            upto = int(found) if found is not None else upto
        return head, checkpoints, keys, upto

    # -- verifying and pruning ------------------------------------------------------------------------------
    def verify(self, upto: int | None = None, since_checkpoint: int | None = None) -> VerifyReport:
        """Walk the chain (to `upto`, or to the signed head); `since_checkpoint`: resume from the signed
        checkpoint at that sequence, verified before (incremental verification; `NotFound` if none)."""
        # Checkpoints first: each was committed with its event, so every one read here has its event at or
        # below the head read next, unless events were removed from the end (which verify then reports).
        checkpoints = self.checkpoints()
        trust = self.trust()
        if upto is not None:  # a prefix (pruning checks up to its cut): no head to hold the end to
            checkpoints = [c for c in checkpoints if c.sequence <= upto]
            links = self._iter(AuditQuery(), 2000, EVENTS.c.sequence, upto, VERIFY_COLUMNS, load_links)
            return verify_links(links, checkpoints, trust)
        tally = Tally()
        # The last sequence before the head: each append commits its event and the head together, so an
        # honest head read after it is at or beyond it; the walk goes to whichever is further.
        last = self.head_sequence()
        head = self.head()
        end = max(last, head.sequence if head is not None else 0)
        resume = None
        if since_checkpoint is not None:
            valid = [c for c in checkpoints if c.valid(trust)]
            found = [c for c in valid if c.sequence == since_checkpoint]
            if not found:
                raise NotFound(f"no signed checkpoint at {since_checkpoint} to resume from")
            anchor = max((c.sequence for c in valid if c.kind == ANCHOR), default=0)
            # Pruned past the resume point: the walk starts at the anchor, as a full one does.
            resume = (found[0].sequence, found[0].hash) if found[0].sequence >= anchor else None
        after = resume[0] if resume is not None else 0
        loader = functools.partial(load_links, tally=tally)
        links = self._iter(AuditQuery(), 2000, EVENTS.c.sequence, end, VERIFY_COLUMNS, loader, after)
        report = verify_links(links, checkpoints, trust, head, require_head=True, start_after=resume)
        return replace(report, personal_checked=tally.checked, personal_erased=tally.erased)

    def prune(self, before: datetime, principal_id: str = "system") -> PruneReport:
        """Delete the events older than `before`; the last one pruned becomes a signed anchor.

        The cut is conservative: it ends before the first event at or after `before`, so clock skew between
        workers never prunes a newer event. The chain is verified up to the cut first; a broken log is not
        pruned (that would erase the evidence) and `Conflict` says where it broke.
        """
        with self._db.session() as session:
            first_kept = session.scalar(
                select(func.min(EVENTS.c.sequence)).where(EVENTS.c.occurred_at >= before)
            )
            oldest = session.scalar(select(func.min(EVENTS.c.sequence)))
            cut = (
                (first_kept - 1)
                if first_kept is not None
                else session.scalar(select(func.max(EVENTS.c.sequence)))
            )
        if oldest is None or cut is None or cut < oldest:
            return PruneReport(pruned=0, anchor_sequence=self._anchor())
        report = self.verify(upto=cut)
        if not report.ok and report.first_broken is not None:
            raise Conflict(
                f"the log does not verify up to the cut (first broken link at "
                f"{report.first_broken.sequence}: {report.first_broken.reason}); nothing was pruned"
            )
        try:
            with self._db.session() as session:
                connection = session.connection()
                _lock_chain(connection)
                cut_hash = connection.execute(
                    select(EVENTS.c.hash).where(EVENTS.c.sequence == cut)
                ).scalar_one()
                self._checkpoint(connection, ANCHOR, cut, cut_hash)
                doomed = select(EVENTS.c.id).where(EVENTS.c.sequence <= cut).scalar_subquery()
                connection.execute(delete(CHUNKS).where(CHUNKS.c.event_id.in_(doomed)))
                connection.execute(delete(REGIONS).where(REGIONS.c.event_id.in_(doomed)))
                kept.delete_upto(connection, doomed)
                pruned = connection.execute(delete(EVENTS).where(EVENTS.c.sequence <= cut)).rowcount
                self._append(
                    connection,
                    AuditEvent(
                        request_id=str(uuid.uuid4()),
                        occurred_at=datetime.now(UTC),
                        action=AUDIT_PRUNE,
                        principal_id=principal_id,
                        policy_version="",
                        outcome="succeeded",
                        details={
                            "before": before.astimezone(UTC).isoformat(),
                            "pruned": pruned,
                            "anchor": cut,
                        },
                    ),
                )
        except BackendUnavailable as exc:
            raise AuditUnavailable("the provenance log cannot be pruned now") from exc
        return PruneReport(pruned=pruned, anchor_sequence=cut)

    # -- erasing -------------------------------------------------------------------------------------------
    def erase(self, end_user_id: str, principal_id: str) -> ErasureReport:
        """Delete the personal values kept for `end_user_id`'s events and log an `erasure` event with the
        counts (not the identity), in one transaction under the chain lock: both happen or neither does.
        The chain is untouched: it holds only commitments, which reveal nothing once the values and their
        salts are gone. Events from before revision 0011 hold their values in the chain; they are counted
        (`legacy_events`), not changed."""
        subject = self._keys.subject_digest(end_user_id)
        try:
            with self._db.session() as session:
                connection = session.connection()
                _lock_chain(connection)
                events, values, legacy = kept.erase(connection, subject, end_user_id)
                event = self._append(
                    connection,
                    AuditEvent(
                        request_id=str(uuid.uuid4()),
                        occurred_at=datetime.now(UTC),
                        action=PRIVACY_ERASURE,
                        principal_id=principal_id,
                        policy_version="",
                        outcome="succeeded",
                        details={"events_erased": events, "values_erased": values, "legacy_events": legacy},
                    ),
                )
        except BackendUnavailable as exc:
            raise AuditUnavailable(
                "the provenance log cannot record the erasure; nothing was erased"
            ) from exc
        assert event.sequence is not None
        return ErasureReport(
            events_erased=events,
            values_erased=values,
            legacy_events=legacy,
            request_id=event.request_id,
            sequence=event.sequence,
        )

    def _anchor(self) -> int:
        anchors = [c.sequence for c in self.checkpoints() if c.kind == ANCHOR]
        return max(anchors, default=0)


# -- helpers ------------------------------------------------------------------------------------------------


# One statement object for every append (its compiled form is cached by SQLAlchemy), values bound per call.
_HEAD_UPDATE = (
    update(HEAD)
    .where(HEAD.c.id == 1)
    .values({name: bindparam(name) for name in ("sequence", "hash", "signed_at", "key_id", "signature")})
)


def _load_shown(connection: Connection, rows: Sequence[Row[Any]]) -> list[AuditEvent]:
    return kept.reveal_events(connection, [row[0] for row in rows], load(connection, rows))


def _lines_shown(connection: Connection, rows: Sequence[Row[Any]]) -> list[str]:
    return kept.reveal_lines(connection, rows, load_lines(connection, rows))


def _records_shown(connection: Connection, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    return kept.reveal_records(connection, rows, load_stored_records(connection, rows))


def _lines_sealed(connection: Connection, rows: Sequence[Row[Any]]) -> list[str]:
    return kept.sealed_lines(connection, rows, load_lines(connection, rows))


def _lock_chain(connection: Connection) -> None:
    """Take the chain's write lock for the rest of this transaction (see the module docstring)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:  # pragma: no cover - only the two supported databases reach here
        raise BackendUnavailable(f"no chain lock for {connection.dialect.name}")


def _head(connection: Connection) -> tuple[int, str]:
    row = connection.execute(
        select(EVENTS.c.sequence, EVENTS.c.hash).order_by(EVENTS.c.sequence.desc()).limit(1)
    ).first()
    if row is None:  # empty, or everything pruned: the chain goes on from the newest anchor
        row = connection.execute(
            select(CHECKPOINTS.c.sequence, CHECKPOINTS.c.hash)
            .where(CHECKPOINTS.c.kind == ANCHOR)
            .order_by(CHECKPOINTS.c.sequence.desc())
            .limit(1)
        ).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)

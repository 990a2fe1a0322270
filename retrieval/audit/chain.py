"""The hash chain: each event's canonical form, its hash, signed checkpoints, and verification.

An event's hash is `sha256("govrag-audit-v1\\n" + prev_hash + "\\n" + canonical JSON)`, where the canonical
JSON holds every field of the event (its sequence, chunks and regions included; not `prev_hash` and `hash`)
with sorted keys, no spaces and ASCII escapes. So editing a field, removing or adding a chunk, renumbering,
deleting or reordering events all break a link that `verify` finds. The store keeps that text beside the
columns (the export streams it as it is); verify requires it to equal the text rebuilt from the columns.

A chain alone cannot stop someone with write access from recomputing every hash after the link they forged.
Signatures can (`signing`: Ed25519, a key that is not in the database): every N events the store signs a
checkpoint `(kind, sequence, hash)`, so a rewritten stretch no longer matches the next checkpoint; and every
append signs the chain head `(sequence, hash, time)`, so deleting the newest events leaves a signed head
beyond the end. Retention pruning leaves an `anchor` checkpoint at the cut; verification starts from the
newest anchor whose signature holds. Checkpoints from before revision 0007 are HMAC-signed and still checked
with the HMAC key where it is at hand.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from retrieval.audit.events import AuditChunk, AuditEvent, BrokenLink, VerifyReport
from retrieval.audit.signing import Trust, checkpoint_message, head_message
from retrieval.domain import ChunkWhy

GENESIS = "0" * 64
_DOMAIN = "govrag-audit-v1"
PERIODIC = "periodic"
ANCHOR = "anchor"


def canonical(event: AuditEvent) -> str:
    """The event's content as one canonical JSON text (what its hash covers)."""
    if event.sequence is None:
        raise ValueError("an event gets its canonical form once it has a sequence")
    return json.dumps(content(event), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def content(event: AuditEvent) -> dict[str, Any]:
    """Every field of the event but its `prev_hash` and `hash`, as JSON values (times in UTC ISO 8601)."""
    return {
        "sequence": event.sequence,
        "request_id": event.request_id,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "action": event.action,
        "principal_id": event.principal_id,
        "end_user_id": event.end_user_id,
        "principal": None
        if event.principal is None
        else {
            "roles": list(event.principal.roles),
            "clearance": event.principal.clearance,
            "regions": list(event.principal.regions),
            "groups": list(event.principal.groups),
        },
        "policy_version": event.policy_version,
        "outcome": event.outcome,
        "query_masked": event.query_masked,
        "query_hmac": event.query_hmac,
        "top_k": event.top_k,
        "decisions": [
            {"corpus_id": d.corpus_id, "allowed": d.allowed, "policy_ids": list(d.policy_ids)}
            for d in event.decisions
        ],
        "allowed_corpora": list(event.allowed_corpora),
        "partitions": list(event.partitions),
        # A set: the store keeps regions in a side table and reads them back in sorted order.
        "regions": sorted(event.regions),
        "unavailable": list(event.unavailable),
        "latency_ms": event.latency_ms,
        "chunks": [chunk_content(c) for c in sorted(event.chunks, key=lambda c: c.rank)],
        "corpus_id": event.corpus_id,
        "document_id": event.document_id,
        "details": event.details,
    }


def chunk_content(chunk: AuditChunk) -> dict[str, Any]:
    """A chunk of an event's content. `why` only where the chunk has one, so the events logged before it
    existed keep their canonical text and their hashes."""
    value: dict[str, Any] = {
        "rank": chunk.rank,
        "score": chunk.score,
        "chunk_id": chunk.chunk_id,
        "document_id": chunk.document_id,
        "document_version": chunk.document_version,
        "corpus_id": chunk.corpus_id,
        "content_sha256": chunk.content_sha256,
        "embedding_model": chunk.embedding_model,
    }
    if chunk.why is not None:
        value["why"] = chunk.why.as_json()
    if chunk.pii_counts is not None:
        value["pii_counts"] = dict(sorted(chunk.pii_counts.items()))
    return value


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    return text_hash(canonical(event), prev_hash)


def text_hash(canonical_text: str, prev_hash: str) -> str:
    """The hash of a link from its canonical text (`canonical`) and the previous link's hash."""
    text = f"{_DOMAIN}\n{prev_hash}\n{canonical_text}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def seal(event: AuditEvent, sequence: int, prev_hash: str) -> AuditEvent:
    """The event as the chain's link `sequence` after `prev_hash`: normalized, numbered and hashed."""
    return sealed_text(event, sequence, prev_hash)[0]


def sealed_text(event: AuditEvent, sequence: int, prev_hash: str) -> tuple[AuditEvent, str]:
    """As `seal`, with the canonical text the hash covers (what the store keeps beside the columns)."""
    sealed = normalized(replace(event, sequence=sequence, prev_hash=prev_hash, hash=None))
    text = canonical(sealed)
    return replace(sealed, hash=text_hash(text, prev_hash)), text


def normalized(event: AuditEvent) -> AuditEvent:
    """The event as it reads back from either database, so that its hash is the one verify computes."""
    return replace(
        event,
        top_k=int(event.top_k) if event.top_k is not None else None,
        latency_ms=float(event.latency_ms) if event.latency_ms is not None else None,
        regions=tuple(sorted(set(event.regions))),
        chunks=tuple(
            replace(
                c,
                rank=int(c.rank),
                score=float(c.score),
                document_version=int(c.document_version),
                why=ChunkWhy.from_json(c.why.as_json()) if c.why is not None else None,
                pii_counts=_counts(c.pii_counts),
            )
            for c in sorted(event.chunks, key=lambda c: c.rank)
        ),
        details=json.loads(json.dumps(event.details)) if event.details is not None else None,
    )


def _counts(counts: dict[str, int] | None) -> dict[str, int] | None:
    return {str(k): int(v) for k, v in sorted(counts.items())} if counts is not None else None


def sign_checkpoint(key: bytes, kind: str, sequence: int, hash_: str) -> str:
    """HMAC-SHA256 over (kind, sequence, hash): how checkpoints were signed before revision 0007."""
    return hmac.new(key, checkpoint_message(kind, sequence, hash_), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    sequence: int
    kind: str
    hash: str
    signature: str
    created_at: datetime
    key_id: str | None = None  # the Ed25519 key that signed it; None: an HMAC checkpoint (before 0007)

    def valid(self, trust: Trust) -> bool | None:
        """Whether the signature holds; None when it cannot be checked here (an HMAC checkpoint offline)."""
        message = checkpoint_message(self.kind, self.sequence, self.hash)
        if self.key_id is not None:
            return trust.valid(self.key_id, self.signature, message)
        if trust.legacy_hmac_key is None:
            return None
        expected = hmac.new(trust.legacy_hmac_key, message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.signature)


@dataclass(frozen=True, slots=True)
class SignedHead:
    """The chain's head (its last event's sequence and hash) as the signing key signed it, and when."""

    sequence: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: str

    def valid(self, trust: Trust) -> bool:
        return trust.valid(
            self.key_id, self.signature, head_message(self.sequence, self.hash, self.signed_at)
        )


# One link as verification reads it: sequence, prev_hash, hash, request id, and why its content does not
# match its hash (None when it does). Tuples: a million of them are made per verification.
Link = tuple[int, str, str, str | None, str | None]
MALFORMED = -2  # the sequence of a link that could not be read (its reason says why)
CONTENT_EDITED = "its content does not match its hash (a field, chunk or region was edited)"
TEXT_EDITED = "its stored canonical text differs from its fields (the text was edited)"


def event_link(event: AuditEvent, kept: str | None = None) -> Link:
    """A link from an event's fields (and the canonical text the store kept for it, if any): the hash is
    computed from the canonical form rebuilt from the fields, and a kept text must equal it."""
    text = canonical(event)
    prev = event.prev_hash or ""
    problem = None
    if text_hash(text, prev) != event.hash:
        problem = CONTENT_EDITED
    elif kept is not None and kept != text:
        problem = TEXT_EDITED
    return (
        event.sequence if event.sequence is not None else -1,
        prev,
        event.hash or "",
        event.request_id,
        problem,
    )


def verify_chain(
    events: Iterable[AuditEvent | tuple[AuditEvent, str | None]],
    checkpoints: Sequence[Checkpoint],
    trust: Trust,
    head: SignedHead | None = None,
    *,
    require_head: bool = False,
) -> VerifyReport:
    """`verify_links` over events (ascending sequence), each optionally with the canonical text the store
    kept for it (`(event, text)`; None for events written before the store kept it)."""
    links = (event_link(*item) if isinstance(item, tuple) else event_link(item) for item in events)
    return verify_links(links, checkpoints, trust, head, require_head=require_head)


def verify_links(
    links: Iterable[Link],
    checkpoints: Sequence[Checkpoint],
    trust: Trust,
    head: SignedHead | None = None,
    *,
    require_head: bool = False,
    start_after: tuple[int, str] | None = None,
) -> VerifyReport:
    """Walk `links` (ascending sequence) from the newest valid anchor; report the first broken link.

    Broken links, by what they mean:
    - a checkpoint or head whose signature does not match (forged or edited, or signed by a key not trusted);
    - a missing sequence number (a deleted event);
    - a `prev_hash` that is not the previous event's hash (an inserted or reordered event);
    - a hash that does not match the event's content (an edited field, chunk or region), or a kept canonical
      text that differs from the event's fields (an edited text);
    - an event whose hash differs from the signed checkpoint at its sequence (a rewritten stretch);
    - a signed checkpoint or a signed head beyond the last event (events removed from the end), a head whose
      hash is not the last event's, events after the signed head, or (`require_head`) no signed head at all.

    `start_after` (sequence, hash) resumes from a link verified before (incremental verification): it must
    be at or after the newest anchor, and the walk starts at the link after it.
    """
    problems: list[BrokenLink] = []
    signed: list[Checkpoint] = []
    for checkpoint in checkpoints:
        valid = checkpoint.valid(trust)
        if valid:
            signed.append(checkpoint)
        elif valid is False:
            problems.append(
                BrokenLink(
                    checkpoint.sequence, f"the {checkpoint.kind} checkpoint's signature does not match"
                )
            )
    anchors = [c for c in signed if c.kind == ANCHOR]
    anchor = max(anchors, key=lambda c: c.sequence) if anchors else None
    start = anchor.sequence if anchor is not None else 0
    prev = anchor.hash if anchor is not None else GENESIS
    if start_after is not None and start_after[0] >= start:
        start, prev = start_after
    by_sequence: dict[int, list[Checkpoint]] = {}
    for checkpoint in signed:
        if checkpoint.sequence > start:
            by_sequence.setdefault(checkpoint.sequence, []).append(checkpoint)
    head_ok = head is not None and head.valid(trust)
    if head is not None and not head_ok:
        problems.append(BrokenLink(head.sequence, "the signed chain head's signature does not match"))

    expected, checked, chain_break, passed = start + 1, 0, None, start
    for seq, prev_hash, hash_, rid, problem in links:
        if seq == MALFORMED:
            chain_break = BrokenLink(expected, problem or "unreadable")
            break
        at = by_sequence.get(seq, ())
        chain_break = _check(seq, prev_hash, hash_, rid, problem, expected, prev, at)
        if chain_break is not None:
            break
        if at:
            passed = seq
        prev = hash_
        expected += 1
        checked += 1
    else:
        chain_break = _tail(signed, head if head_ok else None, expected, prev, require_head and head is None)
    if chain_break is not None:
        problems.append(chain_break)
    first = min(problems, key=lambda p: p.sequence) if problems else None
    return VerifyReport(
        ok=first is None,
        events_checked=checked,
        first_broken=first,
        anchor_sequence=start,
        last_verified_sequence=start + checked,
        checkpoints_checked=len(checkpoints),
        last_verified_hash=prev,
        last_signed_checkpoint=passed,
    )


def _tail(
    signed: Sequence[Checkpoint], head: SignedHead | None, expected: int, prev: str, head_missing: bool
) -> BrokenLink | None:
    """What the end of the walk must agree with: no signed checkpoint or head beyond it, the head on it."""
    last = expected - 1
    beyond = [c.sequence for c in signed if c.sequence >= expected]
    if head is not None and head.sequence >= expected:
        beyond.append(head.sequence)
    if beyond:
        return BrokenLink(
            expected,
            f"the log ends at {last} but a signed checkpoint or head covers {max(beyond)}: "
            "events were removed from the end",
        )
    if head is not None and head.sequence == last and head.hash != prev:
        return BrokenLink(last, "differs from the signed chain head (the chain was rewritten)")
    if head is not None and head.sequence < last:
        return BrokenLink(
            head.sequence + 1,
            f"events after the signed head ({head.sequence}) were appended without the signing key, "
            "or the head was rolled back",
        )
    if head_missing and last > 0:
        return BrokenLink(expected, "the chain head is not signed: events may have been removed from the end")
    return None


def _check(
    seq: int,
    prev_hash: str,
    hash_: str,
    rid: str | None,
    problem: str | None,
    expected: int,
    prev: str,
    checkpoints: Iterable[Checkpoint],
) -> BrokenLink | None:
    if seq < expected:
        return BrokenLink(seq, "an event at or before the retention anchor or out of order", rid)
    if seq > expected:
        missing = f"{expected}" if seq == expected + 1 else f"{expected}–{seq - 1}"
        return BrokenLink(
            expected, f"event {missing} is missing (deleted, moved, or its sequence was altered)"
        )
    if prev_hash != prev:
        return BrokenLink(
            seq,
            "does not link to the previous event (an event was inserted or reordered, or the previous "
            "one was rewritten)",
            rid,
        )
    if problem is not None:
        return BrokenLink(seq, problem, rid)
    for checkpoint in checkpoints:
        if checkpoint.hash != hash_:
            return BrokenLink(
                seq, f"differs from the signed {checkpoint.kind} checkpoint (the chain was rewritten)", rid
            )
    return None

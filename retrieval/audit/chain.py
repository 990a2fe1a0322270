"""The hash chain: each event's canonical form, its hash, signed checkpoints, and verification.

An event's hash is `sha256("govrag-audit-v1\\n" + prev_hash + "\\n" + canonical JSON)`, where the canonical
JSON holds every field of the event (its sequence, chunks and regions included; not `prev_hash` and `hash`)
with sorted keys, no spaces and ASCII escapes. So editing a field, removing or adding a chunk, renumbering,
deleting or reordering events all break a link that `verify` finds. The store keeps that text beside the
columns (the export streams it as it is); verify requires it to equal the text rebuilt from the columns.

A chain alone cannot stop someone with write access from recomputing every hash after the link they forged.
Checkpoints can: every N events the store signs `(kind, sequence, hash)` with an HMAC key that is not in the
database, so a rewritten stretch no longer matches the next checkpoint. Retention pruning leaves an `anchor`
checkpoint at the cut; verification starts from the newest anchor whose signature holds.
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
            )
            for c in sorted(event.chunks, key=lambda c: c.rank)
        ),
        details=json.loads(json.dumps(event.details)) if event.details is not None else None,
    )


def sign_checkpoint(key: bytes, kind: str, sequence: int, hash_: str) -> str:
    """HMAC-SHA256 over (kind, sequence, hash); the kind is signed so no periodic one poses as an anchor."""
    message = f"{_DOMAIN}\ncheckpoint\n{kind}\n{sequence}\n{hash_}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    sequence: int
    kind: str
    hash: str
    signature: str
    created_at: datetime

    def valid(self, key: bytes) -> bool:
        expected = sign_checkpoint(key, self.kind, self.sequence, self.hash)
        return hmac.compare_digest(expected, self.signature)


def verify_chain(
    events: Iterable[AuditEvent | tuple[AuditEvent, str | None]],
    checkpoints: Sequence[Checkpoint],
    key: bytes,
) -> VerifyReport:
    """Walk `events` (ascending sequence) from the newest valid anchor; report the first broken link.

    An event may come with the canonical text the store kept for it (`(event, text)`; None for events
    written before the store kept it). The hash is computed from the canonical form rebuilt from the event's
    fields, and a kept text must equal it: the export reads that text, so it must say what the hashed
    fields say; and the fields are what the auditor's filters search, so they must be what was hashed.

    Broken links, by what they mean:
    - a checkpoint whose signature does not match (forged or edited checkpoint, or another key);
    - a missing sequence number (a deleted event);
    - a `prev_hash` that is not the previous event's hash (an inserted or reordered event);
    - a hash that does not match the event's content (an edited field, chunk or region);
    - a kept canonical text that differs from the event's content (an edited text);
    - an event whose hash differs from the signed checkpoint at its sequence (a rewritten stretch);
    - a signed checkpoint beyond the last event (events removed from the end).
    """
    problems: list[BrokenLink] = []
    signed: list[Checkpoint] = []
    for checkpoint in checkpoints:
        if checkpoint.valid(key):
            signed.append(checkpoint)
        else:
            problems.append(
                BrokenLink(
                    checkpoint.sequence, f"the {checkpoint.kind} checkpoint's signature does not match"
                )
            )
    anchors = [c for c in signed if c.kind == ANCHOR]
    anchor = max(anchors, key=lambda c: c.sequence) if anchors else None
    start = anchor.sequence if anchor is not None else 0
    prev = anchor.hash if anchor is not None else GENESIS
    by_sequence: dict[int, list[Checkpoint]] = {}
    for checkpoint in signed:
        if checkpoint.sequence > start:
            by_sequence.setdefault(checkpoint.sequence, []).append(checkpoint)

    expected, checked, chain_break = start + 1, 0, None
    for item in events:
        event, kept = item if isinstance(item, tuple) else (item, None)
        seq = event.sequence if event.sequence is not None else -1
        chain_break = _check(event, kept, seq, expected, prev, by_sequence.get(seq, ()))
        if chain_break is not None:
            break
        prev = event.hash or ""
        expected += 1
        checked += 1
    else:
        beyond = [c for c in signed if c.sequence >= expected]
        if beyond:
            last = max(c.sequence for c in beyond)
            chain_break = BrokenLink(
                expected,
                f"the log ends at {expected - 1} but a signed checkpoint covers {last}: "
                "events were removed from the end",
            )
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
    )


def _check(
    event: AuditEvent,
    kept: str | None,
    seq: int,
    expected: int,
    prev: str,
    checkpoints: Iterable[Checkpoint],
) -> BrokenLink | None:
    rid = event.request_id
    if seq < expected:
        return BrokenLink(seq, "an event at or before the retention anchor or out of order", rid)
    if seq > expected:
        missing = f"{expected}" if seq == expected + 1 else f"{expected}–{seq - 1}"
        return BrokenLink(expected, f"event {missing} is missing (deleted, or its sequence was altered)")
    if event.prev_hash != prev:
        return BrokenLink(
            seq,
            "does not link to the previous event (an event was inserted or reordered, or the previous "
            "one was rewritten)",
            rid,
        )
    text = canonical(event)
    if text_hash(text, prev) != event.hash:
        return BrokenLink(
            seq, "its content does not match its hash (a field, chunk or region was edited)", rid
        )
    if kept is not None and kept != text:
        return BrokenLink(seq, "its stored canonical text differs from its fields (the text was edited)", rid)
    for checkpoint in checkpoints:
        if checkpoint.hash != event.hash:
            return BrokenLink(
                seq, f"differs from the signed {checkpoint.kind} checkpoint (the chain was rewritten)", rid
            )
    return None

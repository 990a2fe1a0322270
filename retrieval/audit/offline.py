"""Signed exports: the whole log as JSON Lines behind one header line, and their verification offline.

The header (`{"govrag_audit_export": 1, ...}`) carries what the events are checked against: the signed chain
head, every checkpoint and every public key the log has used (rotations with the statement both keys
signed). Then one line per event, oldest first, as the JSONL export writes it: the canonical text the hash
covers with `prev_hash` and `hash` added at its end. `verify_export` needs the file and a trusted public key,
nothing else: no database, no service, no secret. It hashes each line's canonical text (the line without its
two hashes), walks the chain and the signed checkpoints, and holds the end to the signed head, so an edit, an
insertion, a reordering, a deletion anywhere (the tail too) or a forged signature is named at the first
event it breaks.

The head is signed at each append, not at export: an export cut short and given the head of an earlier
export still verifies as that earlier, shorter log. The head's `signed_at` says how old it is; an auditor
who verified a later head (`Resume`) catches it, as it catches a rolled-back database.

An event written from revision 0011 on holds its personal fields (end user, masked query and answer, the end
user's groups and e-mail) as salted commitments (`personal`); the values still kept follow its hashes as
`"personal":{"<field>":{"salt":"<hex>","value":"<JSON text>"},...}` (canonical JSON), and each must open its
commitment: `"personal:v1:" + hex(HMAC-SHA256(key=bytes.fromhex(salt), msg=field + "\n" + value))`. A
commitment without a value was erased; the chain still verifies, and the report counts it.

Checkpoints signed before revision 0007 (HMAC) cannot be checked without the service's secret: they are
skipped here (counted, not trusted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from retrieval.audit.chain import (
    ANCHOR,
    CONTENT_EDITED,
    MALFORMED,
    Checkpoint,
    Link,
    SignedHead,
    text_hash,
    verify_links,
)
from retrieval.audit.events import BrokenLink, VerifyReport
from retrieval.audit.personal import PREFIX, Tally, check_openings
from retrieval.audit.signing import PublishedKey, Trust, utc_text

FORMAT = 1
# An event line ends with its two hashes, in this shape: `,"prev_hash":"<64 hex>","hash":"<64 hex>"}`.
_PREV, _HASH = ',"prev_hash":"', '","hash":"'
_TAIL = len(_PREV) + 64 + len(_HASH) + 64 + 2
_OPENINGS = ',"personal":'


def header_line(
    head: SignedHead | None, checkpoints: Sequence[Checkpoint], keys: Sequence[PublishedKey]
) -> str:
    header = {
        "govrag_audit_export": FORMAT,
        "head": None
        if head is None
        else {
            "sequence": head.sequence,
            "hash": head.hash,
            "signed_at": utc_text(head.signed_at),
            "key_id": head.key_id,
            "signature": head.signature,
        },
        "checkpoints": [
            {
                "sequence": c.sequence,
                "kind": c.kind,
                "hash": c.hash,
                "signature": c.signature,
                "created_at": utc_text(c.created_at),
                "key_id": c.key_id,
            }
            for c in checkpoints
        ],
        "keys": [
            {
                "key_id": k.key_id,
                "public_key": k.public_key,
                "created_at": utc_text(k.created_at),
                "previous_key_id": k.previous_key_id,
                "previous_signature": k.previous_signature,
                "new_signature": k.new_signature,
            }
            for k in keys
        ],
    }
    return json.dumps(header, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Resume:
    """Where an earlier verification of this log ended: the signed checkpoint it last passed (sequence and
    hash). A later export is checked from there; it must still hold that checkpoint, signed."""

    sequence: int
    hash: str


class ExportFormatError(ValueError):
    """The file is not a signed export (no header line, or a header of another shape)."""


def verify_export(
    lines: Iterable[str], public_keys: Sequence[Ed25519PublicKey], resume: Resume | None = None
) -> VerifyReport:
    """Verify a signed export (its lines, header first) against the trusted `public_keys`."""
    iterator = iter(lines)
    try:
        header = json.loads(next(iterator))
    except (StopIteration, ValueError) as exc:
        raise ExportFormatError(
            "no export header: not a signed export (GET /audit/export?format=signed)"
        ) from exc
    if not isinstance(header, dict) or header.get("govrag_audit_export") != FORMAT:
        raise ExportFormatError("not a signed export of a known version")
    try:
        head, checkpoints, keys = _parse_header(header)
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportFormatError(f"the export header is malformed: {type(exc).__name__}") from exc
    trust = Trust.of(public_keys)
    trust.extend(keys)
    start_after = None
    if resume is not None:
        held = [c for c in checkpoints if c.sequence == resume.sequence and c.valid(trust)]
        if not held or held[0].hash != resume.hash:
            return VerifyReport(
                ok=False,
                events_checked=0,
                first_broken=BrokenLink(
                    resume.sequence,
                    "the export does not hold, signed, the checkpoint verified before (the log was "
                    "rewritten or rolled back)",
                ),
                anchor_sequence=0,
                last_verified_sequence=0,
                checkpoints_checked=len(checkpoints),
            )
        anchor = max((c.sequence for c in checkpoints if c.kind == ANCHOR and c.valid(trust)), default=0)
        # Pruned past the resume point: the walk starts at the anchor, as a full one does.
        start_after = (resume.sequence, resume.hash) if resume.sequence >= anchor else None
    tally = Tally()
    links = _links(iterator, start_after, tally)
    report = verify_links(links, checkpoints, trust, head, require_head=True, start_after=start_after)
    return replace(report, personal_checked=tally.checked, personal_erased=tally.erased)


def _parse_header(header: dict[str, Any]) -> tuple[SignedHead | None, list[Checkpoint], list[PublishedKey]]:
    raw_head = header["head"]
    head = (
        None
        if raw_head is None
        else SignedHead(
            int(raw_head["sequence"]),
            str(raw_head["hash"]),
            datetime.fromisoformat(raw_head["signed_at"]),
            str(raw_head["key_id"]),
            str(raw_head["signature"]),
        )
    )
    checkpoints = [
        Checkpoint(
            int(c["sequence"]),
            str(c["kind"]),
            str(c["hash"]),
            str(c["signature"]),
            datetime.fromisoformat(c["created_at"]),
            c["key_id"],
        )
        for c in header["checkpoints"]
    ]
    keys = [
        PublishedKey(
            str(k["key_id"]),
            str(k["public_key"]),
            datetime.fromisoformat(k["created_at"]),
            k["previous_key_id"],
            k["previous_signature"],
            k["new_signature"],
        )
        for k in header["keys"]
    ]
    return head, checkpoints, keys


def _links(lines: Iterator[str], start_after: tuple[int, str] | None, tally: Tally) -> Iterator[Link]:
    skipping = start_after is not None
    for number, raw in enumerate(lines, start=2):
        line = raw.rstrip("\r\n")
        if not line:
            continue
        opened: Any = None
        if not line.endswith('"}'):
            # The values still kept follow the hashes; no JSON string can hold the marker (its quotes would
            # be escaped), so the last one is where they start.
            at = line.rfind(_OPENINGS)
            if at < 0:
                yield (MALFORMED, "", "", None, f"line {number} is not an exported event")
                return
            try:
                opened = json.loads(line[at + len(_OPENINGS) : -1])
            except ValueError:
                opened = None
            if not isinstance(opened, dict):
                yield (MALFORMED, "", "", None, f"line {number} carries unreadable personal values")
                return
            line = line[:at] + "}"
        tail = line[-_TAIL:]
        prev, hash_ = tail[len(_PREV) : len(_PREV) + 64], tail[-66:-2]
        if skipping and start_after is not None:
            # Lines up to the resume point were verified before; the first one after it links to its hash.
            if prev != start_after[1]:
                continue
            skipping = False
        well_formed = (
            len(line) > _TAIL
            and tail.startswith(_PREV)
            and tail[len(_PREV) + 64 : len(_PREV) + 64 + len(_HASH)] == _HASH
            and tail.endswith('"}')
        )
        text = line[:-_TAIL] + "}"
        try:
            record = json.loads(text) if well_formed else None
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("sequence"), int):
            yield (MALFORMED, "", "", None, f"line {number} is not an exported event")
            return
        problem = None if text_hash(text, prev) == hash_ else CONTENT_EDITED
        if problem is None and (opened or PREFIX in text):
            problem = check_openings(record, opened or {}, tally)[1]
        yield (record["sequence"], prev, hash_, record.get("request_id"), problem)


def read_lines(path: str) -> Iterator[str]:
    with open(path, encoding="ascii", errors="replace") as handle:
        yield from handle

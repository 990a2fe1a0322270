"""The provenance log's values: events and their chunks, queries over them, and the store's contract."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from retrieval.domain import ChunkWhy, Principal, Sensitivity

# Actions. `retrieve` is an answer; the others are governance events, each logged `requested` before the
# change and `succeeded` / `failed` after it (`denied` when the policy refused), see govrag/governance/.
RETRIEVE = "retrieve"
CORPUS_REGISTER = "corpus.register"
CORPUS_APPROVE = "corpus.approve"
CORPUS_REVOKE = "corpus.revoke"
CORPUS_INGEST = "corpus.ingest"  # a job queued by a steward (details.kind: ingest | reindex)
DOCUMENT_DELETE = "document.delete"
JOB_STARTED = "job.started"
JOB_FINISHED = "job.finished"
POLICY_CHANGE = "policy.change"
AUDIT_PRUNE = "audit.prune"
AUDIT_KEY_ROTATION = "audit.key_rotation"
# An end user's personal values deleted from the log (`POST /privacy/erasure`); details: the counts only.
PRIVACY_ERASURE = "privacy.erasure"
# A chat app's answer to a `retrieve` request, verified (`POST /answers`, retrieval/answers.py): its chunks
# are the retrieved chunks it cited; `details` holds the link to the request and every citation's checks.
ANSWER = "answer"
# The actions whose events list chunks: a document filter matches them through their chunks.
CHUNK_ACTIONS = (RETRIEVE, ANSWER)
ACTIONS = (
    RETRIEVE,
    ANSWER,
    CORPUS_REGISTER,
    CORPUS_APPROVE,
    CORPUS_REVOKE,
    CORPUS_INGEST,
    DOCUMENT_DELETE,
    JOB_STARTED,
    JOB_FINISHED,
    POLICY_CHANGE,
    AUDIT_PRUNE,
    AUDIT_KEY_ROTATION,
    PRIVACY_ERASURE,
)


@dataclass(frozen=True, slots=True)
class AuditChunk:
    rank: int
    score: float
    chunk_id: str
    document_id: str
    document_version: int
    corpus_id: str
    content_sha256: str
    embedding_model: str
    # Why it was selected; None for answers logged before the log kept it (their hashes do not cover it).
    why: ChunkWhy | None = None
    # What masking replaced in it, entity type -> count (never the values); None where unknown (chunks
    # ingested before counts were kept, answers logged before the log kept them).
    pii_counts: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """What the policy said about one corpus for one request, and which policies said it."""

    corpus_id: str
    allowed: bool
    policy_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PrincipalSnapshot:
    """A caller's attributes as the policy saw them, kept so that a replay can rebuild the caller."""

    roles: tuple[str, ...]
    clearance: str
    regions: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, principal: Principal) -> PrincipalSnapshot:
        return cls(
            roles=tuple(sorted(principal.roles)),
            clearance=principal.clearance.name,
            regions=tuple(sorted(principal.regions)),
            groups=tuple(sorted(principal.groups)),
        )

    def to_principal(self, principal_id: str) -> Principal:
        return Principal(
            id=principal_id,
            roles=frozenset(self.roles),
            groups=frozenset(self.groups),
            clearance=Sensitivity.parse(self.clearance),
            regions=frozenset(self.regions),
        )


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One link of the log. `sequence`, `prev_hash` and `hash` are set by the store when it appends."""

    request_id: str
    occurred_at: datetime
    action: str
    principal_id: str
    policy_version: str
    outcome: str
    end_user_id: str | None = None  # the chat app's user, once signed end-user tokens exist
    principal: PrincipalSnapshot | None = None
    query_masked: str | None = None
    query_hmac: str | None = None  # HMAC-SHA256 of the raw query; the raw query is never stored
    top_k: int | None = None
    decisions: tuple[PolicyDecision, ...] = ()
    allowed_corpora: tuple[str, ...] = ()
    partitions: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()  # partitions or regions that could not be searched
    latency_ms: float | None = None
    chunks: tuple[AuditChunk, ...] = ()
    corpus_id: str | None = None  # governance events: the corpus the action concerned
    document_id: str | None = None  # … and the document
    details: dict[str, Any] | None = None  # governance events: what was done (JSON values only)
    sequence: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters (all optional, combined with AND) and a page.

    `action`: an exact action, a prefix pattern such as `corpus.*`, or None for every action.
    `document_id` / `corpus_id` match the answers whose chunks came from it and the governance events
    that concerned it.
    """

    principal_id: str | None = None
    end_user_id: str | None = None
    document_id: str | None = None
    corpus_id: str | None = None
    region: str | None = None
    outcome: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: int | None = None  # `next_cursor` of the previous page (opaque)
    actions: tuple[str, ...] = ()  # any one of these actions (with `action`, both must hold)


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: list[AuditEvent] = field(default_factory=list)
    next_cursor: int | None = None


@dataclass(frozen=True, slots=True)
class BrokenLink:
    sequence: int
    reason: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    events_checked: int
    first_broken: BrokenLink | None
    anchor_sequence: int  # verification started after this sequence (0: the start of the log)
    last_verified_sequence: int  # the last event whose link held
    checkpoints_checked: int
    last_verified_hash: str = ""  # its hash
    # The newest signed checkpoint the walk passed (or the anchor it started from): where the next
    # incremental verification may resume.
    last_signed_checkpoint: int = 0
    # Personal values (from revision 0011): kept ones checked against their commitments, and commitments
    # whose values were erased (sound: the chain covers only the commitment).
    personal_checked: int = 0
    personal_erased: int = 0


@dataclass(frozen=True, slots=True)
class PruneReport:
    pruned: int
    anchor_sequence: int  # the last pruned sequence; its hash is the signed anchor verify starts from


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure deleted: the end user's events whose kept values went, how many values, and how many
    of the end user's events were written before values were kept apart (their values are in the chain and
    stay). `request_id` and `sequence`: the `privacy.erasure` event that records it."""

    events_erased: int
    values_erased: int
    legacy_events: int
    request_id: str
    sequence: int


class AuditStore(Protocol):
    """Where provenance events are kept. Writes raise `AuditUnavailable` when the log cannot commit (it is a
    `BackendUnavailable`: the caller answers 503 and nothing else); reads raise `BackendUnavailable`."""

    def fingerprint(self, query: str) -> str:
        """The keyed hash (HMAC-SHA256, hex) under which a raw query is logged."""

    def record(self, event: AuditEvent) -> AuditEvent:
        """Append the event (and its chunks) to the chain and commit before returning the sealed event."""

    def get(self, request_id: str) -> AuditEvent:
        """The event of a request; `NotFound` if there is none."""

    def query(self, query: AuditQuery) -> AuditPage:
        """Events matching every given filter, newest first, one page at a time."""

    def iter_events(self, query: AuditQuery, batch_size: int = 1000) -> Iterator[AuditEvent]:
        """Every matching event logged when the call is made, oldest first, read a batch at a time (`limit`
        and `cursor` are ignored)."""

    def iter_records(self, query: AuditQuery, batch_size: int = 2000) -> Iterator[dict[str, Any]]:
        """As `iter_events`, each event as the JSON values of `export.event_json`."""

    def iter_json(self, query: AuditQuery, batch_size: int = 5000, upto: int | None = None) -> Iterator[str]:
        """As `iter_records`, each event as one compact JSON object (no spaces between tokens; the JSON Lines
        and CSV exports' path): its canonical text, then `prev_hash` and `hash`."""

    def iter_sealed(self, upto: int, batch_size: int = 5000) -> Iterator[str]:
        """Every event up to row id `upto` as a signed export's line (`offline`): the chained text, its
        hashes, then the personal values still kept (`"personal"`), if any."""

    def erase(self, end_user_id: str, principal_id: str) -> ErasureReport:
        """Delete the personal values kept for an end user's events and log the counts (`privacy.erasure`)
        in the same transaction; `AuditUnavailable` if that cannot commit (then nothing was erased)."""

    def verify(self, upto: int | None = None, since_checkpoint: int | None = None) -> VerifyReport:
        """Check the chain, the checkpoints' and the head's signatures; report the first broken link."""

    def signed_state(self) -> tuple[Any, list[Any], list[Any], int]:
        """The signed head, the checkpoints and the published keys, and the last row id they cover."""

    def public_key_pem(self) -> str:
        """The PEM of the public key the log is signed with now."""

    def prune(self, before: datetime, principal_id: str = "system") -> PruneReport:
        """Delete the events older than `before`, leaving a signed anchor at the cut; log who pruned."""

    def record_policy_version(self, version: str, files: Sequence[str]) -> AuditEvent | None:
        """Log a `policy.change` event if `version` is not the last one logged; the event, or None."""

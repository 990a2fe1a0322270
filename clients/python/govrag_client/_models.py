"""What the service answers, as frozen dataclasses read strictly from its JSON (see `_json`).

Each parsed value keeps the JSON object it was read from in `raw` (left out of equality and repr): fields a
newer service adds are there, and a tool can print the answer exactly as the service sent it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from govrag_client._json import JsonObject

__all__ = [
    "AnswerCitation",
    "AnswerVerification",
    "AuditChunk",
    "AuditEvent",
    "AuditFilter",
    "AuditPage",
    "BrokenLink",
    "Chunk",
    "ChunkReplay",
    "Citation",
    "Corpus",
    "Document",
    "DocumentPii",
    "DocumentUsage",
    "DocumentUse",
    "ExportResult",
    "Job",
    "JobAccepted",
    "JobError",
    "PiiReport",
    "PolicyDecision",
    "PolicyReload",
    "PolicyStatus",
    "PrincipalSnapshot",
    "PruneReport",
    "Replay",
    "RetrieveResult",
    "VerifyReport",
]


# -- retrieval ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Citation:
    """Where a chunk comes from: enough to cite it, link to it and check it is the version that was read."""

    document_id: str
    corpus_id: str
    corpus_name: str
    source_uri: str
    title: str
    page: int | None
    start_char: int  # into the document's extracted (unmasked) text
    end_char: int
    content_sha256: str
    document_version: int
    region: str
    sensitivity: str
    embedding_model: str
    # Personal data masked in the chunk: entity type -> count (never the values), and the detector's
    # version; None where the service does not know (chunks ingested before it kept counts).
    pii_counts: dict[str, int] | None
    pii_detector: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            document_id=o.text("document_id"),
            corpus_id=o.text("corpus_id"),
            corpus_name=o.text("corpus_name"),
            source_uri=o.text("source_uri"),
            title=o.text("title"),
            page=o.opt_integer("page"),
            start_char=o.integer("start_char"),
            end_char=o.integer("end_char"),
            content_sha256=o.text("content_sha256"),
            document_version=o.integer("document_version"),
            region=o.text("region"),
            sensitivity=o.text("sensitivity"),
            embedding_model=o.text("embedding_model"),
            pii_counts=o.opt_counts("pii_counts"),
            pii_detector=o.opt_text("pii_detector"),
            raw=o.raw,
        )


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    text: str  # personal data already masked by the service
    score: float
    citation: Citation
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            chunk_id=o.text("chunk_id"),
            text=o.text("text"),
            score=o.number("score"),
            citation=o.obj("citation", Citation.read),
            raw=o.raw,
        )


@dataclass(frozen=True)
class RetrieveResult:
    request_id: str  # the audit event's id: an auditor finds this answer's record by it
    policy_version: str
    chunks: tuple[Chunk, ...]
    # Regions the caller may read whose store could not be searched (the answer may miss passages there).
    unavailable_regions: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            request_id=o.text("request_id"),
            policy_version=o.text("policy_version"),
            chunks=o.objects("chunks", Chunk.read),
            unavailable_regions=o.texts("unavailable_regions", required=False),
            raw=o.raw,
        )


@dataclass(frozen=True)
class AnswerCitation:
    """One citation of a generated answer, sent to `verify_answer`: the chunk, and optionally the quoted
    words and where the answer cites them (character offsets into the answer)."""

    chunk_id: str
    quote: str | None = None
    answer_start: int | None = None
    answer_end: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"chunk_id": self.chunk_id}
        for name in ("quote", "answer_start", "answer_end"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body


@dataclass(frozen=True)
class AnswerVerification:
    """The service's check of a generated answer against the chunks it cites.

    `verdict` is the service's overall word; `checks` one JSON object per citation, as sent (the answer's
    `citations` list, or `checks`). `raw` holds the whole answer."""

    verdict: str
    request_id: str | None
    checks: tuple[dict[str, Any], ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        name = "citations" if "citations" in o.raw else "checks"
        return cls(
            verdict=o.text("verdict"),
            request_id=o.opt_text("request_id"),
            checks=o.objects(name, lambda check: check.raw, required=False),
            raw=o.raw,
        )


# -- stewardship --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    id: str
    name: str
    description: str
    region: str
    sensitivity: str
    status: str  # registered, approved, revoked
    source_path: str
    owner: str
    created_at: datetime
    approved_at: datetime | None
    approved_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    refresh_interval_seconds: int | None
    masking_strategy: str
    pii_allow_list: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            id=o.text("id"),
            name=o.text("name"),
            description=o.text("description"),
            region=o.text("region"),
            sensitivity=o.text("sensitivity"),
            status=o.text("status"),
            source_path=o.text("source_path"),
            owner=o.text("owner"),
            created_at=o.time("created_at"),
            approved_at=o.opt_time("approved_at"),
            approved_by=o.opt_text("approved_by"),
            revoked_at=o.opt_time("revoked_at"),
            revoked_by=o.opt_text("revoked_by"),
            refresh_interval_seconds=o.opt_integer("refresh_interval_seconds"),
            masking_strategy=o.opt_text("masking_strategy") or "replace",
            pii_allow_list=o.texts("pii_allow_list", required=False),
            raw=o.raw,
        )


@dataclass(frozen=True)
class Document:
    id: str
    corpus_id: str
    source_uri: str
    title: str
    content_sha256: str | None
    version: int
    status: str
    error: str | None  # why it failed, when it did
    chunk_count: int
    embedding_model: str | None
    embedding_weights_sha256: str | None
    updated_at: datetime
    acl_groups: tuple[str, ...] | None  # None: no ACL, the corpus's readers read it
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            id=o.text("id"),
            corpus_id=o.text("corpus_id"),
            source_uri=o.text("source_uri"),
            title=o.text("title"),
            content_sha256=o.opt_text("content_sha256"),
            version=o.integer("version"),
            status=o.text("status"),
            error=o.opt_text("error"),
            chunk_count=o.integer("chunk_count"),
            embedding_model=o.opt_text("embedding_model"),
            embedding_weights_sha256=o.opt_text("embedding_weights_sha256"),
            updated_at=o.time("updated_at"),
            acl_groups=None if o.raw.get("acl_groups") is None else o.texts("acl_groups"),
            raw=o.raw,
        )


@dataclass(frozen=True)
class JobAccepted:
    job_id: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(job_id=o.text("job_id"), raw=o.raw)


@dataclass(frozen=True)
class JobError:
    source_uri: str
    reason: str

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(source_uri=o.text("source_uri"), reason=o.text("reason"))


@dataclass(frozen=True)
class Job:
    id: str
    corpus_id: str
    kind: str  # ingest, reindex, …
    status: str  # queued, running, succeeded, failed
    requested_by: str
    attempt: int
    retry_of: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    documents_total: int
    documents_seen: int
    documents_ingested: int
    documents_skipped: int
    documents_failed: int
    documents_removed: int
    chunks_written: int
    errors: tuple[JobError, ...]
    detail: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            id=o.text("id"),
            corpus_id=o.text("corpus_id"),
            kind=o.text("kind"),
            status=o.text("status"),
            requested_by=o.text("requested_by"),
            attempt=o.integer("attempt"),
            retry_of=o.opt_text("retry_of"),
            created_at=o.time("created_at"),
            started_at=o.opt_time("started_at"),
            finished_at=o.opt_time("finished_at"),
            documents_total=o.integer("documents_total"),
            documents_seen=o.integer("documents_seen"),
            documents_ingested=o.integer("documents_ingested"),
            documents_skipped=o.integer("documents_skipped"),
            documents_failed=o.integer("documents_failed"),
            documents_removed=o.integer("documents_removed"),
            chunks_written=o.integer("chunks_written"),
            errors=o.objects("errors", JobError.read),
            detail=o.opt_text("detail"),
            raw=o.raw,
        )


# -- audit --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """Which provenance events to read; None leaves a filter out (`action`: the endpoint's default, answers
    for `audit_events`, every action for `export_audit`). Times: ISO 8601 strings or datetimes (a time without
    a zone is read as UTC by the service)."""

    principal_id: str | None = None
    end_user_id: str | None = None
    document_id: str | None = None
    corpus_id: str | None = None
    region: str | None = None
    outcome: str | None = None
    action: str | None = None  # an action (retrieve, corpus.register …), a prefix (corpus.*) or *
    since: datetime | str | None = None  # inclusive
    until: datetime | str | None = None  # exclusive

    def params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        for name, value in vars(self).items():
            if value is not None:
                params[name] = value.isoformat() if isinstance(value, datetime) else value
        return params


@dataclass(frozen=True)
class AuditChunk:
    rank: int
    score: float
    chunk_id: str
    document_id: str
    document_version: int
    corpus_id: str
    content_sha256: str
    embedding_model: str

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            rank=o.integer("rank"),
            score=o.number("score"),
            chunk_id=o.text("chunk_id"),
            document_id=o.text("document_id"),
            document_version=o.integer("document_version"),
            corpus_id=o.text("corpus_id"),
            content_sha256=o.text("content_sha256"),
            embedding_model=o.text("embedding_model"),
        )


@dataclass(frozen=True)
class PrincipalSnapshot:
    """The caller's attributes when the event was recorded."""

    roles: tuple[str, ...]
    clearance: str
    regions: tuple[str, ...]
    groups: tuple[str, ...]

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            roles=o.texts("roles"),
            clearance=o.text("clearance"),
            regions=o.texts("regions"),
            groups=o.texts("groups"),
        )


@dataclass(frozen=True)
class PolicyDecision:
    corpus_id: str
    allowed: bool
    policy_ids: tuple[str, ...]

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(corpus_id=o.text("corpus_id"), allowed=o.flag("allowed"), policy_ids=o.texts("policy_ids"))


@dataclass(frozen=True)
class AuditEvent:
    """One provenance record: an answer (`action` retrieve) or a governance act (corpus.*, audit.* …)."""

    sequence: int | None
    request_id: str
    occurred_at: datetime
    action: str
    principal_id: str
    end_user_id: str | None
    principal: PrincipalSnapshot | None
    query_masked: str | None
    query_hmac: str | None
    top_k: int | None
    policy_version: str
    decisions: tuple[PolicyDecision, ...]
    allowed_corpora: tuple[str, ...]
    partitions: tuple[str, ...]
    regions: tuple[str, ...]
    unavailable: tuple[str, ...]
    outcome: str
    latency_ms: float | None
    chunks: tuple[AuditChunk, ...]
    corpus_id: str | None
    document_id: str | None
    details: dict[str, Any] | None
    prev_hash: str | None
    hash: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            sequence=o.opt_integer("sequence"),
            request_id=o.text("request_id"),
            occurred_at=o.time("occurred_at"),
            action=o.text("action"),
            principal_id=o.text("principal_id"),
            end_user_id=o.opt_text("end_user_id"),
            principal=o.opt_obj("principal", PrincipalSnapshot.read),
            query_masked=o.opt_text("query_masked"),
            query_hmac=o.opt_text("query_hmac"),
            top_k=o.opt_integer("top_k"),
            policy_version=o.text("policy_version"),
            decisions=o.objects("decisions", PolicyDecision.read, required=False),
            allowed_corpora=o.texts("allowed_corpora"),
            partitions=o.texts("partitions"),
            regions=o.texts("regions", required=False),
            unavailable=o.texts("unavailable", required=False),
            outcome=o.text("outcome"),
            latency_ms=o.opt_number("latency_ms"),
            chunks=o.objects("chunks", AuditChunk.read),
            corpus_id=o.opt_text("corpus_id"),
            document_id=o.opt_text("document_id"),
            details=o.opt_mapping("details"),
            prev_hash=o.opt_text("prev_hash"),
            hash=o.opt_text("hash"),
            raw=o.raw,
        )


@dataclass(frozen=True)
class AuditPage:
    events: tuple[AuditEvent, ...]
    next_cursor: str | None  # pass as `cursor` for the next page; None: this was the last
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            events=o.objects("events", AuditEvent.read), next_cursor=o.opt_text("next_cursor"), raw=o.raw
        )


@dataclass(frozen=True)
class DocumentPage:
    """One page of a corpus's documents, in source URI order."""

    documents: tuple[Document, ...]
    next_cursor: str | None  # pass as `cursor` for the next page; None: this was the last
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            documents=o.objects("documents", Document.read), next_cursor=o.opt_text("next_cursor"), raw=o.raw
        )


@dataclass(frozen=True)
class DocumentPii:
    """What masking found in one ingested document, by entity type; `counts` None: some chunks unknown."""

    document_id: str
    source_uri: str
    title: str
    version: int
    chunk_count: int
    chunks_unknown: int
    counts: dict[str, int] | None
    detectors: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            document_id=o.text("document_id"),
            source_uri=o.text("source_uri"),
            title=o.text("title"),
            version=o.integer("version"),
            chunk_count=o.integer("chunk_count"),
            chunks_unknown=o.integer("chunks_unknown"),
            counts=o.opt_counts("counts"),
            detectors=o.texts("detectors"),
            raw=o.raw,
        )


@dataclass(frozen=True)
class PiiReport:
    """One page of a corpus's PII report, in source URI order."""

    documents: tuple[DocumentPii, ...]
    next_cursor: str | None  # pass as `cursor` for the next page; None: this was the last
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            documents=o.objects("documents", DocumentPii.read),
            next_cursor=o.opt_text("next_cursor"),
            raw=o.raw,
        )


@dataclass(frozen=True)
class DocumentUse:
    """An answer that used the document, with the document's chunks in it."""

    sequence: int | None
    request_id: str
    occurred_at: datetime
    principal_id: str
    end_user_id: str | None
    outcome: str
    policy_version: str
    chunks: tuple[AuditChunk, ...]

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            sequence=o.opt_integer("sequence"),
            request_id=o.text("request_id"),
            occurred_at=o.time("occurred_at"),
            principal_id=o.text("principal_id"),
            end_user_id=o.opt_text("end_user_id"),
            outcome=o.text("outcome"),
            policy_version=o.text("policy_version"),
            chunks=o.objects("chunks", AuditChunk.read),
        )


@dataclass(frozen=True)
class DocumentUsage:
    document_id: str
    uses: tuple[DocumentUse, ...]
    next_cursor: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            document_id=o.text("document_id"),
            uses=o.objects("uses", DocumentUse.read),
            next_cursor=o.opt_text("next_cursor"),
            raw=o.raw,
        )


@dataclass(frozen=True)
class BrokenLink:
    sequence: int
    reason: str
    request_id: str | None

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            sequence=o.integer("sequence"), reason=o.text("reason"), request_id=o.opt_text("request_id")
        )


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events_checked: int
    first_broken: BrokenLink | None
    anchor_sequence: int  # verification started after this sequence (0: the log's start)
    last_verified_sequence: int
    checkpoints_checked: int
    raw: dict[str, Any] = field(repr=False, compare=False)
    personal_checked: int = 0  # kept personal values checked against their commitments
    personal_erased: int = 0  # committed personal values that were erased

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            ok=o.flag("ok"),
            events_checked=o.integer("events_checked"),
            first_broken=o.opt_obj("first_broken", BrokenLink.read),
            anchor_sequence=o.integer("anchor_sequence"),
            last_verified_sequence=o.integer("last_verified_sequence"),
            checkpoints_checked=o.integer("checkpoints_checked"),
            raw=o.raw,
            # Services before erasure existed do not send them.
            personal_checked=o.opt_integer("personal_checked") or 0,
            personal_erased=o.opt_integer("personal_erased") or 0,
        )


@dataclass(frozen=True)
class ChunkReplay:
    rank: int
    chunk_id: str
    corpus_id: str
    document_id: str
    document_version: int
    content_sha256: str
    document_exists: bool
    document_status: str | None
    current_version: int | None
    current_content_sha256: str | None
    content_changed: bool | None
    allowed_now: bool | None
    policy_ids: tuple[str, ...]

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            rank=o.integer("rank"),
            chunk_id=o.text("chunk_id"),
            corpus_id=o.text("corpus_id"),
            document_id=o.text("document_id"),
            document_version=o.integer("document_version"),
            content_sha256=o.text("content_sha256"),
            document_exists=o.flag("document_exists"),
            document_status=o.opt_text("document_status"),
            current_version=o.opt_integer("current_version"),
            current_content_sha256=o.opt_text("current_content_sha256"),
            content_changed=o.opt_flag("content_changed"),
            allowed_now=o.opt_flag("allowed_now"),
            policy_ids=o.texts("policy_ids"),
        )


@dataclass(frozen=True)
class Replay:
    """An answer's chunks held against today's catalog and policy."""

    request_id: str
    sequence: int | None
    principal_id: str
    policy_version_then: str
    policy_version_now: str
    chunks: tuple[ChunkReplay, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            request_id=o.text("request_id"),
            sequence=o.opt_integer("sequence"),
            principal_id=o.text("principal_id"),
            policy_version_then=o.text("policy_version_then"),
            policy_version_now=o.text("policy_version_now"),
            chunks=o.objects("chunks", ChunkReplay.read),
            raw=o.raw,
        )


@dataclass(frozen=True)
class PruneReport:
    pruned: int
    anchor_sequence: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(pruned=o.integer("pruned"), anchor_sequence=o.integer("anchor_sequence"), raw=o.raw)


@dataclass(frozen=True)
class ErasureReport:
    """What `erase_end_user` deleted: the end user's events whose personal values went, how many values, and
    how many of their events predate values kept apart from the chain (those keep their values)."""

    events_erased: int
    values_erased: int
    legacy_events: int
    request_id: str  # the `privacy.erasure` event that records it
    sequence: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            events_erased=o.integer("events_erased"),
            values_erased=o.integer("values_erased"),
            legacy_events=o.integer("legacy_events"),
            request_id=o.text("request_id"),
            sequence=o.integer("sequence"),
            raw=o.raw,
        )


@dataclass(frozen=True)
class SubjectDocument:
    """A document whose text names the person or address looked up (`lookup_subject`)."""

    corpus_id: str
    corpus_name: str
    document_id: str
    source_uri: str  # names in it masked, as readers see it
    status: str
    matched: tuple[str, ...]  # name, email
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            corpus_id=o.text("corpus_id"),
            corpus_name=o.text("corpus_name"),
            document_id=o.text("document_id"),
            source_uri=o.text("source_uri"),
            status=o.text("status"),
            matched=o.texts("matched"),
            raw=o.raw,
        )


@dataclass(frozen=True)
class SubjectLookup:
    documents: tuple[SubjectDocument, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(documents=o.objects("documents", SubjectDocument.read), raw=o.raw)


@dataclass(frozen=True)
class ExportResult:
    """An export written to `path`: `bytes` of `format` (jsonl or csv)."""

    path: Path
    format: str
    bytes: int


# -- policy -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyStatus:
    version: str
    files: tuple[str, ...]
    last_error: str | None  # why the last reload was refused (the old version stayed)
    cache_hits: int
    cache_misses: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            version=o.text("version"),
            files=o.texts("files"),
            last_error=o.opt_text("last_error"),
            cache_hits=o.integer("cache_hits"),
            cache_misses=o.integer("cache_misses"),
            raw=o.raw,
        )


@dataclass(frozen=True)
class PolicyReload:
    changed: bool
    version: str
    previous: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        return cls(
            changed=o.flag("changed"), version=o.text("version"), previous=o.text("previous"), raw=o.raw
        )


@dataclass(frozen=True)
class PolicySimulation:
    """What candidate policy files would change; `raw` holds the whole answer (readers, re-judged answers)."""

    policy_version: str
    candidate_version: str
    changed_readers: int  # readers who would gain or lose a corpus
    refused_chunks: int  # chunks of the recent answers the candidate would refuse
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def read(cls, o: JsonObject) -> Self:
        recent = o.opt_mapping("recent") or {}
        refused = recent.get("refused")
        return cls(
            policy_version=o.text("policy_version"),
            candidate_version=o.text("candidate_version"),
            changed_readers=len(o.objects("readers", lambda reader: reader.raw)),
            refused_chunks=refused if isinstance(refused, int) else 0,
            raw=o.raw,
        )

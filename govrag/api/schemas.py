"""HTTP request and response bodies."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from retrieval.domain import MaskingStrategy, SearchMode, Sensitivity

# Control characters (other than tab and newline) have no place in a question or a name.
_PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def _sensitivity(value: object) -> Sensitivity:
    if isinstance(value, Sensitivity):
        return value
    if not isinstance(value, str):
        raise ValueError("sensitivity must be a string")
    return Sensitivity.parse(value)


# The domain's ordered enum, written and read by its names ("internal"), so the labels are defined once.
SensitivityName = Annotated[
    Sensitivity,
    BeforeValidator(_sensitivity),
    PlainSerializer(lambda value: value.name, return_type=str),
    WithJsonSchema({"type": "string", "enum": list(Sensitivity.__members__)}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    type: str
    detail: str


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error statuses a router can answer, all with the `{type, detail}` body."""
    return {status: {"model": ErrorBody} for status in (401, 403, 422, 503, *statuses)}


class CorpusCreate(Strict):
    name: Annotated[
        str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
    ]
    region: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,15}$")]
    sensitivity: SensitivityName
    source_path: Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=_PRINTABLE)]
    description: Annotated[str, StringConstraints(max_length=2000, pattern=_PRINTABLE)] = ""
    refresh_interval_seconds: int | None = Field(
        default=None, ge=60, le=366 * 24 * 3600, description="Re-scan the source this often (incremental)."
    )
    masking_strategy: MaskingStrategy = Field(
        default=MaskingStrategy.REPLACE,
        description="What PII becomes: <PERSON>, [REDACTED], or a keyed pseudonym <PERSON_3f9a1c2b> "
        "(needs GOVRAG_PII__PSEUDONYM_KEY).",
    )
    pii_allow_list: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=64, description="Entity types kept in the text, e.g. ORGANIZATION."
    )

    @field_validator("pii_allow_list")
    @classmethod
    def _known_entity_types(cls, value: list[str]) -> list[str]:
        from retrieval.pii.profiles import parse_profile

        parse_profile("replace", value)  # ValueError names the unknown types: a 422
        return sorted(set(value))


class CorpusOut(BaseModel):
    id: str
    name: str
    description: str
    region: str
    sensitivity: str
    status: str
    source_path: str
    owner: str
    created_at: datetime
    approved_at: datetime | None = None
    approved_by: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    refresh_interval_seconds: int | None = None
    masking_strategy: MaskingStrategy = MaskingStrategy.REPLACE
    pii_allow_list: list[str] = Field(default_factory=list)


class DocumentOut(BaseModel):
    id: str
    corpus_id: str
    source_uri: str
    title: str
    content_sha256: str | None
    version: int
    status: str
    error: str | None
    chunk_count: int
    embedding_model: str | None
    embedding_weights_sha256: str | None
    updated_at: datetime
    acl_groups: list[str] | None = Field(default=None, description="Groups allowed to read it; null: no ACL.")


class DocumentPageOut(BaseModel):
    documents: list[DocumentOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class DocumentPiiOut(BaseModel):
    """What masking found in one ingested document: counts by entity type, never the values."""

    document_id: str
    source_uri: str
    title: str
    version: int
    chunk_count: int
    chunks_unknown: int = Field(description="Chunks ingested before counts were kept.")
    counts: dict[str, int] | None = Field(
        description="Entity type -> findings masked; null when any chunk's counts are unknown."
    )
    detectors: list[str] = Field(description="The detectors that masked its chunks (presidio, spaCy, hash).")


class PiiReportOut(BaseModel):
    documents: list[DocumentPiiOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class JobAccepted(BaseModel):
    job_id: str


class JobError(BaseModel):
    source_uri: str
    reason: str


class JobOut(BaseModel):
    id: str
    corpus_id: str
    kind: str
    status: str
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
    errors: list[JobError]
    detail: str | None


class RetrieveRequest(Strict):
    query: Annotated[str, StringConstraints(min_length=1, max_length=4000, pattern=_PRINTABLE)]
    top_k: int = Field(default=5, ge=1, le=50)
    mode: SearchMode | None = Field(
        default=None,
        description="dense (embeddings), sparse (BM25 keywords) or hybrid (both, fused by reciprocal rank); "
        "unset: the service's default (GOVRAG_RETRIEVAL__DEFAULT_MODE, hybrid unless configured).",
    )
    mmr: bool = Field(
        default=False, description="Re-rank the best matches for diversity (maximal marginal relevance)."
    )
    explain: bool = Field(
        default=False,
        description="Give each chunk's `why`: its dense and BM25 rank and score, its fused rank and "
        "the fusion, its pseudonym boost, the policies opening its corpus and the ACL group admitting it.",
    )


class CitationOut(BaseModel):
    document_id: str
    corpus_id: str
    corpus_name: str
    source_uri: str
    title: str
    page: int | None
    start_char: int
    end_char: int
    content_sha256: str
    document_version: int
    region: str
    sensitivity: str
    embedding_model: str
    pii_counts: dict[str, int] | None = Field(
        default=None,
        description="Personal data masked in the chunk, entity type -> count (never the values); "
        "null: unknown (ingested before counts were kept).",
    )
    pii_detector: str | None = Field(
        default=None, description="The detector that masked it: presidio, spaCy model, recognizer-set hash."
    )


class WhyOut(BaseModel):
    """Why a chunk was selected. Ranks count from 1 within the search of the chunk's partition; a ranking
    that did not find the chunk (or did not run) gives null. `acl_group`: the group of the document's ACL
    that admitted it, `unrestricted` (no ACL), or `any` (the reader may read every document of the corpus)."""

    dense_rank: int | None
    dense_score: float | None
    sparse_rank: int | None
    sparse_score: float | None
    fused_rank: int | None
    fusion: str | None
    pseudonym_boost: float | None
    policy_ids: list[str]
    acl_group: str


class ChunkOut(BaseModel):
    chunk_id: str
    text: str
    score: float
    citation: CitationOut
    # Set only when the request asked to explain; the route leaves unset fields out of the answer.
    why: WhyOut | None = None


class RetrieveResponse(BaseModel):
    request_id: str
    policy_version: str
    chunks: list[ChunkOut]
    unavailable_regions: list[str] = Field(
        default=[], description="Regions the caller may read whose store could not be searched."
    )


_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class CitationIn(Strict):
    chunk_id: Annotated[str, StringConstraints(pattern=_UUID)]
    quote: Annotated[str, StringConstraints(min_length=1, max_length=4000, pattern=_PRINTABLE)] | None = (
        Field(
            default=None,
            description="Text copied from the chunk as returned (masked); spacing and case ignored.",
        )
    )
    answer_start: int | None = Field(
        default=None, ge=0, le=20_000, description="The span of the answer this citation supports."
    )
    answer_end: int | None = Field(default=None, ge=1, le=20_000)

    @model_validator(mode="after")
    def _span(self) -> CitationIn:
        if (self.answer_start is None) != (self.answer_end is None):
            raise ValueError("answer_start and answer_end come together")
        if (
            self.answer_start is not None
            and self.answer_end is not None
            and self.answer_start >= self.answer_end
        ):
            raise ValueError("answer_start must be below answer_end")
        return self


class AnswerRequest(Strict):
    request_id: Annotated[str, StringConstraints(pattern=_UUID)]
    answer: Annotated[str, StringConstraints(min_length=1, max_length=20_000, pattern=_PRINTABLE)]
    citations: list[CitationIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _spans_inside(self) -> AnswerRequest:
        for index, citation in enumerate(self.citations):
            if citation.answer_end is not None and citation.answer_end > len(self.answer):
                raise ValueError(f"citation {index}: answer_end is beyond the answer")
        return self


class SpanOut(BaseModel):
    start: int
    end: int


class CitationCheckOut(BaseModel):
    index: int
    chunk_id: str
    retrieved: bool = Field(description="The chunk was returned by the request.")
    document_id: str | None = Field(description="Only for a retrieved chunk.")
    quote_found: bool | None = Field(description="Null: no quote, or the chunk can no longer be read.")
    quote_in_chunk: SpanOut | None = Field(description="In the chunk's text as returned (masked).")
    quote_in_document: SpanOut | None = Field(
        description="In the document's extracted text; null where masking before it hides the offset."
    )
    current: bool | None = Field(description="The document's content is still the version retrieved.")
    support: float | None = Field(description="Calibrated probability that the quote or chunk supports it.")
    supported: bool | None
    evidence: Literal["quote", "chunk"] | None
    claim: SpanOut = Field(description="The span of the answer checked for support.")
    claim_from: Literal["offsets", "quote", "answer"]
    issues: list[str]


class IssueOut(BaseModel):
    check: str
    citation: int | None = None
    span: SpanOut | None = None


class AnswerOut(BaseModel):
    answer_id: str = Field(description="The answer's event in the provenance log.")
    request_id: str
    verdict: Literal["verified", "issues"]
    citations: list[CitationCheckOut]
    uncited: list[SpanOut] = Field(description="Answer sentences no citation is attached to.")
    issues: list[IssueOut]
    support_threshold: float
    sequence: int | None


class AuditChunkOut(BaseModel):
    rank: int
    score: float
    chunk_id: str
    document_id: str
    document_version: int
    corpus_id: str
    content_sha256: str
    embedding_model: str
    why: WhyOut | None = Field(default=None, description="Null for answers logged before it was kept.")
    pii_counts: dict[str, int] | None = Field(
        default=None, description="Personal data masked in the chunk, by entity type; null: unknown."
    )


class PrincipalSnapshotOut(BaseModel):
    roles: list[str]
    clearance: str
    regions: list[str]
    groups: list[str]


class PolicyDecisionOut(BaseModel):
    corpus_id: str
    allowed: bool
    policy_ids: list[str]


class AuditEventOut(BaseModel):
    sequence: int | None
    request_id: str
    occurred_at: datetime
    action: str
    principal_id: str
    end_user_id: str | None = None
    principal: PrincipalSnapshotOut | None = None
    query_masked: str | None
    query_hmac: str | None = None
    top_k: int | None
    policy_version: str
    decisions: list[PolicyDecisionOut] = []
    allowed_corpora: list[str]
    partitions: list[str]
    regions: list[str] = []
    unavailable: list[str] = []
    outcome: str
    latency_ms: float | None
    chunks: list[AuditChunkOut]
    corpus_id: str | None = Field(default=None, description="Governance events: the corpus concerned.")
    document_id: str | None = Field(default=None, description="Governance events: the document concerned.")
    details: dict[str, Any] | None = Field(default=None, description="Governance events: what was done.")
    prev_hash: str | None = None
    hash: str | None = None
    answers: list[AuditEventOut] = Field(
        default=[], description="A retrieval's verified answers (`answer` events), with their checks."
    )


class AuditPageOut(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None


class DocumentUseOut(BaseModel):
    """A retrieval that returned the document's chunks, or an answer that cited them; with those chunks."""

    sequence: int | None
    request_id: str
    action: str
    use: Literal["retrieved", "cited"]
    retrieval_request_id: str | None = Field(description="The retrieval (for `cited`: the one answered).")
    occurred_at: datetime
    principal_id: str
    end_user_id: str | None
    outcome: str
    policy_version: str
    chunks: list[AuditChunkOut]


class DocumentUsageOut(BaseModel):
    document_id: str
    uses: list[DocumentUseOut]
    next_cursor: str | None


class BrokenLinkOut(BaseModel):
    sequence: int
    reason: str
    request_id: str | None


class VerifyOut(BaseModel):
    ok: bool
    events_checked: int
    first_broken: BrokenLinkOut | None
    anchor_sequence: int = Field(description="Verification started after this sequence (0: the log's start).")
    last_verified_sequence: int
    checkpoints_checked: int
    last_signed_checkpoint: int = Field(
        description="The newest signed checkpoint the walk passed: `since_checkpoint` of the next verify."
    )
    personal_checked: int = Field(0, description="Kept personal values checked against their commitments.")
    personal_erased: int = Field(0, description="Committed personal values that were erased.")


class ChunkReplayOut(BaseModel):
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
    policy_ids: list[str]


class ReplayOut(BaseModel):
    request_id: str
    sequence: int | None
    principal_id: str
    policy_version_then: str
    policy_version_now: str
    chunks: list[ChunkReplayOut]


class PruneRequest(Strict):
    before: datetime | None = Field(
        default=None, description="Delete events older than this; default: now minus the retention setting."
    )


class ErasureRequest(Strict):
    end_user_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The end user's id as their signed tokens carry it (`sub`)."
    )


class ErasureOut(BaseModel):
    events_erased: int = Field(description="The end user's events whose personal values were deleted.")
    values_erased: int
    legacy_events: int = Field(
        description="The end user's events written before values were kept apart from the chain: their "
        "values are part of the chain and were not erased."
    )
    request_id: str = Field(description="The `privacy.erasure` event that records this erasure.")
    sequence: int


class LookupRequest(Strict):
    name: Annotated[str | None, StringConstraints(min_length=1, max_length=300)] = Field(
        default=None, description="A person's full name, as documents would write it."
    )
    email: Annotated[str | None, StringConstraints(min_length=3, max_length=320)] = Field(
        default=None, description="An e-mail address."
    )


class SubjectDocumentOut(BaseModel):
    corpus_id: str
    corpus_name: str
    document_id: str
    source_uri: str = Field(description="The source path as readers see it (names in it masked).")
    status: str = Field(description="The document's catalog status: ingested, removed, deleted …")
    matched: list[str] = Field(description="What matched: name, email.")


class LookupOut(BaseModel):
    documents: list[SubjectDocumentOut]


class PruneOut(BaseModel):
    pruned: int
    anchor_sequence: int


class PolicyStatusOut(BaseModel):
    version: str
    files: list[str]
    last_error: str | None = Field(description="Why the last reload was refused (the old version stays).")
    cache_hits: int
    cache_misses: int


class PolicyReloadOut(BaseModel):
    changed: bool
    version: str
    previous: str


class ExplainRequest(Strict):
    principal_id: Annotated[
        str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@:-]+$")
    ]
    end_user_claims: dict[str, Any] | None = Field(
        default=None,
        description="Claims of an end user the principal acts for, mapped as a token's are (not verified).",
    )

    @field_validator("end_user_claims")
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value)) > 16_384:
            raise ValueError("end_user_claims is larger than 16 KiB")
        return value


PolicyFileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+\.cedar$", max_length=100)]
PolicyText = Annotated[str, StringConstraints(max_length=65_536)]


class EndUserClaimsIn(Strict):
    principal_id: Annotated[
        str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@:-]+$")
    ] = Field(description="The principal (an app) that acts for the end user.")
    claims: dict[str, Any] = Field(
        description="The end user's claims, mapped as a token's are (not verified)."
    )

    @field_validator("claims")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > 16_384:
            raise ValueError("claims are larger than 16 KiB")
        return value


class SimulateRequest(Strict):
    files: dict[PolicyFileName, PolicyText] = Field(
        min_length=1,
        max_length=16,
        description="Candidate policy files by name; each replaces today's file of that name.",
    )
    end_users: list[EndUserClaimsIn] = Field(default_factory=list, max_length=100)
    recent: int = Field(default=100, ge=0, le=1000, description="How many of the last answers to re-judge.")


class CorpusChangeOut(BaseModel):
    corpus_id: str
    name: str
    policy_ids_now: list[str]
    policy_ids_candidate: list[str]


class ReaderChangeOut(BaseModel):
    principal_id: str
    end_user_id: str | None
    gains: list[CorpusChangeOut]
    losses: list[CorpusChangeOut]


class AnswerRejudgedOut(BaseModel):
    request_id: str
    sequence: int | None
    principal_id: str
    end_user_id: str | None
    chunks: int
    refused: int = Field(description="Chunks the candidate would refuse.")
    refused_now: int = Field(description="Chunks the policy in force refuses today.")
    unjudged: int = Field(description="Chunks of an event logged without the caller's attributes.")


class AnswersRejudgedOut(BaseModel):
    examined: int
    chunks: int
    refused: int
    refused_now: int
    unjudged: int
    answers: list[AnswerRejudgedOut]


class SimulationOut(BaseModel):
    policy_version: str
    candidate_version: str
    files: list[str]
    changed_files: list[str]
    readers_examined: int
    readers: list[ReaderChangeOut]
    recent: AnswersRejudgedOut


class DocumentAccessOut(BaseModel):
    unrestricted: bool
    groups: list[str]
    policy_ids: list[str]


class CorpusExplanationOut(BaseModel):
    corpus_id: str
    name: str
    region: str
    sensitivity: str
    status: str
    allowed: bool
    policy_ids: list[str]
    documents: DocumentAccessOut | None


class ExplainOut(BaseModel):
    policy_version: str
    catalog_version: str
    principal_id: str
    end_user_id: str | None
    corpora: list[CorpusExplanationOut]


class Health(BaseModel):
    status: str


class StoreCheckOut(BaseModel):
    ok: bool
    seconds: float


class Readiness(BaseModel):
    """`/readyz`: 200 when every store answers; 503 (with `type` and `detail` too) when one does not."""

    status: Literal["ready", "unavailable"]
    role: Literal["all", "api", "worker"] = Field(default="all", description="What this process does.")
    checks: dict[str, StoreCheckOut]
    type: str | None = None
    detail: str | None = None
